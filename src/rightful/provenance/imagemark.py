"""Watermarking image *files*: decoding, colour modes, re-encoding in the same format.

The watermark lives in luminance. Colour RGB(A) images get the change along the cheapest direction in RGB for
moving luminance (:data:`~rightful.provenance.watermark.COLOUR_DIRECTION`, mostly green), which buys a 16 %
stronger mark at the same PSNR; RGB images whose channels are all equal stay grey (the same change on every
channel), as do greyscale images; alpha is kept as it is; 16-bit greyscale is marked at full depth; CMYK gets
the change on C, M and Y (K is kept); palette images are converted to RGB (a palette cannot hold the pattern).
Other modes are refused.
"""

from __future__ import annotations

import io

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from rightful.errors import InvalidInput
from rightful.media import DEFAULT_MAX_PIXELS, open_image, sniff
from rightful.provenance.watermark import COLOUR_DIRECTION, LUMA, Detection, detect_array, embed_array

__all__ = ["MARKABLE_TYPES", "detect_image", "watermark_image", "watermark_rgb"]

_MIN_PSNR = 40.02  # the floor on the marked 8-bit RGB image, rounding included
_MAX_MSE = 255.0**2 / 10 ** (_MIN_PSNR / 10)
MARKABLE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/tiff": "TIFF"}


def _format(data: bytes) -> tuple[str, str]:
    media_type = sniff(data[:64])
    if media_type not in MARKABLE_TYPES:
        raise InvalidInput(f"unsupported format for the watermark: {media_type or 'unknown'} "
                           f"(supported: {', '.join(sorted(MARKABLE_TYPES))})")  # fmt: skip
    return media_type, MARKABLE_TYPES[media_type]


def _luma(img: Image.Image) -> NDArray[np.float64]:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        return np.asarray(img, dtype=np.float64) / 257.0
    if mode == "CMYK":
        return np.asarray(np.asarray(img.convert("RGB"), dtype=np.float64) @ LUMA, dtype=np.float64)
    if mode in ("L", "LA"):
        return np.asarray(img.getchannel("L"), dtype=np.float64)
    return np.asarray(np.asarray(img.convert("RGB"), dtype=np.float64) @ LUMA, dtype=np.float64)


def watermark_image(data: bytes, payload: int, *, key: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """Embed ``payload`` into an encoded image; returns the re-encoded image in the same format."""
    _, fmt = _format(data)
    img = open_image(data, max_pixels=max_pixels)
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode not in ("RGB", "RGBA", "L", "LA", "I;16", "I;16B", "I;16L", "I", "CMYK"):
        raise InvalidInput(f"images in mode {img.mode} cannot be watermarked")
    if img.mode in ("RGB", "RGBA"):
        arr = np.asarray(img).copy()
        arr[..., :3] = watermark_rgb(arr[..., :3], payload, key=key)
        out = Image.fromarray(arr, img.mode)
    else:
        out = _apply(img, embed_array(_luma(img), payload, key=key))
    buf = io.BytesIO()
    options: dict[str, object] = {}
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = 95
    if "icc_profile" in img.info:
        options["icc_profile"] = img.info["icc_profile"]
    out.save(buf, fmt, **options)
    return buf.getvalue()


def watermark_rgb(rgb: NDArray[np.uint8], payload: int, *, key: bytes) -> NDArray[np.uint8]:
    """Mark an RGB array (height × width × 3, 8 bits): along :data:`COLOUR_DIRECTION` for a colour picture,
    the same change on every channel for a grey one (so it stays grey)."""
    colour = bool(np.any(rgb[..., 0] != rgb[..., 1]) or np.any(rgb[..., 1] != rgb[..., 2]))
    luma = rgb[..., 0] * LUMA[0] + rgb[..., 1] * LUMA[1] + rgb[..., 2] * LUMA[2]
    delta = embed_array(luma, payload, key=key, colour=colour).astype(np.float32)
    direction = (COLOUR_DIRECTION if colour else np.ones(3)).astype(np.float32)
    out = _rounded(rgb.astype(np.float32), delta[..., None] * direction, top=255.0)
    return out.astype(np.uint8)


def _rounded(
    base: NDArray[np.floating], change: NDArray[np.floating], *, top: float, unit: float = 1.0
) -> NDArray[np.floating]:
    """``base + change`` rounded to whole levels in ``[0, top]``, with the PSNR floor kept after the rounding.

    Rounding to whole levels adds its own error, which a sharp-edged pattern does not average out: where it takes
    the PSNR below the floor, the change shrinks by what is missing (once is enough: rounding is near linear).
    ``unit`` is one 8-bit level in the array's own levels (257 for 16 bits), as the floor is on the 8-bit scale.
    """
    out = np.clip(np.rint(base + change), 0, top)
    mse = float(np.mean(((out - base) / unit) ** 2))
    if mse > _MAX_MSE:
        shrink = np.sqrt(_MAX_MSE / mse).astype(change.dtype)
        out = np.clip(np.rint(base + change * shrink), 0, top)
    return out


def _apply(img: Image.Image, delta: NDArray[np.float64]) -> Image.Image:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        base = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") else float(max(65535, int((base + delta * 257.0).max())))
        out = _rounded(base, delta * 257.0, top=top, unit=257.0)
        return Image.fromarray(out.astype(np.uint16 if mode.startswith("I;16") else np.int32))
    arr = np.asarray(img, dtype=np.float64).copy()
    if arr.ndim == 2:
        arr[...] = _rounded(arr, delta, top=255.0)
    elif mode == "CMYK":
        arr[..., :3] = _rounded(arr[..., :3], -delta[..., None] * np.ones(3), top=255.0)  # less ink is lighter
    else:  # LA: alpha is kept
        arr[..., 0] = _rounded(arr[..., 0], delta, top=255.0)
    return Image.fromarray(arr.astype(np.uint8), mode)


def detect_image(data: bytes, *, key: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Detection:
    """Look for the watermark in an encoded image (any format Pillow reads)."""
    if sniff(data[:64]) is None:
        raise InvalidInput("not an image format Rightful reads")
    img = open_image(data, max_pixels=max_pixels)
    if img.mode == "P":
        img = img.convert("RGB")
    return detect_array(_luma(img), key=key)
