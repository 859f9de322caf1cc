"""Writing rights properties into an XMP packet, merged into whatever packet the file already has.

The existing packet is parsed safely (:mod:`defusedxml`, no DTD) with its namespace prefixes; every property
we write is removed wherever it already sits (as an element or as an ``rdf:Description`` attribute, the form
Getty and others use), and our values are added to the first ``rdf:Description``. Everything else — other
properties, their order, other descriptions, the ``x:xmptk`` of the tool that wrote the packet — is kept. The
serialiser is our own, small and namespace-exact, because :mod:`xml.etree` would rename every prefix
(``ns0:``) and keeps a process-global prefix registry.

Properties written (the reader side is :mod:`rightful.signals.embedded`):

* ``plus:DataMining`` — the IPTC Data Mining code as its full URI (the form exiftool writes);
* ``plus:OtherConstraints`` — a language alternative, when the reservation covers what no code does;
* ``plus:Licensor`` — a sequence with one structure (``LicensorName`` / ``LicensorEmail`` / ``LicensorURL`` /
  ``LicensorTelephone1``): whom to ask;
* ``xmpRights:Marked``, ``xmpRights:WebStatement`` and ``cc:license`` for the licence;
* ``tdm:reservation`` (namespace ``http://www.w3.org/ns/tdmrep/``) in PDF, when data mining is reserved.

JPEG holds at most 64 KiB of XMP per segment. For bigger packets, :func:`split_packet` makes the standard and
extended parts of XMP Specification Part 3 (§1.1.3.1): our rights properties (and every attribute-form
property) stay in the standard part with ``xmpNote:HasExtendedXMP`` naming the MD5 GUID of the extended part,
other top-level properties move there, largest first; :func:`combine_packets` joins an existing pair back into
one logical packet so a merge sees every property.
"""

from __future__ import annotations

import copy
import hashlib
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final
from xml.etree.ElementTree import Element, ParseError, SubElement

from rightful._version import __version__
from rightful.errors import InvalidInput, ProtectionError
from rightful.protect.terms import IPTC_VOCAB, Reservation
from rightful.signals.xmp import RDF, XmpError, parse_packet

__all__ = [
    "CC",
    "PLUS",
    "TDM",
    "XMP_RIGHTS",
    "XmpField",
    "combine_packets",
    "merge_packet",
    "rights_fields",
    "split_packet",
    "states_fields",
]

X: Final = "adobe:ns:meta/"
PLUS: Final = "http://ns.useplus.org/ldf/xmp/1.0/"
XMP_RIGHTS: Final = "http://ns.adobe.com/xap/1.0/rights/"
CC: Final = "http://creativecommons.org/ns#"
TDM: Final = "http://www.w3.org/ns/tdmrep/"
XMP_NOTE: Final = "http://ns.adobe.com/xmp/note/"
_HAS_EXTENDED: Final = f"{{{XMP_NOTE}}}HasExtendedXMP"
_DESCRIPTION: Final = f"{{{RDF}}}Description"
#: Namespaces whose properties never leave the standard part (what ``rightful tag`` states).
_STANDARD_NAMESPACES: Final = frozenset({PLUS, XMP_RIGHTS, CC, TDM})
_XML: Final = "http://www.w3.org/XML/1998/namespace"
_PREFERRED: Final[Mapping[str, str]] = {
    X: "x", RDF: "rdf", PLUS: "plus", XMP_RIGHTS: "xmpRights", CC: "cc", TDM: "tdm",
    "http://purl.org/dc/elements/1.1/": "dc", "http://ns.adobe.com/xap/1.0/": "xmp", XMP_NOTE: "xmpNote",
}  # fmt: skip
_PACKET_ID: Final = "W5M0MpCehiHzreSzNTczkc9d"
#: Spaces after the packet so later in-place edits (by any tool) fit; the XMP spec suggests 2–4 KiB.
PADDING: Final = 2048
_STARTS: Final = (b"<x:xmpmeta", b"<x:xapmeta", b"<rdf:RDF")


