"""The curated, versioned list of crawler product tokens that robots.txt and ai.txt are evaluated for.

A robots.txt file rarely names ``rightfulbot``; what it does name are the crawlers of AI companies. Whether a
site reserves AI training is therefore read from how it treats *their* tokens (SPEC-signals.md, "AI
purposes"). The list lives in ``data/ai-agents.json`` with its version and sources, so a verdict can say which
list it was reached with, and users can supply their own file.

Names are normalised to product tokens (the leading run of letters, digits, ``_`` and ``-``), the same way
:mod:`rightful.signals.robots` reads ``User-agent`` lines: ``"MistralAI-User/1.0"`` becomes ``MistralAI-User``
and ``"Kangaroo Bot"`` becomes ``Kangaroo``. RFC 9309's ``identifier`` is ``[A-Za-z_-]+``, without digits, but
real crawler names carry them (``AI2Bot``, ``Ai2Bot-Dolma``, ``img2dataset``) and sites write them so; cutting
at the first digit, as Google's parser does, would turn ``AI2Bot`` into ``AI`` and make it bind every
``AI…`` group. We keep digits inside a token: a documented deviation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal, cast, get_args

from rightful.errors import ConfigError

__all__ = [
    "Agent",
    "AgentList",
    "Category",
    "load_agents",
    "product_token",
]

Category = Literal["ai-training", "search", "user-fetch"]
_CATEGORIES: Final = frozenset(get_args(Category))
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_DATA_FILE: Final = "ai-agents.json"


def product_token(name: str) -> str:
    """The product token a name stands for: its leading run of letters, digits, ``_`` and ``-``.

    Returns ``""`` when the name does not start with a token character (it can then match nothing).
    """
    found = _TOKEN.match(name.strip())
    return found.group(0) if found else ""


@dataclass(frozen=True, slots=True)
class Agent:
    """One crawler: its product token, the name as published, what it is for, who runs it, where we read it."""

    token: str
    name: str
    category: Category
    operator: str
    source: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class AgentList:
    """The tokens per category, in file order, without case-insensitive duplicates."""

    version: str
    training: tuple[str, ...]
    search: tuple[str, ...]
    user_fetch: tuple[str, ...]
    agents: tuple[Agent, ...] = ()
    sources: tuple[str, ...] = ()

    def agent(self, token: str) -> Agent | None:
        """The entry for ``token`` (case-insensitive), or None."""
        key = token.lower()
        return next((a for a in self.agents if a.token.lower() == key), None)


def load_agents(path: Path | None = None) -> AgentList:
    """Load the agent list: the packaged default (cached) or a user-supplied JSON file.

    Raises :class:`~rightful.errors.ConfigError` when a user file cannot be read or does not have the shape of
    the packaged one (a programming or configuration error, never a network input).
    """
    if path is None:
        return _default_agents()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read agent list {path}: {exc}") from exc
    return _parse(text, origin=str(path))


@lru_cache(maxsize=1)
def _default_agents() -> AgentList:
    text = resources.files("rightful.signals").joinpath("data", _DATA_FILE).read_text(encoding="utf-8")
    return _parse(text, origin=_DATA_FILE)


def _parse(text: str, *, origin: str) -> AgentList:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"agent list {origin} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"agent list {origin} must be a JSON object")
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        raise ConfigError(f"agent list {origin} needs a non-empty string 'version'")
    entries = data.get("agents")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"agent list {origin} needs a non-empty list 'agents'")
    agents = _dedupe(_agent(entry, index=i, origin=origin) for i, entry in enumerate(entries))
    return AgentList(
        version=version.strip(),
        training=tuple(a.token for a in agents if a.category == "ai-training"),
        search=tuple(a.token for a in agents if a.category == "search"),
        user_fetch=tuple(a.token for a in agents if a.category == "user-fetch"),
        agents=agents,
        sources=_source_ids(data.get("sources", []), origin=origin),
    )


def _agent(entry: Any, *, index: int, origin: str) -> Agent:
    where = f"agent list {origin}, agents[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be an object")
    name = entry.get("name")
    if not isinstance(name, str) or not product_token(name):
        raise ConfigError(f"{where}: 'name' must be a string starting with a product token ([A-Za-z0-9_-]+)")
    category = entry.get("category")
    if category not in _CATEGORIES:
        raise ConfigError(f"{where}: 'category' must be one of {', '.join(sorted(_CATEGORIES))}")
    note = entry.get("note")
    return Agent(
        token=product_token(name),
        name=name,
        category=cast(Category, category),
        operator=str(entry.get("operator", "")),
        source=str(entry.get("source", "")),
        note=str(note) if note is not None else None,
    )


def _dedupe(agents: Any) -> tuple[Agent, ...]:
    """First entry wins: a token in two categories would make the verdict depend on list order otherwise."""
    seen: set[str] = set()
    out: list[Agent] = []
    for agent in agents:
        key = agent.token.lower()
        if key not in seen:
            seen.add(key)
            out.append(agent)
    return tuple(out)


def _source_ids(sources: Any, *, origin: str) -> tuple[str, ...]:
    if not isinstance(sources, list):
        raise ConfigError(f"agent list {origin}: 'sources' must be a list")
    ids: list[str] = []
    for source in sources:
        if isinstance(source, dict) and isinstance(source.get("url", source.get("id")), str):
            ids.append(str(source.get("url", source.get("id"))))
        elif isinstance(source, str):
            ids.append(source)
        else:
            raise ConfigError(f"agent list {origin}: each source must be a string or an object with 'url'")
    return tuple(ids)
