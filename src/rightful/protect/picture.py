"""Pixels in and out of the cloak: every image mode mapped to 8- or 16-bit levels, with alpha, ICC and EXIF kept.

The cloak perturbs colour channels only: alpha is copied exactly, greyscale stays greyscale (one channel,
shown to the encoder as grey RGB), 16-bit greyscale stays 16-bit (ε scaled to 16-bit levels: 1/255 of the
range is 257 levels). Palette, bilevel and CMYK images become RGB(A) — a palette cannot hold a perturbation —
and say so in the report's notes (a CMYK ICC profile no longer applies and is dropped). 16-bit *colour* PNGs
(48-bit RGB, 64-bit RGBA) stay 16-bit: Pillow would read them as 8-bit, so they are decoded with OpenCV
(``IMREAD_UNCHANGED``; without OpenCV they are refused rather than silently reduced) and written by
:func:`encode_png16`, a small PNG writer of our own (Pillow cannot write them), with alpha, ICC and EXIF.

:meth:`Picture.quantise` is where the budget is enforced on the integers that get written, whatever floating
point did before: ``|written − original| ≤ ε`` levels everywhere, and exactly 0 under the mask.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from rightful.errors import InvalidInput, MissingDependency, ProtectionError
from rightful.media import open_image

__all__ = ["Picture", "decode_picture", "encode_png", "encode_png16", "load_mask"]

_RGB_LIKE: Final = frozenset({"CMYK", "YCbCr", "LAB", "HSV", "RGBX", "RGBa"})
Levels = NDArray[Any]


@dataclass(frozen=True, slots=True)
class Picture:
    """Colour levels (H×W×C, C 1 or 3, uint8 or uint16), optional alpha, and the metadata to carry over."""

    levels: Levels
    alpha: Levels | None
    bits: int
    icc: bytes | None
    exif: bytes | None
    notes: tuple[str, ...] = ()

    @property
    def height(self) -> int:
        return int(self.levels.shape[0])

    @property
    def width(self) -> int:
        return int(self.levels.shape[1])

    @property
    def max_level(self) -> int:
        return (1 << self.bits) - 1

    @property
    def mode(self) -> str:
        grey = self.levels.shape[2] == 1
        if self.bits == 16:
            if grey:
                return "LA;16" if self.alpha is not None else "I;16"
            return "RGBA;16" if self.alpha is not None else "RGB;16"
        if grey:
            return "LA" if self.alpha is not None else "L"
        return "RGBA" if self.alpha is not None else "RGB"

    def unit(self) -> NDArray[np.float32]:
        """Levels as float32 in [0, 1]."""
        return (self.levels.astype(np.float32) / self.max_level).astype(np.float32)

    def rgb_unit(self) -> NDArray[np.float32]:
        """H×W×3 float32 in [0, 1] (grey repeated), for the self-check."""
        unit = self.unit()
        return np.repeat(unit, 3, axis=2) if unit.shape[2] == 1 else unit

    def quantise(self, values: NDArray[np.float32], *, strength: int, keep: NDArray[np.bool_] | None) -> Picture:
        """The perturbed picture as integers, with the L∞ budget and the mask enforced and re-checked."""
        limit = strength * (257 if self.bits == 16 else 1)
        original = self.levels.astype(np.int64)
        wanted = np.rint(np.clip(values, 0.0, 1.0) * self.max_level).astype(np.int64)
        change = np.clip(wanted - original, -limit, limit)
        if keep is not None:
            change[keep] = 0
        written = np.clip(original + change, 0, self.max_level)
        if np.abs(written - original).max(initial=0) > limit or (keep is not None and (change[keep] != 0).any()):
            raise ProtectionError("the cloak broke its own budget after quantisation; nothing written")
        return replace(self, levels=written.astype(self.levels.dtype), notes=())


def _png_is_16bit_colour(img: Image.Image, data: bytes | None) -> bool:
    if img.format != "PNG" or data is None or len(data) < 26:
        return False
    return data[24] == 16 and data[25] in (2, 4, 6)  # RGB, grey + alpha, RGBA: Pillow reads all three as 8-bit


def decode_picture(img: Image.Image, data: bytes | None = None) -> Picture:
    """Map any Pillow image to a :class:`Picture` (InvalidInput for what cannot be cloaked faithfully)."""
    if _png_is_16bit_colour(img, data):
        assert data is not None
        return _decode_png16(data, img.info.get("icc_profile") or None, img.info.get("exif") or None)
    if getattr(img, "n_frames", 1) > 1:
        raise InvalidInput("animated or multi-page image: cloak one frame at a time")
    icc = img.info.get("icc_profile") or None
    exif = img.info.get("exif") or None
    notes: list[str] = []
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I"):
        array = np.asarray(img)
        if array.min(initial=0) < 0 or array.max(initial=0) > 65535:
            raise InvalidInput(f"{mode} image with values outside 0–65535 cannot be cloaked")
        return Picture(array.astype(np.uint16)[..., None], None, 16, icc, exif)
    if mode in ("P", "PA", "1"):
        has_alpha = mode == "PA" or "transparency" in img.info
        img = img.convert("RGBA" if has_alpha else ("L" if mode == "1" else "RGB"))
        notes.append(f"{mode} image converted to {img.mode}: a palette cannot hold a cloak")
    elif mode in _RGB_LIKE:
        img = img.convert("RGB")
        if mode == "CMYK" and icc is not None:
            icc = None
            notes.append("CMYK image converted to RGB; its CMYK ICC profile no longer applies and was dropped")
        else:
            notes.append(f"{mode} image converted to RGB")
    elif mode not in ("RGB", "RGBA", "L", "LA"):
        raise InvalidInput(f"image mode {mode} cannot be cloaked")
    array = np.asarray(img)
    if array.ndim == 2:
        array = array[..., None]
    alpha = None
    if img.mode in ("RGBA", "LA"):
        alpha, array = array[..., -1].copy(), array[..., :-1]
    return Picture(np.ascontiguousarray(array, dtype=np.uint8), alpha, 8, icc, exif, tuple(notes))


def _decode_png16(data: bytes, icc: bytes | None, exif: bytes | None) -> Picture:
    """A 48/64-bit PNG at full precision, through OpenCV (BGR(A) order, turned into RGB(A))."""
    try:
        import cv2
    except ImportError:  # reading it through Pillow would silently drop it to 8 bits
        raise MissingDependency(
            "opencv-python-headless (to read a 16-bit colour PNG at full precision)", extra="protect"
        ) from None
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16 or array.ndim != 3 or array.shape[2] not in (3, 4):
        raise InvalidInput("corrupt or unsupported 16-bit colour PNG")
    grey = data[25] == 4  # OpenCV hands grey + alpha over as BGRA with three equal colour planes
    colour = np.ascontiguousarray(array[..., :1] if grey else array[..., 2::-1])  # BGR → RGB
    alpha = np.ascontiguousarray(array[..., 3]) if array.shape[2] == 4 else None
    return Picture(colour, alpha, 16, icc, exif)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def encode_png16(picture: Picture) -> bytes:
    """A 16-bit PNG (RGB, RGBA or grey + alpha; big-endian, "Up" filter, zlib level 9) with ICC and EXIF chunks."""
    planes = picture.levels if picture.alpha is None else np.concatenate([picture.levels, picture.alpha[..., None]],
                                                                          axis=2)  # fmt: skip
    raw = planes.astype(">u2").view(np.uint8).reshape(picture.height, -1)
    previous = np.vstack([np.zeros((1, raw.shape[1]), np.uint8), raw[:-1]])
    filtered = ((raw.astype(np.int16) - previous) % 256).astype(np.uint8)  # filter type 2 ("Up") on every row
    rows = np.hstack([np.full((picture.height, 1), 2, np.uint8), filtered])
    colour_type = {(3, False): 2, (3, True): 6, (1, True): 4, (1, False): 0}[
        (planes.shape[2] - (picture.alpha is not None), picture.alpha is not None)
    ]
    header = picture.width.to_bytes(4, "big") + picture.height.to_bytes(4, "big") + bytes([16, colour_type, 0, 0, 0])
    chunks = [_chunk(b"IHDR", header)]
    if picture.icc:
        chunks.append(_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(picture.icc, 9)))
    if picture.exif:
        chunks.append(_chunk(b"eXIf", picture.exif.removeprefix(b"Exif\x00\x00")))
    chunks += [_chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)), _chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def encode_png(picture: Picture) -> bytes:
    """A lossless PNG with the picture's alpha, ICC profile and EXIF (deterministic bytes)."""
    levels = picture.levels
    if picture.bits == 16 and (levels.shape[2] == 3 or picture.alpha is not None):
        return encode_png16(picture)
    if picture.bits == 16:
        img = Image.fromarray(np.ascontiguousarray(levels[..., 0]))
    else:
        planes = levels if picture.alpha is None else np.concatenate([levels, picture.alpha[..., None]], axis=2)
        img = Image.fromarray(np.ascontiguousarray(planes.squeeze(2) if planes.shape[2] == 1 else planes),
                              picture.mode)  # fmt: skip
    options: dict[str, Any] = {}
    if picture.icc:
        options["icc_profile"] = picture.icc
    if picture.exif:
        options["exif"] = picture.exif
    buf = io.BytesIO()
    img.save(buf, "PNG", **options)
    return buf.getvalue()


def load_mask(data: bytes, height: int, width: int, *, max_pixels: int) -> NDArray[np.bool_]:
    """The pixels to keep: a mask image of the picture's size whose white (≥ 128) pixels stay unchanged."""
    img = open_image(data, max_pixels=max_pixels)
    if img.size != (width, height):
        raise InvalidInput(f"the mask is {img.width}×{img.height}; the image is {width}×{height}")
    grey = img.convert("L") if img.mode != "L" else img
    keep: NDArray[np.bool_] = np.asarray(grey) >= 128
    return keep
