"""Finding XMP packets in files and parsing them safely."""

from __future__ import annotations

import contextlib
import io
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin, TiffImagePlugin

from rightful.signals.xmp import RDF, XmpData, XmpError, find_packets, parse_packet, scan_packets

PLUS = "http://ns.useplus.org/ldf/xmp/1.0/"
DC = "http://purl.org/dc/elements/1.1/"
RIGHTS = "http://ns.adobe.com/xap/1.0/rights/"


def packet(body: str, *, xmlns: str = "") -> bytes:
    """An XMP packet whose single rdf:Description holds ``body`` (namespaces plus, dc, xmpRights declared)."""
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:plus="{PLUS}" xmlns:dc="{DC}" xmlns:xmpRights="{RIGHTS}" {xmlns}>'
        f"{body}</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


DMI = packet("<plus:DataMining>http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED</plus:DataMining>")


def image(fmt: str, xmp: bytes) -> bytes:
    """A tiny image of ``fmt`` carrying ``xmp`` where that format stores it."""
    buf = io.BytesIO()
    img = Image.new("RGB", (8, 8), "white")
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp.decode(), zip=True)
        img.save(buf, "PNG", pnginfo=info)
    elif fmt == "TIFF":
        ifd = TiffImagePlugin.ImageFileDirectory_v2()
        ifd[700] = xmp  # the XMP tag
        img.save(buf, "TIFF", tiffinfo=ifd)
    else:
        img.save(buf, fmt, xmp=xmp)
    return buf.getvalue()


def jpeg_with_extended_xmp(main: bytes, extended: bytes, *, chunk: int = 100, drop: int | None = None) -> bytes:
    """A JPEG whose Extended XMP is split over several APP1 segments (optionally with one chunk missing)."""
    head = b"http://ns.adobe.com/xmp/extension/\x00" + b"0123456789ABCDEF0123456789ABCDEF"
    segments = [b"http://ns.adobe.com/xap/1.0/\x00" + main]
    for i, offset in enumerate(range(0, len(extended), chunk)):
        if i != drop:
            part = extended[offset : offset + chunk]
            segments.append(head + len(extended).to_bytes(4, "big") + offset.to_bytes(4, "big") + part)
    body = b"".join(b"\xff\xe1" + (len(s) + 2).to_bytes(2, "big") + s for s in segments)
    plain = io.BytesIO()
    Image.new("RGB", (4, 4)).save(plain, "JPEG")
    return plain.getvalue()[:2] + body + plain.getvalue()[2:]