@dataclass(frozen=True, slots=True)
class XmpField:
    """One property: ``kind`` is ``text``, ``resource`` (``rdf:resource``), ``lang-alt`` or ``struct-seq``
    (a sequence holding one structure whose fields are ``value``)."""

    namespace: str
    name: str
    kind: str
    value: str | tuple[tuple[str, str, str], ...]

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name

    def expected(self) -> dict[tuple[str, str], tuple[str, ...]]:
        """What :func:`rightful.signals.xmp.parse_packet` reads back for this field."""
        if isinstance(self.value, tuple):
            return {(ns, name): (text,) for ns, name, text in self.value}
        return {self.key: (self.value,)}


def rights_fields(reservation: Reservation, *, pdf: bool = False) -> tuple[XmpField, ...]:
    """The properties that state ``reservation`` (TDMRep only in PDF, where the protocol defines it)."""
    fields = [XmpField(PLUS, "DataMining", "text", IPTC_VOCAB + reservation.iptc_code)]
    if reservation.other_constraints:
        fields.append(XmpField(PLUS, "OtherConstraints", "lang-alt", reservation.other_constraints))
    contact = reservation.contact
    parts = [(PLUS, name, value) for name, value in (("LicensorName", contact.name), ("LicensorEmail", contact.email),
             ("LicensorURL", contact.url), ("LicensorTelephone1", contact.telephone)) if value]  # fmt: skip
    if parts:
        fields.append(XmpField(PLUS, "Licensor", "struct-seq", tuple(parts)))
    if reservation.licence:
        public = "/publicdomain/" in reservation.licence.lower()
        fields += [
            XmpField(XMP_RIGHTS, "Marked", "text", "False" if public else "True"),
            XmpField(XMP_RIGHTS, "WebStatement", "text", reservation.licence),
            XmpField(CC, "license", "resource", reservation.licence),
        ]
    if pdf and reservation.tdmrep:
        fields.append(XmpField(TDM, "reservation", "text", "1"))
    return tuple(fields)


def states_fields(packet: bytes | None, fields: tuple[XmpField, ...]) -> bool:
    """Whether ``packet`` already says exactly what ``fields`` would write (a rerun then changes nothing)."""
    if packet is None:
        return False
    try:
        data = parse_packet(packet)
    except XmpError:
        return False
    return all(data.get(key, ()) == values for f in fields for key, values in f.expected().items())


def merge_packet(existing: bytes | None, fields: tuple[XmpField, ...], *, padding: int = PADDING) -> bytes:
    """A complete packet (``<?xpacket`` wrapper, UTF-8) with ``fields`` merged into ``existing``.

    Raises InvalidInput when the existing packet is not well-formed: rewriting it would lose what it holds.
    """
    root, prefixes = _parse(existing) if existing is not None else (_new_root(), {})
    rdf = root if root.tag == f"{{{RDF}}}RDF" else root.find(f"{{{RDF}}}RDF")
    if rdf is None:
        rdf = SubElement(root, f"{{{RDF}}}RDF")
    if root.tag == f"{{{RDF}}}RDF":  # a bare rdf:RDF island: give it the standard wrapper
        wrapper = _new_root()
        wrapper.remove(wrapper[0])
        wrapper.append(root)
        root = wrapper
    keys = {f"{{{f.namespace}}}{f.name}" for f in fields}
    _remove(rdf, keys)
    description = rdf.find(f"{{{RDF}}}Description")
    if description is None:
        description = SubElement(rdf, f"{{{RDF}}}Description", {f"{{{RDF}}}about": ""})
    for field in fields:
        _append(description, field)
    return _wrap(_serialise(root, prefixes), padding)


