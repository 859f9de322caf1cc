"""The HTML head: robots ``<meta>`` (``noai``, ``noimageai``, ``noindex``) and TDMRep ``<meta>``.

Only the head matters, so :func:`head_end` lets the fetcher stop reading a page as soon as ``</head>`` or
``<body>`` arrives, and :func:`parse_head` reads no further than that (and never past ``max_bytes``). Broken
markup, a missing ``<head>``, NUL bytes and unknown charsets all give a result, never an exception.

The head is read by a small tokenizer that follows the HTML tokenizer where it matters here (comments, bogus
comments, raw-text elements such as ``<script>``, quoted attribute values), not by :class:`html.parser.HTMLParser`:
that one is quadratic on hostile input in the Python releases we support (CVE-2025-6069; 1 MiB of ``</`` took
75 s on 3.11.7). Ours runs in linear time, with possessive regexes that cannot backtrack, and :func:`head_end`
uses the same scan, so where the fetcher stops and what the parser reads always agree.

What is read:

- ``<meta name="robots">`` and ``<meta name="<our token>">`` (names case-insensitive) → protocol
  ``robots-meta``, through :func:`rightful.signals.xrobots.directive_findings`; other crawlers' names
  (``googlebot``…) are ignored.
- ``<meta http-equiv="X-Robots-Tag">`` → treated like the response header (protocol ``x-robots-tag``).
- ``<meta name="tdm-reservation">`` / ``tdm-policy`` (also as ``http-equiv``) → TDMRep, place ``html-meta``.
"""

from __future__ import annotations

import codecs
import re
from datetime import datetime
from html import unescape
from typing import NamedTuple

from rightful.models import document_hash as hash_document
from rightful.signals import tdmrep, xrobots
from rightful.signals.base import OWN_TOKEN, Findings

__all__ = [
    "DEFAULT_MAX_BYTES",
    "HtmlHead",
    "MetaTag",
    "head_end",
    "html_findings",
    "parse_head",
]

DEFAULT_MAX_BYTES = 1024 * 1024

_CHUNK = 64 * 1024
_RAW_LIMIT = 2000
_CHARSET_SCAN = 8192
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]{1,40})""", re.I)
#: Labels the WHATWG Encoding Standard maps elsewhere, and Python codecs that are not web encodings.
_LABEL_MAP = {
    "iso8859_1": "cp1252",
    "latin_1": "cp1252",
    "ascii": "cp1252",
    "utf_16": "utf-8",
    "utf_16_le": "utf-8",
    "utf_16_be": "utf-8",
    "utf_32": "utf-8",
}
_NOT_WEB = frozenset({"idna", "punycode", "unicode_escape", "raw_unicode_escape", "utf_7", "undefined", "mbcs", "oem"})
#: A tag opening: comment, bogus comment (``<!DOCTYPE``, ``<?xml``, ``</ x>``), or a start/end tag name.
_OPEN = re.compile(
    r"<(?:(?P<comment>!--)|(?P<bogus>[!?]|/(?![A-Za-z]))|(?P<slash>/)?(?P<name>[A-Za-z][^\s/>]*+))", re.ASCII
)
#: The rest of a tag up to its ``>``: quotes only open a value after ``=``; possessive, so no backtracking.
_TAG_REST = re.compile(r"""(?:[^>"'=]++|=\s*+"[^"]*+"|=\s*+'[^']*+'|=|["'])*+>""", re.ASCII)
_ATTR = re.compile(
    r"""(?P<name>[^\s/>=][^\s/>=]*+)(?:\s*+=\s*+(?:"(?P<dq>[^"]*+)"|'(?P<sq>[^']*+)'|(?P<uq>[^\s>]*+)))?""",
    re.ASCII,
)
#: Elements whose content is text up to their end tag (a ``<body>`` inside a script is not a body).
_RAW_TEXT = {
    name: re.compile(rf"</{name}(?=[\s/>])", re.I | re.ASCII)
    for name in ("script", "style", "title", "textarea", "xmp", "iframe", "noembed", "noframes")
}


class MetaTag(NamedTuple):
    """One ``<meta>``: the lower-cased ``name`` (or ``http-equiv``), its ``content``, its line, its source."""

    name: str
    content: str
    line: int
    raw: str


