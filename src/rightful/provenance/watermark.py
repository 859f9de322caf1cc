"""A keyed, self-synchronising invisible image watermark carrying 48 bits with BCH error correction.

Design (spread spectrum in the spatial domain, informed embedding, synchronised by the pattern's periodicity):

* The 48-bit payload gets a CRC-16; the 64 bits are coded with BCH(127, 64) and decoded from soft readings
  (:mod:`rightful.provenance.wm_code`: algebraic decoding, then ordered-statistics decoding far past the
  10 errors BCH corrects).
* A keyed 32×32 grid of ±1 chips holds :data:`_SYNC_CHIPS` sync chips and six chips per code bit; each chip is
  a 4×4-pixel block, its edges barely softened (:data:`_SMOOTH`), so one tile is 128×128 pixels. The tile
  repeats over the whole image and is added to the luminance at a fixed PSNR (40.15 dB), following the local
  texture within a factor of about 1.5 (:data:`_MASK_RANGE`: a tighter range reads better, a looser one hides
  better). Colour pictures get the change along :data:`COLOUR_DIRECTION`, the cheapest way in RGB to move luminance.
* Informed embedding: the detector's readings are linear in the added pattern, so the embedder measures what
  the picture alone reads for each bit and spends the budget where the picture works against it.
* The detector whitens the image (the picture less its 3×3 mean, divided by the local magnitude), tries the
  untouched geometry (at no shift and at the sync peak; then the same with the high-pass applied twice, which
  gives back what a blur took from the chips' edges), then ranks hypotheses (common downscales, small
  rotations, and the tile lattice found in the autocorrelation) by the strength of the sync correlation; for the
  best few, and for the two commonest downscales whatever their rank, it folds every tile onto one (averaging
  the picture out), finds the cyclic shift (cropping) from the sync chips and decodes. A halving is also read
  sharpened and, last, with a matched filter (the folded tile weighed by its own noise spectrum and correlated
  with a halved chip's shape), which finds halved small textured pictures the plain readings lose.
* The reported false-positive probability is exact for the statistic and conservative for the search: the
  chance that an unmarked image (whose readings are fair coin flips given their magnitudes, under the key)
  agrees as well with *any* of the 2^48 valid code words, times every reading the detector may decode
  (:data:`_READINGS`, union bound). ``found`` means it is at most ``max_fpr`` (10⁻⁶ by default).

Limits, measured in ``bench/provenance``: images under 256 pixels on a side are refused; heavily textured
grey pictures (grass, gravel) that are small lose the payload at this PSNR when halved, and sometimes when
cropped by 20 % or rotated (their texture at the chip scale is several times stronger than the mark);
geometric edits outside the searched set (downscales by 0.5 and 0.75, whole-degree rotations up to 3°, and
what the lattice estimate finds) are not recovered; a watermark is evidence, not proof — anyone holding the
key can remove it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import fft, ndimage

from rightful.errors import InvalidInput
from rightful.provenance.geometry import (
    TILE,
    WORK,
    canonical,
    centre,
    fold,
    halved_matched,
    lattice_candidates,
    refinements,
    tile_sums,
)
from rightful.provenance.wm_code import CODE as _CODE
from rightful.provenance.wm_code import PAYLOAD_BITS, decode_soft, payload_bits, payload_from_bits

__all__ = [
    "COLOUR_DIRECTION",
    "DEFAULT_MAX_FPR",
    "LUMA",
    "MIN_SIDE",
    "PAYLOAD_BITS",
    "Detection",
    "detect_array",
    "embed_array",
    "payload_bits",
    "payload_from_bits",
    "raw_payload_bits",
]

MIN_SIDE = 256
_GRID = 32
_TILE = TILE
_CHIP = TILE // _GRID  # 4 pixels
_REPEAT = 6
_SYNC_CHIPS = _GRID * _GRID - _REPEAT * _CODE.n
_TARGET_PSNR = 40.15
#: Tried before the lattice estimates: untouched geometry (crops are found by the sync search), the two most
#: common downscales and small rotations (whole degrees up to 3).
_PRIORS = ((1.0, 0.0), (0.5, 0.0), (0.75, 0.0), *((1.0, float(np.deg2rad(d))) for d in (-3, -2, -1, 1, 2, 3)))
_DECODES = 4  # hypotheses decoded after ranking by sync strength
_SHIFTS = 1  # sync peaks decoded per hypothesis
_ALWAYS = ((0.5, 0.0), (0.75, 0.0))  # the commonest downscales: decoded whatever their sync rank
_SHARPENED = ((0.5, 0.0),)  # also read with the sharper whitening: halving blurs the chips' edges
_MATCHED = 1  # the halving also read with the matched filter, at its own sync peak
#: Every reading the detector may decode (the union bound): the untouched geometry, plain and sharpened, each at
#: no shift and at its sync peaks, then the hypotheses (and the sharpened halving) at their sync peaks, then the
#: halving's matched reading.
_READINGS = 2 * (1 + _SHIFTS) + (_DECODES + len(_ALWAYS) + len(_SHARPENED)) * _SHIFTS + _MATCHED
_NATIVE_BELOW = 0.7  # downscales below this are folded at their own resolution
DEFAULT_MAX_FPR = 1e-6
LUMA = np.array([0.299, 0.587, 0.114])
#: The RGB change that moves luminance by one unit at the least squared error (LUMA / |LUMA|²): mostly green,
#: a little blue; its mean square over the three channels is a quarter below that of a grey change.
COLOUR_DIRECTION = LUMA / float(LUMA @ LUMA)
_COLOUR_ENERGY = float(np.mean(COLOUR_DIRECTION**2))
#: The chips' edge softening (Gaussian sigma, pixels). Sharp chips carry more of their energy in the band the
#: detector reads: at the same PSNR, 0.35 reads 1.2–1.5× stronger than 0.8 on every picture measured, after
#: JPEG 50, blur and downscaling too, and most on the grass and gravel pictures that read worst.
_SMOOTH = 0.35
#: The whitening high-pass: the picture minus its 3×3 mean. With sharp chips it reads 1.2–1.4× stronger than
#: a 5×5 mean on textured pictures, and more of the mark survives crops, rotation and blur (measured).
_BOX = 3
_MASK_RANGE = (0.7, 1.5)  # the pattern follows the local texture within these factors of its mean

Float = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Detection:
    """What the detector found. ``found`` is False when no payload decoded; never an exception."""

    found: bool
    payload: int | None
    false_positive_probability: float
    corrected_bits: int | None
    scale: float | None
    angle: float | None
    hypotheses: int

    def to_dict(self) -> dict[str, object]:
        return {
            "found": self.found,
            "payload": None if self.payload is None else f"{self.payload:012x}",
            "false_positive_probability": self.false_positive_probability,
            "corrected_bits": self.corrected_bits,
            "scale": self.scale,
            "rotation_degrees": None if self.angle is None else float(np.rad2deg(self.angle)),
        }


@dataclass(frozen=True, slots=True)
class _Layout:
    signs: NDArray[np.float64]  # ±1 per chip, flattened 32×32
    roles: NDArray[np.int64]  # -1 for sync, else the code bit index

    @property
    def sync_tile(self) -> Float:
        grid = np.where(self.roles < 0, self.signs, 0.0).reshape(_GRID, _GRID)
        return _upsample(grid)


def _stream(key: bytes, label: bytes, size: int) -> bytes:
    """``size`` keyed pseudo-random bytes (HMAC-SHA256 in counter mode): stable across library versions, so a
    watermark embedded today is read by any later release."""
    blocks = (hmac.new(key, label + i.to_bytes(4, "big"), hashlib.sha256).digest() for i in range(-(-size // 32)))
    return b"".join(blocks)[:size]


def _layout(key: bytes) -> _Layout:
    """The keyed chip signs and the keyed assignment of chips to sync and code bits (Fisher–Yates)."""
    chips = _GRID * _GRID
    sign_bits = np.unpackbits(np.frombuffer(_stream(key, b"rightful-watermark-v1/signs", chips // 8), np.uint8))
    signs = sign_bits.astype(np.float64) * 2 - 1
    roles = np.concatenate([np.full(_SYNC_CHIPS, -1), np.repeat(np.arange(_CODE.n), _REPEAT)])
    draws = np.frombuffer(_stream(key, b"rightful-watermark-v1/roles", 8 * chips), ">u8")
    for i in range(chips - 1, 0, -1):
        j = int(draws[i]) % (i + 1)
        roles[i], roles[j] = roles[j], roles[i]
    return _Layout(signs, roles)


def _upsample(grid: Float) -> Float:
    tile = np.kron(grid, np.ones((_CHIP, _CHIP)))
    return np.asarray(ndimage.gaussian_filter(tile, _SMOOTH, mode="wrap"), dtype=np.float64)


def embed_array(luma: Float, payload: int, *, key: bytes, psnr: float = _TARGET_PSNR, colour: bool = False) -> Float:
    """The luminance change to add (same shape as ``luma``, 0–255 scale) carrying ``payload``.

    ``colour``: the change will be added to R, G and B along :data:`COLOUR_DIRECTION` (the cheapest way to move
    luminance), so the same PSNR over the three channels allows a 16 % larger luminance change. Otherwise the
    PSNR is that of adding the change as it is (greyscale, or the same change on every channel).

    Informed embedding: for a given picture the detector's readings are linear in the added pattern, so the
    embedder reads what the picture alone gives each code bit and spends the PSNR budget where the picture
    works against the bit, until every bit reads at least a common margin (every bit also gets a floor of its
    own, so it does not lean on picture detail that compression removes). The few bits that would cost the most
    are left to the error correction.
    """
    height, width = luma.shape
    if min(height, width) < MIN_SIDE:
        raise InvalidInput(f"the image is {width}x{height}: too small to carry the watermark "
                           f"(at least {MIN_SIDE} pixels on each side)")  # fmt: skip
    layout = _layout(key)
    wanted = _wanted(layout, _CODE.encode(payload_bits(payload)))
    plan = _plan(luma, layout, wanted)
    budget = float(height * width) * (255.0 / 10 ** (psnr / 20)) ** 2 / (_COLOUR_ENERGY if colour else 1.0)
    amplitude = _amplitudes(plan, 0.9 * budget)
    delta = _pattern(layout, wanted, amplitude[plan.group], luma.shape) * plan.mask
    target = plan.host + amplitude * plan.gain
    for _ in range(1):  # the marked image's own local magnitude differs a little: measure and correct
        marked = np.clip(luma + delta, 0.0, 255.0)
        reading = _group_sums(_chip_readings(_whiten(marked), layout) * wanted, plan.group)
        fix = np.where(plan.gain > 0, (target - reading) / np.maximum(plan.gain, 1e-9), 0.0)
        delta = delta + _pattern(layout, wanted, fix[plan.group], luma.shape) * plan.mask
    return np.asarray(delta * np.sqrt(budget / float(np.sum(delta**2))), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class _Plan:
    mask: Float  # per-pixel strength
    group: NDArray[np.int64]  # per chip: its code bit, or _CODE.n + chip index for a sync chip
    host: Float  # per group: what the picture alone reads, in the wanted direction
    gain: Float  # per group: the reading of one unit of amplitude
    energy: Float  # per group: the squared norm of one unit of amplitude
    sync: NDArray[np.bool_]  # per group: a sync chip


def _plan(luma: Float, layout: _Layout, wanted: Float) -> _Plan:
    height, width = luma.shape
    residual, norm = _residual(luma)
    mask = np.clip(norm / float(np.mean(norm)), *_MASK_RANGE)
    base = _pattern(layout, wanted, np.ones(_GRID * _GRID), (height, width)) * mask
    group = np.where(layout.roles < 0, _CODE.n + np.arange(_GRID * _GRID), layout.roles)
    host = _group_sums(_chip_readings(residual / norm, layout) * wanted, group)
    # The high-pass of the pattern, computed on one periodic tile: the mask varies slowly against the high-pass.
    tile_pass = _pattern(layout, wanted, np.ones(_GRID * _GRID), (_TILE, _TILE))
    tile_pass = tile_pass - ndimage.uniform_filter(tile_pass, _BOX, mode="wrap")
    reps = (-(-height // _TILE), -(-width // _TILE))
    passed = np.tile(tile_pass, reps)[:height, :width] * mask
    measured = _group_sums(_chip_readings(passed / norm, layout) * wanted, group)
    chip_energy = tile_sums(base**2).reshape(_GRID, _CHIP, _GRID, _CHIP).sum(axis=(1, 3)).ravel()
    energy = _group_sums(chip_energy, group)
    used = np.zeros(_CODE.n + _GRID * _GRID, dtype=bool)
    used[group] = True
    sync = np.arange(used.size) >= _CODE.n
    gain = np.zeros_like(measured)  # one gain per kind of group: per-group estimates are too noisy to divide by
    for kind in (sync & used, ~sync & used):
        gain[kind] = max(float(np.median(measured[kind])), 1e-9)
    return _Plan(mask, group, host, gain, energy, sync & used)


_FLOOR = 0.5  # each group's own share of the margin, whatever the picture gives it
_GIVE_UP = 2  # the most expensive code bits left to the BCH decoder
_SYNC_SHARE = 0.15  # a sync chip's margin relative to a code bit's (the sync is read over 262 chips at once)


def _amplitudes(plan: _Plan, budget: float) -> Float:
    """Per-group amplitudes giving the largest common margin that fits ``budget`` (bisection).

    Where the picture fights so hard that even a zero margin does not fit, more of the most expensive bits are
    left to the error correction (six at a time) before the margin is searched.
    """
    give_up = _GIVE_UP
    while _energy(plan, _needs(plan, 0.0, give_up)) > budget and give_up < _CODE.t:
        give_up += _GIVE_UP
    lo, hi = 0.0, 1.0
    while _energy(plan, _needs(plan, hi, give_up)) < budget and hi < 1e6:
        hi *= 2
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _energy(plan, _needs(plan, mid, give_up)) < budget else (lo, mid)
    return _needs(plan, lo, give_up)


def _energy(plan: _Plan, amplitude: Float) -> float:
    return float(np.sum(amplitude**2 * plan.energy))


def _needs(plan: _Plan, margin: float, give_up: int) -> Float:
    """The amplitude each group needs to read ``margin`` (sync chips: a share of it), floors included."""
    active = plan.gain > 0
    goal = margin * np.where(plan.sync, _SYNC_SHARE, 1.0)
    gain = np.maximum(plan.gain, 1e-9)
    need = np.where(active, np.maximum(_FLOOR * goal, goal - plan.host) / gain, 0.0)
    floor = np.where(active, _FLOOR * goal / gain, 0.0)
    cost = need**2 * plan.energy
    data = np.flatnonzero(active & ~plan.sync)
    sync = np.flatnonzero(plan.sync)
    dropped = [data[np.argsort(cost[data])[len(data) - give_up :]], sync[np.argsort(cost[sync])[len(sync) * 9 // 10 :]]]
    for groups in dropped:  # the costliest code bits and a tenth of the sync chips keep only their floor
        need[groups] = floor[groups]
    return np.asarray(need, dtype=np.float64)


def _wanted(layout: _Layout, code: list[int]) -> Float:
    """The reading each chip should give after sign removal: +1 for sync chips, ±1 for its code bit."""
    bits = np.array(code, dtype=np.float64) * 2 - 1
    return np.where(layout.roles < 0, 1.0, bits[np.maximum(layout.roles, 0)])


def _pattern(layout: _Layout, wanted: Float, amplitude: Float, shape: tuple[int, int]) -> Float:
    tile = _upsample((wanted * amplitude * layout.signs).reshape(_GRID, _GRID))
    reps = (-(-shape[0] // _TILE), -(-shape[1] // _TILE))
    return np.tile(tile, reps)[: shape[0], : shape[1]]


def _chip_readings(residual: Float, layout: _Layout) -> Float:
    """Per-chip readings (sign removed) of a residual at the embedding geometry."""
    folded = fold(residual, 1.0, 0.0)
    return np.asarray(folded.reshape(_GRID, _CHIP, _GRID, _CHIP).mean(axis=(1, 3)).ravel() * layout.signs)


def _group_sums(values: Float, group: NDArray[np.int64]) -> Float:
    """Sum per code bit (three chips) or per sync chip (alone)."""
    return np.asarray(np.bincount(group, weights=values, minlength=_CODE.n + _GRID * _GRID), dtype=np.float64)


def _residual(luma: Float, block: int = 3, *, passes: int = 1) -> tuple[Float, Float]:
    """High-pass residual and its local magnitude; the detector reads ``residual / norm``.

    Dividing by the local magnitude keeps edges and textures from drowning the pattern (the embedder scales
    the pattern by the same magnitude, so every pixel contributes about equally). ``passes=2`` applies the
    high-pass twice, a sharper filter that gives back what blurring took from the chips' edges.
    """
    residual = luma.astype(np.float32)
    for _ in range(passes):
        residual = residual - ndimage.uniform_filter(residual, _BOX)
    h, w = residual.shape  # the local magnitude, on 3×3 blocks (a 9-pixel box, at a ninth of the cost)
    blocks = np.pad(np.abs(residual), ((0, -h % block), (0, -w % block)), mode="edge")
    coarse = blocks.reshape(blocks.shape[0] // block, block, blocks.shape[1] // block, block).mean(axis=(1, 3))
    norm = ndimage.uniform_filter(coarse, 3).repeat(block, axis=0).repeat(block, axis=1)[:h, :w] + np.float32(1.0)
    return np.asarray(residual, dtype=np.float64), np.asarray(norm, dtype=np.float64)


def _whiten(luma: Float, *, passes: int = 1) -> Float:
    residual, norm = _residual(luma, passes=passes)
    return residual / norm


def _sync(folded: Float, layout: _Layout) -> tuple[float, tuple[int, int]]:
    """The sync correlation's peak (in standard deviations) and the cyclic shift where it lies."""
    corr = fft.irfft2(fft.rfft2(folded) * np.conj(fft.rfft2(layout.sync_tile)), s=folded.shape)
    dy, dx = np.unravel_index(int(np.argmax(corr)), corr.shape)
    return float((corr[dy, dx] - corr.mean()) / (corr.std() + 1e-12)), (int(dy), int(dx))


