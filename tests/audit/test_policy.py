"""The audit policy: any reserving signal excludes (registry matches included), unknown follows on_unknown."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rightful.audit.policy import AuditPolicy, decide
from rightful.config import Settings
from rightful.errors import InvalidInput
from rightful.models import Decision, Purpose, Signal
from rightful.signals.base import Findings
from rightful.signals.check import build_result


def _result(*signals: Signal, errors: bool = False):  # type: ignore[no-untyped-def]
    findings = Findings(signals=list(signals))
    if errors:
        findings.error("fetch", "connection refused", location="http://a.example/")
    return build_result("http://a.example/x", "url", findings, settings=Settings(), purposes=tuple(Purpose),
                        crawl_allowed=True)  # fmt: skip


def _signal(protocol: str, values: dict[Purpose, Decision]) -> Signal:
    return Signal(protocol=protocol, location="somewhere", raw="raw", rule="a rule", values=values, line=3)


def test_registry_match_excludes_and_is_named() -> None:
    """A signal with protocol "registry" excludes like any other, and the reason names it."""
    screening = decide(_result(_signal("registry", {Purpose.AI_TRAINING: Decision.RESERVED})), AuditPolicy())
    assert screening.decision == "exclude"
    assert screening.protocols == ("registry",)
    assert screening.reasons == ("genai-training reserved by registry: a rule (somewhere:3)",)


def test_broader_reservation_covers_genai_training() -> None:
    """A data-mining reservation reserves genai-training, the default purpose."""
    screening = decide(_result(_signal("tdmrep", {Purpose.DATA_MINING: Decision.RESERVED})), AuditPolicy())
    assert (screening.decision, screening.status) == ("exclude", Decision.RESERVED)


def test_narrower_reservation_does_not_cover_broader_purpose() -> None:
    """genai-training reserved does not reserve ai-training: a non-generative purpose keeps the item."""
    result = _result(_signal("iptc", {Purpose.GENAI_TRAINING: Decision.RESERVED}))
    assert decide(result, AuditPolicy.from_names(["ai-training"])).status is Decision.UNKNOWN
    assert decide(result, AuditPolicy.from_names(["ai-training", "genai-training"])).decision == "exclude"


@pytest.mark.parametrize(("on_unknown", "decision"), [("keep", "keep"), ("exclude", "exclude")])
def test_unknown_follows_policy(on_unknown: str, decision: str) -> None:
    """No signal at all: kept by default, excluded with on_unknown=exclude; the reason says so, errors named."""
    screening = decide(_result(errors=True), AuditPolicy.from_names(None, on_unknown=on_unknown))
    assert screening.decision == decision
    assert screening.reasons == ("no signal expresses genai-training (errors: fetch)",)


def test_allowed_is_kept() -> None:
    """An explicit permission keeps the item with no reasons."""
    screening = decide(_result(_signal("aipref", {Purpose.AI_TRAINING: Decision.ALLOWED})), AuditPolicy())
    assert (screening.decision, screening.status, screening.reasons) == ("keep", Decision.ALLOWED, ())


def test_bad_policy_names() -> None:
    """Unknown purposes and on_unknown values are input errors."""
    with pytest.raises(InvalidInput, match="unknown purpose"):
        AuditPolicy.from_names(["training"])
    with pytest.raises(InvalidInput, match="keep' or 'exclude"):
        AuditPolicy.from_names(None, on_unknown="drop")


def test_policy_name_is_stable() -> None:
    """The policy's name, written into every result, spells out purposes and the unknown rule."""
    assert AuditPolicy().name == "exclude-reserved[genai-training];unknown=keep"


_DECISIONS = st.sampled_from(list(Decision))


@given(values=st.dictionaries(st.sampled_from(list(Purpose)), _DECISIONS), protocol=st.sampled_from(
    ["robots.txt", "tdmrep", "iptc", "c2pa", "registry", "x-robots-tag"]))  # fmt: skip
def test_exclude_exactly_when_reserved(values: dict[Purpose, Decision], protocol: str) -> None:
    """For any one signal, the item is excluded exactly when its verdict for genai-training is reserved."""
    result = _result(_signal(protocol, values))
    screening = decide(result, AuditPolicy())
    reserved = result.decision(Purpose.GENAI_TRAINING) is Decision.RESERVED
    assert (screening.decision == "exclude") == reserved
    assert (protocol in screening.protocols) == reserved
