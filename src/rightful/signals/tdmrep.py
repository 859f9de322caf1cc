"""TDMRep: the W3C TDM Reservation Protocol (Community Group final report, 2024).

A rightsholder states ``tdm-reservation: 1`` (text and data mining reserved, EU DSM Art. 4 opt-out) or ``0``
(not reserved) in four places, from weakest to strongest: ``/.well-known/tdmrep.json``, the HTTP response
headers, HTML ``<meta>`` and in-file metadata (EPUB, PDF XMP). Every place builds its signal through
:func:`reservation_findings`, so values, evidence and precedence ranks are the same whatever read them;
:func:`resolve` then applies TDMRep's own precedence before the cross-protocol combination.

The reservation speaks to ``data-mining``; :func:`~rightful.models.expand_values` carries it down to
``ai-training`` and ``genai-training``. The optional ``tdm-policy`` points to an ODRL 2.2 offer; the fetcher
gets it, :func:`parse_policy` reads it and :func:`policy_findings` surfaces its contact, which is how a
builder asks for a licence.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from rightful.models import Decision, ItemError, Purpose, Signal
from rightful.signals.base import DocumentState, Findings, HeaderMap, OriginDocument
from rightful.signals.tdmpolicy import (
    POLICY_PROTOCOL,
    TdmAssigner,
    TdmPermission,
    TdmPolicy,
    parse_policy,
    policy_findings,
    short_error,
    strict_json,
)

__all__ = [
    "PLACES",
    "POLICY_PROTOCOL",
    "PROTOCOL",
    "TdmAssigner",
    "TdmPermission",
    "TdmPolicy",
    "TdmRepFile",
    "TdmRepRule",
    "header_findings",
    "parse_policy",
    "parse_reservation",
    "policy_findings",
    "reservation_findings",
    "resolve",
]

PROTOCOL = "tdmrep"

#: Where a TDMRep statement can sit, and its precedence rank (a higher rank overrides a lower one).
PLACES: Mapping[str, int] = {"tdmrep.json": 1, "header": 2, "html-meta": 3, "epub": 4, "pdf-xmp": 4}

_PLACE_WORDS: Mapping[str, str] = {
    "tdmrep.json": "/.well-known/tdmrep.json",
    "header": "HTTP response header",
    "html-meta": "HTML <meta>",
    "epub": "EPUB package metadata",
    "pdf-xmp": "PDF XMP metadata",
}

HeadersLike = HeaderMap | Mapping[str, Any] | Sequence[tuple[str, Any]]


# --- values -----------------------------------------------------------------------------------------------


def parse_reservation(raw: object) -> tuple[int | None, str | None]:
    """Read a ``tdm-reservation`` value: ``(value, error)``.

    ``(None, None)`` means absent. Only the JSON numbers 1/0 and the strings "1"/"0" (surrounding whitespace
    stripped, as header and meta values carry it) are valid; anything else — ``true``, ``01``, ``"1.0"``,
    the JSON number ``1.0``, a comma list ``1, 1`` — is a protocol error, which leaves the value unset.
    """
    if raw is None:
        return None, None
    if isinstance(raw, bool):  # bool is an int in Python; JSON true is not 1
        return None, f"tdm-reservation must be 1 or 0, not the boolean {json.dumps(raw)}"
    if isinstance(raw, int):
        if raw in (0, 1):
            return raw, None
        return None, f"tdm-reservation must be 1 or 0, not {raw}"
    if isinstance(raw, str):
        text = raw.strip()
        if text in ("0", "1"):
            return int(text), None
        return None, f"tdm-reservation must be 1 or 0, not {_show(raw)}"
    return None, f"tdm-reservation must be 1 or 0, not {type(raw).__name__} {_show(raw)}"


def reservation_findings(
    reservation: object,
    policy: str | None,
    *,
    place: str,
    location: str,
    line: int | None = None,
    raw: str | None = None,
    fetched_at: datetime | None = None,
    document_hash: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Findings:
    """The one constructor of TDMRep signals, whatever place the statement was read from.

    ``1`` reserves ``data-mining``; ``0`` allows it (the policy is then ignored, as the spec asks). An invalid
    value is unset: no signal, one ``tdmrep-invalid`` error. A policy without a reservation says nothing.
    ``extra`` adds JSON-able details (e.g. the tdmrep.json pattern that matched).
    """
    rank = PLACES.get(place)
    if rank is None:
        raise ValueError(f"unknown TDMRep place {place!r}; expected one of {', '.join(PLACES)}")
    findings = Findings()
    value, problem = parse_reservation(reservation)
    where = _PLACE_WORDS[place] + (f" line {line}" if line is not None else "")
    if problem is not None:
        findings.error("tdmrep-invalid", f"{problem} ({where}); treated as unset", protocol=PROTOCOL, location=location)
        return findings
    if value is None:
        return findings
    policy_url = policy.strip() if isinstance(policy, str) and policy.strip() else None
    decision = Decision.RESERVED if value == 1 else Decision.ALLOWED
    pattern = (extra or {}).get("pattern")
    rule = f"tdm-reservation: {value}" + (f" for location {pattern}" if pattern else "") + f" in {where}"
    if value == 1 and policy_url:
        rule += f", tdm-policy {policy_url}"
    details: dict[str, Any] = {
        "place": place,
        "rank": rank,
        "reservation": value,
        "policy": policy_url if value == 1 else None,
    }
    if value == 0 and policy_url:
        details["ignored_policy"] = policy_url
    details.update(extra or {})
    signal = Signal(
        protocol=PROTOCOL,
        location=location,
        raw=raw if raw is not None else f"tdm-reservation: {_show(reservation)}",
        rule=rule,
        values={Purpose.DATA_MINING: decision},
        line=line,
        fetched_at=fetched_at,
        document_hash=document_hash,
        details=details,
    )
    findings.signals.append(signal)
    return findings


def resolve(signals: Sequence[Signal]) -> list[Signal]:
    """Apply TDMRep's own precedence: the strongest place that states a value wins.

    Weaker tdmrep signals come back with no values and ``details["overridden_by"]`` naming the winning place,
    so the evidence still shows them. Absence never resets (a place with no valid value has no signal). Two
    signals of the same rank that disagree (a PDF and an EPUB reading) resolve to the reservation: most
    restrictive. Other protocols pass through unchanged, in order.
    """
    stated = [s for s in signals if s.protocol == PROTOCOL and s.values]
    if len(stated) < 2:
        return list(signals)
    winner = max(stated, key=lambda s: (_rank(s), Decision.RESERVED in s.values.values()))
    place = str(winner.details.get("place"))
    losers = {id(s) for s in stated if s is not winner}
    out: list[Signal] = []
    for signal in signals:
        if id(signal) in losers:
            details = {**signal.details, "overridden_by": place}
            signal = dataclasses.replace(signal, values={}, details=details)
        out.append(signal)
    return out


def _rank(signal: Signal) -> int:
    rank = signal.details.get("rank")
    return rank if isinstance(rank, int) else PLACES.get(str(signal.details.get("place")), 0)


# --- HTTP headers -----------------------------------------------------------------------------------------


def header_findings(headers: HeadersLike, *, url: str, fetched_at: datetime | None = None) -> Findings:
    """Read ``tdm-reservation`` / ``tdm-policy`` from a response's headers (any container, any case).

    Several field lines carrying the same value are one statement; lines that disagree are a protocol error
    (unset). A comma list inside one line (``1, 1``) is not a valid value either — some clients join repeated
    lines that way, and we cannot tell the two apart, so both are unset with an error.
    """
    hmap = headers if isinstance(headers, HeaderMap) else HeaderMap(headers)
    findings = Findings()
    reservation, raw_res = _single(hmap, "tdm-reservation", url, findings)
    policy, raw_pol = _single(hmap, "tdm-policy", url, findings)
    if reservation is None:
        return findings
    raw = "\n".join(r for r in (raw_res, raw_pol) if r)
    return findings.extend(
        reservation_findings(reservation, policy, place="header", location=url, raw=raw, fetched_at=fetched_at)
    )


def _single(hmap: HeaderMap, name: str, url: str, findings: Findings) -> tuple[str | None, str]:
    lines = hmap.get_all(name)
    raw = "\n".join(f"{name}: {v}" for v in lines)
    distinct = list(dict.fromkeys(v.strip() for v in lines))
    if len(distinct) > 1:
        findings.error(
            "tdmrep-invalid",
            f"{len(lines)} {name} header lines disagree ({', '.join(distinct)}); treated as unset",
            protocol=PROTOCOL,
            location=url,
        )
        return None, raw
    return (distinct[0] if distinct else None), raw


# --- /.well-known/tdmrep.json ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TdmRepRule:
    """One entry of tdmrep.json. ``reservation`` is None when the entry's value is invalid: it still matches
    (it is the most specific match), and leaves the reservation unset."""

    index: int
    location: str
    reservation: int | None
    policy: str | None
    raw: str
    line: int | None = None
    _pieces: tuple[str, ...] = field(default=(), repr=False, compare=False)
    _anchored: bool = field(default=False, repr=False, compare=False)

    @classmethod
    def compile(
        cls,
        *,
        index: int,
        location: str,
        reservation: int | None,
        policy: str | None,
        raw: str,
        line: int | None,
    ) -> TdmRepRule:
        anchored = location.endswith("$")
        pattern = location[:-1] if anchored else location
        pieces = tuple(_normalise(p) for p in pattern.split("*"))
        return cls(index, location, reservation, policy, raw, line, pieces, anchored)

    def matches(self, path: str) -> bool:
        """Whether a **normalised** path matches: a prefix match, ``*`` any run, a trailing ``$`` the end."""
        return _glob_match(self._pieces, self._anchored, path)


@dataclass(frozen=True, slots=True)
class TdmRepFile:
    """A parsed ``/.well-known/tdmrep.json``: build once per origin with :meth:`from_document`, then
    :meth:`lookup` each path. ``errors`` are the file's problems; each lookup repeats them so every item's
    result says why the file was not used."""

    url: str
    state: DocumentState
    rules: tuple[TdmRepRule, ...] = ()
    errors: tuple[ItemError, ...] = ()
    fetched_at: datetime | None = None
    document_hash: str | None = None

    @classmethod
    def from_document(cls, doc: OriginDocument) -> TdmRepFile:
        """Parse a fetched document. Unavailable (4xx) means the origin does not use the file; unreachable is
        recorded as an error; invalid content (not JSON, not an array, BOM, not UTF-8) leaves it unset."""
        rules: tuple[TdmRepRule, ...] = ()
        errors: tuple[ItemError, ...] = ()
        if doc.state is DocumentState.UNREACHABLE:
            why = doc.error or (f"HTTP {doc.status}" if doc.status else "unreachable")
            message = f"tdmrep.json could not be fetched ({why}); TDMRep file unset"
            errors = (ItemError("tdmrep-unreachable", message, PROTOCOL, doc.url),)
        elif doc.state is DocumentState.OK:
            parsed, problems = _parse_file(doc)
            rules, errors = tuple(parsed), tuple(problems)
        return cls(
            url=doc.url,
            state=doc.state,
            rules=rules,
            errors=errors,
            fetched_at=doc.fetched_at,
            document_hash=doc.hash,
        )

    def lookup(
        self,
        path: str,
        *,
        location: str | None = None,
        fetched_at: datetime | None = None,
        document_hash: str | None = None,
        with_file_errors: bool = True,
    ) -> Findings:
        """The reservation for one path (or full URL): the **first** matching entry wins; no match is unset.

        ``location``, ``fetched_at`` and ``document_hash`` default to the file's own URL and fetch metadata.
        """
        findings = Findings(errors=list(self.errors) if with_file_errors else [])
        target = _request_path(path)
        norm = _normalise(target)
        where = location or self.url
        for rule in self.rules:
            if not rule.matches(norm):
                continue
            if rule.reservation is None:
                findings.error(
                    "tdmrep-invalid",
                    f"entry {rule.index + 1} ({rule.location!r}) matches {target!r}"
                    " but its tdm-reservation is invalid; treated as unset",
                    protocol=PROTOCOL,
                    location=where,
                )
                return findings
            return findings.extend(
                reservation_findings(
                    rule.reservation,
                    rule.policy,
                    place="tdmrep.json",
                    location=where,
                    line=rule.line,
                    raw=rule.raw,
                    fetched_at=fetched_at or self.fetched_at,
                    document_hash=document_hash or self.document_hash,
                    extra={"pattern": rule.location, "entry": rule.index + 1, "path": target},
                )
            )
        return findings


def _parse_file(doc: OriginDocument) -> tuple[list[TdmRepRule], list[ItemError]]:
    errors: list[ItemError] = []

    def fail(message: str) -> tuple[list[TdmRepRule], list[ItemError]]:
        suffix = " (the body was truncated)" if doc.truncated else ""
        errors.append(
            ItemError("tdmrep-invalid", f"tdmrep.json {message}{suffix}; TDMRep file unset", PROTOCOL, doc.url)
        )
        return [], errors

    if doc.body.startswith(b"\xef\xbb\xbf"):
        return fail("starts with a byte order mark, which JSON forbids")
    try:
        text = doc.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return fail(f"is not UTF-8 ({exc.reason} at byte {exc.start})")
    try:
        data = strict_json(text)
    except (ValueError, RecursionError) as exc:
        return fail(f"is not valid JSON ({short_error(exc)})")
    if not isinstance(data, list):
        return fail(f"must be a JSON array of rules, not a JSON {_json_type(data)}")
    lines = _element_lines(text, len(data))
    rules = [r for i, entry in enumerate(data) if (r := _rule(i, entry, lines[i], doc.url, errors)) is not None]
    return rules, errors


def _rule(index: int, entry: object, line: int | None, url: str, errors: list[ItemError]) -> TdmRepRule | None:
    label = f"tdmrep.json entry {index + 1}" + (f" (line {line})" if line is not None else "")

    def problem(message: str) -> None:
        errors.append(ItemError("tdmrep-invalid", f"{label}: {message}", PROTOCOL, url))

    if not isinstance(entry, dict):
        problem(f"is a JSON {_json_type(entry)}, not an object; skipped")
        return None
    location = entry.get("location")
    if not isinstance(location, str) or not location:
        problem("has no string 'location'; skipped")
        return None
    if not location.startswith(("/", "*")):
        problem(f"location {location!r} is not a path pattern (it must start with '/' or '*'); skipped")
        return None
    value, why = parse_reservation(entry.get("tdm-reservation"))
    if why is None and value is None:
        why = "has no 'tdm-reservation' (it is mandatory)"
    if why is not None:
        problem(f"{why}; paths it matches have the reservation unset")
    policy = entry.get("tdm-policy")
    if policy is not None and not isinstance(policy, str):
        problem(f"tdm-policy must be a URL string, not a JSON {_json_type(policy)}; ignored")
        policy = None
    raw = json.dumps(entry, ensure_ascii=False)
    return TdmRepRule.compile(index=index, location=location, reservation=value, policy=policy, raw=raw, line=line)


def _element_lines(text: str, count: int) -> list[int | None]:
    """The line on which each top-level array element starts (the JSON is already known to be valid)."""
    decoder = json.JSONDecoder()
    lines: list[int | None] = []
    pos = _skip_ws(text, 0) + 1  # after "["
    line = 1 + text.count("\n", 0, pos)
    try:
        for _ in range(count):
            start = _skip_ws(text, pos)
            line += text.count("\n", pos, start)
            lines.append(line)
            _, end = decoder.raw_decode(text, start)
            line += text.count("\n", start, end)
            pos = _skip_ws(text, end) + 1  # past "," or "]"
            line += text.count("\n", end, pos)
    except (ValueError, RecursionError):
        return [None] * count
    return lines


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


# --- path matching ----------------------------------------------------------------------------------------

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset("0123456789abcdefABCDEF")


def _normalise(text: str) -> str:
    """Percent-encoding normalised for comparison (TDMRep reuses the robots.txt rules).

    Escapes of unreserved characters are decoded, other escapes upper-cased, non-ASCII and control octets
    encoded. ``%24`` and ``%2A`` decode to ``$`` and ``*``: patterns are split on their special characters
    before this runs, so an escaped ``$``/``*`` in a pattern matches the literal character in a path.
    """
    if text.isascii() and "%" not in text and text.isprintable() and " " not in text:
        return text
    out: list[str] = []
    data = text.encode("utf-8", "surrogatepass")
    i, n = 0, len(data)
    while i < n:
        byte = data[i]
        if byte == 0x25 and i + 2 < n and chr(data[i + 1]) in _HEX and chr(data[i + 2]) in _HEX:
            value = int(data[i + 1 : i + 3], 16)
            char = chr(value)
            out.append(char if char in _UNRESERVED or char in "$*" else f"%{value:02X}")
            i += 3
            continue
        out.append(chr(byte) if 0x20 < byte < 0x7F else f"%{byte:02X}")
        i += 1
    return "".join(out)


def _glob_match(pieces: tuple[str, ...], anchored: bool, path: str) -> bool:
    """Leftmost-first glob matching (correct for ``*``-only globs): no regex, so no backtracking blow-up."""
    first = pieces[0]
    if not path.startswith(first):
        return False
    pos = len(first)
    if len(pieces) == 1:
        return not anchored or pos == len(path)
    for piece in pieces[1:-1]:
        found = path.find(piece, pos)
        if found < 0:
            return False
        pos = found + len(piece)
    last = pieces[-1]
    if anchored:
        return len(path) - len(last) >= pos and path.endswith(last)
    return path.find(last, pos) >= 0


def _request_path(path: str) -> str:
    """The path (with query) that patterns are matched against; full URLs are accepted too."""
    if "://" in path:
        parts = urlsplit(path)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return path if path.startswith("/") else "/" + path


# --- small helpers ----------------------------------------------------------------------------------------


def _show(value: object, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, str | int | float) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
