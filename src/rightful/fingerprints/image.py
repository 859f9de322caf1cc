"""Image fingerprints: PDQ (with quality and the eight dihedral variants), pHash, and crop windows.

PDQ is Meta's 256-bit perceptual hash; two copies of one picture land within a few dozen bits of each other
after re-encoding, resizing, colour changes, blur or noise, while unrelated pictures sit near 128 bits apart.
PDQ also reports a *quality* (0–100): flat or nearly flat images hash to almost nothing and would match every
other flat image, so hashes under :data:`MIN_QUALITY` are flagged and never matched blindly.

PDQ is brittle to crops and rotations (a 1 % shift moves ~24 bits, see docs/registry.md), so a work also
stores hashes of fixed *windows* (a central crop survives small rotations and framing) and of an *anchor*
window that crops are searched for (:mod:`rightful.fingerprints.windows`); a query is hashed with its uniform
border trimmed away, as its embedded picture (screenshots), and as the same windows. Everything runs on a copy
downscaled to
:data:`WORK_SIDE` pixels: PDQ itself reduces to 64×64, so larger inputs cost time and buy nothing.
"""

from __future__ import annotations

import hashlib
import importlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import imagehash
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps

from rightful.errors import InvalidInput
from rightful.fingerprints.windows import (
    ANCHOR,
    ANCHOR_NAME,
    coarse_hashes,
    content_boxes,
    grey_copy,
    pixel_box,
    sample_grids,
)
from rightful.fingerprints.windows import window_pdq as _window_pdq
from rightful.media import DEFAULT_MAX_PIXELS, open_image
from rightful.models import Fingerprint

__all__ = [
    "DIHEDRAL",
    "FLAT_QUALITY",
    "MIN_QUALITY",
    "QUERY_ANGLES",
    "QUERY_WINDOWS",
    "REGISTER_WINDOWS",
    "WORK_SIDE",
    "ImageFingerprints",
    "Window",
    "fingerprint_image",
    "hamming",
    "load_image",
    "pdq_hashes",
    "window_fingerprints",
]

pdqhash = importlib.import_module("pdqhash")  # untyped C extension: imported as Any on purpose

#: PDQ's own advice: hashes with quality under 50 are not trustworthy for matching.
MIN_QUALITY = 50
#: Under this PDQ quality an image (or window) is flat: not even its pHash is matched.
FLAT_QUALITY = 10
#: Longest side of the working copy every hash is computed from.
WORK_SIDE = 512
#: The order ``pdqhash.compute_dihedral`` returns its eight hashes in.
DIHEDRAL = ("full", "rot90", "rot180", "rot270", "flipx", "flipy", "flipplus", "flipminus")


@dataclass(frozen=True, slots=True)
class Window:
    """A rectangle in fractions of the image's width and height."""

    name: str
    left: float
    top: float
    right: float
    bottom: float

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        return (round(self.left * width), round(self.top * height),
                max(round(self.right * width), 1), max(round(self.bottom * height), 1))  # fmt: skip


#: Windows hashed for every registered image (besides the full frame). A second, 80 % window bought 1–4 points
#: of crop recall on the benchmark for a third more index entries: not worth it.
REGISTER_WINDOWS: tuple[Window, ...] = (Window("c64", 0.18, 0.18, 0.82, 0.82),)
#: Windows hashed for every query: the same central crops, so a rotated or framed copy meets its work halfway.
QUERY_WINDOWS: tuple[Window, ...] = REGISTER_WINDOWS
#: A query is also turned back by these angles (degrees) and its central window hashed: a copy rotated by a
#: few degrees then lines up with the work's own central window.
QUERY_ANGLES: tuple[float, ...] = (-4.0, 4.0)
DEROTATED = REGISTER_WINDOWS[0]


@dataclass(frozen=True, slots=True)
class ImageFingerprints:
    """Everything hashed from one image. ``pdq`` is the full frame; ``variants`` holds the other dihedral
    hashes and the windows (each a :class:`Fingerprint` whose ``region`` says which)."""

    pdq: Fingerprint
    phash: Fingerprint
    pixels: Fingerprint
    variants: tuple[Fingerprint, ...]
    width: int
    height: int
    notes: tuple[str, ...] = ()

    @property
    def quality(self) -> int:
        return self.pdq.quality or 0

    @property
    def low_quality(self) -> bool:
        return self.quality < MIN_QUALITY

    def all(self) -> tuple[Fingerprint, ...]:
        return (self.pdq, self.phash, self.pixels, *self.variants)


