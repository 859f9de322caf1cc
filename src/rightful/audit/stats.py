"""Counts kept per shard (in its done marker) and summed by the driver: what the report and summary are made of.

A shard's counts are small (at most one entry per domain it saw), so the driver builds the whole audit's
totals from the markers alone, without reading any result file.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from rightful.media import media_type_for
from rightful.models import CheckResult, Decision, Purpose

__all__ = ["AuditTotals", "ShardStats", "domain_of", "modality_of"]

_MODALITY = {"image": "image", "video": "video", "audio": "audio", "text": "text"}
_DOCUMENTS = {"application/pdf": "text", "application/epub+zip": "text", "application/json": "text"}
_VALUES: dict[Purpose | Decision, str] = {member: member.value for member in (*Purpose, *Decision)}


def domain_of(url: str | None) -> str | None:
    """The URL's host, lower-cased, with the port when it is not the scheme's default (loopback test sites)."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return host.lower() if port in (None, default) else f"{host.lower()}:{port}"


def modality_of(name: str | None) -> str:
    """``image`` / ``text`` / ``video`` / ``audio`` / ``other``, from the file name or URL path's extension."""
    if not name:
        return "other"
    is_url = "://" in name
    base = (urlsplit(name).path if is_url else name).rsplit("/", 1)[-1]
    dot = base.rfind(".")
    return _modality(base[dot:].lower() if dot > 0 else "", is_url)


@functools.lru_cache(maxsize=4096)
def _modality(suffix: str, is_url: bool) -> str:
    """By extension alone, cached: called once per item of a dataset, with a handful of distinct answers."""
    media_type = (media_type_for(f"x{suffix}") if suffix else None) or ("text/html" if is_url else None)
    if media_type is None:
        return "other"
    return _DOCUMENTS.get(media_type) or _MODALITY.get(media_type.split("/", 1)[0], "other")


@dataclass(slots=True)
class _Counts:
    """The counters a shard and the whole audit share. ``domains`` maps a host to ``[items, excluded]``."""

    rows: int = 0
    keep: int = 0
    exclude: int = 0
    duplicates: int = 0
    malformed: int = 0
    with_errors: int = 0
    status: Counter[str] = field(default_factory=Counter)
    verdicts: dict[str, Counter[str]] = field(default_factory=dict)
    exclusions_by_protocol: Counter[str] = field(default_factory=Counter)
    coverage: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    licences: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    modalities: Counter[str] = field(default_factory=Counter)
    domains: dict[str, list[int]] = field(default_factory=dict)
    first_checked: str | None = None
    last_checked: str | None = None


@dataclass(slots=True, kw_only=True)
class ShardStats(_Counts):
    """What one shard found."""

    shard: int

    def add(
        self, *, result: CheckResult, decision: str, status: Decision, protocols: Iterable[str], url: str | None,
        name: str | None, duplicate: bool, malformed: bool,
    ) -> None:  # fmt: skip
        self.rows += 1
        excluded = decision == "exclude"
        self.exclude += excluded
        self.keep += not excluded
        self.duplicates += duplicate
        self.malformed += malformed
        self.with_errors += bool(result.errors)
        self.status[_VALUES[status]] += 1
        for purpose, verdict in result.verdicts.items():  # enum .value is a slow descriptor: one dict lookup
            self.verdicts.setdefault(_VALUES[purpose], Counter())[_VALUES[verdict.decision]] += 1
        for protocol in set(protocols):
            self.exclusions_by_protocol[protocol] += 1
        for protocol in {s.protocol for s in result.signals}:
            self.coverage[protocol] += 1
        for code in {e.code for e in result.errors}:
            self.errors[code] += 1
        for licence in {c.licence for c in result.licence if c.licence}:
            self.licences[licence] += 1
        self.kinds[result.kind] += 1
        self.modalities[modality_of(name or url)] += 1
        host = domain_of(url)
        if host is not None:
            counts = self.domains.setdefault(host, [0, 0])
            counts[0] += 1
            counts[1] += excluded
        checked = result.checked_at.isoformat()
        self.first_checked = min(self.first_checked or checked, checked)
        self.last_checked = max(self.last_checked or checked, checked)

    def to_dict(self) -> dict[str, Any]:
        return {
            "shard": self.shard, "rows": self.rows, "keep": self.keep, "exclude": self.exclude,
            "duplicates": self.duplicates, "malformed": self.malformed, "with_errors": self.with_errors,
            "status": dict(self.status),
            "verdicts": {p: dict(c) for p, c in self.verdicts.items()},
            "exclusions_by_protocol": dict(self.exclusions_by_protocol), "coverage": dict(self.coverage),
            "errors": dict(self.errors), "licences": dict(self.licences), "kinds": dict(self.kinds),
            "modalities": dict(self.modalities), "domains": self.domains, "first_checked": self.first_checked,
            "last_checked": self.last_checked,
        }  # fmt: skip


@dataclass(slots=True)
class AuditTotals(_Counts):
    """The sum of every finished shard's counts."""

    shards: int = 0

    @classmethod
    def from_markers(cls, markers: Iterable[Mapping[str, Any]]) -> AuditTotals:
        totals = cls()
        for marker in markers:
            totals.add(marker)
        return totals

    def add(self, marker: Mapping[str, Any]) -> None:
        self.shards += 1
        for name in ("rows", "keep", "exclude", "duplicates", "malformed", "with_errors"):
            setattr(self, name, getattr(self, name) + int(marker.get(name, 0)))
        for name in ("status", "exclusions_by_protocol", "coverage", "errors", "licences", "kinds", "modalities"):
            getattr(self, name).update(marker.get(name) or {})
        for purpose, counts in (marker.get("verdicts") or {}).items():
            self.verdicts.setdefault(purpose, Counter()).update(counts)
        for host, (items, excluded) in (marker.get("domains") or {}).items():
            counts = self.domains.setdefault(host, [0, 0])
            counts[0] += items
            counts[1] += excluded
        for name, pick in (("first_checked", min), ("last_checked", max)):
            value = marker.get(name)
            if value:
                current = getattr(self, name)
                setattr(self, name, pick(current, value) if current else value)

    def top_domains(self, n: int) -> list[tuple[str, int, int]]:
        """``(domain, items, excluded)`` by volume, largest first (ties by name, so the order is stable)."""
        ranked = sorted(self.domains.items(), key=lambda kv: (-kv[1][0], kv[0]))
        return [(host, c[0], c[1]) for host, c in ranked[:n]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "shards": self.shards, "rows": self.rows, "keep": self.keep, "exclude": self.exclude,
            "duplicates": self.duplicates, "malformed": self.malformed, "with_errors": self.with_errors,
            "status": dict(self.status),
            "verdicts": {p: dict(c) for p, c in self.verdicts.items()},
            "exclusions_by_protocol": dict(self.exclusions_by_protocol.most_common()),
            "coverage": dict(self.coverage.most_common()), "errors": dict(self.errors.most_common()),
            "licences": dict(self.licences.most_common()), "kinds": dict(self.kinds),
            "modalities": dict(self.modalities), "domains": len(self.domains),
            "first_checked": self.first_checked, "last_checked": self.last_checked,
        }  # fmt: skip


PURPOSE_COLUMNS = tuple(p.value.replace("-", "_") for p in Purpose)