def pdf_with_metadata(xmp: bytes, *, flate: bool) -> bytes:
    """A minimal PDF whose catalog points to a /Metadata stream (optionally FlateDecode-compressed)."""
    stream = zlib.compress(xmp) if flate else xmp
    filters = b" /Filter /FlateDecode" if flate else b""
    return (
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R /Metadata 3 0 R >>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
        b"3 0 obj\n<< /Type /Metadata /Subtype /XML /Length " + str(len(stream)).encode() + filters + b" >>\n"
        b"stream\n" + stream + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


# --- finding packets --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_packet_found_in_each_image_container(fmt: str) -> None:
    """The XMP packet is found where JPEG (APP1), PNG (compressed iTXt), WebP and TIFF (tag 700) keep it."""
    packets = find_packets(image(fmt, DMI))
    assert len(packets) == 1
    assert parse_packet(packets[0]).values_of("DataMining", PLUS) == ("http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED",)


def test_jpeg_extended_xmp_is_reassembled() -> None:
    """Extended XMP split over APP1 segments is joined in offset order and parsed as its own packet."""
    extended = packet("<dc:source>" + "x" * 450 + "</dc:source>")
    scan = scan_packets(jpeg_with_extended_xmp(DMI, extended))
    assert scan.sources == ["jpeg-app1", "jpeg-extended-xmp"]
    assert parse_packet(scan.packets[1]).first("source", DC) == "x" * 450


def test_incomplete_extended_xmp_is_a_problem_not_a_packet() -> None:
    """A missing Extended XMP chunk is reported and the main packet is still read."""
    extended = packet("<dc:source>" + "x" * 450 + "</dc:source>")
    scan = scan_packets(jpeg_with_extended_xmp(DMI, extended, drop=2))
    assert scan.sources == ["jpeg-app1"]
    assert "incomplete" in scan.problems[0]


@pytest.mark.parametrize("flate", [False, True])
def test_pdf_metadata_stream_is_read_plain_or_flate(flate: bool) -> None:
    """A PDF's /Metadata stream is read whether stored plain or with FlateDecode."""
    packets = find_packets(pdf_with_metadata(DMI, flate=flate))
    assert [parse_packet(p).first("DataMining", PLUS) for p in packets] == [
        "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED"
    ]


def test_pdf_metadata_with_other_filters_is_reported() -> None:
    """A metadata stream behind a filter chain we do not decode is a problem, not silence."""
    pdf = pdf_with_metadata(DMI, flate=True).replace(b"/Filter /FlateDecode", b"/Filter [/ASCII85Decode]")
    scan = scan_packets(pdf)
    assert scan.packets == []
    assert "FlateDecode" in scan.problems[0]


def test_byte_scan_finds_gif_and_sidecar_packets() -> None:
    """Formats without a walker (GIF application extension, sidecars) are covered by the byte scan."""
    gif = b"GIF89a" + b"\x00" * 7 + b"!\xffXMP DataXMP" + DMI + b"\x01" * 10 + b";"
    assert len(find_packets(gif)) == 1
    assert find_packets(DMI) == [DMI[DMI.index(b"<x:xmpmeta") : DMI.index(b"<?xpacket end")]]


def test_duplicate_packets_are_one_statement() -> None:
    """The same packet copied twice in a file is returned once."""
    assert len(find_packets(b"junk" + DMI + b"junk" + DMI)) == 1


def test_bare_rdf_sidecar_without_wrapper_is_found() -> None:
    """A sidecar holding only rdf:RDF (no x:xmpmeta wrapper) is read."""
    bare = DMI[DMI.index(b"<rdf:RDF") : DMI.index(b"</x:xmpmeta>")]
    assert parse_packet(find_packets(b'<?xml version="1.0"?>' + bare)[0]).first("DataMining", PLUS)


def test_unterminated_packet_is_returned_for_the_parser_to_reject() -> None:
    """A packet cut off by truncation is handed on, and parsing it is an XmpError."""
    cut = DMI[: len(DMI) // 2]
    packets = find_packets(cut)
    assert len(packets) == 1
    with pytest.raises(XmpError):
        parse_packet(packets[0])


# --- parsing ----------------------------------------------------------------------------------------------


def test_properties_as_attributes_and_elements_are_equal() -> None:
    """rdf:Description attributes (Getty style) and elements give the same values."""
    as_attr = parse_packet(packet("", xmlns='plus:DataMining="DMI-PROHIBITED"'))
    as_elem = parse_packet(packet("<plus:DataMining>DMI-PROHIBITED</plus:DataMining>"))
    assert as_attr.values_of("DataMining", PLUS) == as_elem.values_of("DataMining", PLUS) == ("DMI-PROHIBITED",)


def test_alt_puts_x_default_first_and_bag_keeps_order() -> None:
    """rdf:Alt puts the x-default item first; rdf:Bag/Seq keep document order."""
    xmp = parse_packet(
        packet(
            '<xmpRights:UsageTerms><rdf:Alt><rdf:li xml:lang="en-GB">colour</rdf:li>'
            '<rdf:li xml:lang="x-default">color</rdf:li></rdf:Alt></xmpRights:UsageTerms>'
            "<dc:subject><rdf:Bag><rdf:li>b</rdf:li><rdf:li>a</rdf:li></rdf:Bag></dc:subject>"
        )
    )
    assert xmp.values_of("UsageTerms", RIGHTS) == ("color", "colour")
    assert xmp.values_of("subject", DC) == ("b", "a")


def test_resource_value_and_struct_fields() -> None:
    """rdf:resource and rdf:value are values; struct fields (parseType Resource, nested Description) are recorded."""
    xmp = parse_packet(
        packet(
            '<dc:source rdf:resource="https://example.com/src"/>'
            '<dc:rights rdf:parseType="Resource"><rdf:value>mine</rdf:value><plus:Note>q</plus:Note></dc:rights>'
            "<plus:Licensor><rdf:Seq><rdf:li rdf:parseType='Resource'><plus:LicensorURL>https://l.example</plus:LicensorURL>"
            "</rdf:li></rdf:Seq></plus:Licensor>"
            '<plus:Copyright><rdf:Description plus:CopyrightOwnerName="Ann"/></plus:Copyright>'
        )
    )
    assert xmp.first("source", DC) == "https://example.com/src"
    assert xmp.first("rights", DC) == "mine"
    assert xmp.first("Note", PLUS) == "q"
    assert xmp.first("LicensorURL", PLUS) == "https://l.example"
    assert xmp.first("CopyrightOwnerName", PLUS) == "Ann"


def test_several_namespace_spellings_are_looked_up_together() -> None:
    """values_of accepts several namespace URIs (e.g. TDMRep's / and # forms)."""
    xmp = XmpData({("urn:a/", "x"): ["1"], ("urn:a#", "x"): ["2"]})
    assert xmp.values_of("x", "urn:a/", "urn:a#") == ("1", "2")
    assert xmp.first("y", "urn:a/") is None
    assert ("urn:a/", "x") in xmp
    assert len(xmp) == 2


@pytest.mark.parametrize(
    "bad",
    [
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF>",  # unterminated, undeclared prefix
        b'<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>',
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x:xmpmeta xmlns:x="adobe:ns:meta/">&e;</x:xmpmeta>',
        b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><nothing/></x:xmpmeta>",  # no rdf:RDF
    ],
    ids=["malformed", "billion-laughs", "xxe", "no-rdf"],
)
def test_bad_packets_raise_xmp_error(bad: bytes) -> None:
    """Malformed packets, entity expansion and external entities are refused with XmpError."""
    with pytest.raises(XmpError):
        parse_packet(bad)


def test_rdf_namespace_constant() -> None:
    """The RDF namespace is the W3C one."""
    assert RDF == "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


# --- real files -------------------------------------------------------------------------------------------


def test_iptc_reference_image_packet(external: Path) -> None:
    """The IPTC 2023.2 reference image has DMI-PROHIBITED-GENAIMLTRAINING and the rights expressions."""
    data = (external / "iptc" / "IPTC-PhotometadataRef-Std2023.2-fullsize.jpg").read_bytes()
    [xmp] = [parse_packet(p) for p in find_packets(data)]
    assert xmp.values_of("DataMining", PLUS) == ("http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-GENAIMLTRAINING",)
    ext = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    assert xmp.first("LinkedRightsExpr", ext) == "http://example.org/linkedrightsexpression/id986/ref2023.2"
    assert xmp.first("WebStatement", RIGHTS) == "https://example.com/WebStatementOfRights/ref2023.2"


def test_getty_webp_attribute_form(external: Path) -> None:
    """Getty's WebP writes plus:DataMining and WebStatement as rdf:Description attributes."""
    data = (external / "iptc" / "folio-10px" / "gettyimages-1404056433-1024x1024.webp").read_bytes()
    [xmp] = [parse_packet(p) for p in find_packets(data)]
    assert xmp.first("DataMining", PLUS) == "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING"
    assert (xmp.first("WebStatement", RIGHTS) or "").startswith("https://www.gettyimages.com/eula")


def test_mediawiki_sidecar(external: Path) -> None:
    """The MediaWiki XMP sidecar's cc:license and xmpRights fields are read."""
    [xmp] = [
        parse_packet(p) for p in find_packets((external / "iptc" / "mediawiki-xmp-7-cc-xmpRights.xmp").read_bytes())
    ]
    assert xmp.first("license", "http://creativecommons.org/ns#") == "http://creativecommons.com/cc-by-2.9"
    assert xmp.first("Marked", RIGHTS) == "True"
    assert xmp.values_of("UsageTerms", RIGHTS)[0] == "do whatever you want"


def test_every_external_file_scans_without_error(external: Path) -> None:
    """No real file (C2PA, IPTC, corrupt Pillow images) makes the scanner or parser raise anything but XmpError."""
    for path in sorted(p for p in external.rglob("*") if p.is_file()):
        for found in find_packets(path.read_bytes()):
            with contextlib.suppress(XmpError):
                parse_packet(found)


# --- properties -------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_scan_never_crashes_on_arbitrary_bytes(data: bytes) -> None:
    """Any bytes scan cleanly, and any packet found either parses or raises XmpError."""
    for prefix in (b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"%PDF-", b"<x:xmpmeta"):
        for found in find_packets(prefix + data):
            with contextlib.suppress(XmpError):
                parse_packet(found)


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(
    lambda s: s.strip() == s and s.strip()
)


@settings(max_examples=100, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=6))
def test_bag_values_round_trip(items: list[str]) -> None:
    """Whatever text a Bag holds comes back, escaped and in order, through any image container."""
    from xml.sax.saxutils import escape

    lis = "".join(f"<rdf:li>{escape(i)}</rdf:li>" for i in items)
    xmp = packet(f"<dc:subject><rdf:Bag>{lis}</rdf:Bag></dc:subject>")
    [found] = find_packets(jpeg_with_extended_xmp(xmp, b"", chunk=1))
    assert parse_packet(found).values_of("subject", DC) == tuple(items)
