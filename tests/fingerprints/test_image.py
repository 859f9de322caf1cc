"""Image fingerprints: PDQ with quality and dihedral variants, pHash, windows, and every bad input."""

from __future__ import annotations

import contextlib
import io
import struct
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from rightful.errors import InvalidInput
from rightful.fingerprints import MIN_QUALITY, fingerprint_image, hamming, load_image
from rightful.fingerprints.image import DIHEDRAL, QUERY_ANGLES, REGISTER_WINDOWS, trim_border

Scene = Callable[..., Image.Image]
Png = Callable[..., bytes]


def test_same_image_reencoded_is_close(scene: Scene, png: Png) -> None:
    """A JPEG re-encode stays within a few bits of the PNG original; the pixel digest differs."""
    img = scene(1)
    a = fingerprint_image(png(img))
    b = fingerprint_image(png(img, "JPEG", quality=60))
    assert a.quality >= MIN_QUALITY
    assert not a.low_quality
    assert hamming(a.pdq.value, b.pdq.value) <= 31
    assert a.pixels.value != b.pixels.value


def test_identical_pixels_share_the_pixel_digest(scene: Scene, png: Png) -> None:
    """PNG and BMP of the same pixels have the same pixel digest and PDQ hash."""
    img = scene(2)
    a, b = fingerprint_image(png(img)), fingerprint_image(png(img, "BMP"))
    assert a.pixels == b.pixels
    assert a.pdq.value == b.pdq.value


def test_unrelated_images_are_far_apart(scene: Scene, png: Png) -> None:
    """Two different scenes sit far beyond the near-duplicate threshold."""
    a, b = fingerprint_image(png(scene(3))), fingerprint_image(png(scene(4)))
    assert hamming(a.pdq.value, b.pdq.value) > 70


def test_registration_stores_frame_and_windows(scene: Scene, png: Png) -> None:
    """A registered image has the frame's PDQ and pHash plus both hashes for each window."""
    fps = fingerprint_image(png(scene(5)))
    regions = {(f.kind, f.region) for f in fps.variants}
    for window in REGISTER_WINDOWS:
        assert ("pdq", window.name) in regions
        assert ("phash", window.name) in regions
    assert len(fps.pdq.value) == 32
    assert len(fps.phash.value) == 8
    assert len(fps.pixels.value) == 16


def test_query_adds_dihedral_mirror_and_derotated_hashes(scene: Scene, png: Png) -> None:
    """A query carries the seven other dihedral PDQ hashes, a mirrored pHash and the de-rotated windows."""
    fps = fingerprint_image(png(scene(6)), query=True)
    regions = {f.region for f in fps.variants}
    assert set(DIHEDRAL[1:]) <= regions
    assert "mirror" in regions
    assert {f"c64@{a:+g}" for a in QUERY_ANGLES} <= regions


def test_mirrored_copy_matches_a_dihedral_variant(scene: Scene, png: Png) -> None:
    """The PDQ of a mirrored copy equals one of the original's dihedral variants (within a few bits)."""
    original = fingerprint_image(png(scene(7)), query=True)
    mirrored = fingerprint_image(png(ImageOps.mirror(scene(7))))
    best = min(hamming(mirrored.pdq.value, f.value) for f in (original.pdq, *original.variants) if f.kind == "pdq")
    assert best <= 8


def test_flat_image_is_flagged_low_quality(png: Png) -> None:
    """A flat image gives a low-quality hash and a note saying so."""
    fps = fingerprint_image(png(Image.new("RGB", (200, 200), (120, 130, 140))))
    assert fps.low_quality
    assert fps.quality < MIN_QUALITY
    assert any("low-quality" in n for n in fps.notes)


def test_one_pixel_image_is_fingerprinted_as_flat(png: Png) -> None:
    """A 1×1 image does not crash the hasher; it is simply low quality."""
    fps = fingerprint_image(png(Image.new("RGB", (1, 1), (255, 0, 0))))
    assert fps.low_quality


def test_huge_dimensions_are_refused_before_decoding(png: Png) -> None:
    """A 20k×20k image is over the pixel limit: InvalidInput, not a MemoryError."""
    data = _png_header_only(20_000, 20_000)
    with pytest.raises(InvalidInput, match=r"over the limit|decompression bomb"):
        fingerprint_image(data)


