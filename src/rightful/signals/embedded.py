"""Rights signals embedded in a file: XMP (IPTC Data Mining, Creative Commons / xmpRights, TDMRep in PDF),
EPUB package metadata (TDMRep) and C2PA / CAWG training-mining assertions.

:func:`embedded_findings` is the one entry point. The format is sniffed from the bytes (the caller's media
type is only a hint) and decides what is read:

==========================================  =================================================
images (JPEG, PNG, WebP, GIF, TIFF, AVIF,   XMP packets, then the C2PA manifest
HEIC), audio / video c2pa-python reads
PDF                                         XMP packets (with TDMRep), then the C2PA manifest
EPUB (zip)                                  OPF ``tdm:reservation`` / ``tdm:policy``, then C2PA
XMP sidecar (``application/rdf+xml``)       XMP packets
anything else                               nothing
==========================================  =================================================

Nothing here decodes pixels, so decompression bombs cannot expand; zip members are read with size caps
after the central directory itself was checked. Bad metadata becomes an :class:`~rightful.models.ItemError`
and the other signals are kept.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

from rightful.media import DEFAULT_MAX_PIXELS, media_type_for, read_capped, sniff
from rightful.models import Decision, LicenceConstraint, Purpose, Signal, document_hash
from rightful.signals import tdmrep
from rightful.signals.base import Findings
from rightful.signals.c2pa_manifest import c2pa_findings
from rightful.signals.xmp import XmpData, XmpError, parse_packet, scan_packets

__all__ = [
    "IMAGE_TYPES",
    "cc_flags",
    "embedded_file_findings",
    "embedded_findings",
    "xmp_findings",
]

IMAGE_TYPES = frozenset({
    "image/jpeg", "image/png", "image/webp", "image/gif", "image/tiff", "image/avif", "image/heic",
})  # fmt: skip
_AV_TYPES = frozenset({"video/mp4", "video/quicktime", "audio/mpeg", "audio/wav", "audio/flac"})
_PDF, _EPUB, _ZIP, _SIDECAR = "application/pdf", "application/epub+zip", "application/zip", "application/rdf+xml"

PLUS = "http://ns.useplus.org/ldf/xmp/1.0/"
IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
XMP_RIGHTS = "http://ns.adobe.com/xap/1.0/rights/"
CC = ("http://creativecommons.org/ns#", "http://web.resource.org/cc/")
TDM = ("http://www.w3.org/ns/tdmrep/", "http://www.w3.org/ns/tdmrep#")
_DCTERMS = "http://purl.org/dc/terms/"
_DMI_PREFIXES = ("http://ns.useplus.org/ldf/vocab/", "https://ns.useplus.org/ldf/vocab/", "DMI-")

#: IPTC Data Mining codes → (values, words). GENAIMLTRAINING reserves only the generative subset.
_DMI: Mapping[str, tuple[Mapping[Purpose, Decision], str]] = {
    "UNSPECIFIED": ({}, "unspecified: states nothing"),
    "ALLOWED": ({Purpose.DATA_MINING: Decision.ALLOWED}, "data mining allowed"),
    "PROHIBITED-AIMLTRAINING": ({Purpose.AI_TRAINING: Decision.RESERVED}, "AI/ML training prohibited"),
    "PROHIBITED-GENAIMLTRAINING": (
        {Purpose.GENAI_TRAINING: Decision.RESERVED}, "generative AI/ML training prohibited"),
    "PROHIBITED-EXCEPTSEARCHENGINEINDEXING": (
        {Purpose.DATA_MINING: Decision.RESERVED, Purpose.SEARCH: Decision.ALLOWED},
        "data mining prohibited except for search engine indexing"),
    "PROHIBITED": ({Purpose.DATA_MINING: Decision.RESERVED}, "data mining prohibited"),
    "PROHIBITED-SEECONSTRAINT": (
        {Purpose.DATA_MINING: Decision.RESERVED}, "prohibited, see plus:OtherConstraints"),
    "PROHIBITED-SEEEMBEDDEDRIGHTSEXPR": (
        {Purpose.DATA_MINING: Decision.RESERVED}, "prohibited, see the embedded rights expression"),
    "PROHIBITED-SEELINKEDRIGHTSEXPR": (
        {Purpose.DATA_MINING: Decision.RESERVED}, "prohibited, see the linked rights expression"),
}  # fmt: skip
_CC_URL = re.compile(r"creativecommons\.org/(licenses|publicdomain)/([a-z0-9+-]+)", re.IGNORECASE)

# Zip-bomb guards: EPUB metadata is small, so anything big is refused rather than decompressed.
_MAX_ZIP_MEMBERS = 10_000
_MAX_ZIP_DIRECTORY = 4 * 1024 * 1024
_MAX_OPF_BYTES = 4 * 1024 * 1024
_MAX_ROOTFILES = 4
_OCF = "urn:oasis:names:tc:opendocument:xmlns:container"


def embedded_findings(
    data: bytes,
    *,
    location: str,
    media_type: str | None = None,
    truncated: bool = False,
    fetched_at: datetime | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Findings:
    """All embedded signals and licence constraints in a file's bytes; never raises on bad content.

    ``truncated`` says the caller only had the first bytes of the file: a note is recorded, because
    metadata stored later (a C2PA manifest at the end of a PNG) may be missing. ``max_pixels`` is accepted
    for symmetry with the decoders: no pixels are decoded here, so it bounds nothing today.
    """
    del max_pixels  # metadata is read without decoding pixels
    kind = _kind(data, media_type)
    findings = Findings()
    if kind is None:
        return findings
    evidence: dict[str, Any] = {"fetched_at": fetched_at, "document_hash": document_hash(data)}
    remote: list[str] = []
    if kind in IMAGE_TYPES or kind in _AV_TYPES or kind in (_PDF, _SIDECAR):
        findings.extend(_packets_findings(data, location=location, pdf=kind == _PDF, evidence=evidence,
                                          remote=remote))  # fmt: skip
    elif kind == _EPUB:
        findings.extend(_epub_findings(data, location=location, evidence=evidence))
    manifest = Findings()
    if kind != _SIDECAR:
        manifest = c2pa_findings(data, media_type=kind, location=location, **evidence)
        findings.extend(manifest)
    if remote and not manifest.signals and not manifest.errors:
        findings.error("c2pa-remote-manifest", f"XMP dcterms:provenance points to a remote C2PA manifest at "
                       f"{remote[0]}; remote manifests are never fetched", protocol="c2pa",
                       location=location)  # fmt: skip
    if truncated:
        findings.error("embedded-truncated", f"only the first {len(data)} bytes were read; metadata stored "
                       "after them (such as a C2PA manifest) may be missing", location=location)  # fmt: skip
    return findings


def embedded_file_findings(path: Path, *, max_bytes: int) -> Findings:
    """:func:`embedded_findings` for a local file, reading at most ``max_bytes`` (InvalidInput if unreadable)."""
    data, truncated = read_capped(path, max_bytes=max_bytes)
    return embedded_findings(data, location=str(path), media_type=media_type_for(path.name), truncated=truncated)


def _kind(data: bytes, hint: str | None) -> str | None:
    """The sniffed type; the hint decides only when sniffing cannot (a sidecar, a zip with an odd first member)."""
    sniffed = sniff(data[:512])
    declared = hint.split(";", 1)[0].strip().lower() if hint else None
    if sniffed == _ZIP:
        return _EPUB if declared == _EPUB or b"META-INF/container.xml" in data[-(1 << 20) :] else None
    if sniffed is None and declared == _SIDECAR:
        return _SIDECAR
    return sniffed


# --- XMP ----------------------------------------------------------------------------------------------------


def _packets_findings(
    data: bytes, *, location: str, pdf: bool, evidence: dict[str, Any], remote: list[str]
) -> Findings:
    """Every packet's statements; ``remote`` collects dcterms:provenance URLs (a C2PA manifest elsewhere)."""
    findings = Findings()
    scan = scan_packets(data)
    for problem in scan.problems:
        findings.error("xmp-unreadable", problem, protocol="xmp", location=location)
    for index, (packet, source) in enumerate(zip(scan.packets, scan.sources, strict=True), start=1):
        where = f"XMP packet {index} ({source})"
        try:
            xmp = parse_packet(packet)
        except XmpError as exc:
            findings.error("xmp-malformed", f"{where}: {exc}", protocol="xmp", location=location)
            continue
        findings.extend(xmp_findings(xmp, location=location, where=where, pdf=pdf, **evidence))
        remote.extend(u for u in xmp.values_of("provenance", _DCTERMS) if u.lower().startswith(("http:", "https:")))
    return findings


