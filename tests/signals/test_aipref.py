"""aipref Content-Usage (RFC 9651 dictionary, versioned vocabulary) and Cloudflare Content-Signal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rightful.models import Decision, Purpose
from rightful.signals.agents import load_agents
from rightful.signals.aipref import (
    LABELS,
    VOCABULARY_VERSION,
    combine_content_usage,
    content_signal_findings,
    content_usage_findings,
    header_findings,
    parse_content_signal,
    parse_content_usage,
)
from rightful.signals.base import OWN_TOKEN, HeaderMap
from rightful.signals.robots import RobotsTxt

URL = "https://example.org/page"


def usage_values(*lines: str) -> dict[Purpose, Decision]:
    findings = content_usage_findings(list(lines), location=URL)
    assert len(findings.signals) == 1
    return dict(findings.signals[0].values)


# --- SPEC vectors ---------------------------------------------------------------------------------------------


def test_spec_train_ai_n_is_reserved() -> None:
    """`train-ai=n` → ai-training reserved."""
    assert usage_values("train-ai=n")[Purpose.AI_TRAINING] is Decision.RESERVED


@pytest.mark.parametrize("value", ['train-ai="n"', "train-ai=?0", "train-ai", "train-ai=(n)", "train-ai=no"])
def test_spec_values_other_than_the_tokens_are_unknown(value: str) -> None:
    """`train-ai="n"` (a string), `train-ai=?0` (a boolean) and other non-tokens → unknown."""
    assert Purpose.AI_TRAINING not in usage_values(value)
    assert parse_content_usage(value).prefs["train-ai"] is None


def test_spec_uppercase_key_makes_everything_unknown() -> None:
    """`Train-AI=n` is not a valid dictionary: every label unknown and the error recorded."""
    findings = content_usage_findings(["Train-AI=n, search=n"], location=URL)
    assert findings.signals[0].values == {}
    assert [e.code for e in findings.errors] == ["aipref-parse"]
    parsed = parse_content_usage("Train-AI=n")
    assert parsed.error is not None
    assert parsed.prefs == {"train-ai": None, "search": None}


def test_spec_last_key_wins_and_parameters_are_ignored() -> None:
    """`train-ai;allow=n, train-ai=y` → allowed: the last value wins; parameters say nothing."""
    assert usage_values("train-ai;allow=n, train-ai=y")[Purpose.AI_TRAINING] is Decision.ALLOWED


def test_spec_header_y_and_robots_n_carry_both_answers() -> None:
    """Header `y` + robots.txt `n`: each finding carries its own value; the combination (lead's policy tests)
    gives reserved under most-restrictive, which the local fold below mirrors."""
    header = header_findings(HeaderMap({"Content-Usage": "train-ai=y"}), url=URL)
    robots = RobotsTxt.parse("User-agent: *\nContent-Usage: train-ai=n\n").evaluate(
        "/page", own_token=OWN_TOKEN, policy="own-token", agents=load_agents(), location=URL + "/robots.txt"
    )
    robots_usage = [s for s in robots.findings.signals if s.protocol == "aipref"]
    assert header.signals[0].values[Purpose.AI_TRAINING] is Decision.ALLOWED
    assert robots_usage[0].values[Purpose.AI_TRAINING] is Decision.RESERVED
    answers = {s.values[Purpose.AI_TRAINING] for s in (*header.signals, *robots_usage)}
    assert (Decision.RESERVED if Decision.RESERVED in answers else Decision.ALLOWED) is Decision.RESERVED


def test_spec_legacy_label_is_unknown_with_a_warning() -> None:
    """`ai=n` → unknown, with a legacy-label warning (ItemError code legacy-label)."""
    findings = content_usage_findings(["ai=n"], location=URL)
    assert findings.signals[0].values == {}
    assert [e.code for e in findings.errors] == ["legacy-label"]
    assert findings.signals[0].details["legacy"] == {"ai": "n"}
    parsed = parse_content_usage("ai=n")
    assert parsed.warnings
    assert "legacy" in parsed.warnings[0]


def test_spec_content_signal_reserves_training_only() -> None:
    """`Content-Signal: search=yes, ai-train=no` → ai-training reserved, search allowed, ai-inference unknown."""
    findings = header_findings(HeaderMap({"content-signal": "search=yes, ai-train=no"}), url=URL)
    values = findings.signals[0].values
    assert values[Purpose.AI_TRAINING] is Decision.RESERVED
    assert values[Purpose.SEARCH] is Decision.ALLOWED
    assert Purpose.AI_INFERENCE not in values
    assert findings.signals[0].protocol == "content-signal"


# --- Content-Usage details ------------------------------------------------------------------------------------


@pytest.mark.parametrize("label", ["train-genai", "ai-use", "all"])
def test_other_legacy_labels_are_recognised(label: str) -> None:
    """Every legacy label is recognised with a warning and no purpose value."""
    findings = content_usage_findings([f"{label}=n"], location=URL)
    assert findings.signals[0].values == {}
    assert [e.code for e in findings.errors] == ["legacy-label"]


def test_search_label_maps_to_search() -> None:
    """`search=n` reserves search; the vocabulary version is in the evidence."""
    findings = content_usage_findings(["search=n, train-ai=y"], location=URL, line=3)
    signal = findings.signals[0]
    assert signal.values == {
        Purpose.SEARCH: Decision.RESERVED,
        Purpose.AI_TRAINING: Decision.ALLOWED,
        Purpose.GENAI_TRAINING: Decision.ALLOWED,
    }
    assert signal.details["vocabulary"] == VOCABULARY_VERSION
    assert signal.line == 3
    assert signal.protocol == "aipref"


def test_unknown_keys_are_ignored() -> None:
    """Unknown keys are ignored (and listed in the evidence), known ones still count."""
    findings = content_usage_findings(["foo=n, train-ai=n, bar"], location=URL)
    assert findings.signals[0].values[Purpose.AI_TRAINING] is Decision.RESERVED
    assert findings.signals[0].details["ignored"] == ["foo", "bar"]
    assert not findings.errors


def test_several_header_lines_are_joined_so_the_last_wins() -> None:
    """Two Content-Usage field lines are joined with ", " first: the later line's value wins."""
    headers = HeaderMap([("Content-Usage", "train-ai=n"), ("content-usage", "train-ai=y")])
    findings = header_findings(headers, url=URL)
    assert findings.signals[0].values[Purpose.AI_TRAINING] is Decision.ALLOWED
    assert findings.signals[0].raw == "train-ai=n, train-ai=y"
    assert findings.signals[0].details["header"] == "Content-Usage"


def test_no_header_no_signal() -> None:
    """Without the headers there is nothing to report."""
    assert header_findings(HeaderMap({"Content-Type": "text/html"}), url=URL).signals == []
    assert content_usage_findings([], location=URL).signals == []


def test_evidence_passes_fetch_time_and_hash_through() -> None:
    """fetched_at and document_hash reach the signal."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    signal = content_usage_findings(["train-ai=n"], location=URL, fetched_at=at, document_hash="sha256:00")
    assert signal.signals[0].fetched_at == at
    assert signal.signals[0].document_hash == "sha256:00"
    assert signal.signals[0].rule == "Content-Usage: train-ai=n"


def test_combining_statements_is_most_restrictive_per_label() -> None:
    """Two statements for one scope: n beats y, y beats unknown, label by label."""
    combined = combine_content_usage([parse_content_usage("train-ai=y"), parse_content_usage("train-ai=n, search=y")])
    assert combined.prefs == {"train-ai": "n", "search": "y"}


# --- Content-Signal details -----------------------------------------------------------------------------------


def test_content_signal_is_lenient_on_spacing_and_case() -> None:
    """`search = YES,ai-train=No` reads as yes / no."""
    parsed = parse_content_signal(" search = YES,ai-train=No ,AI-INPUT=no")
    assert parsed.signals == {"search": True, "ai-train": False, "ai-input": False}


def test_content_signal_ai_input_maps_to_inference() -> None:
    """`ai-input=no` reserves ai-inference."""
    findings = content_signal_findings(["ai-input=no"], location=URL)
    assert findings.signals[0].values == {Purpose.AI_INFERENCE: Decision.RESERVED}


def test_content_signal_unknown_keys_and_values_are_recorded() -> None:
    """Unknown keys become errors; values other than yes/no say nothing but are warned about."""
    findings = content_signal_findings(["ai-train=maybe, tdm=no, search=yes"], location=URL)
    assert findings.signals[0].values == {Purpose.SEARCH: Decision.ALLOWED}
    assert [e.code for e in findings.errors] == ["content-signal-unknown-key"]
    assert findings.signals[0].details["unknown"] == ["tdm=no"]
    assert findings.signals[0].details["warnings"]


def test_content_signal_conflict_is_restrictive() -> None:
    """The same key stated yes and no counts as no."""
    assert parse_content_signal("ai-train=yes, ai-train=no").signals == {"ai-train": False}


def test_omitted_content_signal_key_says_nothing() -> None:
    """A key that is not stated expresses nothing."""
    assert parse_content_signal("search=yes").values() == {Purpose.SEARCH: Decision.ALLOWED}


# --- properties -----------------------------------------------------------------------------------------------


@given(st.text(max_size=200))
@settings(max_examples=400)
def test_parsers_never_crash(value: str) -> None:
    """Any text parses to a result (possibly all-unknown with an error); no exception escapes."""
    usage = parse_content_usage(value)
    assert set(usage.prefs) == set(LABELS)
    parse_content_signal(value)
    content_usage_findings([value], location=URL)
    content_signal_findings([value], location=URL)


@given(st.dictionaries(st.sampled_from(sorted(LABELS)), st.sampled_from(["y", "n"]), min_size=1))
def test_well_formed_preferences_round_trip(prefs: dict[str, str]) -> None:
    """Property: a dictionary written from label → y/n parses back to exactly those preferences."""
    value = ", ".join(f"{k}={v}" for k, v in prefs.items())
    parsed = parse_content_usage(value)
    assert parsed.error is None
    assert {k: v for k, v in parsed.prefs.items() if v is not None} == prefs
