"""Crop-robust window search: a coarse 64-bit window hash, a grid of query windows, and embedded rectangles.

PDQ moves ~24 of its 256 bits when its window shifts by 1 % (bench/match), so a cropped copy, whose frame is
offset from the work's by up to the crop fraction, never meets the work's frame hash. But a crop that keeps at
least 80 % of each side still *contains* the work's central 60 % window (:data:`ANCHOR`), somewhere inside the
query at a scale and offset that depend only on the crop. So a work stores two hashes of that anchor window:

- a coarse ``window`` hash: the signs of the 8×8 lowest DCT coefficients of a 32×32 grey resample (pHash's
  recipe, 64 bits). Low frequencies turn slowly, so a window 1.5 % off still lands within a few bits;
- a ``window-pdq`` hash: PDQ of the same window resampled to 64×64, kept to *verify* a coarse hit.

A query resamples a grid of :data:`QUERY_BOXES` (483 windows at the scales and offsets where the anchor of a
0–30 % crop can lie) in one pass, looks their coarse hashes up, and refines each candidate with PDQ on a finer
grid around the hit (:func:`refine_boxes`): PDQ ≤ 31 against the work's ``window-pdq`` decides, so the
false-positive rate is PDQ's, not that of a 64-bit hash searched 483 times.

Screenshots and posts embed the whole picture in a frame of other content; :func:`content_boxes` finds the
dominant embedded rectangle (long straight edges on all four sides) so its frame is hashed like a border trim.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from scipy.fft import dctn

__all__ = [
    "ANCHOR",
    "ANCHOR_NAME",
    "COARSE_SIDE",
    "EDGE_STEP",
    "GRID_SIDE",
    "MIN_GRID_STD",
    "QUERY_BOXES",
    "VERIFY_SIDE",
    "WINDOW_MIN_QUALITY",
    "Box",
    "coarse_hashes",
    "content_boxes",
    "grey_copy",
    "pixel_box",
    "query_boxes",
    "refine_boxes",
    "sample_grids",
    "window_pdq",
]

pdqhash = importlib.import_module("pdqhash")  # untyped C extension, as in image.py

#: A window as (left, top, right, bottom) fractions of the image's width and height.
Box = tuple[float, float, float, float]
#: The work's window that every crop keeping ≥ 80 % of each side still contains whole.
ANCHOR: Box = (0.2, 0.2, 0.8, 0.8)
ANCHOR_NAME = "c60"
#: Longest side of the grey copy the query grid is resampled from.
COARSE_SIDE = 256
#: Side of the grey resample a coarse hash is computed from, and of the RGB resample PDQ verifies.
GRID_SIDE = 32
VERIFY_SIDE = 64
#: Grey-level step between neighbouring pixels that counts as an edge when looking for embedded pictures.
EDGE_STEP = 6
#: PDQ quality a window needs (PDQ's own bar for whole images is 50). A 64×64 resample of a smooth picture's
#: centre scores 30–45 while still well structured; the verified distance kept unrelated windows ≥ 86 bits
#: apart on the benchmark at this bar (docs/registry.md), and flat windows (< 20) are still never used.
WINDOW_MIN_QUALITY = 20
#: Query windows whose 32×32 resample varies less than this (grey levels) are flat: not looked up.
MIN_GRID_STD = 6.0


def query_boxes(*, step: float = 0.03, scale_step: float = 1.04, largest: float = 0.9) -> tuple[Box, ...]:
    """Where the anchor of a work can lie inside a crop of it, as a grid of square-fraction windows.

    A crop keeping a fraction ``k`` of a side at offset ``x0 ∈ [0, 1 - k]`` shows the anchor at scale
    ``s = 0.6 / k`` and offset ``(0.2 - x0) / k``, which spans ``[1 - 4s/3, s/3]`` (clipped to the frame).
    Scales run from 0.6 (no crop) by ``scale_step`` to ``largest`` (≈ a 33 % crop); offsets by ``step``.
    The grid assumes both sides keep the same fraction (the aspect ratio survives), within ~2 %.
    """
    lo_s, hi_s = ANCHOR[2] - ANCHOR[0], largest
    out: list[Box] = []
    s = lo_s
    while s <= hi_s + 1e-9:
        lo, hi = max(0.0, 1 - 4 * s / 3), min(s / 3, 1 - s)
        if hi >= lo:
            n = int(np.ceil((hi - lo) / step - 1e-9)) + 1
            for ox in np.linspace(lo, hi, n):
                out += [(float(ox), float(oy), float(ox) + s, float(oy) + s) for oy in np.linspace(lo, hi, n)]
        s *= scale_step
    return tuple(out)


#: The query grid (see :func:`query_boxes`): 483 windows.
QUERY_BOXES: tuple[Box, ...] = query_boxes()


def grey_copy(img: Image.Image, side: int = COARSE_SIDE) -> Image.Image:
    """The 8-bit grey copy (longest side ``side``) that grids are resampled from."""
    grey = img.convert("L")
    grey.thumbnail((side, side), Image.Resampling.BOX)
    return grey


def pixel_box(box: Box, size: tuple[int, int]) -> tuple[float, float, float, float]:
    w, h = size
    return (box[0] * w, box[1] * h, box[2] * w, box[3] * h)


def sample_grids(grey: Image.Image, boxes: tuple[Box, ...] | list[Box]) -> NDArray[np.float32]:
    """Each window area-resampled to ``GRID_SIDE``×``GRID_SIDE`` grey levels: ``(len(boxes), 32, 32)``."""
    out = np.empty((len(boxes), GRID_SIDE, GRID_SIDE), dtype=np.float32)
    for i, box in enumerate(boxes):
        out[i] = np.asarray(grey.resize((GRID_SIDE, GRID_SIDE), Image.Resampling.BOX,
                                        box=pixel_box(box, grey.size)), dtype=np.float32)  # fmt: skip
    return out


def coarse_hashes(grids: NDArray[np.float32]) -> NDArray[np.uint8]:
    """64-bit hashes ``(n, 8)``: signs of the 8×8 lowest DCT coefficients against their AC median."""
    if len(grids) == 0:
        return np.empty((0, 8), dtype=np.uint8)
    low = dctn(grids, axes=(1, 2), norm="ortho")[:, :8, :8].reshape(len(grids), 64)
    median = np.median(low[:, 1:], axis=1, keepdims=True)
    return np.packbits(low > median, axis=1)


def window_pdq(img: Image.Image, boxes: list[Box]) -> list[tuple[bytes, int]]:
    """PDQ hash and quality of each window of an RGB image, resampled to ``VERIFY_SIDE`` pixels square."""
    out = []
    for box in boxes:
        crop = img.resize((VERIFY_SIDE, VERIFY_SIDE), Image.Resampling.BOX, box=pixel_box(box, img.size))
        bits, quality = pdqhash.compute(np.ascontiguousarray(np.asarray(crop.convert("RGB"), dtype=np.uint8)))
        out.append((np.packbits(bits.astype(np.uint8)).tobytes(), int(quality)))
    return out


def refine_boxes(box: Box, *, step: float, scale: float = 1.02) -> list[Box]:
    """The 27 windows around ``box``: offsets ±``step`` (fractions of the query) and scales ×/÷ ``scale``."""
    out = []
    for f in (1 / scale, 1.0, scale):
        w, h = (box[2] - box[0]) * f, (box[3] - box[1]) * f
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        for dx in (-step, 0.0, step):
            for dy in (-step, 0.0, step):
                x0, y0 = cx + dx - w / 2, cy + dy - h / 2
                if x0 >= -1e-6 and y0 >= -1e-6 and x0 + w <= 1 + 1e-6 and y0 + h <= 1 + 1e-6:
                    out.append((max(x0, 0.0), max(y0, 0.0), min(x0 + w, 1.0), min(y0 + h, 1.0)))
    return out


@dataclass(frozen=True, slots=True)
class _Line:
    at: int  # boundary index: the line lies between pixel at-1 and at
    start: int
    end: int  # the edge run covers [start, end)


def content_boxes(img: Image.Image, *, min_side: float = 0.3, limit: int = 2) -> list[Box]:
    """The largest rectangles bounded on all four sides by long straight edges (a picture inside a screenshot,
    a post, a page), largest first; the whole frame and rectangles under ``min_side`` of a side are left out."""
    grey = np.asarray(img.convert("L"), dtype=np.int16)
    h, w = grey.shape
    if h < 32 or w < 32:
        return []
    vertical = _lines(_frame_edges(grey), min_run=int(min_side * h))
    horizontal = _lines(_frame_edges(grey.T), min_run=int(min_side * w))
    tol_y, tol_x = max(2, h // 50), max(2, w // 50)
    found: list[tuple[int, Box]] = []
    for i, left in enumerate(vertical):
        for right in vertical[i + 1 :]:
            if right.at - left.at < min_side * w:
                continue
            for j, top in enumerate(horizontal):
                for bottom in horizontal[j + 1 :]:
                    if bottom.at - top.at < min_side * h:
                        continue
                    sides_ok = all(v.start <= top.at + tol_y and v.end >= bottom.at - tol_y for v in (left, right))
                    if sides_ok and all(t.start <= left.at + tol_x and t.end >= right.at - tol_x
                                        for t in (top, bottom)):  # fmt: skip
                        area = (right.at - left.at) * (bottom.at - top.at)
                        if area < 0.95 * w * h:
                            found.append((area, (left.at / w, top.at / h, right.at / w, bottom.at / h)))
    found.sort(key=lambda item: -item[0])
    return [box for _, box in found[:limit]]


def _frame_edges(grey: NDArray[np.int16]) -> NDArray[np.bool_]:
    """Steps between neighbouring columns where at least one side runs flat along the column: the border of a
    picture against a plain frame, not the texture inside the picture. ``(rows, columns - 1)``."""
    flat = np.ones(grey.shape, dtype=bool)
    flat[1:] = np.abs(np.diff(grey, axis=0)) <= EDGE_STEP
    step = np.abs(np.diff(grey, axis=1)) > EDGE_STEP
    return step & (flat[:, :-1] | flat[:, 1:])


def _lines(edges: NDArray[np.bool_], *, min_run: int, keep: int = 10) -> list[_Line]:
    """Columns of ``edges`` (rows × columns) holding a straight edge run of at least ``min_run`` pixels, gaps
    of up to 2 % of the run direction bridged (a picture's border may match the frame's colour for a few
    pixels), strongest first after merging neighbours, sorted by position."""
    gap = max(1, len(edges) // 50)
    cols = edges.shape[1]
    start = np.zeros(cols, dtype=np.int64)
    last = np.full(cols, -(10**9), dtype=np.int64)
    best = np.zeros(cols, dtype=np.int64)
    best_start = np.zeros(cols, dtype=np.int64)
    for y, row in enumerate(edges):
        fresh = row & (y - last > gap + 1)
        start = np.where(fresh, y, start)
        last = np.where(row, y, last)
        length = np.where(row, y + 1 - start, 0)
        longer = length > best
        best = np.where(longer, length, best)
        best_start = np.where(longer, start, best_start)
    lines: list[_Line] = []
    for col in np.argsort(-best, kind="stable"):
        if best[col] < min_run or len(lines) >= keep:
            break
        if any(abs(int(col) + 1 - line.at) <= 2 for line in lines):
            continue
        lines.append(_Line(int(col) + 1, int(best_start[col]), int(best_start[col] + best[col])))
    return sorted(lines, key=lambda line: line.at)
