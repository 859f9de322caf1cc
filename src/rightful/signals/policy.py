"""Combining per-protocol signals into one verdict per purpose.

Each protocol has already applied its own precedence (TDMRep's four places, robots.txt's longest match, aipref's
last-key-wins) before its signals reach this module. Across protocols the default is **most restrictive wins**:
any ``reserved`` → reserved, else any ``allowed`` → allowed, else unknown. ``most-permissive`` inverts the
first two steps, for users who want to know what *any* statement permits; the policy is named in every verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rightful.config import CombinePolicy
from rightful.models import Decision, Purpose, Signal, Verdict

__all__ = ["ALL_PURPOSES", "combine", "parse_purposes"]

ALL_PURPOSES: tuple[Purpose, ...] = tuple(Purpose)

_ORDER: dict[CombinePolicy, tuple[Decision, Decision]] = {
    "most-restrictive": (Decision.RESERVED, Decision.ALLOWED),
    "most-permissive": (Decision.ALLOWED, Decision.RESERVED),
}


def combine(
    signals: Sequence[Signal],
    *,
    purposes: Iterable[Purpose] = ALL_PURPOSES,
    policy: CombinePolicy = "most-restrictive",
) -> dict[Purpose, Verdict]:
    """One :class:`Verdict` per purpose; ``deciding`` holds every signal that gave the winning decision."""
    first, second = _ORDER[policy]
    by_decision: dict[tuple[Purpose, Decision], list[Signal]] = {}
    for signal in signals:
        for purpose, decision in signal.values.items():
            by_decision.setdefault((purpose, decision), []).append(signal)
    verdicts: dict[Purpose, Verdict] = {}
    for purpose in purposes:
        hits = by_decision.get((purpose, first))
        decision = first
        if hits is None:
            hits, decision = by_decision.get((purpose, second)), second
        if hits is None:
            verdicts[purpose] = Verdict(purpose=purpose, decision=Decision.UNKNOWN, policy=policy)
        else:
            verdicts[purpose] = Verdict(purpose=purpose, decision=decision, policy=policy, deciding=tuple(hits))
    return verdicts


def parse_purposes(names: Iterable[str] | None) -> tuple[Purpose, ...]:
    """Purposes from user input (``ai-training``, ``all``); unknown names raise ``InvalidInput``."""
    from rightful.errors import InvalidInput

    if not names:
        return ALL_PURPOSES
    out: list[Purpose] = []
    for name in names:
        for part in name.split(","):
            key = part.strip().lower()
            if key == "all":
                return ALL_PURPOSES
            try:
                purpose = Purpose(key)
            except ValueError:
                valid = ", ".join(p.value for p in Purpose)
                raise InvalidInput(f"unknown purpose {part!r}; choose from {valid}, all") from None
            if purpose not in out:
                out.append(purpose)
    return tuple(out)
