"""The curated AI-agent token list: the packaged data file, normalisation, and user-supplied files."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rightful.errors import ConfigError
from rightful.signals.agents import AgentList, load_agents, product_token


def test_default_list_is_versioned_and_sourced() -> None:
    """The packaged list has a version and names its sources."""
    agents = load_agents()
    assert agents.version == "2026-11-24"
    assert any("ai-robots-txt" in s for s in agents.sources)
    assert any("platform.openai.com" in s for s in agents.sources)


def test_default_list_is_cached() -> None:
    """The packaged list is parsed once and shared."""
    assert load_agents() is load_agents()


@pytest.mark.parametrize(
    "token",
    [
        "GPTBot", "Google-Extended", "CCBot", "ClaudeBot", "anthropic-ai", "Claude-Web", "Applebot-Extended",
        "Bytespider", "meta-externalagent", "FacebookBot", "cohere-training-data-crawler", "cohere-ai",
        "img2dataset", "Diffbot", "Omgilibot", "omgili", "Webzio-Extended", "Amazonbot", "AI2Bot",
        "Ai2Bot-Dolma", "PanguBot", "Timpibot", "YouBot", "ImagesiftBot",
    ],
)  # fmt: skip
def test_training_tokens(token: str) -> None:
    """The AI-training tokens the SPEC names are in the training category."""
    assert token in load_agents().training


@pytest.mark.parametrize(
    "token", ["OAI-SearchBot", "PerplexityBot", "Claude-SearchBot", "Googlebot", "Bingbot", "Applebot", "DuckDuckBot"]
)
def test_search_tokens(token: str) -> None:
    """Search crawlers are in the search category, not training (PerplexityBot is a search indexer)."""
    agents = load_agents()
    assert token in agents.search
    assert token not in agents.training


@pytest.mark.parametrize(
    "token", ["ChatGPT-User", "Claude-User", "Perplexity-User", "Meta-ExternalFetcher", "MistralAI-User"]
)
def test_user_fetch_tokens(token: str) -> None:
    """Agents fetching on a user's request are in the user-fetch category."""
    assert token in load_agents().user_fetch


def test_undecided_tokens_are_placed_as_documented() -> None:
    """GoogleOther is not a training token; DuckAssistBot is a user-fetch agent (DuckDuckGo: not for training)."""
    agents = load_agents()
    assert "GoogleOther" not in (*agents.training, *agents.search, *agents.user_fetch)
    assert "DuckAssistBot" in agents.user_fetch


def test_every_entry_has_operator_and_a_known_source() -> None:
    """Each entry names its operator and a source id listed in the file."""
    data = json.loads(resources.files("rightful.signals").joinpath("data", "ai-agents.json").read_text("utf-8"))
    ids = {s["id"] for s in data["sources"]}
    for entry in data["agents"]:
        assert entry["operator"]
        assert entry["source"] in ids


@pytest.mark.parametrize(
    ("name", "token"),
    [
        ("FirecrawlAgent/1.0", "FirecrawlAgent"),
        ("MistralAI-User/1.0", "MistralAI-User"),
        ("Kangaroo Bot", "Kangaroo"),
        ("Ai2Bot-Dolma", "Ai2Bot-Dolma"),
        ("Claude-Web", "Claude-Web"),
        ("  GPTBot  ", "GPTBot"),
        ("*", ""),
        ("/bot", ""),
    ],
)
def test_names_are_normalised_to_product_tokens(name: str, token: str) -> None:
    """A published name becomes its leading product token; digits are kept (documented deviation)."""
    assert product_token(name) == token


def test_normalised_names_in_the_packaged_list() -> None:
    """Names published with a version or a space are stored as their token."""
    agents = load_agents()
    assert "MistralAI-User" in agents.user_fetch
    assert "Brightbot" in agents.training
    entry = agents.agent("brightbot")
    assert entry is not None
    assert entry.name == "Brightbot 1.0"


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "agents.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_user_file_is_loaded(tmp_path: Path) -> None:
    """A valid user file replaces the default list; duplicates (any case) keep the first entry."""
    path = _write(
        tmp_path,
        {
            "version": "mine-1",
            "sources": ["local"],
            "agents": [
                {"name": "MyBot/2", "category": "ai-training"},
                {"name": "mybot", "category": "search"},
                {"name": "Finder", "category": "search"},
            ],
        },
    )
    agents = load_agents(path)
    assert agents == AgentList(
        version="mine-1", training=("MyBot",), search=("Finder",), user_fetch=(), agents=agents.agents,
        sources=("local",),
    )  # fmt: skip


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"agents": [{"name": "A", "category": "search"}]},
        {"version": "1", "agents": []},
        {"version": "1", "agents": [{"name": "A", "category": "training"}]},
        {"version": "1", "agents": [{"name": "/x", "category": "search"}]},
        {"version": "1", "agents": ["GPTBot"]},
        {"version": "1", "sources": "x", "agents": [{"name": "A", "category": "search"}]},
        {"version": "1", "sources": [1], "agents": [{"name": "A", "category": "search"}]},
    ],
)
def test_bad_user_file_is_a_config_error(tmp_path: Path, data: object) -> None:
    """A user file of the wrong shape raises ConfigError naming the problem."""
    with pytest.raises(ConfigError, match="agent list"):
        load_agents(_write(tmp_path, data))


def test_unreadable_or_invalid_json_is_a_config_error(tmp_path: Path) -> None:
    """A missing file or invalid JSON raises ConfigError."""
    with pytest.raises(ConfigError, match="cannot read"):
        load_agents(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_agents(bad)


@given(st.text(max_size=60))
def test_product_token_is_always_a_valid_token(name: str) -> None:
    """Property: the normalised token is empty or made only of letters, digits, '_' and '-', and is a prefix."""
    token = product_token(name)
    assert all(c.isascii() and (c.isalnum() or c in "_-") for c in token)
    assert name.strip().startswith(token)
