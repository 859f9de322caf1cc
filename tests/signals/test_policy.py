"""Combining signals across protocols into verdicts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rightful.errors import InvalidInput
from rightful.models import Decision, Purpose, Signal
from rightful.signals.policy import ALL_PURPOSES, combine, parse_purposes


def _signal(protocol: str, **values: Decision) -> Signal:
    mapped = {Purpose(k.replace("_", "-")): v for k, v in values.items()}
    return Signal(protocol=protocol, location="test", raw="raw", rule="rule", values=mapped)


def test_most_restrictive_wins_across_protocols() -> None:
    """Header y + robots.txt n → reserved (SPEC aipref vector); the deciding evidence is the reserving signal."""
    allow = _signal("aipref", ai_training=Decision.ALLOWED)
    deny = _signal("robots.txt", ai_training=Decision.RESERVED)
    verdict = combine([allow, deny])[Purpose.AI_TRAINING]
    assert verdict.decision is Decision.RESERVED
    assert verdict.deciding == (deny,)
    assert verdict.policy == "most-restrictive"


def test_most_permissive_policy_is_named_and_inverts() -> None:
    """The combination policy is configurable and named in the verdict."""
    allow = _signal("aipref", ai_training=Decision.ALLOWED)
    deny = _signal("robots.txt", ai_training=Decision.RESERVED)
    verdict = combine([allow, deny], policy="most-permissive")[Purpose.AI_TRAINING]
    assert verdict.decision is Decision.ALLOWED
    assert verdict.policy == "most-permissive"


def test_no_signal_is_unknown() -> None:
    """A purpose no signal speaks to is unknown, never allowed."""
    verdicts = combine([_signal("x-robots-tag", search=Decision.RESERVED)])
    assert verdicts[Purpose.AI_TRAINING].decision is Decision.UNKNOWN
    assert verdicts[Purpose.SEARCH].decision is Decision.RESERVED


def test_broader_reservation_reserves_narrower_purposes() -> None:
    """data-mining ⊇ ai-training ⊇ genai-training: reserving data mining reserves both training purposes."""
    verdicts = combine([_signal("tdmrep", data_mining=Decision.RESERVED)])
    assert verdicts[Purpose.AI_TRAINING].decision is Decision.RESERVED
    assert verdicts[Purpose.GENAI_TRAINING].decision is Decision.RESERVED
    assert verdicts[Purpose.SEARCH].decision is Decision.UNKNOWN


def test_narrow_reservation_does_not_widen() -> None:
    """Reserving only genai-training leaves ai-training and data-mining unknown."""
    verdicts = combine([_signal("iptc", genai_training=Decision.RESERVED)])
    assert verdicts[Purpose.GENAI_TRAINING].decision is Decision.RESERVED
    assert verdicts[Purpose.AI_TRAINING].decision is Decision.UNKNOWN


def test_specific_statement_beats_broad_permission_within_one_signal() -> None:
    """A signal allowing data mining but reserving ai-training keeps the reservation for ai-training."""
    signal = _signal("c2pa", data_mining=Decision.ALLOWED, ai_training=Decision.RESERVED)
    assert signal.values[Purpose.GENAI_TRAINING] is Decision.RESERVED
    assert combine([signal])[Purpose.DATA_MINING].decision is Decision.ALLOWED


def test_parse_purposes_accepts_lists_commas_and_all() -> None:
    """Purposes come from repeatable options or comma lists; 'all' means every purpose."""
    assert parse_purposes(["ai-training,search"]) == (Purpose.AI_TRAINING, Purpose.SEARCH)
    assert parse_purposes(["all"]) == ALL_PURPOSES
    assert parse_purposes(None) == ALL_PURPOSES
    with pytest.raises(InvalidInput, match="unknown purpose"):
        parse_purposes(["training"])


_decisions = st.sampled_from(list(Decision))


@given(st.lists(st.dictionaries(st.sampled_from(list(Purpose)), _decisions), max_size=6))
def test_one_reservation_always_reserves(values: list[dict[Purpose, Decision]]) -> None:
    """Under most-restrictive, a purpose is reserved exactly when some signal reserves it."""
    signals = [Signal(protocol="p", location="l", raw="r", rule="r", values=v) for v in values]
    verdicts = combine(signals)
    for purpose in Purpose:
        expected = any(s.values.get(purpose) is Decision.RESERVED for s in signals)
        assert (verdicts[purpose].decision is Decision.RESERVED) == expected


def test_unknown_marks_a_narrower_purpose_as_not_spoken_to() -> None:
    """A permission of data-mining does not carry to ai-training when the signal marks it unknown."""
    signal = _signal("robots.txt", data_mining=Decision.ALLOWED, ai_training=Decision.UNKNOWN)
    assert signal.values == {Purpose.DATA_MINING: Decision.ALLOWED}
    verdicts = combine([signal], policy="most-permissive")
    assert verdicts[Purpose.AI_TRAINING].decision is Decision.UNKNOWN
