"""Settings: defaults, then ``rightful.toml``, then ``RIGHTFUL_*`` environment variables, then arguments.

``rightful.toml`` is read from ``$RIGHTFUL_CONFIG`` if set, else ``./rightful.toml``, else
``$RIGHTFUL_HOME/rightful.toml``. Keys are the field names of :class:`Settings` (top level or under a
``[rightful]`` table); environment variables are the same names upper-cased with the ``RIGHTFUL_`` prefix.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import platformdirs

from rightful._version import __version__
from rightful.errors import ConfigError

__all__ = [
    "DEFAULT_USER_AGENT",
    "MAX_CACHE_TTL",
    "Settings",
    "TokenPolicy",
    "default_home",
]

TokenPolicy = Literal["any-ai-token", "own-token"]
CombinePolicy = Literal["most-restrictive", "most-permissive"]

DEFAULT_USER_AGENT = f"Mozilla/5.0 (compatible; rightfulbot/{__version__}; +https://rightful.dev/bot)"
MAX_CACHE_TTL = 24 * 3600.0


def default_home() -> Path:
    env = os.environ.get("RIGHTFUL_HOME")
    return Path(env).expanduser() if env else Path(platformdirs.user_data_dir("rightful"))


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything that tunes a check. All sizes in bytes, all times in seconds."""

    home: Path = field(default_factory=default_home)
    user_agent: str = DEFAULT_USER_AGENT
    own_token: str = "rightfulbot"
    policy: TokenPolicy = "any-ai-token"
    combine: CombinePolicy = "most-restrictive"
    allow_private: bool = False
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    max_redirects: int = 5
    concurrency: int = 256
    per_origin: int = 8
    robots_max_bytes: int = 512 * 1024
    html_max_bytes: int = 1024 * 1024
    media_max_bytes: int = 16 * 1024 * 1024
    cache_ttl: float = MAX_CACHE_TTL
    cache: bool = True
    max_pixels: int = 64_000_000
    workers: int = 1
    database_url: str = ""

    def __post_init__(self) -> None:
        if self.policy not in get_args(TokenPolicy):
            raise ConfigError(f"policy must be one of {', '.join(get_args(TokenPolicy))}, not {self.policy!r}")
        if self.combine not in get_args(CombinePolicy):
            raise ConfigError(f"combine must be one of {', '.join(get_args(CombinePolicy))}")
        if not 0 < self.cache_ttl <= MAX_CACHE_TTL:
            raise ConfigError("cache_ttl must be between 0 and 86400 seconds (RFC 9309 caps caching at 24 h)")
        if not 0 <= self.max_redirects <= 20:
            raise ConfigError("max_redirects must be between 0 and 20")
        for name in ("concurrency", "per_origin", "robots_max_bytes", "html_max_bytes", "media_max_bytes", "workers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.robots_max_bytes < 500 * 1024:
            raise ConfigError("robots_max_bytes must be at least 500 KiB (RFC 9309 §2.5)")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ConfigError("timeouts must be positive")
        if not self.own_token or not all(c.isalpha() or c in "_-" for c in self.own_token):
            raise ConfigError("own_token must be a product token: letters, '_' and '-' only")
        if self.database_url and not self.database_url.startswith(
            ("sqlite:///", "postgresql://", "postgres://", "postgresql+psycopg://")
        ):
            raise ConfigError("database_url must start with sqlite:///, postgresql:// or postgresql+psycopg://")

    @property
    def db_path(self) -> Path:
        return self.home / "rightful.db"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def load(cls, *, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then the TOML file, then the environment, then ``overrides`` (None values are skipped)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        toml_path = _toml_path(env)
        if toml_path is not None:
            values.update(_read_toml(toml_path))
        for f in dataclasses.fields(cls):
            raw = env.get(f"RIGHTFUL_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**_coerce(values))


def _toml_path(env: Mapping[str, str]) -> Path | None:
    explicit = env.get("RIGHTFUL_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"RIGHTFUL_CONFIG points to {path}, which is not a file")
        return path
    home = Path(env["RIGHTFUL_HOME"]).expanduser() if env.get("RIGHTFUL_HOME") else None
    for candidate in (Path("rightful.toml"), home / "rightful.toml" if home else None):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    table = data.get("rightful", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [rightful] must be a table")
    return dict(table)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _coerce(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, raw in values.items():
        f = _FIELDS.get(name)
        if f is None:
            raise ConfigError(f"unknown setting {name!r}; known: {', '.join(sorted(_FIELDS))}")
        kind = str(f.type)
        try:
            if kind == "Path":
                out[name] = Path(str(raw)).expanduser()
            elif kind == "bool":
                out[name] = raw if isinstance(raw, bool) else _parse_bool(str(raw))
            elif kind == "int":
                out[name] = int(raw)
            elif kind == "float":
                out[name] = float(raw)
            else:
                out[name] = str(raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"setting {name!r}: cannot use {raw!r} ({exc})") from exc
    return out


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true/false")
