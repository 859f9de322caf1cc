"""Where the watermark's tiles went: folding, resampling and the lattice search, for the detector.

The pattern repeats every :data:`TILE` pixels. Folding averages every tile position of a residual onto one
canonical tile, with scale and rotation undone; :func:`canonical` resamples a picture back to the embedding
geometry instead (so the whitening sees the chips at their embedded size); :func:`lattice_candidates` reads the
tile lattice — and with it the scale and rotation an image went through — from the residual's autocorrelation.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray
from scipy import fft, ndimage

__all__ = ["MAX_ANGLE", "SCALES", "TILE", "WORK", "canonical", "centre", "fold", "halved_matched", "lattice_candidates",
           "refinements", "tile_sums"]  # fmt: skip

Float = NDArray[np.float64]

TILE = 128
SCALES = (0.4, 2.2)  # the scales the lattice search considers
MAX_ANGLE = float(np.deg2rad(10.0))  # the rotations it considers, either way
WORK = 1024  # the detector decodes at most a WORK×WORK centre crop


def centre(a: Float, size: int) -> Float:
    h, w = a.shape
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return a[top : top + size, left : left + size]


def lattice_candidates(residual: Float, *, limit: int = 4) -> list[tuple[float, float]]:
    """(scale, angle) hypotheses, best first, from the lattice of peaks in the residual's autocorrelation.

    A peak counts with its lattice companions (the vector turned 90°, their sum and difference, twice the
    vector): the tile lattice has all of them, a picture's own repetitions rarely do.
    """
    crop = centre(residual, 512)
    crop = (crop - crop.mean()) / (crop.std() + 1e-9)
    shape = (2 * crop.shape[0], 2 * crop.shape[1])
    power = np.abs(fft.rfft2(crop, s=shape, workers=-1)) ** 2
    # The tiled pattern is a comb of spectral lines, the picture a smooth spectrum: flatten the picture.
    power /= ndimage.uniform_filter(power, 41, mode="wrap") + 1e-9
    auto = fft.fftshift(fft.irfft2(power, s=shape, workers=-1))
    cy, cx = shape[0] // 2, shape[1] // 2
    lo, hi = int(TILE * SCALES[0]), min(int(TILE * SCALES[1]), crop.shape[1] // 2, crop.shape[0] // 2)
    if hi <= lo:
        return []
    span = int(np.ceil(hi * np.tan(MAX_ANGLE))) + 1
    window = auto[cy - span : cy + span + 1, cx + lo : cx + hi]
    local = ndimage.maximum_filter(window, size=5)
    peaks = np.argwhere((window == local) & (window > 0))
    scored: list[tuple[float, float, float]] = []
    for r, c in sorted(peaks, key=lambda rc: -float(window[rc[0], rc[1]]))[:60]:
        dy = r - span + _subpixel(window, int(r), int(c), axis=0)
        dx = c + lo + _subpixel(window, int(r), int(c), axis=1)
        angle = float(np.arctan2(dy, dx))
        if abs(angle) > MAX_ANGLE:
            continue
        companions = [(dx, dy), (-dy, dx), (dx - dy, dy + dx), (dx + dy, dy - dx), (2 * dx, 2 * dy)]
        points = np.array([[cy + y for _, y in companions], [cx + x for x, _ in companions]])
        score = float(np.sum(ndimage.map_coordinates(auto, points, order=1, mode="constant")))
        scored.append((score, float(np.hypot(dx, dy)) / TILE, angle))
    scored.sort(reverse=True)
    return [(scale, angle) for _, scale, angle in scored[:limit]]


def _subpixel(a: Float, r: int, c: int, *, axis: int) -> float:
    idx = [r, c]
    if idx[axis] == 0 or idx[axis] == a.shape[axis] - 1:
        return 0.0
    lo, hi = list(idx), list(idx)
    lo[axis] -= 1
    hi[axis] += 1
    y0, y1, y2 = float(a[tuple(lo)]), float(a[r, c]), float(a[tuple(hi)])
    denom = y0 - 2 * y1 + y2
    return 0.0 if denom == 0 else float(np.clip(0.5 * (y0 - y2) / denom, -0.5, 0.5))


def tile_sums(a: Float) -> Float:
    """The sum of every tile position at the embedding geometry (no rotation, no scaling): a fast fold."""
    h, w = a.shape
    padded = np.pad(a, ((0, -h % TILE), (0, -w % TILE)))
    return np.asarray(padded.reshape(padded.shape[0] // TILE, TILE, padded.shape[1] // TILE, TILE).sum(axis=(0, 2)))


def fold(residual: Float, scale: float, angle: float) -> Float:
    """Average every tile of the residual onto one canonical 128×128 tile (rotation and scale undone)."""
    h, w = residual.shape
    if scale == 1.0 and angle == 0.0:
        rows = h // TILE + (np.arange(TILE) < h % TILE)
        cols = w // TILE + (np.arange(TILE) < w % TILE)
        return tile_sums(residual) / np.maximum(np.outer(rows, cols), 1)
    if angle == 0.0:  # separable: one index per row and one per column
        rows = (np.floor(np.arange(h) / scale).astype(np.int64) % TILE) * TILE
        cols = np.floor(np.arange(w) / scale).astype(np.int64) % TILE
        bins = (rows[:, None] + cols[None, :]).ravel()
    else:
        ys = np.arange(h, dtype=np.float32)[:, None]
        xs = np.arange(w, dtype=np.float32)[None, :]
        cos, sin = np.float32(np.cos(angle) / scale), np.float32(np.sin(angle) / scale)
        u = np.floor(cos * xs + sin * ys).astype(np.int64) % TILE
        v = np.floor(cos * ys - sin * xs).astype(np.int64) % TILE
        bins = (v * TILE + u).ravel()
    total = np.bincount(bins, weights=residual.ravel(), minlength=TILE * TILE)
    count = np.bincount(bins, minlength=TILE * TILE)
    return (total / np.maximum(count, 1)).reshape(TILE, TILE)


def canonical(luma: Float, scale: float, angle: float) -> Float:
    """Resample the picture back to the embedding geometry (scale and rotation undone), so the whitening filter
    sees the chips at their embedded size; pixels that fall outside are filled with the nearest edge."""
    cos, sin = np.cos(angle), np.sin(angle)
    matrix = scale * np.array([[cos, sin], [-sin, cos]])  # (row, col) of the output → (row, col) of the input
    height, width = luma.shape
    shape = (max(1, min(int(height / scale), WORK)), max(1, min(int(width / scale), WORK)))  # 64 tiles: plenty
    centre_out, centre_in = np.array(shape) / 2, np.array([height, width]) / 2
    offset = centre_in - matrix @ centre_out
    # Cubic interpolation keeps the chips' sharp edges when the picture is resampled near its size (rotations,
    # mild downscales); enlarging a halved picture, linear interpolation reads better (measured).
    if scale >= 0.7:
        out = ndimage.affine_transform(luma, matrix, offset=offset, output_shape=shape, order=3, mode="nearest")
    else:
        out = ndimage.affine_transform(luma, matrix, offset=offset, output_shape=shape, order=1, mode="nearest")
    return np.asarray(out, dtype=np.float64)


def refinements(scale: float, angle: float) -> list[tuple[float, float]]:
    """The estimate first, then small scale nudges: a 0.4 % scale error drifts a chip over 1024 pixels."""
    return [(scale * f, angle) for f in (1.0, 0.996, 1.004)]


_PSD_SMOOTH = 7  # the noise spectrum is estimated as the periodogram's mean over 7×7 frequencies


@cache
def _halved_chip(chip: int, box: int) -> Float:
    """What one chip (at the tile's origin) becomes once the picture is halved (bicubic, as image editors do)
    and whitened (less its ``box`` mean): the shape the matched filter looks for, on the halved tile."""
    from PIL import Image  # Pillow is the resampler people halve pictures with; its kernel is the one to match

    tile = np.zeros((TILE, TILE), np.float32)
    tile[:chip, :chip] = 1.0
    halved = Image.fromarray(np.tile(tile, (3, 3)), "F").resize((3 * TILE // 2,) * 2, Image.Resampling.BICUBIC)
    response = np.asarray(halved, dtype=np.float64)[TILE // 2 : TILE, TILE // 2 : TILE]  # the middle: no border
    return np.asarray(response - ndimage.uniform_filter(response, box, mode="wrap"), dtype=np.float64)


def halved_matched(tile: Float, *, chip: int, box: int) -> Float:
    """A folded tile of a halved picture (``TILE // 2`` pixels a side) filtered to read its chips: whitened by
    its own noise spectrum, then correlated with the halved chip's shape. Each chip's reading lies at its
    origin (chips are ``chip // 2`` pixels apart). The picture's texture left after the 3×3 high-pass is far
    from white at this scale, and halving spreads a chip over its neighbours; weighing the frequencies by how
    much signal against texture they hold reads the chips better than a plain mean over each (measured on
    halved grass and gravel pictures)."""
    spectrum = fft.fft2(tile)
    spectrum /= ndimage.uniform_filter(np.abs(spectrum) ** 2, _PSD_SMOOTH, mode="wrap") + 1e-12
    return np.asarray(np.real(fft.ifft2(spectrum * np.conj(fft.fft2(_halved_chip(chip, box))))), dtype=np.float64)