def test_decompression_bomb_is_refused(png: Png) -> None:
    """A small file that decodes to a huge image is refused under a lower pixel limit."""
    data = png(Image.new("L", (4000, 4000)))
    assert len(data) < 100_000
    with pytest.raises(InvalidInput):
        fingerprint_image(data, max_pixels=1_000_000)


def test_corrupt_and_truncated_images_are_invalid_input(scene: Scene, png: Png) -> None:
    """Garbage after a JPEG magic and a truncated PNG are InvalidInput."""
    good = png(scene(8))
    with pytest.raises(InvalidInput):
        fingerprint_image(b"\xff\xd8\xff" + b"\x00garbage" * 50)
    with pytest.raises(InvalidInput):
        fingerprint_image(good[: len(good) // 3])


def test_animated_gif_uses_first_frame_with_a_note(scene: Scene) -> None:
    """An animated GIF is fingerprinted from its first frame and says so."""
    frames = [scene(9), scene(10)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100)
    fps = fingerprint_image(buf.getvalue())
    assert any("first frame" in n for n in fps.notes)
    single = io.BytesIO()
    frames[0].save(single, "GIF")
    assert hamming(fps.pdq.value, fingerprint_image(single.getvalue()).pdq.value) <= 4


def test_animated_webp_uses_first_frame(scene: Scene) -> None:
    """An animated WebP is fingerprinted from its first frame and says so."""
    buf = io.BytesIO()
    scene(11).save(buf, "WEBP", save_all=True, append_images=[scene(12)], duration=100, lossless=True)
    assert any("first frame" in n for n in fingerprint_image(buf.getvalue()).notes)


@pytest.mark.parametrize("mode", ["CMYK", "RGBA", "LA", "P", "1", "I;16"])
def test_every_pixel_mode_is_converted(scene: Scene, png: Png, mode: str) -> None:
    """CMYK, alpha, palette, 1-bit and 16-bit images all give a hash close to the RGB original's."""
    img = scene(13)
    if mode == "I;16":
        arr = (np.asarray(img.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
        converted = Image.fromarray(arr)
        fmt = "PNG"
    else:
        converted, fmt = img.convert(mode), "TIFF" if mode == "CMYK" else "PNG"
    fps = fingerprint_image(png(converted, fmt))
    reference = fingerprint_image(png(img.convert("L").convert("RGB")))
    assert hamming(fps.pdq.value, reference.pdq.value) <= (90 if mode == "1" else 40)  # dithering moves bits


def test_transparent_pixels_are_composited_on_white(png: Png) -> None:
    """A fully transparent image hashes like a white one (not like its hidden colour channels)."""
    rgba = Image.new("RGBA", (64, 64), (255, 0, 0, 0))
    assert load_image(png(rgba))[0].getpixel((5, 5)) == (255, 255, 255)


def test_trim_border_removes_a_uniform_frame(scene: Scene) -> None:
    """A white mat around a picture is trimmed back to the picture."""
    img = scene(14)
    framed = ImageOps.expand(img, border=30, fill=(255, 255, 255))
    trimmed = trim_border(framed)
    assert trimmed is not None
    assert abs(trimmed.width - img.width) <= 2
    assert abs(trimmed.height - img.height) <= 2
    assert trim_border(img) is None


def test_hamming_refuses_different_lengths() -> None:
    """Comparing a PDQ hash with a pHash is an error, not a number."""
    with pytest.raises(InvalidInput):
        hamming(b"\x00" * 32, b"\x00" * 8)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    """Any bytes either fingerprint or raise InvalidInput."""
    with contextlib.suppress(InvalidInput):
        fingerprint_image(data)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 64), st.integers(1, 64), st.integers(0, 255))
def test_tiny_images_of_any_shape(width: int, height: int, grey: int) -> None:
    """Tiny images of any shape fingerprint without error."""
    buf = io.BytesIO()
    Image.new("L", (width, height), grey).save(buf, "PNG")
    fps = fingerprint_image(buf.getvalue())
    assert len(fps.pdq.value) == 32


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that announces ``width``×``height`` (the limit must trigger before any pixel is read)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + chunk(b"IEND", b"")
    )
