"""The invisible watermark on real photographs: round trip, common edits, keys, refusals, colour modes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from rightful.errors import InvalidInput
from rightful.provenance.imagemark import detect_image, watermark_image
from rightful.provenance.watermark import payload_bits, payload_from_bits

skimage_data = pytest.importorskip("skimage.data")
KEY = bytes(range(32))
PAYLOAD = 0xABCDEF123456


def _encode(img: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.fromarray(skimage_data.camera()).convert("RGB")


@pytest.fixture(scope="module")
def marked(photo: Image.Image) -> bytes:
    return watermark_image(_encode(photo), PAYLOAD, key=KEY)


def _psnr(a: Image.Image, b: Image.Image) -> float:
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return float(10 * np.log10(255**2 / np.mean(diff**2)))


def test_round_trip_is_invisible_and_exact(photo: Image.Image, marked: bytes) -> None:
    """The marked photograph stays above 40 dB PSNR and the detector reads the 48-bit payload back."""
    assert _psnr(photo, Image.open(io.BytesIO(marked)).convert("RGB")) >= 40.0
    detection = detect_image(marked, key=KEY)
    assert detection.found
    assert detection.payload == PAYLOAD
    assert detection.false_positive_probability < 1e-12


@pytest.mark.parametrize("edit", ["jpeg75", "crop10", "resize0.5", "brighter"])
def test_common_edits_keep_the_payload(marked: bytes, edit: str) -> None:
    """JPEG at quality 75, a 10 % crop, halving the size and +20 % brightness keep the payload readable."""
    img = Image.open(io.BytesIO(marked)).convert("RGB")
    if edit == "jpeg75":
        data = _encode(img, "JPEG", quality=75)
    elif edit == "crop10":
        w, h = img.size
        data = _encode(img.crop((w // 20, h // 20, w - w // 20, h - h // 20)))
    elif edit == "resize0.5":
        data = _encode(img.resize((img.width // 2, img.height // 2), Image.Resampling.BICUBIC))
    else:
        data = _encode(Image.fromarray(np.clip(np.asarray(img) * 1.2, 0, 255).astype(np.uint8)))
    detection = detect_image(data, key=KEY)
    assert detection.found
    assert detection.payload == PAYLOAD


def test_unmarked_images_and_other_keys_find_nothing(photo: Image.Image, marked: bytes) -> None:
    """An unmarked photograph and a marked one read with another key both report no watermark."""
    for data, key in ((_encode(photo), KEY), (marked, bytes(32))):
        detection = detect_image(data, key=key)
        assert not detection.found
        assert detection.payload is None
        assert detection.false_positive_probability == 1.0


def test_too_small_images_are_refused(photo: Image.Image) -> None:
    """An image under 256 pixels on a side is refused with a clear message."""
    with pytest.raises(InvalidInput, match="too small"):
        watermark_image(_encode(photo.resize((200, 300))), 1, key=KEY)


def test_unsupported_formats_are_refused(photo: Image.Image) -> None:
    """GIF (palette-quantised) and non-images are refused for embedding."""
    with pytest.raises(InvalidInput, match="unsupported format"):
        watermark_image(_encode(photo, "GIF"), 1, key=KEY)
    with pytest.raises(InvalidInput, match="unsupported format"):
        watermark_image(b"hello world", 1, key=KEY)


@pytest.mark.parametrize(("mode", "fmt"), [("RGBA", "PNG"), ("L", "PNG"), ("I;16", "PNG"), ("CMYK", "JPEG")])
def test_colour_modes_are_kept(photo: Image.Image, mode: str, fmt: str) -> None:
    """Alpha, greyscale, 16-bit greyscale and CMYK inputs keep their mode and carry the payload."""
    if mode == "I;16":
        source = Image.fromarray(np.asarray(photo.convert("L")).astype(np.uint16) * 257)
    else:
        source = photo.convert(mode)
    out = watermark_image(_encode(source, fmt, **({"quality": 95} if fmt == "JPEG" else {})), 77, key=KEY)
    assert Image.open(io.BytesIO(out)).mode == mode
    detection = detect_image(out, key=KEY)
    assert detection.found
    assert detection.payload == 77


def test_alpha_channel_is_untouched(photo: Image.Image) -> None:
    """The watermark changes colour channels only; transparency stays bit-exact."""
    rgba = photo.convert("RGBA")
    alpha = np.tile(np.arange(256, dtype=np.uint8), (rgba.height, 2))[:, : rgba.width]
    rgba.putalpha(Image.fromarray(alpha))
    out = Image.open(io.BytesIO(watermark_image(_encode(rgba), 5, key=KEY)))
    assert np.array_equal(np.asarray(out.getchannel("A")), alpha)


def test_payload_bits_round_trip_and_range() -> None:
    """Payload bits carry a CRC; a flipped bit fails the CRC; payloads over 48 bits are refused."""
    bits = payload_bits(PAYLOAD)
    assert payload_from_bits(bits) == PAYLOAD
    bits[3] ^= 1
    assert payload_from_bits(bits) is None
    with pytest.raises(InvalidInput):
        payload_bits(1 << 48)


def test_the_keyed_layout_is_pinned() -> None:
    """The chip layout for a key never changes between releases (old watermarks must stay readable)."""
    import hashlib

    from rightful.provenance.watermark import _layout

    layout = _layout(bytes(range(32)))
    blob = layout.signs.astype("int8").tobytes() + layout.roles.astype(">i2").tobytes()
    assert hashlib.sha256(blob).hexdigest() == "ea2155c429f491974e95f08766f4e45c81b52aa63b0dfef07898ab23820a9902"


def test_colour_pictures_are_marked_along_the_luminance_direction() -> None:
    """A colour picture changes along COLOUR_DIRECTION at ≥ 40 dB over R, G and B, and the payload reads back."""
    from rightful.provenance.imagemark import watermark_rgb
    from rightful.provenance.watermark import COLOUR_DIRECTION, detect_array

    rgb = np.asarray(skimage_data.astronaut())[:320, :320]
    out = watermark_rgb(rgb, PAYLOAD, key=KEY)
    change = out.astype(np.float64) - rgb
    principal = np.linalg.svd(change.reshape(-1, 3), full_matrices=False)[2][0]  # the change's main direction
    assert abs(float(principal @ COLOUR_DIRECTION)) / np.linalg.norm(COLOUR_DIRECTION) > 0.99
    assert 10 * np.log10(255**2 / np.mean(change**2)) >= 40.0
    detection = detect_array(out.astype(np.float64) @ np.array([0.299, 0.587, 0.114]), key=KEY)
    assert detection.payload == PAYLOAD


@pytest.mark.parametrize("picture", ["flat", "gradient"])
def test_rounding_to_eight_bits_keeps_the_psnr_floor(picture: str) -> None:
    """On flat and smoothly graded pictures, where rounding the sharp-edged pattern to 8 bits alone would take
    the PSNR below 40 dB, the marked image stays at 40 dB or more and still carries the payload."""
    from rightful.provenance.imagemark import watermark_rgb
    from rightful.provenance.watermark import detect_array

    grey = np.full((256, 256), 100.0) if picture == "flat" else np.tile(np.linspace(40, 200, 256), (256, 1))
    rgb = np.repeat(grey.astype(np.uint8)[..., None], 3, axis=2)
    out = watermark_rgb(rgb, PAYLOAD, key=KEY)
    change = out.astype(np.float64) - rgb
    assert 10 * np.log10(255**2 / np.mean(change**2)) >= 40.0
    assert detect_array(out[..., 0].astype(np.float64), key=KEY).payload == PAYLOAD


@pytest.mark.parametrize("mode", ["L", "LA", "CMYK"])
@pytest.mark.parametrize("picture", ["flat", "gradient"])
def test_rounding_keeps_the_psnr_floor_in_every_mode(mode: str, picture: str) -> None:
    """Greyscale, grey-with-alpha and CMYK files, which take another path than RGB, also stay at 40 dB or more
    once rounded to 8 bits on flat and smoothly graded pictures, and still carry the payload."""
    grey = np.full((256, 256), 100.0) if picture == "flat" else np.tile(np.linspace(40, 200, 256), (256, 1))
    img = Image.fromarray(grey.astype(np.uint8), "L").convert(mode)
    if mode == "CMYK":  # ink on C, M and Y (Pillow's own conversion puts it all on K, which is kept)
        ink = 255 - grey.astype(np.uint8)
        img = Image.fromarray(np.stack([ink, ink, ink, np.zeros_like(ink)], axis=2), "CMYK")
    marked = Image.open(io.BytesIO(watermark_image(_encode(img, "TIFF"), PAYLOAD, key=KEY)))
    assert marked.mode == mode
    channels = slice(0, 1) if mode == "LA" else slice(0, 3) if mode == "CMYK" else slice(None)
    before = np.asarray(img, dtype=np.float64).reshape(256, 256, -1)[..., channels]
    change = np.asarray(marked, dtype=np.float64).reshape(256, 256, -1)[..., channels] - before
    assert 10 * np.log10(255**2 / np.mean(change**2)) >= 40.0
    if mode == "LA":
        assert np.array_equal(np.asarray(marked)[..., 1], np.asarray(img)[..., 1])
    assert detect_image(_encode(marked, "TIFF"), key=KEY).payload == PAYLOAD


def test_grey_pictures_stored_as_rgb_stay_grey(photo: Image.Image) -> None:
    """An RGB image whose channels are equal gets the same change on every channel, so it stays grey."""
    from rightful.provenance.imagemark import watermark_rgb

    out = watermark_rgb(np.asarray(photo), PAYLOAD, key=KEY)
    assert np.array_equal(out[..., 0], out[..., 1])
    assert np.array_equal(out[..., 1], out[..., 2])


def test_other_keys_never_claim_a_payload(marked: bytes) -> None:
    """Read with eight random keys, a marked photograph and random noise give no detection and a
    false-positive probability reported as 1 (the calibrated bound never falls below the threshold by chance)."""
    from rightful.provenance.watermark import detect_array

    rng = np.random.default_rng(9)
    luma = np.asarray(Image.open(io.BytesIO(marked)).convert("L"), dtype=np.float64)[:320, :320]
    noise = rng.uniform(0, 255, (300, 300))
    for _ in range(4):
        for picture in (luma, noise):
            detection = detect_array(picture, key=rng.bytes(32), max_fpr=1e-2)
            assert not detection.found
            assert detection.false_positive_probability == 1.0


def test_the_detection_threshold_is_the_callers(marked: bytes) -> None:
    """A threshold below the detection's own false-positive probability turns it into a miss."""
    from rightful.provenance.watermark import detect_array

    luma = np.asarray(Image.open(io.BytesIO(marked)).convert("L"), dtype=np.float64)
    found = detect_array(luma, key=KEY)
    assert found.found
    assert 0.0 < found.false_positive_probability <= 1e-6
    missed = detect_array(luma, key=KEY, max_fpr=found.false_positive_probability / 10)
    assert not missed.found


def test_halved_textured_pictures_are_read_with_the_matched_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    """A marked 384-pixel grass tile halved to 192 pixels, which the plain and sharpened readings lose in its
    texture, is found with the right payload by the halving's matched reading (and missed without it)."""
    from rightful.provenance import watermark
    from rightful.provenance.imagemark import watermark_rgb

    rgb = np.repeat(np.asarray(skimage_data.grass())[:384, :384, None], 3, axis=2)
    marked = Image.fromarray(watermark_rgb(rgb, PAYLOAD, key=KEY))
    halved = np.asarray(marked.resize((192, 192), Image.Resampling.BICUBIC), dtype=np.float64) @ watermark.LUMA
    found = watermark.detect_array(halved, key=KEY)
    assert found.found
    assert found.payload == PAYLOAD
    assert found.scale == 0.5
    monkeypatch.setattr(watermark, "_matched_soft_bits", lambda folded, layout: np.zeros(watermark._CODE.n))
    assert not watermark.detect_array(halved, key=KEY).found
