"""XMP packets: find them in any file's bytes and parse them into namespace-aware property values.

Where packets are found (each format's own container is walked where a byte scan would go wrong):

* JPEG: APP1 ``http://ns.adobe.com/xap/1.0/`` segments, and Extended XMP (APP1
  ``http://ns.adobe.com/xmp/extension/``) reassembled from its chunks — a byte scan would read the segment
  headers between chunks as XML.
* PNG: ``iTXt`` chunks keyed ``XML:com.adobe.xmp``, compressed or not.
* PDF: every uncompressed packet, plus ``/Type /Metadata`` streams with a single ``/FlateDecode`` filter
  (inflated with a size cap). Metadata inside other filters or encrypted files is not read.
* Everything else (WebP ``XMP `` chunk, TIFF tag 700, GIF, HEIC/AVIF ``mime`` items, sidecars): a byte scan
  for ``<x:xmpmeta>`` … ``</x:xmpmeta>`` (or a bare ``<rdf:RDF>`` when there is no wrapper). Packets in
  UTF-16/32 are not found.

Parsing goes through :mod:`defusedxml` with DTDs forbidden (no entity expansion, no external references).
Properties may be elements or ``rdf:Description`` attributes; ``rdf:Alt``/``Bag``/``Seq`` items, ``rdf:resource``
and ``rdf:value`` are values; the fields of structures are recorded under their own names too.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError

__all__ = [
    "MAX_PACKET_BYTES",
    "RDF",
    "PacketScan",
    "XmpData",
    "XmpError",
    "find_packets",
    "parse_packet",
    "scan_packets",
]

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_XML = "http://www.w3.org/XML/1998/namespace"
_RDF_DESCRIPTION = f"{{{RDF}}}Description"
_RDF_LI = f"{{{RDF}}}li"
_RDF_ALT = f"{{{RDF}}}Alt"
_RDF_VALUE = f"{{{RDF}}}value"
_RDF_CONTAINERS = frozenset({_RDF_ALT, f"{{{RDF}}}Bag", f"{{{RDF}}}Seq"})
_RDF_RESOURCE = f"{{{RDF}}}resource"
_XML_LANG = f"{{{_XML}}}lang"

_JPEG_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
_JPEG_EXT_XMP = b"http://ns.adobe.com/xmp/extension/\x00"
_PNG_XMP_KEY = b"XML:com.adobe.xmp\x00"
_WRAPPERS = ((b"<x:xmpmeta", b"</x:xmpmeta>"), (b"<x:xapmeta", b"</x:xapmeta>"))
_BARE = (b"<rdf:RDF", b"</rdf:RDF>")
_PDF_METADATA = re.compile(rb"/Type\s*/Metadata\b")
_PDF_FILTER = re.compile(rb"/Filter\s*(\[[^\]]*\]|/[A-Za-z0-9]+)")
_PDF_NAME = re.compile(rb"/([A-Za-z0-9]+)")

#: Largest packet we inflate or reassemble (an XMP packet is rarely over 1 MiB; Extended XMP allows more).
MAX_PACKET_BYTES = 16 * 1024 * 1024
_MAX_DEPTH = 32


class XmpError(ValueError):
    """A packet is not well-formed (or not safe) XML/RDF."""


class XmpData(Mapping[tuple[str, str], tuple[str, ...]]):
    """The properties of one packet: ``(namespace URI, local name)`` → values in document order.

    ``rdf:Alt`` values put the ``x-default`` item first. Fields of structures (``plus:LicensorURL`` inside
    ``plus:Licensor``) are recorded under their own names, so a lookup does not need to know the nesting.
    """

    __slots__ = ("_props",)

    def __init__(self, props: Mapping[tuple[str, str], Iterator[str] | list[str] | tuple[str, ...]]) -> None:
        self._props: dict[tuple[str, str], tuple[str, ...]] = {k: tuple(v) for k, v in props.items()}

    def __getitem__(self, key: tuple[str, str]) -> tuple[str, ...]:
        return self._props[key]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._props)

    def __len__(self) -> int:
        return len(self._props)

    def __repr__(self) -> str:
        return f"XmpData({self._props!r})"

    def values_of(self, name: str, *namespaces: str) -> tuple[str, ...]:
        """All values of ``name`` in any of ``namespaces`` (a namespace can have several spellings)."""
        return tuple(v for ns in namespaces for v in self._props.get((ns, name), ()))

    def first(self, name: str, *namespaces: str) -> str | None:
        values = self.values_of(name, *namespaces)
        return values[0] if values else None


@dataclass(frozen=True, slots=True)
class PacketScan:
    """The packets found in a file, where each came from, and problems met on the way (not fatal)."""

    packets: list[bytes] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, packet: bytes, source: str) -> None:
        if packet and packet not in self.packets:  # the same packet copied twice is one statement
            self.packets.append(packet)
            self.sources.append(source)


def find_packets(data: bytes) -> list[bytes]:
    """Every distinct XMP packet in ``data``, in file order (see the module docstring for what is covered)."""
    return scan_packets(data).packets


def scan_packets(data: bytes) -> PacketScan:
    """Like :func:`find_packets`, also saying where each packet was and what could not be read."""
    scan = PacketScan()
    if data[:3] == b"\xff\xd8\xff":
        _jpeg_packets(data, scan)
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        _png_packets(data, scan)
    elif data[:5] == b"%PDF-":
        _pdf_packets(data, scan)
    if not scan.packets:
        for packet in _byte_scan(data):
            scan.add(packet, "byte-scan")
    return scan


def _byte_scan(data: bytes) -> Iterator[bytes]:
    found = False
    for start_tag, end_tag in _WRAPPERS:
        for packet in _spans(data, start_tag, end_tag):
            found = True
            yield packet
    if not found:
        for packet in _spans(data, *_BARE):
            if b"xmlns:rdf" in packet[:4096]:  # a bare RDF island must declare its own namespace
                yield packet


def _spans(data: bytes, start_tag: bytes, end_tag: bytes) -> Iterator[bytes]:
    pos = 0
    while (start := data.find(start_tag, pos)) >= 0:
        end = data.find(end_tag, start)
        if end < 0:  # unterminated (a truncated file): hand it on so the parse error is recorded
            yield data[start : start + MAX_PACKET_BYTES]
            return
        pos = end + len(end_tag)
        yield data[start:pos]


def _jpeg_segments(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(marker, payload) of each JPEG marker segment before the image data (XMP is never after SOS)."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xDA, 0xD9):  # start of scan, end of image
            return
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2:
            return
        yield marker, data[pos + 4 : pos + 2 + length]
        pos += 2 + length


def _jpeg_packets(data: bytes, scan: PacketScan) -> None:
    extended: dict[bytes, tuple[int, dict[int, bytes]]] = {}
    for marker, payload in _jpeg_segments(data):
        if marker != 0xE1:
            continue
        if payload.startswith(_JPEG_XMP):
            scan.add(payload[len(_JPEG_XMP) :], "jpeg-app1")
        elif payload.startswith(_JPEG_EXT_XMP) and len(payload) >= len(_JPEG_EXT_XMP) + 40:
            head = len(_JPEG_EXT_XMP)
            guid = payload[head : head + 32]
            total = int.from_bytes(payload[head + 32 : head + 36], "big")
            offset = int.from_bytes(payload[head + 36 : head + 40], "big")
            chunks = extended.setdefault(guid, (total, {}))[1]
            chunks[offset] = payload[head + 40 :]
    for guid, (total, chunks) in extended.items():
        packet = _reassemble(total, chunks)
        if packet is None:
            scan.problems.append(f"Extended XMP {guid.decode('latin-1')!r} is incomplete; not read")
        else:
            scan.add(packet, "jpeg-extended-xmp")


def _reassemble(total: int, chunks: dict[int, bytes]) -> bytes | None:
    if total > MAX_PACKET_BYTES:
        return None
    out = bytearray()
    for offset in sorted(chunks):
        if offset != len(out):
            return None
        out += chunks[offset]
    return bytes(out) if len(out) == total else None


def _png_packets(data: bytes, scan: PacketScan) -> None:
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        if kind == b"iTXt" and data.startswith(_PNG_XMP_KEY, pos + 8):
            body = data[pos + 8 + len(_PNG_XMP_KEY) : pos + 8 + length]
            packet = _itxt_text(body)
            if packet is None:
                scan.problems.append("PNG iTXt XMP chunk could not be decompressed; not read")
            else:
                scan.add(packet, "png-itxt")
        if kind == b"IEND":
            return
        pos += 12 + length


def _itxt_text(body: bytes) -> bytes | None:
    """The text of an iTXt chunk after its keyword: flag, method, language\\0, translated keyword\\0, text."""
    if len(body) < 2:
        return None
    compressed = body[0] == 1
    rest = body[2:]
    parts = rest.split(b"\x00", 2)
    if len(parts) < 3:
        return None
    text = parts[2]
    return _inflate(text) if compressed else text


def _inflate(raw: bytes) -> bytes | None:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(raw, MAX_PACKET_BYTES)
    except zlib.error:
        return None
    return None if inflater.unconsumed_tail else out


def _pdf_packets(data: bytes, scan: PacketScan) -> None:
    for packet in _byte_scan(data):
        scan.add(packet, "pdf")
    for match in _PDF_METADATA.finditer(data):
        stream = _pdf_stream_after(data, match.start())
        if stream is None:
            continue
        header, body = stream
        filters = _PDF_FILTER.search(header)
        if filters is None:
            continue  # uncompressed: the byte scan above found it
        if _PDF_NAME.findall(filters.group(1)) != [b"FlateDecode"] or b"/DecodeParms" in header:
            scan.problems.append("PDF metadata stream uses filters other than FlateDecode alone; not read")
            continue
        inflated = _inflate(body)
        if inflated is None:
            scan.problems.append("PDF metadata stream could not be inflated; not read")
            continue
        for found in _byte_scan(inflated):
            scan.add(found, "pdf-flate")


def _pdf_stream_after(data: bytes, at: int) -> tuple[bytes, bytes] | None:
    """The dictionary text and raw body of the stream object whose dictionary contains offset ``at``."""
    begin = data.rfind(b"obj", max(0, at - 4096), at)
    keyword = data.find(b"stream", at, at + 4096)
    if begin < 0 or keyword < 0:
        return None
    header = data[begin:keyword]
    start = keyword + len(b"stream")
    if data[start : start + 2] == b"\r\n":
        start += 2
    elif data[start : start + 1] in (b"\n", b"\r"):
        start += 1
    end = data.find(b"endstream", start, start + MAX_PACKET_BYTES)
    if end < 0:
        return None
    return header, data[start:end]


def parse_packet(packet: bytes) -> XmpData:
    """Parse one packet safely into its property values; :class:`XmpError` when it is not well-formed."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    core = _core(packet)
    try:
        root = fromstring(core, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise XmpError(f"malformed XMP packet: {exc}") from exc
    props: dict[tuple[str, str], list[str]] = {}
    rdf_roots = [root] if root.tag == f"{{{RDF}}}RDF" else list(root.iter(f"{{{RDF}}}RDF"))
    if not rdf_roots:
        raise XmpError("XMP packet has no rdf:RDF element")
    for rdf in rdf_roots:
        for node in rdf:  # rdf:Description or a typed node
            _node_fields(node, props, 0)
    return XmpData(props)


def _core(packet: bytes) -> bytes:
    """The x:xmpmeta (or bare rdf:RDF) element of a packet, without xpacket wrappers or padding."""
    for start_tag, end_tag in (*_WRAPPERS, _BARE):
        start = packet.find(start_tag)
        if start >= 0:
            end = packet.find(end_tag, start)
            return packet[start : end + len(end_tag)] if end >= 0 else packet[start:]
    return packet


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _attribute_fields(elem: Element, props: dict[tuple[str, str], list[str]]) -> None:
    """Properties written as attributes (``rdf:Description plus:DataMining="…"``, shorthand struct fields)."""
    for name, value in elem.attrib.items():
        key = _split(name)
        if key[0] not in (RDF, _XML) and value.strip():
            props.setdefault(key, []).append(value.strip())


def _node_fields(node: Element, props: dict[tuple[str, str], list[str]], depth: int) -> None:
    """Record a description node's attribute properties and element properties."""
    _attribute_fields(node, props)
    for child in node:
        if isinstance(child.tag, str):
            _value(child, _split(child.tag), props, depth + 1)


def _value(elem: Element, key: tuple[str, str], props: dict[tuple[str, str], list[str]], depth: int) -> None:
    """Record what ``elem`` (a property element or an ``rdf:li``) holds as values of ``key``."""
    if depth > _MAX_DEPTH:
        return
    resource = elem.get(_RDF_RESOURCE)
    if resource is not None and resource.strip():
        props.setdefault(key, []).append(resource.strip())
    children = [c for c in elem if isinstance(c.tag, str)]
    if not children:
        text = (elem.text or "").strip()
        if text and resource is None:
            props.setdefault(key, []).append(text)
    _attribute_fields(elem, props)
    for child in children:
        if child.tag in _RDF_CONTAINERS:
            items = child.findall(_RDF_LI)
            if child.tag == _RDF_ALT:
                items.sort(key=lambda li: li.get(_XML_LANG) != "x-default")
            for item in items:
                _value(item, key, props, depth + 1)
        elif child.tag == _RDF_DESCRIPTION:
            _value(child, key, props, depth + 1)
        elif child.tag == _RDF_VALUE:
            text = (child.text or "").strip()
            if text:
                props.setdefault(key, []).append(text)
        else:  # a field of a structure (rdf:parseType="Resource" or a nested description)
            _value(child, _split(child.tag), props, depth + 1)
