"""The registry as a signal source: a match to a registered work whose terms reserve a purpose is a signal.

:func:`registry_findings` is what ``check_file`` / ``check_url`` / ``audit`` call for each item's bytes. It is
free when no registry exists (nothing is created, no index loaded), it never raises (problems become
:class:`~rightful.models.ItemError` records), and it keeps one open registry per database per process so an
audit does not reload the index for every item.
"""

from __future__ import annotations

import os
import threading
import time

from rightful._presence import forget, registry_absent
from rightful.config import Settings
from rightful.errors import InvalidInput, RegistryError
from rightful.models import Decision, LicenceConstraint, Match, MatchBand, Purpose, Signal, TermStatus
from rightful.registry.store import registry_exists
from rightful.registry.works import Registry, database_url
from rightful.signals.base import Findings

__all__ = ["PROTOCOL", "SIGNAL_BANDS", "close_cached", "match_signal", "registry_findings"]

PROTOCOL = "registry"
#: Bands trusted enough to carry a work's terms over to the item (``similar`` is not).
SIGNAL_BANDS = frozenset({MatchBand.EXACT, MatchBand.NEAR_DUPLICATE, MatchBand.PARTIAL})

_LOCK = threading.Lock()
_OPEN: dict[str, Registry] = {}
#: PostgreSQL databases found to hold no registry, with the time bucket they were asked in: a bulk check asks
#: once per item, so a server is asked again only every few seconds. (SQLite is answered by ``_presence``.)
_ABSENT: dict[str, int] = {}
_ABSENT_TTL = 5.0


def _registry(settings: Settings) -> Registry | None:
    url = database_url(settings)
    with _LOCK:
        cached = _OPEN.get(url)
        if cached is not None:  # once a registry is open, no file is looked at again
            return cached
        if registry_absent(settings):  # the default SQLite database without a registry: free, and remembered
            return None
        if not url.startswith("sqlite:///"):
            bucket = int(time.monotonic() // _ABSENT_TTL)
            if _ABSENT.get(url) == bucket:
                return None
            if not registry_exists(url):
                _ABSENT[url] = bucket
                return None
            _ABSENT.pop(url, None)
        registry = Registry.open(settings, create=False)
        _OPEN[url] = registry
        return registry


_inherited: list[Registry] = []


def _forget_open() -> None:
    """In a forked child: the parent's open registries (database connections, index) are set aside untouched;
    the child opens its own on first use."""
    _inherited.extend(_OPEN.values())
    _OPEN.clear()


os.register_at_fork(after_in_child=_forget_open)


def close_cached() -> None:
    """Close the registries opened by :func:`registry_findings` (tests, and a service shutting down)."""
    with _LOCK:
        for registry in _OPEN.values():
            registry.close()
        _OPEN.clear()
        _ABSENT.clear()
    forget()


def registry_findings(data: bytes, *, location: str, media_type: str | None, settings: Settings) -> Findings:
    """Signals from registry matches for one item's bytes (images and plain text; other types: nothing)."""
    findings = Findings()
    if not data:
        return findings
    try:
        registry = _registry(settings)
        if registry is None:
            return findings
        with _LOCK:  # one index per process: queries are serialised with its catch-up
            report = registry.match(data, media_type=media_type, min_band=MatchBand.PARTIAL)
    except InvalidInput as exc:
        if "images and plain text only" not in str(exc):
            findings.error("registry-fingerprint", str(exc), protocol=PROTOCOL, location=location)
        return findings
    except RegistryError as exc:
        findings.error("registry-unavailable", str(exc), protocol=PROTOCOL, location=location)
        return findings
    for match in report.matches:
        signal = match_signal(match, location=location)
        if signal is not None:
            findings.signals.append(signal)
            if match.work.terms.licence:
                findings.licence.append(LicenceConstraint(source=PROTOCOL, location=location,
                                                          licence=match.work.terms.licence,
                                                          terms=f"registered work {match.work.id}"))  # fmt: skip
    return findings


def match_signal(match: Match, *, location: str) -> Signal | None:
    """The signal one match carries: the work's reserved (and licensed) purposes, or None."""
    if match.band not in SIGNAL_BANDS:
        return None
    terms = match.work.terms
    values = {p: Decision.RESERVED for p, s in terms.purposes.items() if s is not TermStatus.ALLOWED}
    if not values:
        return None
    how = f"PDQ distance {match.distance}" if match.distance is not None else f"score {match.score}"
    statuses = ", ".join(f"{p}: {s}" for p, s in sorted(terms.purposes.items()) if p in values)
    work = match.work
    details = {"work_id": work.id, "band": str(match.band), "kind": match.kind, "owner": work.owner,
               "title": work.title, "licence": terms.licence, "contact": terms.contact,
               "evidence": match.evidence}  # fmt: skip
    if match.distance is not None:
        details["distance"] = match.distance
    if match.score is not None:
        details["score"] = match.score
    return Signal(
        protocol=PROTOCOL,
        location=location,
        raw=f"registered work {work.id} by {work.owner}" + (f": {work.title}" if work.title else ""),
        rule=f"{match.band} match ({match.kind}, {how}) to registered work {work.id}; terms {statuses}",
        values=dict[Purpose, Decision](values),
        details=details,
    )