def xmp_findings(
    xmp: XmpData,
    *,
    location: str,
    where: str = "XMP",
    pdf: bool = False,
    fetched_at: datetime | None = None,
    document_hash: str | None = None,
) -> Findings:
    """What one parsed packet states: IPTC Data Mining, licence terms (Creative Commons, xmpRights), TDMRep."""
    findings = Findings()
    evidence: dict[str, Any] = {"location": location, "fetched_at": fetched_at, "document_hash": document_hash}
    for value in xmp.values_of("DataMining", PLUS):
        _iptc_signal(xmp, value, where, evidence, findings)
    findings.licence.extend(_licence(xmp, location))
    reservation, policy = xmp.first("reservation", *TDM), xmp.first("policy", *TDM)
    if reservation is not None or policy is not None:
        place = "pdf-xmp" if pdf else ("xmp" if "xmp" in tdmrep.PLACES else None)
        if place is None:
            findings.error("tdmrep-outside-pdf", f"{where} has tdm:reservation {reservation!r}, but TDMRep "
                           "defines XMP only for PDF; not applied", protocol="tdmrep", location=location)  # fmt: skip
        else:
            raw = f"tdm:reservation={reservation}" + (f" tdm:policy={policy}" if policy else "")
            findings.extend(tdmrep.reservation_findings(reservation, policy, place=place, raw=raw,
                                                        extra={"packet": where}, **evidence))  # fmt: skip
    return findings