class HtmlHead(NamedTuple):
    """What the head says. ``head_complete`` is False when no end of head (``</head>`` or ``<body>``) was
    seen before the data or the byte cap ran out: the metas may then be incomplete."""

    metas: tuple[MetaTag, ...]
    http_equivs: tuple[MetaTag, ...]
    head_complete: bool
    encoding: str
    truncated: bool


def head_end(body: bytes) -> int | None:
    """The offset just after ``</head>`` or at the start of ``<body>``, or None when neither has arrived.

    Comments, scripts, styles and quoted attribute values are skipped, so ``<body`` inside them does not end
    the head early. Bytes are scanned as Latin-1, which keeps offsets and every ASCII-compatible charset.
    """
    return _scan(body.decode("latin-1")).end


def parse_head(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, encoding: str | None = None) -> HtmlHead:
    """Read the ``<meta>`` tags of a page's head; never raises on any input.

    The charset comes from a byte order mark, else ``encoding`` (the Content-Type charset, if the caller has
    one), else a ``<meta charset>`` near the start, else UTF-8; undecodable bytes become U+FFFD.
    """
    truncated = len(body) > max_bytes
    charset, data = _charset(body[:max_bytes], encoding)
    scan = _scan(_decode(data, charset).replace("\x00", "\ufffd"))
    return HtmlHead(scan.metas, scan.equivs, scan.end is not None, charset, truncated)


def html_findings(
    body: bytes,
    *,
    url: str,
    own_token: str = OWN_TOKEN,
    fetched_at: datetime | None = None,
    document_hash: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    encoding: str | None = None,
) -> Findings:
    """Robots meta, ``http-equiv`` X-Robots-Tag and TDMRep meta of one page.

    ``document_hash`` defaults to the hash of ``body``. On a page ``noimageai`` is reported (details say it
    applies to the page's images) but not applied.
    """
    head = parse_head(body, max_bytes=max_bytes, encoding=encoding)
    doc_hash = document_hash or hash_document(body)
    token = own_token.strip().lower()
    findings = Findings()
    robots = [m for m in head.metas if m.name in ("robots", token)]
    equivs = [m for m in head.http_equivs if m.name == "x-robots-tag"]
    for tags, protocol, label in (
        (robots, xrobots.META_PROTOCOL, "robots meta tag"),
        (equivs, xrobots.HEADER_PROTOCOL, "X-Robots-Tag (meta http-equiv)"),
    ):
        if tags:
            findings.extend(
                xrobots.directive_findings(
                    [m.content for m in tags],
                    protocol=protocol,
                    location=url,
                    own_token=token,
                    is_image=False,
                    label=label,
                    raws=[m.raw for m in tags],
                    lines=[m.line for m in tags],
                    fetched_at=fetched_at,
                    document_hash=doc_hash,
                )
            )
    findings.extend(_tdm_findings(head, url=url, fetched_at=fetched_at, document_hash=doc_hash))
    if head.truncated and not head.head_complete:
        findings.error(
            "html-head-incomplete",
            f"the head did not end within the first {max_bytes} bytes; meta tags after that were not read",
            protocol="html",
            location=url,
        )
    return findings


def _tdm_findings(head: HtmlHead, *, url: str, fetched_at: datetime | None, document_hash: str) -> Findings:
    """TDMRep meta: repeated identical tags are one statement; tags that disagree leave the value unset."""
    findings = Findings()
    tags = head.metas + head.http_equivs
    found: dict[str, MetaTag] = {}
    values: dict[str, str | None] = {}
    for name in ("tdm-reservation", "tdm-policy"):
        matching = [m for m in tags if m.name == name]
        distinct = list(dict.fromkeys(m.content.strip() for m in matching))
        if matching:
            found[name] = matching[0]
        if len(distinct) > 1:
            lines = ", ".join(str(m.line) for m in matching)
            findings.error(
                "tdmrep-invalid",
                f"<meta name={name}> tags disagree ({', '.join(distinct)}; lines {lines}); treated as unset",
                protocol=tdmrep.PROTOCOL,
                location=url,
            )
        values[name] = distinct[0] if len(distinct) == 1 else None
    reservation = found.get("tdm-reservation")
    if reservation is None or values["tdm-reservation"] is None:
        return findings
    policy = found.get("tdm-policy")
    raw = reservation.raw + (f"\n{policy.raw}" if policy is not None and values["tdm-policy"] else "")
    return findings.extend(
        tdmrep.reservation_findings(
            values["tdm-reservation"],
            values["tdm-policy"],
            place="html-meta",
            location=url,
            line=reservation.line,
            raw=raw,
            fetched_at=fetched_at,
            document_hash=document_hash,
        )
    )


