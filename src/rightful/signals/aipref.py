"""IETF AI preferences (``Content-Usage``) and Cloudflare ``Content-Signal`` statements.

``Content-Usage`` is an RFC 9651 Structured Fields dictionary whose keys are vocabulary labels and whose values
are the tokens ``y`` / ``n`` (draft-ietf-aipref-attach, draft-ietf-aipref-vocab). The drafts are not consensus
yet, so the vocabulary is versioned (:data:`VOCABULARY_VERSION`) and labels from earlier drafts are recognised
with a warning but given no purpose value: their meaning changed between drafts, and guessing it could turn a
statement into the opposite of what the publisher meant.

``Content-Signal`` (Cloudflare, draft-romm-aipref-contentsignals) is a plain comma list of ``key=yes|no``; an
omitted key expresses nothing. Both are read from response headers here and from robots.txt groups by
:mod:`rightful.signals.robots`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

import http_sf

from rightful.models import Decision, Purpose, Signal
from rightful.signals.base import Findings, HeaderMap

__all__ = [
    "CONTENT_SIGNAL_KEYS",
    "LABELS",
    "LEGACY_LABELS",
    "VOCABULARY_VERSION",
    "ContentSignal",
    "ContentUsage",
    "combine_content_signals",
    "combine_content_usage",
    "content_signal_findings",
    "content_usage_findings",
    "header_findings",
    "parse_content_signal",
    "parse_content_usage",
    "signal_findings",
    "usage_findings",
]

#: The aipref vocabulary draft whose labels :data:`LABELS` implements.
VOCABULARY_VERSION: Final = "draft-ietf-aipref-vocab-05"
#: Current vocabulary labels and the purpose each one speaks to.
LABELS: Final[Mapping[str, Purpose]] = {"train-ai": Purpose.AI_TRAINING, "search": Purpose.SEARCH}
#: Labels of earlier drafts: recognised (a ``legacy-label`` warning), never mapped to a purpose.
LEGACY_LABELS: Final = frozenset({"ai", "train-genai", "ai-use", "all"})
#: Content-Signal keys and the purpose each one speaks to.
CONTENT_SIGNAL_KEYS: Final[Mapping[str, Purpose]] = {
    "search": Purpose.SEARCH,
    "ai-train": Purpose.AI_TRAINING,
    "ai-input": Purpose.AI_INFERENCE,
}

Pref = Literal["y", "n"]
_DECISION: Final[Mapping[str, Decision]] = {"y": Decision.ALLOWED, "n": Decision.RESERVED}
# http_sf raises StructuredFieldError for syntax errors; the others cover odd inputs it does not anticipate.
_SF_ERRORS: Final = (http_sf.StructuredFieldError, ValueError, IndexError, TypeError, UnicodeError)


@dataclass(frozen=True, slots=True)
class ContentUsage:
    """One parsed ``Content-Usage`` value: every current label is present, ``None`` meaning unknown."""

    raw: str
    prefs: Mapping[str, Pref | None]
    legacy: Mapping[str, Pref | None] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None

    def values(self) -> dict[Purpose, Decision]:
        """The purposes this statement speaks to (unknown labels are left out)."""
        return {LABELS[k]: _DECISION[v] for k, v in self.prefs.items() if v is not None}

    def details(self) -> dict[str, Any]:
        return {
            "vocabulary": VOCABULARY_VERSION,
            "prefs": dict(self.prefs),
            "legacy": dict(self.legacy),
            "ignored": list(self.ignored),
            "warnings": list(self.warnings),
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class ContentSignal:
    """One parsed ``Content-Signal`` value: only the keys that were stated, ``True`` for yes."""

    raw: str
    signals: Mapping[str, bool]
    unknown: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def values(self) -> dict[Purpose, Decision]:
        return {
            CONTENT_SIGNAL_KEYS[k]: Decision.ALLOWED if yes else Decision.RESERVED for k, yes in self.signals.items()
        }

    def details(self) -> dict[str, Any]:
        return {
            "signals": {k: "yes" if v else "no" for k, v in self.signals.items()},
            "unknown": list(self.unknown),
            "warnings": list(self.warnings),
        }


def parse_content_usage(value: str) -> ContentUsage:
    """Parse a ``Content-Usage`` value (several header lines must be joined with ``", "`` first).

    A value that is not a valid Structured Fields dictionary (an uppercase key, a stray character) makes every
    label unknown and sets ``error``. A repeated key: the last one wins, as RFC 9651 says.
    """
    unknown: dict[str, Pref | None] = dict.fromkeys(LABELS)
    try:
        parsed = http_sf.parse(value.strip().encode("utf-8"), tltype="dictionary")
    except _SF_ERRORS as exc:
        return ContentUsage(raw=value, prefs=unknown, error=f"not a Structured Fields dictionary: {exc}")
    if not isinstance(parsed, dict):  # pragma: no cover - http_sf returns a dict for tltype="dictionary"
        return ContentUsage(raw=value, prefs=unknown, error="not a Structured Fields dictionary")
    prefs, legacy, ignored, warnings = dict(unknown), {}, [], []
    for key, member in parsed.items():
        pref = _pref(member)
        if key in LABELS:
            prefs[key] = pref
            if pref is None:
                warnings.append(f"{key}: value is not the token y or n, so the preference is unknown")
        elif key in LEGACY_LABELS:
            legacy[key] = pref
            warnings.append(f"{key}: legacy label of an earlier aipref draft, given no purpose value")
        else:
            ignored.append(key)
    return ContentUsage(raw=value, prefs=prefs, legacy=legacy, ignored=tuple(ignored), warnings=tuple(warnings))


def _pref(member: Any) -> Pref | None:
    item = member[0] if isinstance(member, tuple) else member
    if isinstance(item, http_sf.Token) and str(item) in _DECISION:
        return "y" if str(item) == "y" else "n"
    return None


def combine_content_usage(usages: Sequence[ContentUsage]) -> ContentUsage:
    """Several statements for the same scope: per label any ``n`` wins, else any ``y``, else unknown."""
    if len(usages) == 1:
        return usages[0]
    prefs: dict[str, Pref | None] = {}
    for label in LABELS:
        stated = {u.prefs.get(label) for u in usages}
        prefs[label] = "n" if "n" in stated else "y" if "y" in stated else None
    return ContentUsage(
        raw=", ".join(u.raw for u in usages),
        prefs=prefs,
        legacy={k: v for u in usages for k, v in u.legacy.items()},
        ignored=tuple(k for u in usages for k in u.ignored),
        warnings=tuple(w for u in usages for w in u.warnings),
        error="; ".join(u.error for u in usages if u.error) or None,
    )


def parse_content_signal(value: str) -> ContentSignal:
    """Parse ``search=yes, ai-train=no[, ai-input=no]``; lenient on spacing and case.

    Unknown keys and values other than yes/no are recorded and say nothing. A key stated twice with
    different values counts as ``no`` (the restrictive reading) and is warned about.
    """
    signals: dict[str, bool] = {}
    unknown: list[str] = []
    warnings: list[str] = []
    for member in value.split(","):
        if not member.strip():
            continue
        key, sep, raw_val = member.partition("=")
        key, val = key.strip().lower(), raw_val.strip().strip('"').strip().lower()
        if key not in CONTENT_SIGNAL_KEYS:
            unknown.append(member.strip())
        elif not sep or val not in {"yes", "no"}:
            warnings.append(f"{key}: value {raw_val.strip()!r} is not yes or no, so it says nothing")
        elif key in signals and signals[key] != (val == "yes"):
            warnings.append(f"{key}: stated as both yes and no; no wins")
            signals[key] = False
        else:
            signals[key] = val == "yes"
    return ContentSignal(raw=value, signals=signals, unknown=tuple(unknown), warnings=tuple(warnings))


def combine_content_signals(items: Sequence[ContentSignal]) -> ContentSignal:
    """Several statements for the same scope: per key ``no`` wins over ``yes``."""
    if len(items) == 1:
        return items[0]
    signals: dict[str, bool] = {}
    for item in items:
        for key, yes in item.signals.items():
            signals[key] = signals.get(key, True) and yes
    return ContentSignal(
        raw=", ".join(i.raw for i in items),
        signals=signals,
        unknown=tuple(k for i in items for k in i.unknown),
        warnings=tuple(w for i in items for w in i.warnings),
    )


def content_usage_findings(
    values: Sequence[str],
    *,
    location: str,
    line: int | None = None,
    fetched_at: datetime | None = None,
    document_hash: str | None = None,
) -> Findings:
    """Findings for the ``Content-Usage`` field lines of one response (all of them, in order)."""
    if not values:
        return Findings()
    usage = parse_content_usage(", ".join(values))
    rule = f"Content-Usage: {usage.raw}"
    return usage_findings(
        usage, location=location, rule=rule, line=line, fetched_at=fetched_at, document_hash=document_hash
    )


def usage_findings(
    usage: ContentUsage,
    *,
    location: str,
    rule: str,
    raw: str | None = None,
    line: int | None = None,
    fetched_at: datetime | None = None,
    document_hash: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Findings:
    """The signal (protocol ``aipref``) and errors for one parsed, possibly combined, statement."""
    findings = Findings()
    where = f"{rule}" if line is None else f"{rule} (line {line})"
    if usage.error:
        findings.error("aipref-parse", f"{where}: {usage.error}", protocol="aipref", location=location)
        rule += " (unparsable: every label unknown)"
    for label in usage.legacy:
        message = f"{where}: label {label!r} is from an earlier aipref draft; no purpose value given"
        findings.error("legacy-label", message, protocol="aipref", location=location)
    findings.signals.append(
        Signal(
            protocol="aipref",
            location=location,
            raw=usage.raw if raw is None else raw,
            rule=rule,
            values=usage.values(),
            line=line,
            fetched_at=fetched_at,
            document_hash=document_hash,
            details={**usage.details(), **(extra or {})},
        )
    )
    return findings


def content_signal_findings(
    values: Sequence[str],
    *,
    location: str,
    line: int | None = None,
    fetched_at: datetime | None = None,
    document_hash: str | None = None,
) -> Findings:
    """Findings for the ``Content-Signal`` field lines of one response (or one robots.txt line)."""
    if not values:
        return Findings()
    parsed = parse_content_signal(", ".join(values))
    rule = f"Content-Signal: {parsed.raw}"
    return signal_findings(
        parsed, location=location, rule=rule, line=line, fetched_at=fetched_at, document_hash=document_hash
    )


def signal_findings(
    parsed: ContentSignal,
    *,
    location: str,
    rule: str,
    raw: str | None = None,
    line: int | None = None,
    fetched_at: datetime | None = None,
    document_hash: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Findings:
    """The signal (protocol ``content-signal``) and errors for one parsed, possibly combined, statement."""
    findings = Findings()
    for member in parsed.unknown:
        findings.error(
            "content-signal-unknown-key",
            f"Content-Signal member {member!r} is not search, ai-train or ai-input",
            protocol="content-signal",
            location=location,
        )
    findings.signals.append(
        Signal(
            protocol="content-signal",
            location=location,
            raw=parsed.raw if raw is None else raw,
            rule=rule,
            values=parsed.values(),
            line=line,
            fetched_at=fetched_at,
            document_hash=document_hash,
            details={**parsed.details(), **(extra or {})},
        )
    )
    return findings


def header_findings(headers: HeaderMap, *, url: str, fetched_at: datetime | None = None) -> Findings:
    """Findings for the ``Content-Usage`` and ``Content-Signal`` headers of one response for ``url``."""
    findings = Findings()
    if usage := _non_empty(headers.get_all("Content-Usage")):
        parsed = parse_content_usage(", ".join(usage))
        rule = f"Content-Usage header: {parsed.raw}"
        extra = {"header": "Content-Usage"}
        findings.extend(usage_findings(parsed, location=url, rule=rule, fetched_at=fetched_at, extra=extra))
    if signal := _non_empty(headers.get_all("Content-Signal")):
        parsed_signal = parse_content_signal(", ".join(signal))
        rule = f"Content-Signal header: {parsed_signal.raw}"
        extra = {"header": "Content-Signal"}
        findings.extend(signal_findings(parsed_signal, location=url, rule=rule, fetched_at=fetched_at, extra=extra))
    return findings


def _non_empty(values: Iterable[str]) -> list[str]:
    return [v for v in values if v.strip()]