def _iptc_signal(xmp: XmpData, value: str, where: str, evidence: dict[str, Any], findings: Findings) -> None:
    code = value.strip()
    for prefix in _DMI_PREFIXES:
        code = code.removeprefix(prefix)
    code = code.removeprefix("DMI-").upper()
    known = _DMI.get(code)
    if known is None:
        findings.error("iptc-unknown-value", f"plus:DataMining {value!r} in {where} is not an IPTC Data Mining "
                       "code; treated as unset", protocol="iptc", location=evidence["location"])  # fmt: skip
        return
    values, words = known
    details: dict[str, Any] = {"code": f"DMI-{code}", "packet": where}
    extras = {
        "other_constraints": xmp.values_of("OtherConstraints", PLUS),
        "embedded_rights_expressions": xmp.values_of("EncRightsExpr", IPTC_EXT),
        "linked_rights_expressions": xmp.values_of("LinkedRightsExpr", IPTC_EXT),
        "rights_expression_types": xmp.values_of("RightsExprEncType", IPTC_EXT),
    }
    details.update({k: list(v) for k, v in extras.items() if v})
    findings.signals.append(Signal(protocol="iptc", raw=f"plus:DataMining={value}",
                                   rule=f"plus:DataMining DMI-{code} in {where}: {words}", values=values,
                                   details=details, **evidence))  # fmt: skip


def cc_flags(url: str) -> tuple[str, ...]:
    """Licence flags a Creative Commons URL carries: ``by``/``nc``/``nd``/``sa``, ``cc0`` or ``pd``."""
    match = _CC_URL.search(url)
    if match is None:
        return ()
    kind, code = match.group(1).lower(), match.group(2).lower()
    if kind == "publicdomain":
        return ("cc0",) if code == "zero" else ("pd",)
    return tuple(part for part in code.split("-") if part in ("by", "nc", "nd", "sa"))


def _licence(xmp: XmpData, location: str) -> list[LicenceConstraint]:
    """Creative Commons and xmpRights terms: licence constraints, not opt-outs (one per licence URL)."""
    marked = xmp.first("Marked", XMP_RIGHTS)
    terms = xmp.first("UsageTerms", XMP_RIGHTS)
    urls = list(dict.fromkeys([*xmp.values_of("license", *CC), *xmp.values_of("WebStatement", XMP_RIGHTS)]))
    if marked is None and terms is None and not urls:
        return []
    marks: tuple[str, ...] = ()
    if marked is not None and marked.strip().lower() in ("true", "false"):
        marks = ("marked",) if marked.strip().lower() == "true" else ("unmarked",)
    if not urls:
        return [LicenceConstraint(source="xmp", location=location, flags=marks, terms=terms)]
    constraints = []
    for i, url in enumerate(urls):
        flags = (*cc_flags(url), *marks)
        term = terms if i == 0 else None
        constraints.append(LicenceConstraint(source="xmp", location=location, licence=url, flags=flags, terms=term))
    return constraints


# --- EPUB ---------------------------------------------------------------------------------------------------


def _epub_findings(data: bytes, *, location: str, evidence: dict[str, Any]) -> Findings:
    findings = Findings()
    problem = _zip_directory_problem(data)
    if problem is not None:
        findings.error("epub-refused", problem, protocol="tdmrep", location=location)
        return findings
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for path in _rootfiles(archive)[:_MAX_ROOTFILES]:
                opf = _read_member(archive, path)
                _opf_findings(opf, location=f"{location}!/{path}", evidence=evidence, findings=findings)
    except _EpubError as exc:
        findings.error("epub-unreadable", str(exc), protocol="tdmrep", location=location)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, RuntimeError,
            NotImplementedError, ValueError) as exc:  # fmt: skip
        findings.error("epub-unreadable", f"not a readable EPUB (zip): {exc}", protocol="tdmrep",
                       location=location)  # fmt: skip
    return findings


class _EpubError(Exception):
    pass