class _Scan(NamedTuple):
    metas: tuple[MetaTag, ...]
    equivs: tuple[MetaTag, ...]
    end: int | None  # offset after </head> or at <body>; None when the head did not end


def _scan(text: str) -> _Scan:
    """Walk the tags up to the end of the head. Anything left open (a comment, a script, a tag) runs to the
    end of the data, as in a browser, and the scan stops there: each character is looked at a bounded
    number of times."""
    metas: list[MetaTag] = []
    equivs: list[MetaTag] = []
    pos, line, counted = 0, 1, 0
    while (m := _OPEN.search(text, pos)) is not None:
        start = m.start()
        if m.group("comment"):
            close = _comment_end(text, m.end())
        elif m.group("bogus"):
            gt = text.find(">", m.end())
            close = gt + 1 if gt >= 0 else -1
        else:
            rest = _TAG_REST.match(text, m.end())
            close = rest.end() if rest else -1
        if close < 0:
            break
        pos = close
        name = (m.group("name") or "").lower()
        if not name:
            continue
        if m.group("slash"):
            if name == "head":
                return _Scan(tuple(metas), tuple(equivs), close)
            continue
        if name == "body":
            return _Scan(tuple(metas), tuple(equivs), start)
        if name == "meta":
            line += text.count("\n", counted, start)
            counted = start
            _meta(text[m.end() : close - 1], text[start:close], line, metas, equivs)
        elif name in _RAW_TEXT:
            raw_end = _RAW_TEXT[name].search(text, close)
            if raw_end is None:
                break
            pos = raw_end.start()
    return _Scan(tuple(metas), tuple(equivs), None)


def _comment_end(text: str, after: int) -> int:
    """Where ``<!--`` ends: after ``-->``, or at once for the abrupt ``<!-->`` and ``<!--->``; -1 if open."""
    for abrupt in (">", "->"):
        if text.startswith(abrupt, after):
            return after + len(abrupt)
    found = text.find("-->", after)
    return found + 3 if found >= 0 else -1


def _meta(attrs: str, raw: str, line: int, metas: list[MetaTag], equivs: list[MetaTag]) -> None:
    found: dict[str, str] = {}
    for a in _ATTR.finditer(attrs):
        value = a.group("dq") if a.group("dq") is not None else a.group("sq") or a.group("uq") or ""
        found.setdefault(a.group("name").lower(), value)  # the first of a repeated attribute wins, as in browsers
    content = unescape(found.get("content", ""))
    raw = raw[:_RAW_LIMIT]
    if "name" in found:
        metas.append(MetaTag(unescape(found["name"]).strip().lower(), content, line, raw))
    if "http-equiv" in found:
        equivs.append(MetaTag(unescape(found["http-equiv"]).strip().lower(), content, line, raw))


def _charset(data: bytes, declared: str | None) -> tuple[str, bytes]:
    for bom, bom_codec in _BOMS:
        if data.startswith(bom):
            return bom_codec, data[len(bom) :]
    match = _META_CHARSET.search(data, 0, _CHARSET_SCAN)
    for label in (declared, match.group(1).decode("ascii") if match else None):
        if label and (codec := _web_codec(label)):
            return codec, data
    return "utf-8", data


def _web_codec(label: str) -> str | None:
    """A Python codec for a charset label, or None for unknown labels and codecs that are not web text."""
    try:
        info = codecs.lookup(label.strip())
    except (LookupError, ValueError):
        return None
    name = info.name.replace("-", "_")
    if name in _NOT_WEB or not getattr(info, "_is_text_encoding", True):
        return None
    return _LABEL_MAP.get(name, info.name)


def _decode(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset, errors="replace")
    except (LookupError, UnicodeError):
        return data.decode("utf-8", errors="replace")
