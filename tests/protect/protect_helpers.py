"""Small files in every format the tagger writes (shared by the protect tests)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageCms

ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _pixels(width: int, height: int, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(width * 1000 + height)
    channels = len(mode)
    array = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
    return Image.fromarray(array.squeeze(-1) if channels == 1 else array, mode)


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "a test picture"  # ImageDescription
    exif[0x013B] = "Ada Lovelace"  # Artist
    return exif.tobytes()


def make_file(kind: str, *, width: int = 37, height: int = 23) -> bytes:
    """A small file of ``kind`` with existing metadata (EXIF, ICC, text) where the format has it."""
    buf = io.BytesIO()
    if kind == "jpeg":
        _pixels(width, height).save(buf, "JPEG", quality=90, exif=_exif(), icc_profile=ICC)
    elif kind == "png":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text("Comment", "kept")
        _pixels(width, height, "RGBA").save(buf, "PNG", pnginfo=info, icc_profile=ICC, exif=_exif())
    elif kind == "webp-lossless":
        _pixels(width, height, "RGBA").save(buf, "WEBP", lossless=True)
    elif kind == "webp-lossy":
        _pixels(width, height).save(buf, "WEBP", quality=80)
    elif kind == "webp-extended":
        _pixels(width, height).save(buf, "WEBP", quality=80, exif=_exif(), icc_profile=ICC)
    elif kind == "tiff":
        _pixels(width, height).save(buf, "TIFF", compression="tiff_lzw", exif=_exif(), icc_profile=ICC)
    elif kind == "tiff16":
        array = np.arange(width * height, dtype=np.uint16).reshape(height, width) * 37
        Image.fromarray(array).save(buf, "TIFF")
    elif kind == "pdf":
        _pixels(width, height).save(buf, "PDF", title="A test document")
    else:
        raise ValueError(kind)
    return buf.getvalue()


KINDS = ("jpeg", "png", "webp-lossless", "webp-lossy", "webp-extended", "tiff", "tiff16", "pdf")
SUFFIX = {"jpeg": ".jpg", "png": ".png", "pdf": ".pdf", "tiff": ".tif", "tiff16": ".tif"}


def jpeg_parts(data: bytes) -> tuple[list[bytes], bytes]:
    """A JPEG's marker segments before the first scan, and everything from the scan on (the entropy-coded data)."""
    segments, pos = [], 2
    while data[pos + 1] != 0xDA:
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        segments.append(data[pos:end])
        pos = end
    return segments, data[pos:]