def _zip_directory_problem(data: bytes) -> str | None:
    """Refuse a zip whose central directory is huge before :mod:`zipfile` parses it (a zip bomb's first step)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or len(data) < end + 22:
        return "no zip end-of-central-directory record (truncated or not a zip)"
    members = int.from_bytes(data[end + 10 : end + 12], "little")
    size = int.from_bytes(data[end + 12 : end + 16], "little")
    if members == 0xFFFF or size == 0xFFFFFFFF:
        return "zip64 archives are not read (an EPUB never needs one)"
    if members > _MAX_ZIP_MEMBERS or size > _MAX_ZIP_DIRECTORY:
        return f"zip with {members} members / {size} directory bytes is over the limits; not read"
    return None


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError as exc:
        raise _EpubError(f"EPUB member {name!r} is missing") from exc
    if info.file_size > _MAX_OPF_BYTES:
        raise _EpubError(f"EPUB member {name!r} is {info.file_size} bytes, over the {_MAX_OPF_BYTES} limit")
    with archive.open(info) as member:
        body = member.read(_MAX_OPF_BYTES + 1)
    if len(body) > _MAX_OPF_BYTES:  # the declared size lied
        raise _EpubError(f"EPUB member {name!r} inflates past the {_MAX_OPF_BYTES} limit")
    return body


def _rootfiles(archive: zipfile.ZipFile) -> list[str]:
    """The package documents META-INF/container.xml names, or any ``.opf`` member when it names none."""
    from defusedxml.ElementTree import fromstring

    names = archive.namelist()
    paths: list[str] = []
    if "META-INF/container.xml" in names:
        try:
            root = fromstring(_read_member(archive, "META-INF/container.xml"))
        except (ParseError, ValueError) as exc:
            raise _EpubError(f"META-INF/container.xml is malformed: {exc}") from exc
        paths = [p for e in root.iter(f"{{{_OCF}}}rootfile") if (p := e.get("full-path"))]
    return paths or [n for n in names if n.lower().endswith(".opf")]


def _opf_findings(opf: bytes, *, location: str, evidence: dict[str, Any], findings: Findings) -> None:
    from defusedxml.ElementTree import fromstring

    try:
        root = fromstring(opf)
    except (ParseError, ValueError) as exc:
        findings.error("epub-malformed", f"package document is malformed: {exc}", protocol="tdmrep",
                       location=location)  # fmt: skip
        return
    prefixes = _prefixes(root.get("prefix") or "")
    found: dict[str, list[tuple[str, str]]] = {"reservation": [], "policy": []}
    for meta in root.iter():
        if not isinstance(meta.tag, str) or meta.tag.rpartition("}")[2] != "meta":
            continue
        name, prop = (meta.get("name") or "").strip(), (meta.get("property") or "").strip()
        if name in ("tdm:reservation", "tdm:policy"):  # EPUB 2
            value = meta.get("content") or ""
            found[name[4:]].append((value, f'<meta name="{name}" content="{value}"/>'))
        elif prop:  # EPUB 3: the prefix must map to the TDMRep namespace
            prefix, _, local = prop.partition(":")
            namespace = prefixes.get(prefix, TDM[1] if prefix == "tdm" else None)
            if namespace in TDM and local in found:
                value = (meta.text or "").strip()
                found[local].append((value, f'<meta property="{prop}">{value}</meta>'))
    _epub_signal(found, location=location, undeclared="tdm" not in prefixes, evidence=evidence, findings=findings)


def _prefixes(attribute: str) -> dict[str, str]:
    """The EPUB 3 ``prefix`` attribute: ``"tdm: http://www.w3.org/ns/tdmrep# …"`` → {prefix: IRI}."""
    return {m.group(1): m.group(2) for m in re.finditer(r"([A-Za-z_][\w.-]*):\s+(\S+)", attribute)}


def _epub_signal(
    found: dict[str, list[tuple[str, str]]],
    *,
    location: str,
    undeclared: bool,
    evidence: dict[str, Any],
    findings: Findings,
) -> None:
    """One TDMRep reading per package: the reservation if any statement makes one (most restrictive)."""
    reservations, policies = found["reservation"], found["policy"]
    if not reservations:
        return
    chosen = next((r for r in reservations if r[0].strip() == "1"), reservations[0])
    policy = policies[0][0] if policies else None
    raw = " ".join([chosen[1], *(p[1] for p in policies[:1])])
    extra: dict[str, Any] = {"statements": [r[1] for r in reservations]}
    if undeclared and any("property=" in r[1] for r in reservations):
        extra["prefix_declared"] = False
    findings.extend(tdmrep.reservation_findings(chosen[0], policy, place="epub", location=location, raw=raw,
                                                extra=extra, **evidence))  # fmt: skip
