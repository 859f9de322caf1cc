"""Shared vocabulary: purposes, decisions, signals, verdicts and check results.

Value objects are frozen dataclasses. A :class:`Signal` is one machine-readable statement found somewhere (a
robots.txt group, a header, an XMP property, a C2PA assertion) with its per-purpose values; a :class:`Verdict`
is the combination of all signals for one purpose; a :class:`CheckResult` holds everything known about one item.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

try:  # a compiled encoder: evidence JSON is written for every item of an audit
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; the standard library is the fallback
    orjson = None  # type: ignore[assignment]

__all__ = [
    "BROADER",
    "CheckResult",
    "Decision",
    "Fingerprint",
    "ItemError",
    "LicenceConstraint",
    "Match",
    "MatchBand",
    "Purpose",
    "Signal",
    "TermStatus",
    "Terms",
    "Verdict",
    "Work",
    "compact_json",
    "document_hash",
    "expand_values",
    "utcnow",
]


class Purpose(StrEnum):
    """What the content would be used for (SPEC-signals.md, "Purposes")."""

    AI_TRAINING = "ai-training"
    GENAI_TRAINING = "genai-training"
    DATA_MINING = "data-mining"
    AI_INFERENCE = "ai-inference"
    SEARCH = "search"


class Decision(StrEnum):
    """The answer for one purpose."""

    RESERVED = "reserved"
    ALLOWED = "allowed"
    UNKNOWN = "unknown"


#: The purpose each purpose is a subset of: data-mining ⊇ ai-training ⊇ genai-training.
BROADER: Mapping[Purpose, Purpose] = {
    Purpose.AI_TRAINING: Purpose.DATA_MINING,
    Purpose.GENAI_TRAINING: Purpose.AI_TRAINING,
}


def expand_values(values: Mapping[Purpose, Decision]) -> dict[Purpose, Decision]:
    """Carry a signal's statement about a broader purpose down to the narrower ones it contains.

    A reservation of a broader purpose always reserves the narrower one. A permission of a broader purpose
    applies to a narrower one only where the same signal says nothing more specific about it; a signal marks
    "this statement does not speak to that narrower purpose" with ``Decision.UNKNOWN``, which blocks the
    permission from carrying down and is then dropped (a signal never *states* unknown).
    """
    out: dict[Purpose, Decision] = {p: d for p, d in values.items() if d is not Decision.UNKNOWN}
    if Purpose.DATA_MINING not in out and Purpose.AI_TRAINING not in out:
        return out  # nothing broader to carry down
    silent = {p for p, d in values.items() if d is Decision.UNKNOWN}
    for narrow in (Purpose.AI_TRAINING, Purpose.GENAI_TRAINING):  # broad to narrow, so chains resolve
        broad = out.get(BROADER[narrow])
        speaks = narrow in out or narrow in silent
        if broad is Decision.RESERVED or (broad is Decision.ALLOWED and not speaks):
            out[narrow] = broad
    return out


def utcnow() -> datetime:
    return datetime.now(UTC)


def document_hash(body: bytes) -> str:
    """The hash recorded in evidence for a fetched or read document."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True, slots=True)
class Signal:
    """One machine-readable statement, with the evidence needed to show where it came from.

    ``values`` holds only the purposes the statement speaks to (after :func:`expand_values`); a signal that
    expresses nothing about a purpose leaves it out. ``rule`` says in words which rule decided, e.g.
    ``"Disallow: / (line 12) in group for GPTBot"``.
    """

    protocol: str
    location: str
    raw: str
    rule: str
    values: Mapping[Purpose, Decision] = field(default_factory=dict)
    line: int | None = None
    fetched_at: datetime | None = None
    document_hash: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", expand_values(self.values))

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "location": self.location,
            "line": self.line,
            "raw": self.raw,
            "rule": self.rule,
            "values": {str(p): str(d) for p, d in self.values.items()},
            "fetched_at": _iso(self.fetched_at),
            "document_hash": self.document_hash,
            "details": _jsonable(self.details),
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """The combined answer for one item and one purpose, with the signals that decided it."""

    purpose: Purpose
    decision: Decision
    policy: str
    deciding: tuple[Signal, ...] = ()

    @property
    def rule(self) -> str:
        if not self.deciding:
            return "no signal expresses this purpose"
        return "; ".join(f"{s.protocol}: {s.rule}" for s in self.deciding)


@dataclass(frozen=True, slots=True)
class LicenceConstraint:
    """Licence terms attached to an item (Creative Commons, xmpRights, RSL): not an opt-out, but binding."""

    source: str
    location: str
    licence: str | None = None
    flags: tuple[str, ...] = ()
    terms: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "location": self.location,
            "licence": self.licence,
            "flags": list(self.flags),
            "terms": self.terms,
        }


