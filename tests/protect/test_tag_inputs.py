"""Bad inputs to ``tag_file``: each is a clear error and the file is left byte-identical."""

from __future__ import annotations

import io
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from rightful.errors import InvalidInput, ProtectionError, RightfulError
from rightful.models import Decision, Purpose
from rightful.protect.tag import TagStatus, tag_file
from rightful.protect.terms import Reservation
from rightful.signals.check import check_file
from rightful.signals.xmp import find_packets

AI = Reservation.parse(["ai-training"])


def _refused(path: Path, error: type[RightfulError], match: str, reservation: Reservation = AI) -> None:
    before = path.read_bytes()
    with pytest.raises(error, match=match):
        tag_file(path, reservation)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".rightful-tmp")] == []


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def test_unsupported_formats_are_refused(tmp_path: Path) -> None:
    """A GIF or a text file is an unsupported-format error naming what tag writes."""
    gif = tmp_path / "a.gif"
    Image.new("P", (4, 4)).save(gif, "GIF")
    _refused(gif, InvalidInput, "unsupported format: a image/gif file")
    text = tmp_path / "notes.jpg"
    text.write_text("just words, whatever the name says")
    _refused(text, InvalidInput, r"not a recognised format \(tag writes JPEG, PNG, WebP, TIFF, PDF\)")


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    """A path that does not exist is an InvalidInput naming it."""
    with pytest.raises(InvalidInput, match="no such file"):
        tag_file(tmp_path / "missing.png", AI)


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("misc/pillow/broken.png", "corrupt"),
        ("misc/pillow/truncated_end_chunk.png", "corrupt or truncated PNG"),
        ("misc/pillow/truncated_image.png", "corrupt or truncated PNG"),
    ],
)
def test_real_corrupt_pngs_are_refused(name: str, match: str, external: Path, tmp_path: Path) -> None:
    """Real corrupt and truncated PNGs (Pillow's test files) are refused before anything is written."""
    path = tmp_path / Path(name).name
    shutil.copyfile(external / name, path)
    _refused(path, InvalidInput, match)


def test_png_with_a_bad_crc_is_refused(sample: Callable[..., Path]) -> None:
    """A PNG chunk whose CRC does not match is a corrupt-file error."""
    path = sample("png")
    data = bytearray(path.read_bytes())
    data[29] ^= 0xFF  # inside IHDR's CRC
    path.write_bytes(bytes(data))
    _refused(path, InvalidInput, "bad CRC")


@pytest.mark.parametrize("cut", [1, 3, 30, 200])
def test_jpeg_truncated_before_its_scan_is_refused(cut: int, sample: Callable[..., Path]) -> None:
    """A JPEG cut before its image data is a corrupt-or-truncated error."""
    path = sample("jpeg")
    path.write_bytes(path.read_bytes()[:cut])
    _refused(path, InvalidInput, "corrupt|truncated|unsupported")


def test_webp_truncated_is_refused(sample: Callable[..., Path]) -> None:
    """A WebP shorter than its RIFF header says is refused."""
    path = sample("webp-lossy")
    path.write_bytes(path.read_bytes()[:-10])
    _refused(path, InvalidInput, "truncated WebP")


def test_tiff_with_an_ifd_outside_the_file_is_refused(sample: Callable[..., Path]) -> None:
    """A TIFF whose first IFD offset points past the end is refused."""
    path = sample("tiff")
    data = bytearray(path.read_bytes())
    data[4:8] = (len(data) + 100).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    _refused(path, InvalidInput, "first IFD offset")