def hamming(a: bytes, b: bytes) -> int:
    """Bits that differ between two equal-length hashes."""
    if len(a) != len(b):
        raise InvalidInput(f"cannot compare hashes of {len(a)} and {len(b)} bytes")
    return int.from_bytes(a, "big").__xor__(int.from_bytes(b, "big")).bit_count()


def load_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[Image.Image, tuple[str, ...]]:
    """Decode untrusted bytes to an 8-bit RGB working copy, with notes on anything it had to decide.

    Animated images give their first frame; EXIF orientation is applied; alpha is composited on white; CMYK,
    palette, 1-bit and 16-bit or float greyscale are converted. Every decoding failure is ``InvalidInput``.
    """
    img = open_image(data, max_pixels=max_pixels)
    notes: list[str] = []
    frames = getattr(img, "n_frames", 1)
    if frames > 1:
        notes.append(f"animated image with {frames} frames: first frame fingerprinted")
        img.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = ImageOps.exif_transpose(img) or img
    except (OSError, ValueError, SyntaxError, KeyError, TypeError):
        notes.append("EXIF orientation unreadable: used as stored")
    try:
        rgb = _to_rgb(img, notes)
        rgb.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InvalidInput(f"corrupt or truncated image: {exc}") from exc
    return rgb, tuple(notes)


def _to_rgb(img: Image.Image, notes: list[str]) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        low, high = float(arr.min()), float(arr.max())
        scaled = (arr - low) * (255.0 / (high - low)) if high > low else np.zeros_like(arr)
        notes.append(f"{img.mode} image scaled to 8 bits")
        return Image.fromarray(scaled.astype(np.uint8), "L").convert("RGB")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    if img.mode == "CMYK":
        notes.append("CMYK image converted to RGB")
    return img.convert("RGB")


def pdq_hashes(img: Image.Image, *, dihedral: bool = False) -> list[tuple[bytes, int]]:
    """PDQ hash(es) and quality of an RGB image: one, or the eight dihedral variants in :data:`DIHEDRAL` order."""
    arr = np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))
    if min(arr.shape[:2]) < 2:  # pdqhash reads past a 1-pixel image; such an image has no structure anyway
        arr = np.ascontiguousarray(np.repeat(np.repeat(arr, 2, axis=0), 2, axis=1))
    if dihedral:
        hashes, quality = pdqhash.compute_dihedral(arr)  # one quality: the variants share their pixels
        return [(_pack(h), int(quality)) for h in hashes]
    bits, quality = pdqhash.compute(arr)
    return [(_pack(bits), int(quality))]


def _pack(bits: NDArray[np.int64]) -> bytes:
    return np.packbits(bits.astype(np.uint8)).tobytes()


def phash(img: Image.Image) -> bytes:
    """imagehash's 64-bit DCT hash (kept as a second opinion and for the baseline)."""
    bits = imagehash.phash(img).hash.flatten()
    return np.packbits(bits.astype(np.uint8)).tobytes()


def trim_border(img: Image.Image, *, tolerance: int = 12) -> Image.Image | None:
    """The image without a uniform frame (letterbox, mat, screenshot margin), or None when there is none.

    A frame is the run of rows/columns from each edge whose pixels all stay within ``tolerance`` of that
    edge's corner colour. Trimming less than 2 % is ignored: it would only add a near-duplicate hash.
    """
    arr = np.asarray(img.convert("L"), dtype=np.int16)
    h, w = arr.shape
    if h < 8 or w < 8:
        return None
    top = _run(arr, tolerance)
    bottom = _run(arr[::-1], tolerance)
    left = _run(arr.T, tolerance)
    right = _run(arr.T[::-1], tolerance)
    if max(top + bottom, 0) < 0.02 * h and max(left + right, 0) < 0.02 * w:
        return None
    if h - top - bottom < 16 or w - left - right < 16:
        return None
    return img.crop((left, top, w - right, h - bottom))


def _run(arr: NDArray[np.int16], tolerance: int) -> int:
    ref = arr[0, 0]
    uniform = np.all(np.abs(arr - ref) <= tolerance, axis=1)
    if uniform.all():
        return 0
    return int(np.argmin(uniform))


