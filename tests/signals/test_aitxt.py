"""Spawning ai.txt: robots grammar with extension globs, ai-training only, never guessed, never fail-closed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rightful.config import TokenPolicy
from rightful.models import Decision, Purpose
from rightful.signals.agents import load_agents
from rightful.signals.aitxt import EXTENSION_MATCHING, AiTxt
from rightful.signals.base import OWN_TOKEN, DocumentState, Findings, OriginDocument

AGENTS = load_agents()
LOCATION = "https://example.org/ai.txt"
SPAWNING = "User-Agent: *\nDisallow: *.jpg\nAllow: /\n"


def evaluate(source: str | bytes | AiTxt, path: str, *, policy: TokenPolicy = "any-ai-token") -> Findings:
    aitxt = source if isinstance(source, AiTxt) else AiTxt.parse(source)
    return aitxt.evaluate(path, own_token=OWN_TOKEN, policy=policy, agents=AGENTS, location=LOCATION)


def training(findings: Findings) -> Decision:
    values = [s.values[Purpose.AI_TRAINING] for s in findings.signals if Purpose.AI_TRAINING in s.values]
    assert len(values) <= 1
    return values[0] if values else Decision.UNKNOWN


# --- SPEC vectors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/a.jpg", "/x.jpg.html", "/a.JPG", "/deep/dir/b.jpg"])
def test_spec_extension_glob_reserves(path: str) -> None:
    """`Disallow: *.jpg` / `Allow: /`: /a.jpg, /x.jpg.html and /a.JPG are reserved."""
    findings = evaluate(SPAWNING, path)
    assert training(findings) is Decision.RESERVED
    signal = findings.signals[0]
    assert signal.protocol == "ai.txt"
    assert signal.raw == "Disallow: *.jpg"
    assert signal.line == 2
    assert signal.details["extension_matching"] == EXTENSION_MATCHING
    assert not findings.errors


def test_spec_other_extensions_are_allowed() -> None:
    """`/a.png` is allowed: the ai.txt allows ai-training there."""
    findings = evaluate(SPAWNING, "/a.png")
    assert training(findings) is Decision.ALLOWED
    assert findings.signals[0].details["extension_matching"] == EXTENSION_MATCHING


# --- grammar and policy ---------------------------------------------------------------------------------------


def test_bare_extension_is_read_as_a_glob() -> None:
    """`Disallow: .pdf` is read as `*.pdf`."""
    assert training(evaluate("User-agent: *\nDisallow: .pdf\n", "/doc/a.PDF")) is Decision.RESERVED


def test_only_extension_globs_ignore_case() -> None:
    """Path rules stay case-sensitive; only extension globs ignore case (our documented choice)."""
    assert training(evaluate("User-agent: *\nDisallow: /Private\n", "/private/a")) is Decision.ALLOWED
    assert training(evaluate("User-agent: *\nDisallow: /Private\n", "/Private/a")) is Decision.RESERVED


def test_opt_out_applies_to_ai_training_only() -> None:
    """An ai.txt disallow speaks to ai-training (and genai-training under it), nothing else."""
    values = evaluate(SPAWNING, "/a.jpg").signals[0].values
    assert set(values) == {Purpose.AI_TRAINING, Purpose.GENAI_TRAINING}


def test_same_token_policy_as_robots() -> None:
    """A disallow for an AI-training token reserves under any-ai-token, not under own-token."""
    text = "User-agent: GPTBot\nDisallow: /\n"
    reserved = evaluate(text, "/x")
    assert training(reserved) is Decision.RESERVED
    assert reserved.signals[0].rule == "Disallow: / (line 2) in group for GPTBot"
    assert training(evaluate(text, "/x", policy="own-token")) is Decision.ALLOWED


def test_unavailable_ai_txt_says_nothing() -> None:
    """404: no signal and no error (most sites have no ai.txt)."""
    aitxt = AiTxt.from_document(OriginDocument(url=LOCATION, state=DocumentState.UNAVAILABLE, status=404))
    findings = evaluate(aitxt, "/a.jpg")
    assert findings.signals == []
    assert findings.errors == []


def test_unreachable_ai_txt_does_not_disallow_everything() -> None:
    """503 / timeout: no signal (ai.txt is not robots.txt), the error is recorded."""
    for status, error in ((503, None), (None, "timeout")):
        doc = OriginDocument(url=LOCATION, state=DocumentState.UNREACHABLE, status=status, error=error)
        findings = evaluate(AiTxt.from_document(doc), "/a.jpg")
        assert findings.signals == []
        assert [e.code for e in findings.errors] == ["aitxt-unreachable"]


def test_ok_document_is_parsed() -> None:
    """A fetched ai.txt body is parsed in the ai.txt dialect."""
    doc = OriginDocument(url=LOCATION, state=DocumentState.OK, status=200, body=SPAWNING.encode())
    assert training(evaluate(AiTxt.from_document(doc), "/a.JPG")) is Decision.RESERVED


@pytest.mark.parametrize(
    "text",
    [
        "User-Agent: *\nDisallow-Training: yes\n",
        "ai-training: disallowed\n",
        "# My site\n\n## About\n- Email: a@b.c\n",
        "<html><body>Not found</body></html>",
        "",
    ],
)
def test_non_spawning_variants_are_unrecognised_not_guessed(text: str) -> None:
    """Look-alike formats give no signal and an `unrecognised-format` error."""
    findings = evaluate(text, "/a.jpg")
    assert findings.signals == []
    assert [e.code for e in findings.errors] == ["unrecognised-format"]


def test_mixed_file_reserves_what_its_rules_reserve_but_never_allows() -> None:
    """Spawning rules plus ad-hoc policy lines: reserved where a rule says so; elsewhere no answer."""
    text = "ai-training: disallowed\nUser-agent: *\nDisallow: /private/\n"
    reserved = evaluate(text, "/private/a")
    assert training(reserved) is Decision.RESERVED
    assert reserved.signals[0].details["unrecognised_lines"] == ["ai-training"]
    elsewhere = evaluate(text, "/public")
    assert elsewhere.signals == []
    assert [e.code for e in elsewhere.errors] == ["unrecognised-format"]


@given(st.text(max_size=1500), st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_never_crashes(text: str, path: str) -> None:
    """Any text and path evaluate without raising; at most one ai-training signal comes out."""
    findings = evaluate(text, path)
    assert len(findings.signals) <= 1


@given(st.from_regex(r"[a-z]{1,5}", fullmatch=True), st.from_regex(r"/[A-Za-z0-9/_-]{0,20}", fullmatch=True))
@settings(max_examples=200, deadline=None)
def test_extension_glob_matches_any_case_of_the_extension(ext: str, stem: str) -> None:
    """Property: `Disallow: *.ext` reserves stem.ext in any letter case."""
    text = f"User-agent: *\nDisallow: *.{ext}\n"
    assert training(evaluate(text, f"{stem}.{ext.upper()}")) is Decision.RESERVED
    assert training(evaluate(text, f"{stem}.{ext}")) is Decision.RESERVED


# --- real files (external/aitxt) ------------------------------------------------------------------------------


def _real(external: Path, name: str) -> AiTxt:
    return AiTxt.parse((external / "aitxt" / name).read_bytes())


@pytest.mark.external
@pytest.mark.parametrize("path", ["/", "/index.html", "/img/a.jpg"])
def test_real_canonical_spawning_file_reserves_everything(external: Path, path: str) -> None:
    """ai-robots-txt's ai.txt (`User-Agent: *`, `Disallow: /`, `Disallow: *`) reserves every path."""
    findings = evaluate(_real(external, "ai-robots-txt.ai.txt"), path)
    assert training(findings) is Decision.RESERVED
    assert not findings.errors
    assert training(evaluate(_real(external, "ai-robots-txt.ai.txt"), path, policy="own-token")) is Decision.RESERVED


