"""The audit policy: which purposes the dataset will be used for, and what happens to items nobody spoke about.

The default is what generative-AI builders do: the purpose is ``genai-training`` (a broader reservation,
``ai-training`` or ``data-mining``, covers it through :data:`rightful.models.BROADER`), an item is excluded when
that purpose is reserved, and an item with no signal at all is kept and counted. Any reserving signal excludes,
whatever its protocol (robots.txt, TDMRep, IPTC, C2PA, a registry match with protocol ``registry`` …), and the
reason names the protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rightful.errors import InvalidInput
from rightful.models import CheckResult, Decision, Purpose
from rightful.signals.policy import parse_purposes

__all__ = ["AuditPolicy", "Screening", "decide"]

OnUnknown = Literal["keep", "exclude"]


@dataclass(frozen=True, slots=True)
class AuditPolicy:
    """What the audited data will be used for, and the answer for items no signal speaks about."""

    purposes: tuple[Purpose, ...] = (Purpose.GENAI_TRAINING,)
    on_unknown: OnUnknown = "keep"

    def __post_init__(self) -> None:
        if not self.purposes:
            raise InvalidInput("an audit needs at least one purpose")
        if self.on_unknown not in ("keep", "exclude"):
            raise InvalidInput(f"on_unknown must be 'keep' or 'exclude', not {self.on_unknown!r}")

    @classmethod
    def from_names(cls, purposes: Iterable[str] | None = None, *, on_unknown: str = "keep") -> AuditPolicy:
        """From user input: purpose names (default ``genai-training``) and ``keep``/``exclude``."""
        chosen = parse_purposes(list(purposes)) if purposes else (Purpose.GENAI_TRAINING,)
        if on_unknown not in ("keep", "exclude"):
            raise InvalidInput(f"--on-unknown must be 'keep' or 'exclude', not {on_unknown!r}")
        return cls(purposes=chosen, on_unknown=on_unknown)  # type: ignore[arg-type]

    @property
    def name(self) -> str:
        """A short, stable name written into every result: ``exclude-reserved[genai-training];unknown=keep``."""
        return f"exclude-reserved[{','.join(p.value for p in self.purposes)}];unknown={self.on_unknown}"


@dataclass(frozen=True, slots=True)
class Screening:
    """The decision for one item: keep or exclude, the combined status, and why."""

    decision: Literal["keep", "exclude"]
    status: Decision
    reasons: tuple[str, ...]
    protocols: tuple[str, ...]


def decide(result: CheckResult, policy: AuditPolicy) -> Screening:
    """Reserved for any policy purpose → exclude; else unknown for any → ``on_unknown``; else keep.

    Reasons name each reserving signal's protocol, rule and location, so an excluded item's evidence reads
    on its own ("genai-training reserved by robots.txt: Disallow: / … (https://x/robots.txt:3)").
    """
    reasons: list[str] = []
    protocols: list[str] = []
    statuses: list[Decision] = []
    for purpose in policy.purposes:
        verdict = result.verdicts.get(purpose)
        decision = verdict.decision if verdict is not None else Decision.UNKNOWN
        statuses.append(decision)
        if verdict is not None and decision is Decision.RESERVED:
            for signal in verdict.deciding:
                where = signal.location + (f":{signal.line}" if signal.line else "")
                reasons.append(f"{purpose.value} reserved by {signal.protocol}: {signal.rule} ({where})")
                protocols.append(signal.protocol)
    if Decision.RESERVED in statuses:
        unique = tuple(dict.fromkeys(reasons)), tuple(dict.fromkeys(protocols))
        return Screening("exclude", Decision.RESERVED, *unique)
    if Decision.UNKNOWN in statuses:
        why = _unknown_reason(
            result, [p for p, s in zip(policy.purposes, statuses, strict=True) if s is Decision.UNKNOWN]
        )
        return Screening(policy.on_unknown, Decision.UNKNOWN, (why,), ())
    return Screening("keep", Decision.ALLOWED, (), ())


def _unknown_reason(result: CheckResult, purposes: Sequence[Purpose]) -> str:
    names = ", ".join(p.value for p in purposes)
    if result.errors:
        codes = ", ".join(sorted({e.code for e in result.errors}))
        return f"no signal expresses {names} (errors: {codes})"
    return f"no signal expresses {names}"