def test_corrupt_pdf_is_refused(tmp_path: Path) -> None:
    """A file that starts like a PDF but has no readable structure is refused."""
    path = tmp_path / "bad.pdf"
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\nthis is not a pdf body\n")
    _refused(path, InvalidInput, "corrupt PDF")


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    """An encrypted PDF is refused: its metadata would need the owner's key."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(72, 72)
    writer.encrypt("secret", algorithm="AES-128")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    _refused(path, InvalidInput, "encrypted PDF")


def test_read_only_file_is_not_changed(sample: Callable[..., Path]) -> None:
    """A file without write permission is refused (even for root) and left as it was."""
    path = sample("png")
    path.chmod(0o444)
    _refused(path, ProtectionError, "read-only")
    path.chmod(0o644)
    assert tag_file(path, AI, dry_run=True).status is TagStatus.WOULD_TAG  # a dry run needs no write access


def test_malformed_existing_xmp_is_not_overwritten(sample: Callable[..., Path]) -> None:
    """A JPEG whose XMP packet is not well-formed is refused: rewriting it would lose what it holds."""
    path = sample("jpeg")
    data = path.read_bytes()
    payload = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF><broken></x:xmpmeta>"
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    path.write_bytes(data[:2] + segment + data[2:])
    _refused(path, InvalidInput, "malformed")


def test_xmp_with_a_dtd_is_refused(sample: Callable[..., Path]) -> None:
    """An existing packet with a DTD (entity expansion) is refused, never parsed with entities."""
    path = sample("png")
    data = path.read_bytes()
    packet = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
              b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&a;</x:xmpmeta>')  # fmt: skip
    chunk = _png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet)
    path.write_bytes(data[:33] + chunk + data[33:])
    _refused(path, InvalidInput, "malformed")


def test_real_c2pa_signed_file_is_refused(external: Path, tmp_path: Path) -> None:
    """A file signed with C2PA is refused: the change would invalidate its manifest."""
    path = tmp_path / "C.jpg"
    shutil.copyfile(external / "c2pa" / "C.jpg", path)
    _refused(path, ProtectionError, "C2PA manifest")


def test_c2pa_box_in_a_png_is_refused(sample: Callable[..., Path]) -> None:
    """A PNG carrying a caBX (JUMBF) chunk with the c2pa description box is refused."""
    path = sample("png")
    data = path.read_bytes()
    chunk = _png_chunk(b"caBX", b"\x00\x00\x00\x20jumb\x00\x00\x00\x18jumdc2pa\x00\x11\x00\x10\x80\x00\x00\xaa")
    path.write_bytes(data[:-12] + chunk + data[-12:])
    _refused(path, ProtectionError, "C2PA manifest")


# --- existing metadata is merged, not replaced --------------------------------------------------------------


def _xmp_tags(exiftool: Callable[..., dict[str, Any]], path: Path) -> dict[str, Any]:
    return {k: v for k, v in exiftool(path, "-XMP:all", "-EXIF:all", "-IPTC:all", "-ICC_Profile:all").items()
            if k != "SourceFile"}  # fmt: skip


def test_iptc_reference_image_keeps_every_other_field(
    external: Path, tmp_path: Path, exiftool: Callable[..., dict[str, Any]]
) -> None:
    """Tagging IPTC's reference image changes plus:DataMining only; every other XMP, EXIF and IIM field stays."""
    path = tmp_path / "ref.jpg"
    shutil.copyfile(external / "iptc" / "folio-10px" / "IPTC-PhotometadataRef-Std2024.1.jpg", path)
    path.chmod(0o644)
    before = _xmp_tags(exiftool, path)
    assert tag_file(path, AI).status is TagStatus.TAGGED
    after = _xmp_tags(exiftool, path)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed == {"XMP-plus:DataMining"}
    assert after["XMP-plus:DataMining"] == "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"
    assert len(before) > 100


def test_getty_attribute_form_metadata_is_merged(
    external: Path, tmp_path: Path, exiftool: Callable[..., dict[str, Any]]
) -> None:
    """Getty's attribute-form DataMining is replaced; its WebStatement and Licensor URL are kept."""
    path = tmp_path / "getty.webp"
    shutil.copyfile(external / "iptc" / "folio-10px" / "gettyimages-1404056433-1024x1024.webp", path)
    path.chmod(0o644)
    before_pixels = np.asarray(Image.open(path).convert("RGB"))
    before = _xmp_tags(exiftool, path)
    tag_file(path, Reservation.parse(["data-mining"]))
    after = _xmp_tags(exiftool, path)
    assert {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)} == {"XMP-plus:DataMining"}
    assert after["XMP-plus:DataMining"] == "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED"
    assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), before_pixels)
    result = check_file(path)
    assert result.decision(Purpose.DATA_MINING) is Decision.RESERVED
    assert result.decision(Purpose.SEARCH) is Decision.UNKNOWN  # the old EXCEPTSEARCHENGINEINDEXING is gone
    assert len(find_packets(path.read_bytes())) == 1


