"""Embedded signals: IPTC Data Mining, Creative Commons / xmpRights, TDMRep in PDF and EPUB, dispatch and safety."""

from __future__ import annotations

import io
import statistics
import time
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from rightful.models import Decision, Purpose, document_hash
from rightful.signals.embedded import cc_flags, embedded_file_findings, embedded_findings

VOCAB = "http://ns.useplus.org/ldf/vocab/"
R, A = Decision.RESERVED, Decision.ALLOWED


def packet(body: str, *, xmlns: str = "") -> bytes:
    """An XMP packet whose single rdf:Description holds ``body`` (plus, dc and xmpRights declared)."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
        'xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        f'xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/" {xmlns}>{body}</rdf:Description></rdf:RDF>'
        '</x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def image(fmt: str, xmp: bytes) -> bytes:
    """A tiny image of ``fmt`` carrying ``xmp`` (PNG: compressed iTXt)."""
    buf = io.BytesIO()
    img = Image.new("RGB", (8, 8), "white")
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp.decode(), zip=True)
        img.save(buf, "PNG", pnginfo=info)
    else:
        img.save(buf, fmt, xmp=xmp)
    return buf.getvalue()


def pdf_with_metadata(xmp: bytes, *, flate: bool) -> bytes:
    """A minimal hand-built PDF whose catalog points to a /Metadata stream (optionally FlateDecode)."""
    stream = zlib.compress(xmp) if flate else xmp
    filters = b" /Filter /FlateDecode" if flate else b""
    return (
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R /Metadata 3 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
        b"3 0 obj\n<< /Type /Metadata /Subtype /XML /Length " + str(len(stream)).encode() + filters + b" >>\n"
        b"stream\n" + stream + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


def dmi_jpeg(value: str, extra: str = "") -> bytes:
    return image("JPEG", packet(f"<plus:DataMining>{value}</plus:DataMining>{extra}"))


def values(data: bytes, **kwargs: object) -> dict[str, str]:
    findings = embedded_findings(data, location="item", **kwargs)  # type: ignore[arg-type]
    return {str(p): str(d) for s in findings.signals for p, d in s.values.items()}


# --- IPTC Data Mining (SPEC vectors) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("PROHIBITED-AIMLTRAINING", {"ai-training": "reserved", "genai-training": "reserved"}),
        ("PROHIBITED-GENAIMLTRAINING", {"genai-training": "reserved"}),
        (
            "PROHIBITED-EXCEPTSEARCHENGINEINDEXING",
            {"data-mining": "reserved", "ai-training": "reserved", "genai-training": "reserved", "search": "allowed"},
        ),
        ("PROHIBITED", {"data-mining": "reserved", "ai-training": "reserved", "genai-training": "reserved"}),
        ("ALLOWED", {"data-mining": "allowed", "ai-training": "allowed", "genai-training": "allowed"}),
        ("UNSPECIFIED", {}),
    ],
)
def test_dmi_codes_map_to_purposes(code: str, expected: dict[str, str]) -> None:
    """Each DMI code reserves (or allows) exactly the purposes the SPEC names; GENAI leaves ai-training unset."""
    assert values(dmi_jpeg(VOCAB + "DMI-" + code)) == expected


def test_bare_dmi_code_is_accepted() -> None:
    """The bare code (``DMI-PROHIBITED-AIMLTRAINING``) means the same as the full vocabulary URI."""
    assert values(dmi_jpeg("DMI-PROHIBITED-AIMLTRAINING")) == values(dmi_jpeg(VOCAB + "DMI-PROHIBITED-AIMLTRAINING"))


def test_dmi_signal_carries_evidence() -> None:
    """The IPTC signal names the protocol, raw value, rule, fetch time and document hash."""
    data = dmi_jpeg(VOCAB + "DMI-PROHIBITED")
    at = datetime(2025, 1, 2, tzinfo=UTC)
    [signal] = embedded_findings(data, location="https://x.example/a.jpg", fetched_at=at).signals
    assert signal.protocol == "iptc"
    assert signal.location == "https://x.example/a.jpg"
    assert signal.raw == f"plus:DataMining={VOCAB}DMI-PROHIBITED"
    assert "DMI-PROHIBITED" in signal.rule
    assert "jpeg-app1" in signal.rule
    assert signal.fetched_at == at
    assert signal.document_hash == document_hash(data)


def test_unknown_dmi_value_is_an_error_and_unset() -> None:
    """An unknown DataMining value is an iptc-unknown-value error and no signal."""
    findings = embedded_findings(dmi_jpeg(VOCAB + "DMI-MAYBE"), location="item")
    assert findings.signals == []
    assert [e.code for e in findings.errors] == ["iptc-unknown-value"]


def test_see_constraint_reads_other_constraints() -> None:
    """PROHIBITED-SEECONSTRAINT reserves data mining and carries plus:OtherConstraints in the details."""
    extra = (
        "<plus:OtherConstraints><rdf:Alt><rdf:li xml:lang='x-default'>ask us</rdf:li></rdf:Alt></plus:OtherConstraints>"
    )
    [signal] = embedded_findings(dmi_jpeg(VOCAB + "DMI-PROHIBITED-SEECONSTRAINT", extra), location="i").signals
    assert signal.values[Purpose.DATA_MINING] is R
    assert signal.details["other_constraints"] == ["ask us"]


@pytest.mark.parametrize(
    ("code", "field", "key"),
    [
        (
            "SEEEMBEDDEDRIGHTSEXPR",
            "<Iptc4xmpExt:EncRightsExpr>odrl…</Iptc4xmpExt:EncRightsExpr>",
            "embedded_rights_expressions",
        ),
        (
            "SEELINKEDRIGHTSEXPR",
            "<Iptc4xmpExt:LinkedRightsExpr>https://r.example</Iptc4xmpExt:LinkedRightsExpr>",
            "linked_rights_expressions",
        ),
    ],
)
def test_see_rights_expression_reads_the_expression(code: str, field: str, key: str) -> None:
    """The SEE…RIGHTSEXPR codes reserve data mining and put the (embedded or linked) expression in the details."""
    ns = 'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
    struct = f"<Iptc4xmpExt:X rdf:parseType='Resource'>{field}</Iptc4xmpExt:X>"
    body = f"<plus:DataMining>DMI-PROHIBITED-{code}</plus:DataMining>{struct}"
    [signal] = embedded_findings(image("JPEG", packet(body, xmlns=ns)), location="i").signals
    assert signal.values[Purpose.DATA_MINING] is R
    assert len(signal.details[key]) == 1


# --- licences ---------------------------------------------------------------------------------------------


def test_cc_by_nc_is_a_non_commercial_licence_constraint() -> None:
    """SPEC vector: cc:license …/by-nc/4.0/ → a licence constraint flagged non-commercial, not an opt-out."""
    ns = 'xmlns:cc="http://creativecommons.org/ns#"'
    body = '<cc:license rdf:resource="https://creativecommons.org/licenses/by-nc/4.0/"/>'
    findings = embedded_findings(image("PNG", packet(body, xmlns=ns)), location="i")
    assert findings.signals == []
    [constraint] = findings.licence
    assert constraint.source == "xmp"
    assert constraint.licence == "https://creativecommons.org/licenses/by-nc/4.0/"
    assert "nc" in constraint.flags
    assert "by" in constraint.flags


@pytest.mark.parametrize(
    ("url", "flags"),
    [
        ("http://creativecommons.org/licenses/by-nc-nd/4.0/", ("by", "nc", "nd")),
        ("https://creativecommons.org/licenses/by-sa/2.0/fr/", ("by", "sa")),
        ("https://creativecommons.org/publicdomain/zero/1.0/", ("cc0",)),
        ("https://creativecommons.org/publicdomain/mark/1.0/", ("pd",)),
        ("https://example.com/licence", ()),
    ],
)
def test_cc_flags(url: str, flags: tuple[str, ...]) -> None:
    """Creative Commons URLs give their BY/NC/ND/SA, CC0 or PD flags; other URLs give none."""
    assert cc_flags(url) == flags


def test_xmp_rights_fields_become_licence_terms() -> None:
    """xmpRights Marked / WebStatement / UsageTerms become one licence constraint with the terms text."""
    body = (
        "<xmpRights:Marked>True</xmpRights:Marked>"
        "<xmpRights:WebStatement>https://l.example/terms</xmpRights:WebStatement>"
        "<xmpRights:UsageTerms><rdf:Alt><rdf:li xml:lang='x-default'>No AI use</rdf:li></rdf:Alt>"
        "</xmpRights:UsageTerms>"
    )
    [constraint] = embedded_findings(image("JPEG", packet(body)), location="i").licence
    assert (constraint.licence, constraint.flags, constraint.terms) == (
        "https://l.example/terms",
        ("marked",),
        "No AI use",
    )


# --- TDMRep in PDF XMP and EPUB ---------------------------------------------------------------------------


@pytest.mark.parametrize("ns", ["http://www.w3.org/ns/tdmrep/", "http://www.w3.org/ns/tdmrep#"])
@pytest.mark.parametrize("flate", [False, True])
def test_pdf_xmp_tdmrep_in_either_namespace_reserves(ns: str, flate: bool) -> None:
    """SPEC vector: PDF XMP tdm:reservation 1 in either namespace → data-mining reserved (protocol tdmrep)."""
    xmp = packet("<tdm:reservation>1</tdm:reservation><tdm:policy>https://p.example/policy.json</tdm:policy>",
                 xmlns=f'xmlns:tdm="{ns}"')  # fmt: skip
    [signal] = embedded_findings(pdf_with_metadata(xmp, flate=flate), location="doc.pdf").signals
    assert signal.protocol == "tdmrep"
    assert signal.values[Purpose.DATA_MINING] is R
    assert signal.details["place"] == "pdf-xmp"
    assert signal.details["policy"] == "https://p.example/policy.json"


def test_pdf_xmp_tdmrep_invalid_value_is_unset() -> None:
    """tdm:reservation "true" in a PDF is a protocol error and no signal."""
    xmp = packet("<tdm:reservation>true</tdm:reservation>", xmlns='xmlns:tdm="http://www.w3.org/ns/tdmrep/"')
    findings = embedded_findings(pdf_with_metadata(xmp, flate=False), location="doc.pdf")
    assert findings.signals == []
    assert [e.code for e in findings.errors] == ["tdmrep-invalid"]


def test_tdmrep_in_image_xmp_is_reported_not_applied() -> None:
    """TDMRep defines XMP only for PDF: an image's tdm:reservation is noted, not turned into a signal."""
    xmp = packet("<tdm:reservation>1</tdm:reservation>", xmlns='xmlns:tdm="http://www.w3.org/ns/tdmrep/"')
    findings = embedded_findings(image("JPEG", xmp), location="a.jpg")
    assert findings.signals == []
    assert [e.code for e in findings.errors] == ["tdmrep-outside-pdf"]


