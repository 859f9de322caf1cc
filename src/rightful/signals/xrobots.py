"""X-Robots-Tag headers and robots ``<meta>`` directives: ``noai``, ``noimageai``, ``noindex`` and friends.

The same directive grammar is carried by the ``X-Robots-Tag`` response header (protocol ``x-robots-tag``) and by
``<meta name="robots" content="…">`` in an HTML head (protocol ``robots-meta``, read by :mod:`.html`), so both
go through :func:`directive_findings`.

Grammar, as the search engines document it and as pages use it: a comma list of directives, case-insensitive.
``name: directives`` scopes what follows (to the end of that header line) to one crawler, so
``googlebot: noindex, noai`` binds only Googlebot, and ``rightfulbot: noai`` binds us. Valued directives
(``unavailable_after: <date>``, ``max-snippet: 20``) are not scopes; a date may itself contain commas
(``Friday, 25-Jun-10 15:00:00 GMT``), so pieces after it that start with a digit belong to it.

Only restrictions produce values: ``noai`` reserves ``ai-training``, ``noindex``/``none`` reserve ``search``.
``all``, ``index`` and ``follow`` say nothing about AI and are never read as a permission. Several headers and
lists combine and the most restrictive wins: every binding restriction becomes a signal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from rightful.models import Decision, Purpose, Signal
from rightful.signals.base import OWN_TOKEN, Findings, HeaderMap

__all__ = [
    "HEADER_PROTOCOL",
    "META_PROTOCOL",
    "Directive",
    "directive_findings",
    "header_findings",
    "parse_directives",
]

HEADER_PROTOCOL = "x-robots-tag"
META_PROTOCOL = "robots-meta"

HeadersLike = HeaderMap | Mapping[str, Any] | Sequence[tuple[str, Any]]

#: Directives that take a value after a colon: ``unavailable_after: 25 Jun 2010 15:00:00 PST``.
_VALUED = frozenset({"unavailable_after", "unavailable-after", "max-snippet", "max-image-preview", "max-video-preview"})
_DATED = frozenset({"unavailable_after", "unavailable-after"})
_SCOPE = re.compile(r"[a-z0-9][a-z0-9_.\-]*")


@dataclass(frozen=True, slots=True)
class _Effect:
    purpose: Purpose
    images_only: bool
    meaning: str


#: The directives that restrict a purpose. ``none`` is ``noindex, nofollow``.
_EFFECTS: Mapping[str, _Effect] = {
    "noai": _Effect(Purpose.AI_TRAINING, False, "no AI training on this content"),
    "noimageai": _Effect(Purpose.AI_TRAINING, True, "no AI training on the images"),
    "noindex": _Effect(Purpose.SEARCH, False, "no search indexing"),
    "none": _Effect(Purpose.SEARCH, False, "noindex, nofollow"),
    "noimageindex": _Effect(Purpose.SEARCH, True, "no search indexing of the images"),
}
_AI_DIRECTIVES = frozenset({"noai", "noimageai"})
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Directive:
    """One directive: lower-cased ``name``, its ``value`` if it takes one, and the crawler ``scope`` (None
    means every crawler). ``source`` is the index of the header line or meta tag it came from."""

    name: str
    value: str | None = None
    scope: str | None = None
    source: int = 0


def parse_directives(text: str, *, source: int = 0) -> list[Directive]:
    """Split one header line or meta ``content`` into directives; never raises.

    Pieces without a colon may also be separated by spaces (``noai noimageai``), which pages do write.
    """
    out: list[Directive] = []
    scope: str | None = None
    for piece in text.split(","):
        item = piece.strip()
        if not item:
            continue
        last = out[-1] if out else None
        if last is not None and last.name in _DATED and last.value and item[0].isdigit():
            out[-1] = Directive(last.name, f"{last.value}, {item}", last.scope, source)
            continue
        head, colon, rest = item.partition(":")
        name = head.strip().lower()
        if colon and name not in _VALUED and _SCOPE.fullmatch(name):
            scope = name  # "googlebot: noindex, noai": the scope runs to the end of the line
            head, colon, rest = rest.strip().partition(":")
            name = head.strip().lower()
        if not name:
            continue
        if colon and name in _VALUED:
            out.append(Directive(name, rest.strip(), scope, source))
        elif not colon:
            out.extend(Directive(word, None, scope, source) for word in name.split())
    return out


def directive_findings(
    values: Sequence[str],
    *,
    protocol: str,
    location: str,
    own_token: str = OWN_TOKEN,
    is_image: bool,
    label: str | None = None,
    raws: Sequence[str] | None = None,
    lines: Sequence[int | None] | None = None,
    fetched_at: datetime | None = None,
    document_hash: str | None = None,
) -> Findings:
    """Signals for every restricting directive in ``values`` (header lines or meta contents).

    A directive binds us when it is unscoped or scoped to ``own_token``. ``noimageai``/``noimageindex`` apply
    only when the item is an image; on a page they are reported with no values and ``details["applies_to"]
    == "images"`` (so the page's images can be judged). ``noai``/``noimageai`` scoped to another crawler are
    reported with no values too, so the evidence shows why they did not count.
    """
    label = label or ("X-Robots-Tag" if protocol == HEADER_PROTOCOL else "robots meta tag")
    token = own_token.strip().lower()
    findings = Findings()
    seen: set[tuple[str, str | None]] = set()
    for index, value in enumerate(values):
        for directive in parse_directives(value, source=index):
            effect = _EFFECTS.get(directive.name)
            binding = directive.scope is None or directive.scope == token
            key = (directive.name, None if binding else directive.scope)
            if effect is None or key in seen or not (binding or directive.name in _AI_DIRECTIVES):
                continue
            seen.add(key)
            raw = _at(raws, index) or f"{label}: {value}"
            where = _Where(protocol, location, label, raw, _at(lines, index), fetched_at, document_hash)
            findings.signals.append(
                _signal(directive, effect, where, binding=binding, is_image=is_image, own_token=token)
            )
    return findings


def header_findings(
    headers: HeadersLike,
    *,
    url: str,
    own_token: str = OWN_TOKEN,
    is_image: bool,
    fetched_at: datetime | None = None,
    document_hash: str | None = None,
) -> Findings:
    """Read every ``X-Robots-Tag`` field line of a response (any container, header name in any case)."""
    hmap = headers if isinstance(headers, HeaderMap) else HeaderMap(headers)
    return directive_findings(
        hmap.get_all("x-robots-tag"),
        protocol=HEADER_PROTOCOL,
        location=url,
        own_token=own_token,
        is_image=is_image,
        label="X-Robots-Tag",
        fetched_at=fetched_at,
        document_hash=document_hash,
    )


@dataclass(frozen=True, slots=True)
class _Where:
    protocol: str
    location: str
    label: str
    raw: str
    line: int | None
    fetched_at: datetime | None
    document_hash: str | None


def _signal(
    directive: Directive, effect: _Effect, where: _Where, *, binding: bool, is_image: bool, own_token: str
) -> Signal:
    """One signal (evidence words included) for a restricting directive."""
    applies = binding and (is_image or not effect.images_only)
    name = f"{directive.scope}: {directive.name}" if directive.scope else directive.name
    at = where.label + (f" (line {where.line})" if where.line is not None else "")
    details: dict[str, Any] = {
        "directive": directive.name,
        "scope": directive.scope,
        "meaning": effect.meaning,
        "applied": applies,
    }
    if not binding:
        rule = f"{name} in {at} binds {directive.scope} only, not {own_token}"
        details["reason"] = "scoped to another crawler"
    elif not applies:
        rule = f"{name} in {at} applies to images, not to this page"
        details.update(
            reason="applies to images only",
            applies_to="images",
            image_values={str(effect.purpose): str(Decision.RESERVED)},
        )
    else:
        rule = f"{name} in {at}: {effect.meaning}"
    return Signal(
        protocol=where.protocol,
        location=where.location,
        raw=where.raw,
        rule=rule,
        values={effect.purpose: Decision.RESERVED} if applies else {},
        line=where.line,
        fetched_at=where.fetched_at,
        document_hash=where.document_hash,
        details=details,
    )


def _at(items: Sequence[_T] | None, index: int) -> _T | None:
    return items[index] if items is not None and index < len(items) else None