def test_shutterstock_jpeg_keeps_its_web_statement(external: Path, tmp_path: Path) -> None:
    """A stock JPEG's xmpRights:WebStatement survives tagging without --licence."""
    path = tmp_path / "stock.jpg"
    shutil.copyfile(external / "iptc" / "folio-10px" / "shutterstock_2480370209.jpg", path)
    path.chmod(0o644)
    tag_file(path, AI)
    result = check_file(path)
    assert result.decision(Purpose.AI_TRAINING) is Decision.RESERVED
    assert any("shutterstock.com/license" in (c.licence or "") for c in result.licence)


# --- TIFF layout ----------------------------------------------------------------------------------------------


def _big_endian_tiff(pixels: np.ndarray[Any, Any]) -> bytes:
    """A minimal uncompressed big-endian (MM) RGB TIFF, built by hand: Pillow writes only little-endian."""
    height, width, _ = pixels.shape
    strip = pixels.astype(np.uint8).tobytes()
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8 << 16), (259, 3, 1, 1 << 16),
               (262, 3, 1, 2 << 16), (273, 4, 1, 8), (277, 3, 1, 3 << 16), (278, 4, 1, height),
               (279, 4, 1, len(strip))]  # fmt: skip
    ifd_offset = 8 + len(strip) + (len(strip) & 1)
    ifd = struct.pack(">H", len(entries)) + b"".join(struct.pack(">HHII", *e) for e in entries) + b"\x00" * 4
    return b"MM\x00*" + struct.pack(">I", ifd_offset) + strip + b"\x00" * (len(strip) & 1) + ifd


def test_big_endian_tiff_is_tagged(tmp_path: Path, exiftool: Callable[..., dict[str, Any]]) -> None:
    """A big-endian TIFF gets its XMP entry in byte order; pixels and exiftool agree."""
    pixels = np.random.default_rng(3).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    path = tmp_path / "mm.tif"
    path.write_bytes(_big_endian_tiff(pixels))
    assert np.array_equal(np.asarray(Image.open(path)), pixels)  # the hand-built file is valid to start with
    tag_file(path, AI)
    assert np.array_equal(np.asarray(Image.open(path)), pixels)
    assert exiftool(path)["XMP-plus:DataMining"].endswith("DMI-PROHIBITED-AIMLTRAINING")


def test_tiff_packet_that_fits_is_rewritten_in_place(sample: Callable[..., Path]) -> None:
    """A shorter new packet overwrites the old one in place: the file does not grow."""
    path = sample("tiff16")
    tag_file(path, Reservation.parse(["genai-training"]))  # the longest code
    size = path.stat().st_size
    tag_file(path, Reservation.parse(["data-mining"]))
    assert path.stat().st_size == size
    packets = find_packets(path.read_bytes())
    assert len(packets) == 1
    assert b"DMI-PROHIBITED<" in packets[0]


def test_tiff_packet_that_grows_leaves_no_stale_copy(sample: Callable[..., Path]) -> None:
    """A longer new packet is appended and the old bytes blanked, so no reader finds the stale statement."""
    path = sample("tiff")
    tag_file(path, Reservation.parse(["data-mining"]))
    tag_file(path, Reservation.parse(["genai-training"], contacts=["https://ada.example/licensing"]))
    packets = find_packets(path.read_bytes())
    assert len(packets) == 1
    assert b"GENAIMLTRAINING" in packets[0]
    assert check_file(path).decision(Purpose.DATA_MINING) is Decision.UNKNOWN
    with Image.open(path) as img:
        assert img.size == (37, 23)
        img.load()


def test_webp_with_pillow_decodes_after_tagging_every_variant(sample: Callable[..., Path]) -> None:
    """Lossy, lossless and extended WebP files decode to the same pixels in Pillow after tagging."""
    for kind in ("webp-lossy", "webp-lossless", "webp-extended"):
        path = sample(kind, width=16, height=9)
        before = np.asarray(Image.open(io.BytesIO(path.read_bytes())))
        tag_file(path, AI)
        assert np.array_equal(np.asarray(Image.open(path)), before), kind


def test_webp_with_a_zero_width_bitstream_is_refused(sample: Callable[..., Path]) -> None:
    """A simple WebP whose VP8 header gives a zero width cannot get a VP8X canvas and is refused."""
    path = sample("webp-lossy")
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"VP8 "
    data[26:28] = b"\x00\x00"  # the 14-bit width after the frame tag and start code
    path.write_bytes(bytes(data))
    _refused(path, InvalidInput, "zero width")