def _wrap(body: str, padding: int) -> bytes:
    pad = (" " * 99 + "\n") * (padding // 100)
    return (f'<?xpacket begin="\ufeff" id="{_PACKET_ID}"?>\n{body}\n{pad}<?xpacket end="w"?>').encode()


def _rdf(root: Element) -> Element:
    rdf = root if root.tag == f"{{{RDF}}}RDF" else root.find(f"{{{RDF}}}RDF")
    if rdf is None:
        raise InvalidInput("the XMP packet has no rdf:RDF element")
    return rdf


def combine_packets(standard: bytes, extended: bytes) -> bytes:
    """One packet holding the standard part's properties and the extended part's (without ``HasExtendedXMP``)."""
    root, prefixes = _parse(standard)
    extra, extra_prefixes = _parse(extended)
    rdf = _rdf(root)
    descriptions = rdf.findall(_DESCRIPTION) or [SubElement(rdf, _DESCRIPTION, {f"{{{RDF}}}about": ""})]
    for node in descriptions:
        node.attrib.pop(_HAS_EXTENDED, None)
        for child in [c for c in node if c.tag == _HAS_EXTENDED]:
            node.remove(child)
    present = {c.tag for d in descriptions for c in d} | {a for d in descriptions for a in d.attrib}
    for node in _rdf(extra).findall(_DESCRIPTION):
        for name, value in node.attrib.items():
            if name != f"{{{RDF}}}about" and name not in present:
                descriptions[0].set(name, value)
        for child in node:
            if child.tag not in present:
                descriptions[0].append(child)
    known = {**extra_prefixes, **prefixes}
    return _wrap(_serialise(root, known), 0)


def split_packet(packet: bytes, *, limit: int) -> tuple[bytes, bytes, str]:
    """(standard packet ≤ ``limit`` bytes, extended part, its GUID) per XMP Part 3; ProtectionError if impossible."""
    root, prefixes = _parse(packet)
    rdf = _rdf(root)
    moved: list[tuple[int, Element]] = []
    for node in rdf.findall(_DESCRIPTION):
        for child in list(node):
            if child.tag.partition("}")[0][1:] not in _STANDARD_NAMESPACES and child.tag != _HAS_EXTENDED:
                node.remove(child)
                moved.append((len(_serialise(child, prefixes)), child))
    first = rdf.find(_DESCRIPTION)
    if first is None:
        raise InvalidInput("the XMP packet has no rdf:Description")
    first.set(_HAS_EXTENDED, "0" * 32)  # placeholder of the GUID's length while sizes are measured
    budget = limit - len(_wrap(_serialise(root, prefixes), 0)) - 512  # room for declarations of namespaces
    back: list[Element] = []
    for size, child in sorted(moved, key=lambda item: item[0]):  # the smallest stay, the largest move
        if size > budget:
            break
        budget -= size
        first.append(child)
        back.append(child)
    rest = [child for _, child in moved if child not in back]
    extended_root = Element(f"{{{X}}}xmpmeta", {f"{{{X}}}xmptk": f"Rightful {__version__}"})
    holder = SubElement(SubElement(extended_root, f"{{{RDF}}}RDF"), _DESCRIPTION, {f"{{{RDF}}}about": ""})
    for child in rest:
        holder.append(copy.deepcopy(child))
    extended = _serialise(extended_root, prefixes).encode()
    guid = hashlib.md5(extended, usedforsecurity=False).hexdigest().upper()
    first.set(_HAS_EXTENDED, guid)
    standard = _wrap(_serialise(root, prefixes), 0)
    if len(standard) > limit:
        raise ProtectionError(f"the standard XMP part is still {len(standard)} bytes after moving every other "
                              f"property to Extended XMP (limit {limit}); not written")  # fmt: skip
    return standard, extended, guid


def _new_root() -> Element:
    root = Element(f"{{{X}}}xmpmeta", {f"{{{X}}}xmptk": f"Rightful {__version__}"})
    SubElement(root, f"{{{RDF}}}RDF")
    return root


def _parse(packet: bytes) -> tuple[Element, dict[str, str]]:
    """The packet's root element and its namespace → prefix map (first declaration wins)."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import iterparse

    start = min((i for tag in _STARTS if (i := packet.find(tag)) >= 0), default=-1)
    if start < 0:
        raise InvalidInput("the file's XMP packet has no x:xmpmeta or rdf:RDF element; not rewritten")
    end = packet.rfind(b"</x:xmpmeta>")
    core = packet[start : end + len(b"</x:xmpmeta>")] if end > start else packet[start:].split(b"<?xpacket")[0]
    prefixes: dict[str, str] = {}
    root: Element | None = None
    try:
        for event, item in iterparse(io.BytesIO(core), events=("start", "start-ns"), forbid_dtd=True):
            if event == "start-ns":
                prefix, uri = item
                if prefix and uri not in prefixes:
                    prefixes[uri] = prefix
            elif root is None:
                root = item
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise InvalidInput(f"the file's XMP packet is malformed ({exc}); not rewritten, nothing lost") from exc
    if root is None:
        raise InvalidInput("the file's XMP packet is empty; not rewritten")
    return root, prefixes


def _remove(rdf: Element, keys: set[str]) -> None:
    for node in list(rdf):
        for name in [a for a in node.attrib if a in keys]:
            del node.attrib[name]
        for child in [c for c in node if c.tag in keys]:
            node.remove(child)


def _append(description: Element, field: XmpField) -> None:
    indent = "\n   "
    if len(description):
        description[-1].tail = indent
    else:
        description.text = indent
    elem = SubElement(description, f"{{{field.namespace}}}{field.name}")
    elem.tail = "\n  "
    if field.kind == "text" and isinstance(field.value, str):
        elem.text = field.value
    elif field.kind == "resource" and isinstance(field.value, str):
        elem.set(f"{{{RDF}}}resource", field.value)
    elif field.kind == "lang-alt" and isinstance(field.value, str):
        alt = SubElement(elem, f"{{{RDF}}}Alt")
        li = SubElement(alt, f"{{{RDF}}}li", {f"{{{_XML}}}lang": "x-default"})
        li.text = field.value
    elif field.kind == "struct-seq" and isinstance(field.value, tuple):
        seq = SubElement(elem, f"{{{RDF}}}Seq")
        li = SubElement(seq, f"{{{RDF}}}li", {f"{{{RDF}}}parseType": "Resource"})
        for ns, name, text in field.value:
            SubElement(li, f"{{{ns}}}{name}").text = text
    else:
        raise ValueError(f"XMP field {field.name} has kind {field.kind!r} and value {field.value!r}")


# --- a namespace-exact serialiser ---------------------------------------------------------------------------


def _namespaces(root: Element) -> Iterator[str]:
    for elem in root.iter():
        for name in (elem.tag, *elem.attrib):
            if isinstance(name, str) and name.startswith("{"):
                yield name[1:].partition("}")[0]


def _prefix_map(root: Element, known: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {_XML: "xml"}
    taken = {"xml", "xmlns"}
    for uri in dict.fromkeys(_namespaces(root)):
        if uri in out:
            continue
        prefix = known.get(uri) or _PREFERRED.get(uri) or "ns"
        base, n = prefix, 1
        while prefix in taken:
            n += 1
            prefix = f"{base}{n}"
        out[uri] = prefix
        taken.add(prefix)
    return out


def _qname(name: str, prefixes: Mapping[str, str]) -> str:
    if not name.startswith("{"):
        return name
    uri, _, local = name[1:].partition("}")
    return f"{prefixes[uri]}:{local}"


def _escape(text: str, *, attribute: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if attribute:
        text = text.replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    return text


def _serialise(root: Element, known: Mapping[str, str]) -> str:
    prefixes = _prefix_map(root, known)
    declarations = "".join(f' xmlns:{p}="{_escape(u, attribute=True)}"' for u, p in prefixes.items() if p != "xml")
    out: list[str] = []
    _write(root, prefixes, out, declarations)
    return "".join(out)


def _write(elem: Element, prefixes: Mapping[str, str], out: list[str], declarations: str = "") -> None:
    tag = _qname(elem.tag, prefixes)
    attrs = "".join(f' {_qname(k, prefixes)}="{_escape(v, attribute=True)}"' for k, v in elem.attrib.items())
    if elem.text is None and not len(elem):
        out.append(f"<{tag}{declarations}{attrs}/>")
    else:
        out.append(f"<{tag}{declarations}{attrs}>{_escape(elem.text or '')}")
        for child in elem:
            _write(child, prefixes, out)
        out.append(f"</{tag}>")
    if elem.tail:
        out.append(_escape(elem.tail))