def window_fingerprints(img: Image.Image) -> list[Fingerprint]:
    """The work's anchor-window hashes (see :mod:`rightful.fingerprints.windows`): a coarse 64-bit ``window``
    hash that a cropped copy's query grid looks up, and the ``window-pdq`` hash that verifies the hit."""
    ((pdq, quality),) = _window_pdq(img, [ANCHOR])
    (coarse,) = coarse_hashes(sample_grids(grey_copy(img), [ANCHOR]))
    return [Fingerprint("window", coarse.tobytes(), quality, ANCHOR_NAME),
            Fingerprint("window-pdq", pdq, quality, ANCHOR_NAME)]  # fmt: skip


def fingerprint_image(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    windows: Sequence[Window] = REGISTER_WINDOWS,
    query: bool = False,
) -> ImageFingerprints:
    """Fingerprint image bytes. A *query* also hashes its border-trimmed frame and all dihedral variants."""
    img, notes = load_image(data, max_pixels=max_pixels)
    return fingerprint_pil(img, windows=windows, query=query, notes=notes)


def fingerprint_pil(
    img: Image.Image, *, windows: Sequence[Window] = REGISTER_WINDOWS, query: bool = False, notes: tuple[str, ...] = ()
) -> ImageFingerprints:
    """Fingerprint an already decoded RGB image (see :func:`fingerprint_image`).

    Each window gets a PDQ and a pHash; a pHash carries the PDQ quality of the same pixels, so a flat region
    is recognised as such by both. A work adds its anchor-window hashes (:func:`window_fingerprints`). A query
    adds PDQ's dihedral variants, a mirrored pHash, both hashes of its border-trimmed frame (its windows are
    then taken from the trimmed frame) and of the dominant embedded rectangles (``content``: a screenshot's
    picture); its crop-window grid is searched by the matcher, which needs the pixels.
    """
    variants: list[Fingerprint] = []
    pixels = Fingerprint("pixels", hashlib.sha256(img.tobytes()).digest()[:16])  # same pixels, any container
    if query:
        dihedral = pdq_hashes(img, dihedral=True)
        full_hash, quality = dihedral[0]
        variants += [Fingerprint("pdq", h, q, name) for name, (h, q) in zip(DIHEDRAL[1:], dihedral[1:], strict=True)]
        variants.append(Fingerprint("phash", phash(ImageOps.mirror(img)), quality, "mirror"))
    else:
        (full_hash, quality), *_ = pdq_hashes(img)
    full_phash = Fingerprint("phash", phash(img), quality, "full")
    trimmed = trim_border(img) if query else None
    if trimmed is not None:
        (h, q), *_ = pdq_hashes(trimmed)
        variants += [Fingerprint("pdq", h, q, "trimmed"), Fingerprint("phash", phash(trimmed), q, "trimmed")]
        img = trimmed
    for i, box in enumerate(content_boxes(img) if query else ()):
        left, top, right, bottom = (round(v) for v in pixel_box(box, img.size))
        inner = img.crop((left, top, right, bottom))
        (h, q), *_ = pdq_hashes(inner)
        name = "content" if i == 0 else f"content{i + 1}"
        variants += [Fingerprint("pdq", h, q, name), Fingerprint("phash", phash(inner), q, name)]
    if not query:
        variants += window_fingerprints(img)
    width, height = img.size
    for window in windows:
        crop = img.crop(window.box(width, height))
        (h, q), *_ = pdq_hashes(crop)
        variants += [Fingerprint("pdq", h, q, window.name), Fingerprint("phash", phash(crop), q, window.name)]
    for angle in QUERY_ANGLES if query else ():
        crop = img.rotate(angle, resample=Image.Resampling.BICUBIC).crop(DEROTATED.box(width, height))
        (h, q), *_ = pdq_hashes(crop)
        name = f"{DEROTATED.name}@{angle:+g}"
        variants += [Fingerprint("pdq", h, q, name), Fingerprint("phash", phash(crop), q, name)]
    if quality < MIN_QUALITY:
        notes = (*notes, f"low-quality PDQ hash (quality {quality} < {MIN_QUALITY}): a flat or featureless image")
    return ImageFingerprints(
        pdq=Fingerprint("pdq", full_hash, quality, "full"),
        phash=full_phash,
        pixels=pixels,
        variants=tuple(variants),
        width=width,
        height=height,
        notes=notes,
    )