def epub(opf: str, *, container: bool = True, mimetype_first: bool = True) -> bytes:
    """A minimal EPUB (zip) with the given package document."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        if mimetype_first:
            zf.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        if container:
            zf.writestr("META-INF/container.xml", (
                '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
                '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
                "</rootfiles></container>"))  # fmt: skip
        zf.writestr("OEBPS/content.opf", opf, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("OEBPS/ch1.xhtml", "<html/>")
    return buf.getvalue()


def opf(meta: str, *, prefix: str | None = None, version: str = "3.0") -> str:
    attr = f' prefix="{prefix}"' if prefix is not None else ""
    return (
        f'<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="{version}"{attr}>'
        f'<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>T</dc:title>{meta}</metadata></package>'
    )


EPUB3_PREFIX = "tdm: http://www.w3.org/ns/tdmrep#"


@pytest.mark.parametrize(
    "book",
    [
        epub(opf('<meta name="tdm:reservation" content="1"/>', version="2.0")),
        epub(opf('<meta property="tdm:reservation">1</meta>', prefix=EPUB3_PREFIX)),
        epub(opf('<meta property="t:reservation">1</meta>', prefix="t: http://www.w3.org/ns/tdmrep/")),
    ],
    ids=["epub2", "epub3", "epub3-other-prefix"],
)
def test_epub_reservation_reserves(book: bytes) -> None:
    """EPUB 2 meta name and EPUB 3 meta property (any prefix bound to the TDMRep namespace) reserve data mining."""
    [signal] = embedded_findings(book, location="book.epub").signals
    assert signal.protocol == "tdmrep"
    assert signal.details["place"] == "epub"
    assert signal.location == "book.epub!/OEBPS/content.opf"
    assert signal.values[Purpose.DATA_MINING] is R


def test_epub3_policy_and_permission() -> None:
    """EPUB 3 tdm:reservation 0 allows data mining; the policy is then ignored, as TDMRep says."""
    meta = '<meta property="tdm:reservation">0</meta><meta property="tdm:policy">https://p.example/p</meta>'
    [signal] = embedded_findings(epub(opf(meta, prefix=EPUB3_PREFIX)), location="b.epub").signals
    assert signal.values[Purpose.DATA_MINING] is A
    assert signal.details["ignored_policy"] == "https://p.example/p"


def test_epub_conflicting_statements_take_the_reservation() -> None:
    """An EPUB 3 property saying 0 and an EPUB 2 meta saying 1 resolve to the reservation (most restrictive)."""
    meta = '<meta property="tdm:reservation">0</meta><meta name="tdm:reservation" content="1"/>'
    [signal] = embedded_findings(epub(opf(meta, prefix=EPUB3_PREFIX)), location="b.epub").signals
    assert signal.values[Purpose.DATA_MINING] is R
    assert len(signal.details["statements"]) == 2


def test_epub3_prefix_bound_elsewhere_is_ignored_and_undeclared_tdm_is_lenient() -> None:
    """A ``tdm`` prefix bound to another IRI is not TDMRep; an undeclared ``tdm:`` is read and flagged."""
    other = epub(opf('<meta property="tdm:reservation">1</meta>', prefix="tdm: https://other.example/"))
    assert embedded_findings(other, location="b").signals == []
    [signal] = embedded_findings(epub(opf('<meta property="tdm:reservation">1</meta>')), location="b").signals
    assert signal.details["prefix_declared"] is False


def test_epub_without_container_falls_back_to_any_opf_and_hint() -> None:
    """Without META-INF/container.xml (and mimetype not first) the .opf is still found when the hint says EPUB."""
    book = epub(opf('<meta name="tdm:reservation" content="1"/>'), container=False, mimetype_first=False)
    assert values(book, media_type="application/epub+zip; charset=binary")["data-mining"] == "reserved"
    assert embedded_findings(book, location="b").signals == []  # a plain zip is not read


def test_epub_malformed_opf_is_an_error() -> None:
    """A package document that is not XML is an epub-malformed error, not a crash."""
    findings = embedded_findings(epub("<package"), location="b.epub")
    assert [e.code for e in findings.errors] == ["epub-malformed"]


def test_epub_zip_bomb_member_is_refused() -> None:
    """An OPF that inflates past the cap is refused without being decompressed in full."""
    big = opf("<!--" + "x" * (5 * 1024 * 1024) + '--><meta name="tdm:reservation" content="1"/>')
    findings = embedded_findings(epub(big), location="b.epub")
    assert findings.signals == []
    assert [e.code for e in findings.errors] == ["epub-unreadable"]


def test_epub_with_huge_central_directory_is_refused() -> None:
    """A zip announcing more members than the cap is refused before zipfile parses its directory."""
    book = bytearray(epub(opf("")))
    end = book.rfind(b"PK\x05\x06")
    book[end + 10 : end + 12] = (60_000).to_bytes(2, "little")
    findings = embedded_findings(bytes(book), location="b.epub")
    assert [e.code for e in findings.errors] == ["epub-refused"]


def test_truncated_epub_is_an_error_and_a_note() -> None:
    """The first bytes of an EPUB (no central directory) give an error and the truncation note, never a crash."""
    book = epub(opf('<meta name="tdm:reservation" content="1"/>'))[:300]
    findings = embedded_findings(book, location="b.epub", truncated=True)
    assert {e.code for e in findings.errors} == {"epub-refused", "embedded-truncated"}


# --- dispatch and safety ----------------------------------------------------------------------------------


def test_media_type_is_a_hint_the_bytes_decide() -> None:
    """A JPEG labelled text/html is still read as a JPEG; unknown bytes give nothing whatever the label."""
    assert values(dmi_jpeg("DMI-PROHIBITED"), media_type="text/html")["data-mining"] == "reserved"
    assert embedded_findings(b"hello", location="x", media_type="image/jpeg") == embedded_findings(b"", location="x")


def test_sidecar_is_read_as_xmp() -> None:
    """A standalone .xmp sidecar (application/rdf+xml) gives its IPTC signal."""
    assert values(packet("<plus:DataMining>DMI-PROHIBITED</plus:DataMining>"))["data-mining"] == "reserved"


def test_malformed_packet_is_an_error_and_other_signals_survive() -> None:
    """A malformed packet is an xmp-malformed error; a good packet in the same file still counts."""
    data = b"GIF89a;" + packet("<plus:DataMining>DMI-PROHIBITED</plus:DataMining>") + b"<x:xapmeta><broken"
    findings = embedded_findings(data, location="a.gif")
    assert [s.protocol for s in findings.signals] == ["iptc"]
    assert [e.code for e in findings.errors] == ["xmp-malformed"]


def test_truncated_flag_adds_a_note() -> None:
    """truncated=True records that metadata after the cut (C2PA) may be missing."""
    findings = embedded_findings(dmi_jpeg("DMI-PROHIBITED"), location="a.jpg", truncated=True)
    assert [e.code for e in findings.errors] == ["embedded-truncated"]
    assert len(findings.signals) == 1


def test_file_convenience_reads_capped(tmp_path: Path) -> None:
    """embedded_file_findings reads at most max_bytes and notes the truncation."""
    path = tmp_path / "a.jpg"
    path.write_bytes(dmi_jpeg("DMI-PROHIBITED"))
    assert embedded_file_findings(path, max_bytes=1 << 20).signals[0].location == str(path)
    assert "embedded-truncated" in {e.code for e in embedded_file_findings(path, max_bytes=100).errors}


def test_typical_jpeg_is_fast() -> None:
    """A ~200 KB JPEG with XMP and no C2PA costs well under 5 ms (the C2PA reader is not called)."""
    import random

    rng = random.Random(1)
    img = Image.frombytes("RGB", (420, 420), rng.randbytes(420 * 420 * 3))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95, xmp=packet("<plus:DataMining>DMI-PROHIBITED</plus:DataMining>"))
    data = buf.getvalue().replace(b"jumb", b"jumx").replace(b"c2pa", b"c2px")
    assert 150_000 < len(data) < 300_000
    embedded_findings(data, location="a.jpg")  # warm up
    timings = []
    for _ in range(20):
        start = time.perf_counter()
        embedded_findings(data, location="a.jpg")
        timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < 0.005


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048), st.sampled_from([None, "image/jpeg", "application/epub+zip", "application/rdf+xml"]))
def test_never_raises_on_arbitrary_bytes(data: bytes, hint: str | None) -> None:
    """Arbitrary bytes, with any media-type hint and common magic prefixes, never make embedded_findings raise."""
    for prefix in (
        b"",
        b"\xff\xd8\xff\xe1",
        b"\x89PNG\r\n\x1a\n",
        b"%PDF-1.7",
        b"PK\x03\x04",
        b"RIFF\x00\x00\x00\x00WEBP",
    ):
        embedded_findings(prefix + data, location="fuzz", media_type=hint, truncated=True)


# --- real files -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("IPTC-PhotometadataRef-Std2023.2-fullsize.jpg", {"genai-training": "reserved"}),
        ("folio-10px/IPTC-PhotometadataRef-Std2023.1.jpg", {"genai-training": "reserved"}),
        ("folio-10px/IPTC-PhotometadataRef-Std2024.1.jpg", {"genai-training": "reserved"}),
        ("folio-10px/gettyimages-1404056433-1024x1024.webp",
         {"data-mining": "reserved", "ai-training": "reserved", "genai-training": "reserved", "search": "allowed"}),
        ("folio-10px/gettyimages-2231736497-1024x1024.webp",
         {"data-mining": "reserved", "ai-training": "reserved", "genai-training": "reserved", "search": "allowed"}),
        ("folio-10px/IPTC-PhotometadataRef-Std2021.1.jpg", {}),
        ("folio-10px/shutterstock_2480370209.jpg", {}),
        ("folio-10px/profimedia-0701180382.jpg", {}),
        ("iptc-userguide-generative-ai-example.jpg", {}),
    ],
)  # fmt: skip
def test_iptc_fixtures(external: Path, name: str, expected: dict[str, str]) -> None:
    """The IPTC reference and agency images give the DataMining results SOURCES.md records."""
    findings = embedded_findings((external / "iptc" / name).read_bytes(), location=name)
    assert {str(p): str(d) for s in findings.signals for p, d in s.values.items()} == expected
    assert findings.errors == []


def test_agency_web_statements_are_licence_constraints(external: Path) -> None:
    """Shutterstock's and Getty's WebStatement URLs become licence constraints."""
    shutter = embedded_findings((external / "iptc/folio-10px/shutterstock_2480370209.jpg").read_bytes(), location="s")
    assert shutter.licence[0].licence.startswith("https://www.shutterstock.com/license")  # type: ignore[union-attr]
    getty = embedded_findings(
        (external / "iptc/folio-10px/gettyimages-1404056433-1024x1024.webp").read_bytes(), location="g"
    )
    assert getty.licence[0].licence.startswith("https://www.gettyimages.com/eula")  # type: ignore[union-attr]


def test_mediawiki_sidecar_licence(external: Path) -> None:
    """The MediaWiki sidecar's cc:license, Marked=True and UsageTerms are reported as licence terms."""
    data = (external / "iptc" / "mediawiki-xmp-7-cc-xmpRights.xmp").read_bytes()
    findings = embedded_findings(data, location="7.xmp", media_type="application/rdf+xml")
    assert findings.signals == []
    assert findings.errors == []
    first, second = findings.licence
    assert (first.licence, first.flags, first.terms) == (
        "http://creativecommons.com/cc-by-2.9",
        ("marked",),
        "do whatever you want",
    )
    assert second.licence == "http://example.com/web_statement"


def test_bad_pillow_images_return_cleanly(external: Path) -> None:
    """Truncated, corrupt and decompression-bomb images give findings (possibly empty), never an exception."""
    for path in sorted((external / "misc" / "pillow").iterdir()):
        findings = embedded_findings(path.read_bytes(), location=path.name, truncated=True)
        assert all(e.code != "xmp-malformed" or e.location == path.name for e in findings.errors)
