"""Types shared by the protocol modules: header containers, fetched documents and findings.

Every protocol module turns what it was given (a fetched document, a header container, file bytes) into
:class:`Findings`: signals, licence constraints and non-fatal errors. Modules never raise on bad input from the
network or a file; they record an :class:`~rightful.models.ItemError` and keep going.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from rightful.models import ItemError, LicenceConstraint, Signal, document_hash

__all__ = [
    "OWN_TOKEN",
    "DocumentState",
    "Findings",
    "HeaderMap",
    "OriginDocument",
]

#: Our product token (RFC 9309 ``User-agent`` matching, ``rightfulbot: noai`` scoping).
OWN_TOKEN = "rightfulbot"


class HeaderMap:
    """A read-only, case-insensitive, multi-valued view of HTTP headers from any container.

    Accepts a plain ``dict`` (any key case, str or list values), a list of ``(name, value)`` pairs, or any
    object with ``items()`` / ``getall()`` / ``get_all()`` (aiohttp, requests, http.client, email.message).
    """

    __slots__ = ("_items",)

    def __init__(self, headers: Any = None) -> None:
        self._items: list[tuple[str, str]] = list(_pairs(headers))

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [v for k, v in self._items if k == key]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    def joined(self, name: str) -> str | None:
        """All field lines of ``name`` joined with ``", "`` (RFC 9110 §5.3), or None when absent."""
        values = self.get_all(name)
        return ", ".join(values) if values else None

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k == name.lower() for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"HeaderMap({self._items!r})"


def _pairs(headers: Any) -> Iterable[tuple[str, str]]:
    if headers is None:
        return
    if isinstance(headers, HeaderMap):
        yield from headers.items()
        return
    source: Iterable[Any]
    if isinstance(headers, Mapping) or hasattr(headers, "items"):
        getall = getattr(headers, "getall", None) or getattr(headers, "get_all", None)
        keys = list(dict.fromkeys(headers.keys())) if getall is not None else None
        if getall is not None and keys is not None:
            source = [(k, v) for k in keys for v in (getall(k) or [])]
        else:
            source = headers.items()
    else:
        source = headers
    for name, value in source:
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            yield _text(name).strip().lower(), _text(v).strip()


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    return str(value)


class DocumentState(StrEnum):
    """How fetching an origin-wide document (robots.txt, tdmrep.json, ai.txt) ended, in RFC 9309 terms."""

    OK = "ok"  # 2xx with a body
    UNAVAILABLE = "unavailable"  # 4xx, or too many redirects
    UNREACHABLE = "unreachable"  # 5xx, timeout, network error, refused address


@dataclass(frozen=True, slots=True)
class OriginDocument:
    """An origin-wide document as fetched (or taken from the cache)."""

    url: str
    state: DocumentState
    status: int | None = None
    body: bytes = b""
    fetched_at: datetime | None = None
    error: str | None = None
    truncated: bool = False
    content_type: str | None = None

    @property
    def hash(self) -> str | None:
        return document_hash(self.body) if self.state is DocumentState.OK else None


@dataclass(slots=True)
class Findings:
    """What one protocol found for one item."""

    signals: list[Signal] = field(default_factory=list)
    licence: list[LicenceConstraint] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)

    def extend(self, other: Findings) -> Findings:
        self.signals.extend(other.signals)
        self.licence.extend(other.licence)
        self.errors.extend(other.errors)
        return self

    def error(self, code: str, message: str, *, protocol: str | None = None, location: str | None = None) -> None:
        self.errors.append(ItemError(code=code, message=message, protocol=protocol, location=location))
