"""Settings: defaults, rightful.toml, RIGHTFUL_* environment, arguments, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from rightful.config import Settings
from rightful.errors import ConfigError


def test_defaults_use_rightful_home(tmp_home: Path) -> None:
    """RIGHTFUL_HOME decides where the database lives."""
    settings = Settings.load()
    assert settings.home == tmp_home
    assert settings.db_path == tmp_home / "rightful.db"
    assert settings.policy == "any-ai-token"
    assert "rightfulbot" in settings.user_agent


def test_precedence_toml_then_env_then_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Arguments beat the environment, which beats rightful.toml."""
    toml = tmp_path / "custom.toml"
    toml.write_text('[rightful]\npolicy = "own-token"\nconcurrency = 7\nper_origin = 3\n', encoding="utf-8")
    monkeypatch.setenv("RIGHTFUL_CONFIG", str(toml))
    monkeypatch.setenv("RIGHTFUL_CONCURRENCY", "9")
    settings = Settings.load(per_origin=2)
    assert settings.policy == "own-token"
    assert settings.concurrency == 9
    assert settings.per_origin == 2


def test_toml_in_home_is_found(tmp_home: Path) -> None:
    """Without RIGHTFUL_CONFIG, $RIGHTFUL_HOME/rightful.toml is read."""
    tmp_home.mkdir(parents=True)
    (tmp_home / "rightful.toml").write_text("allow_private = true\n", encoding="utf-8")
    assert Settings.load().allow_private is True


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        ("RIGHTFUL_POLICY", "everything", "policy must be one of"),
        ("RIGHTFUL_CACHE_TTL", "90000", "24 h"),
        ("RIGHTFUL_CONCURRENCY", "many", "cannot use"),
        ("RIGHTFUL_ALLOW_PRIVATE", "perhaps", "cannot use"),
        ("RIGHTFUL_ROBOTS_MAX_BYTES", "1000", "500 KiB"),
    ],
)
def test_bad_settings_raise_config_error(monkeypatch: pytest.MonkeyPatch, env: str, value: str, message: str) -> None:
    """Invalid values are a ConfigError naming the problem, never a crash later."""
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=message):
        Settings.load()


def test_unknown_key_and_broken_toml_are_config_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo in rightful.toml or invalid TOML is reported with the file name."""
    bad = tmp_path / "bad.toml"
    bad.write_text("concurency = 3\n", encoding="utf-8")
    monkeypatch.setenv("RIGHTFUL_CONFIG", str(bad))
    with pytest.raises(ConfigError, match="unknown setting 'concurency'"):
        Settings.load()
    bad.write_text("this is = = not toml", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read"):
        Settings.load()
    monkeypatch.setenv("RIGHTFUL_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="not a file"):
        Settings.load()
