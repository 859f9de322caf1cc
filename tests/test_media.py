"""Safe handling of untrusted media: sniffing, capped reads, pixel limits and decompression bombs."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from rightful.errors import InvalidInput
from rightful.media import media_type_for, open_image, read_capped, sniff


def encoded(fmt: str, size: tuple[int, int] = (8, 8), **kwargs: object) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "white").save(buf, fmt, **kwargs)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("GIF", "image/gif"), ("WEBP", "image/webp"),
     ("TIFF", "image/tiff"), ("PDF", "application/pdf")],
)  # fmt: skip
def test_sniff_recognises_encoded_images(fmt: str, media_type: str) -> None:
    """The first bytes Pillow writes for each format are recognised."""
    assert sniff(encoded(fmt)[:512]) == media_type


@pytest.mark.parametrize(
    ("head", "media_type"),
    [
        (b"\x00\x00\x00\x1cftypavif", "image/avif"),
        (b"\x00\x00\x00\x18ftypheic", "image/heic"),
        (b"\x00\x00\x00\x18ftypisom", "video/mp4"),
        (b"PK\x03\x04" + b"\x00" * 26 + b"mimetypeapplication/epub+zip", "application/epub+zip"),
        (b"PK\x03\x04" + b"\x00" * 40, "application/zip"),
        (b"\xef\xbb\xbf<!DOCTYPE html><html>", "text/html"),
        (b"<?xpacket begin='\xef\xbb\xbf' id='W5M0MpCehiHzreSzNTczkc9d'?>", "application/rdf+xml"),
        (b'<?xml version="1.0"?>\n<x:xmpmeta xmlns:x="adobe:ns:meta/">', "application/rdf+xml"),
        (
            b'<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
            "application/rdf+xml",
        ),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><metadata><rdf:RDF>', "image/svg+xml"),
        (b"plain words", None),
        (b"", None),
    ],
)
def test_sniff_by_magic(head: bytes, media_type: str | None) -> None:
    """Containers, HTML, XMP sidecars (wrapped or bare rdf:RDF) and SVG are told apart by their first bytes."""
    assert sniff(head) == media_type


def test_media_type_for_is_a_hint_from_the_name() -> None:
    """File extensions map to media types case-insensitively; unknown ones give None."""
    assert media_type_for("A.JPG") == "image/jpeg"
    assert media_type_for("book.epub") == "application/epub+zip"
    assert media_type_for("x.unknown") is None


def test_read_capped_reports_truncation(tmp_path: Path) -> None:
    """read_capped returns at most max_bytes and says whether the file was longer."""
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 100)
    assert read_capped(path, max_bytes=100) == (b"x" * 100, False)
    assert read_capped(path, max_bytes=10) == (b"x" * 10, True)


def test_read_capped_refuses_missing_files_and_directories(tmp_path: Path) -> None:
    """A missing path or a directory is InvalidInput, not an OSError."""
    with pytest.raises(InvalidInput, match="no such file"):
        read_capped(tmp_path / "missing")
    with pytest.raises(InvalidInput, match="directory"):
        read_capped(tmp_path)


def test_open_image_decodes_and_applies_the_pixel_limit() -> None:
    """A normal image decodes; one over max_pixels is refused before decoding."""
    assert open_image(encoded("PNG", (20, 10))).size == (20, 10)
    with pytest.raises(InvalidInput, match="over the limit"):
        open_image(encoded("PNG", (20, 10)), max_pixels=100)


def test_gif_frame_extents_are_checked_up_front() -> None:
    """A GIF whose later frame extents grow the canvas past the limit is refused without decoding frames."""
    frames = [Image.new("P", (10, 10)), Image.new("P", (10, 10), 1)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    data = bytearray(buf.getvalue())
    second = data.rfind(b"\x2c\x00\x00\x00\x00\x0a\x00\x0a\x00")  # the last image descriptor: 10x10 at 0,0
    data[second + 1 : second + 5] = (9000).to_bytes(2, "little") * 2  # move it to (9000, 9000)
    assert open_image(buf.getvalue(), max_pixels=1000).size == (10, 10)
    with pytest.raises(InvalidInput, match="9010x9010"):
        open_image(bytes(data), max_pixels=1000)


@pytest.mark.parametrize(
    "name",
    ["decompression_bomb.gif", "decompression_bomb_extents.gif", "truncated_image.png", "truncated_end_chunk.png",
     "broken.png", "broken_data_stream.png", "pngtest_bad.png.bin"],
)  # fmt: skip
def test_bad_real_images_are_invalid_input(external: Path, name: str) -> None:
    """Pillow's bombs, truncated and corrupt test images all become InvalidInput."""
    with pytest.raises(InvalidInput):
        open_image((external / "misc" / "pillow" / name).read_bytes())


@pytest.mark.parametrize("name", ["invalid-exif.jpg", "multiple_exif.jpg", "truncated_app14.jpg"])
def test_odd_metadata_still_decodes(external: Path, name: str) -> None:
    """Images with broken metadata segments but sound pixel data still decode."""
    assert open_image((external / "misc" / "pillow" / name).read_bytes()).size[0] > 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1024))
def test_open_image_only_raises_invalid_input(data: bytes) -> None:
    """Arbitrary bytes behind any image magic either decode or raise InvalidInput; sniff never raises."""
    for magic in (b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"II*\x00", b"RIFF\x00\x00\x00\x00WEBP"):
        sniff(magic + data)
        with contextlib.suppress(InvalidInput):
            open_image(magic + data, max_pixels=1_000_000)