@dataclass(frozen=True, slots=True)
class ItemError:
    """A non-fatal problem met while checking an item: recorded, never silently turned into "allowed"."""

    code: str
    message: str
    protocol: str | None = None
    location: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "protocol": self.protocol, "location": self.location}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Everything known about one item: verdicts per purpose, all signals, licence constraints, errors."""

    item: str
    kind: str  # "url" | "file" | "response"
    verdicts: Mapping[Purpose, Verdict]
    signals: tuple[Signal, ...] = ()
    licence: tuple[LicenceConstraint, ...] = ()
    errors: tuple[ItemError, ...] = ()
    crawl_allowed: bool | None = None
    checked_at: datetime = field(default_factory=utcnow)

    def decision(self, purpose: Purpose | str) -> Decision:
        return self.verdicts[Purpose(purpose)].decision

    @property
    def reserved(self) -> bool:
        """True when any purpose is reserved."""
        return any(v.decision is Decision.RESERVED for v in self.verdicts.values())

    def to_dict(self) -> dict[str, Any]:
        index = {id(s): i for i, s in enumerate(self.signals)}  # identity, not equality: cheap and exact
        return {
            "item": self.item,
            "kind": self.kind,
            "verdicts": {str(p): str(v.decision) for p, v in self.verdicts.items()},
            "deciding": {
                str(p): [index[id(s)] for s in v.deciding if id(s) in index] for p, v in self.verdicts.items()
            },
            "policy": next(iter(self.verdicts.values())).policy if self.verdicts else None,
            "crawl_allowed": self.crawl_allowed,
            "signals": [s.to_dict() for s in self.signals],
            "licence": [c.to_dict() for c in self.licence],
            "errors": [e.to_dict() for e in self.errors],
            "checked_at": _iso(self.checked_at),
        }

    def to_json(self) -> str:
        return compact_json(self.to_dict())

    def to_row(self) -> dict[str, Any]:
        """A flat row (scalars only) for Parquet and CSV manifests."""
        row: dict[str, Any] = {"item": self.item, "kind": self.kind}
        for purpose in Purpose:
            verdict = self.verdicts.get(purpose)
            row[purpose.value.replace("-", "_")] = str(verdict.decision) if verdict else None
        row["protocols"] = ",".join(sorted({s.protocol for s in self.signals}))
        row["licence"] = ",".join(sorted({c.licence for c in self.licence if c.licence}))
        row["errors"] = len(self.errors)
        row["crawl_allowed"] = self.crawl_allowed
        row["checked_at"] = _iso(self.checked_at)
        return row


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Iterable):
        return [_jsonable(v) for v in value]
    return str(value)


# --- works registry vocabulary (issue #5) -------------------------------------------------------------------


class TermStatus(StrEnum):
    """What a rights-holder says about one purpose of a registered work."""

    RESERVED = "reserved"
    ALLOWED = "allowed"
    LICENSED = "licensed"  # reserved unless a licence is taken (the licence URL says where)


class MatchBand(StrEnum):
    """How close a match is, strongest first (thresholds in docs/registry.md)."""

    EXACT = "exact"
    NEAR_DUPLICATE = "near-duplicate"
    PARTIAL = "partial"
    SIMILAR = "similar"


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """One fingerprint of a work: ``kind`` (``pdq``, ``phash``, ``embedding:<model>``, ``text-minhash``,
    ``text-winnow``), its bytes, the hasher's quality (PDQ: 0–100) and the region it covers (``full``, a
    crop window such as ``c80``, or a dihedral variant)."""

    kind: str
    value: bytes
    quality: int | None = None
    region: str = "full"

    def to_dict(self) -> dict[str, Any]:
        shown = self.value.hex() if len(self.value) <= 64 else f"{len(self.value)} bytes"
        return {"kind": self.kind, "region": self.region, "quality": self.quality, "value": shown}


@dataclass(frozen=True, slots=True)
class Terms:
    """A work's terms: a status per purpose, plus where to get a licence and whom to ask."""

    purposes: Mapping[Purpose, TermStatus] = field(default_factory=dict)
    licence: str | None = None
    contact: str | None = None

    def decision(self, purpose: Purpose) -> Decision:
        """Licensed counts as reserved: the use needs a licence the registry cannot see."""
        status = self.purposes.get(purpose)
        if status is None:
            return Decision.UNKNOWN
        return Decision.ALLOWED if status is TermStatus.ALLOWED else Decision.RESERVED

    def to_dict(self) -> dict[str, Any]:
        return {
            "purposes": {str(p): str(s) for p, s in self.purposes.items()},
            "licence": self.licence,
            "contact": self.contact,
        }


@dataclass(frozen=True, slots=True)
class Work:
    """A registered creative work with its terms (fingerprints are loaded only when asked for)."""

    id: int
    owner: str
    media_type: str
    digest: str
    terms: Terms
    title: str | None = None
    source: str | None = None
    size: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    fingerprints: tuple[Fingerprint, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner": self.owner,
            "title": self.title,
            "media_type": self.media_type,
            "digest": self.digest,
            "source": self.source,
            "size": self.size,
            "terms": self.terms.to_dict(),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "fingerprints": [f.to_dict() for f in self.fingerprints],
        }


@dataclass(frozen=True, slots=True)
class Match:
    """A query that replicates (part of) a registered work: Hamming ``distance`` for hashes, ``score`` for
    similarities (Jaccard, cosine, span coverage); ``evidence`` says which region, variant or span matched."""

    work: Work
    band: MatchBand
    kind: str
    distance: int | None = None
    score: float | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"work_id": self.work.id, "band": str(self.band), "kind": self.kind}
        if self.distance is not None:
            out["distance"] = self.distance
        if self.score is not None:
            out["score"] = round(self.score, 4)
        out["evidence"] = _jsonable(self.evidence)
        out["owner"] = self.work.owner
        out["title"] = self.work.title
        out["terms"] = self.work.terms.to_dict()
        return out


def compact_json(value: Any) -> str:
    """Compact JSON text (UTF-8, no spaces) — orjson's when it can encode the value (several times faster than the
    standard library), else ``json.dumps``; either parses back to the same value. (One difference by design: a
    NaN or infinite float becomes ``null`` under orjson, where ``json`` writes the non-standard ``NaN``.)"""
    if orjson is not None:
        try:
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # e.g. an integer beyond 64 bits: the standard library handles it
            pass
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