def _shifts(folded: Float, layout: _Layout) -> list[tuple[int, int]]:
    """The :data:`_SHIFTS` strongest sync peaks, best first (the data decides between close calls)."""
    corr = fft.irfft2(fft.rfft2(folded) * np.conj(fft.rfft2(layout.sync_tile)), s=folded.shape)
    peaks = corr == ndimage.maximum_filter(corr, size=5, mode="wrap")  # distinct peaks, not a peak's shoulders
    best = np.argsort(np.where(peaks, corr, -np.inf).ravel())[::-1][:_SHIFTS]
    return [(int(i) // _TILE, int(i) % _TILE) for i in best]


def _soft_bits(folded: Float, layout: _Layout, shift: tuple[int, int] | None = None) -> Float:
    """Soft code-bit values (sign = bit, magnitude = reliability) of a folded tile, after the sync shift."""
    dy, dx = shift if shift is not None else _shifts(folded, layout)[0]
    aligned = np.roll(folded, (-dy, -dx), axis=(0, 1))
    chips = aligned.reshape(_GRID, _CHIP, _GRID, _CHIP).mean(axis=(1, 3)).ravel() * layout.signs
    data = layout.roles >= 0
    return np.asarray(np.bincount(layout.roles[data], weights=chips[data], minlength=_CODE.n), dtype=np.float64)


def detect_array(luma: Float, *, key: bytes, max_fpr: float = DEFAULT_MAX_FPR) -> Detection:
    """Look for the watermark in a luminance array (0–255 scale); ``found`` when the false-positive probability
    is at most ``max_fpr``.

    The untouched geometry is tried first on the whole image, plainly whitened and then sharpened. Otherwise
    every hypothesis (the usual downscales, then the lattice estimates with small scale nudges) is scored by
    its sync peak on a 512-pixel centre crop, and the best few are decoded on a larger crop (a halving also
    sharpened, then with the matched filter). The false-positive probability counts every reading that could
    have been decoded (:data:`_READINGS`).
    """
    if min(luma.shape) < _TILE // 2:
        return Detection(False, None, 1.0, None, None, None, 0)
    layout = _layout(key)
    residual = _whiten(luma)
    for passes in (1, 2):  # the untouched geometry, then the same sharpened (a blurred picture reads far better)
        whitened = residual if passes == 1 else _whiten(luma, passes=2)
        found = _attempt(fold(whitened, 1.0, 0.0), layout, passes, max_fpr=max_fpr, untouched=True)
        if found.found:
            return found
    search = centre(residual, 512)
    hypotheses = [*_PRIORS[1:], *(h for c in lattice_candidates(residual) for h in refinements(*c))]
    ranked = sorted(hypotheses, key=lambda h: -_sync(fold(search, *h), layout)[0])
    chosen = list(dict.fromkeys([*ranked[:_DECODES], *_ALWAYS]))  # a picture's own periodicity can outrank these
    readings = [(h, 1) for h in chosen] + [(h, 2) for h in _SHARPENED]
    for tried, ((scale, angle), passes) in enumerate(readings, start=3):
        folded = _folded(luma, scale, angle, passes=passes)
        found = _attempt(folded, layout, tried, max_fpr=max_fpr, geometry=(scale, angle))
        if found.found:
            return found
    soft = _matched_soft_bits(_folded(luma, 0.5, 0.0), layout)
    found = _decide([soft], 3 + len(readings), max_fpr=max_fpr, geometry=(0.5, 0.0))
    return found if found.found else Detection(False, None, 1.0, None, None, None, 3 + len(readings))


def raw_payload_bits(luma: Float, *, key: bytes) -> list[int]:
    """The 48 payload bits as read at the untouched geometry, before error correction (for measurements)."""
    soft = _soft_bits(fold(_whiten(luma), 1.0, 0.0), _layout(key))
    return [int(v > 0) for v in soft[_CODE.parity : _CODE.parity + PAYLOAD_BITS]]


def _folded(luma: Float, scale: float, angle: float, *, passes: int = 1) -> Float:
    """The folded tile of a picture that went through ``scale`` and ``angle``. Near its size, the picture is
    resampled back to the embedding geometry (the whitening then sees the chips at their embedded size); a
    picture downscaled further is whitened at its own resolution (a local magnitude over fewer pixels) and
    folded there, which keeps the chips' edges that enlarging it again would blur (measured: halved grass and
    gravel pictures read with smaller false-positive probabilities, and one more of twelve is found)."""
    if scale >= _NATIVE_BELOW:
        return fold(_whiten(canonical(centre(luma, WORK), scale, angle), passes=passes), 1.0, 0.0)
    residual, norm = _residual(centre(luma, int(WORK * scale)), block=2, passes=passes)
    return fold(residual / norm, scale, angle)


def _attempt(folded: Float, layout: _Layout, tried: int, *, max_fpr: float, untouched: bool = False,
             geometry: tuple[float, float] = (1.0, 0.0)) -> Detection:  # fmt: skip
    """Decode one geometry at its strongest sync shifts (and, for the untouched image, at no shift: the sync
    may be the weaker part of the mark); the false-positive probability counts every reading the detector
    may decode (:data:`_READINGS`)."""
    shifts = [*([(0, 0)] if untouched else []), *_shifts(folded, layout)]
    softs = [_soft_bits(folded, layout, shift) for shift in dict.fromkeys(shifts)]
    return _decide(softs, tried, max_fpr=max_fpr, geometry=geometry)


def _decide(softs: list[Float], tried: int, *, max_fpr: float,
            geometry: tuple[float, float]) -> Detection:  # fmt: skip
    """The best decoding of the given readings, found when its false-positive probability, counted over every
    reading the detector may decode (:data:`_READINGS`), is at most ``max_fpr``."""
    p, payload, errors = min(decode_soft(soft, enough=max_fpr / _READINGS) for soft in softs)
    p = min(1.0, p * _READINGS)
    if p > max_fpr:
        return Detection(False, None, 1.0, None, None, None, tried)
    scale, angle = geometry
    return Detection(True, payload, p, errors, scale, angle, tried)


def _matched_soft_bits(folded: Float, layout: _Layout) -> Float:
    """Soft code-bit values of a halved picture's folded tile read with the matched filter
    (:func:`~rightful.provenance.geometry.halved_matched`), at the sync peak over every chip phase and shift."""
    reading = halved_matched(folded[::2, ::2], chip=_CHIP, box=_BOX)  # the halved picture's own pixels
    sync = np.conj(fft.fft2(np.where(layout.roles < 0, layout.signs, 0.0).reshape(_GRID, _GRID)))
    best = (-np.inf, 0, 0, 0, 0)
    for py in (0, 1):
        for px in (0, 1):
            corr = np.real(fft.ifft2(fft.fft2(reading[py::2, px::2]) * sync))
            peak = int(np.argmax(corr))
            z = float((corr.flat[peak] - corr.mean()) / (corr.std() + 1e-12))
            if z > best[0]:
                best = (z, py, px, *divmod(peak, _GRID))
    _, py, px, dy, dx = best
    chips = np.roll(reading[py::2, px::2], (-dy, -dx), axis=(0, 1)).ravel() * layout.signs
    data = layout.roles >= 0
    return np.asarray(np.bincount(layout.roles[data], weights=chips[data], minlength=_CODE.n), dtype=np.float64)