@pytest.mark.external
def test_real_permissive_spawning_file_allows(external: Path) -> None:
    """event-stories.12f.dk: `Allow: *` and an empty `Disallow:` → ai-training allowed everywhere."""
    aitxt = _real(external, "event-stories.12f.dk.ai.txt")
    for path in ("/", "/a.jpg"):
        findings = evaluate(aitxt, path)
        assert training(findings) is Decision.ALLOWED
        assert not findings.errors


@pytest.mark.external
def test_real_per_agent_file_with_one_blocked_training_crawler(external: Path) -> None:
    """frqncy.network allows GPTBot, ClaudeBot… but disallows Bytespider: reserved under any-ai-token;
    under own-token only its `*` group counts (/docs/ reserved, / allowed). Non-ASCII comments are fine."""
    aitxt = _real(external, "frqncy.network.ai.txt")
    findings = evaluate(aitxt, "/")
    assert training(findings) is Decision.RESERVED
    assert findings.signals[0].details["disallowed"] == {"Bytespider": 75}
    assert not findings.errors
    assert training(evaluate(aitxt, "/", policy="own-token")) is Decision.ALLOWED
    assert training(evaluate(aitxt, "/docs/x", policy="own-token")) is Decision.RESERVED
    assert training(evaluate(aitxt, "/CLAUDE.md", policy="own-token")) is Decision.RESERVED


@pytest.mark.external
def test_real_mixed_file(external: Path) -> None:
    """austincole: `ai-training: disallowed` etc. are not read; its Disallow paths still reserve."""
    aitxt = _real(external, "austincole-personal-site.ai.txt")
    assert "ai-training" in aitxt.policy_lines
    assert training(evaluate(aitxt, "/resumes/cv.html")) is Decision.RESERVED
    assert training(evaluate(aitxt, "/files/cv.pdf")) is Decision.RESERVED
    about = evaluate(aitxt, "/about/")
    assert about.signals == []
    assert [e.code for e in about.errors] == ["unrecognised-format"]


@pytest.mark.external
@pytest.mark.parametrize("name", ["baxin.pages.dev.ai.txt", "andrewtrodriguez.com.ai.txt", "sabintsev.com.ai.txt"])
def test_real_non_spawning_files_are_unrecognised(external: Path, name: str) -> None:
    """Maango keys, ad-hoc `Training: yes` and a Markdown profile give no signal, only unrecognised-format."""
    findings = evaluate(_real(external, name), "/")
    assert findings.signals == []
    assert [e.code for e in findings.errors] == ["unrecognised-format"]
