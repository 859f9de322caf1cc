"""A keyed, self-synchronising invisible image watermark carrying 48 bits with BCH error correction.

Design (spread spectrum in the spatial domain, informed embedding, synchronised by the pattern's periodicity):

* The 48-bit payload gets a CRC-16; the 64 bits are coded with BCH(127, 64), which corrects 10 bit errors,
  and decoded with Chase decoding (the 6 least reliable bits flipped in every combination).
* A keyed 32×32 grid of ±1 chips holds :data:`_SYNC_CHIPS` sync chips and six chips per code bit; each chip is
  a 4×4-pixel block, smoothed, so one tile is 128×128 pixels. The tile repeats over the whole image and is
  added to the luminance, scaled by the local texture, at a fixed PSNR (40.15 dB).
* Informed embedding: the detector's readings are linear in the added pattern, so the embedder measures what
  the picture alone reads for each bit and spends the budget where the picture works against it.
* The detector whitens the image (high-pass divided by the local magnitude), tries the untouched geometry,
  then ranks hypotheses (common downscales, small rotations, and the tile lattice found in the
  autocorrelation) by the strength of the sync correlation; for the best few it folds every tile onto one
  (averaging the picture out), finds the cyclic shift (cropping) from the sync chips and decodes.
* The reported false-positive probability is exact for the decoder and conservative for the search: the
  chance that an unmarked image (whose chip readings are fair coin flips under the key) decodes to a codeword
  with that few corrections *and* passes the CRC, times every BCH decoding the detector may run (union bound).

Limits, measured in ``bench/provenance``: images under 256 pixels on a side are refused; heavily textured
pictures (grass, gravel) carry the payload poorly at this PSNR; geometric edits outside the searched set
(downscales by 0.5 and 0.75, whole-degree rotations up to 3°, and what the lattice estimate finds) are not
recovered; a watermark is evidence, not proof — anyone holding the key can remove it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import fft, ndimage

from rightful.errors import InvalidInput
from rightful.provenance.ecc import BCH, crc16, false_decode_probability
from rightful.provenance.geometry import TILE, WORK, canonical, centre, fold, lattice_candidates, refinements, tile_sums

__all__ = [
    "MIN_SIDE",
    "PAYLOAD_BITS",
    "Detection",
    "detect_array",
    "embed_array",
    "payload_bits",
    "payload_from_bits",
    "raw_payload_bits",
]

PAYLOAD_BITS = 48
MIN_SIDE = 256
_GRID = 32
_TILE = TILE
_CHIP = TILE // _GRID  # 4 pixels
_REPEAT = 6
_CODE = BCH(m=7, t=10)  # BCH(127, 64): 64 information bits = 48 payload + 16 CRC
_SYNC_CHIPS = _GRID * _GRID - _REPEAT * _CODE.n
_TARGET_PSNR = 40.15
#: Tried before the lattice estimates: untouched geometry (crops are found by the sync search), the two most
#: common downscales and small rotations (whole degrees up to 3).
_PRIORS = ((1.0, 0.0), (0.5, 0.0), (0.75, 0.0), *((1.0, float(np.deg2rad(d))) for d in (-3, -2, -1, 1, 2, 3)))
_DECODES = 4  # hypotheses decoded after ranking by sync strength
_SHIFTS = 3  # sync peaks decoded per hypothesis
_CHASE = 6  # Chase decoding flips every combination of the 6 least reliable code bits

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


def payload_bits(payload: int) -> list[int]:
    if not 0 <= payload < 1 << PAYLOAD_BITS:
        raise InvalidInput(f"the watermark payload must fit in {PAYLOAD_BITS} bits")
    bits = [(payload >> (PAYLOAD_BITS - 1 - i)) & 1 for i in range(PAYLOAD_BITS)]
    return bits + crc16(bits)


def payload_from_bits(bits: list[int]) -> int | None:
    data, check = bits[:PAYLOAD_BITS], bits[PAYLOAD_BITS : PAYLOAD_BITS + 16]
    if crc16(data) != check:
        return None
    return int("".join(map(str, data)), 2)


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
    return np.asarray(ndimage.gaussian_filter(tile, 0.8, mode="wrap"), dtype=np.float64)


def embed_array(luma: Float, payload: int, *, key: bytes, psnr: float = _TARGET_PSNR) -> Float:
    """The luminance change to add (same shape as ``luma``, 0–255 scale) carrying ``payload``.

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
    budget = float(height * width) * (255.0 / 10 ** (psnr / 20)) ** 2
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
    mask = np.clip(norm / float(np.mean(norm)), 0.3, 3.0)
    base = _pattern(layout, wanted, np.ones(_GRID * _GRID), (height, width)) * mask
    group = np.where(layout.roles < 0, _CODE.n + np.arange(_GRID * _GRID), layout.roles)
    host = _group_sums(_chip_readings(residual / norm, layout) * wanted, group)
    # The high-pass of the pattern, computed on one periodic tile: the mask varies slowly against 5 pixels.
    tile_pass = _pattern(layout, wanted, np.ones(_GRID * _GRID), (_TILE, _TILE))
    tile_pass = tile_pass - ndimage.uniform_filter(tile_pass, 5, mode="wrap")
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
_SYNC_SHARE = 0.3  # a sync chip's margin relative to a code bit's (the sync is read over 262 chips at once)


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


def _residual(luma: Float) -> tuple[Float, Float]:
    """High-pass residual and its local magnitude; the detector reads ``residual / norm``.

    Dividing by the local magnitude keeps edges and textures from drowning the pattern (the embedder scales
    the pattern by the same magnitude, so every pixel contributes about equally).
    """
    single = luma.astype(np.float32)
    residual = single - ndimage.uniform_filter(single, 5)
    h, w = residual.shape  # the local magnitude, on 3×3 blocks (a 9-pixel box, at a ninth of the cost)
    blocks = np.pad(np.abs(residual), ((0, -h % 3), (0, -w % 3)), mode="edge")
    coarse = blocks.reshape(blocks.shape[0] // 3, 3, blocks.shape[1] // 3, 3).mean(axis=(1, 3))
    norm = np.repeat(np.repeat(ndimage.uniform_filter(coarse, 3), 3, axis=0), 3, axis=1)[:h, :w] + np.float32(1.0)
    return np.asarray(residual, dtype=np.float64), np.asarray(norm, dtype=np.float64)


def _whiten(luma: Float) -> Float:
    residual, norm = _residual(luma)
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


def _decode_soft(soft: Float, *, chase: int = 0) -> tuple[int, int] | None:
    """Chase decoding: the hard decision, then every flip pattern of the least reliable bits; the valid
    (CRC-checked) codeword nearest to the hard decision wins. Returns (payload, BCH corrections) or None."""
    hard = (soft > 0).astype(np.int64)
    weakest = np.argsort(np.abs(soft))[:chase]
    best: tuple[int, int, int] | None = None  # (distance, payload, corrections)
    for pattern in range(1 << chase):
        word = hard.copy()
        for bit in range(chase):
            if pattern >> bit & 1:
                word[weakest[bit]] ^= 1
        decoded = _CODE.decode(word.tolist())
        payload = None if decoded is None else payload_from_bits(decoded[0])
        if decoded is None or payload is None:
            continue
        distance = int(np.sum(np.asarray(_CODE.encode(decoded[0])) != hard))
        if best is None or distance < best[0]:
            best = (distance, payload, decoded[1])
        if pattern == 0:
            break  # the plain decision decoded: nothing nearer exists within the search
    return None if best is None else (best[1], best[2])


def detect_array(luma: Float, *, key: bytes) -> Detection:
    """Look for the watermark in a luminance array (0–255 scale).

    The untouched geometry is tried first on the whole image. Otherwise every hypothesis (the usual
    downscales, then the lattice estimates with small scale nudges) is scored by its sync peak on a 512-pixel
    centre crop, and the best few are decoded on a larger crop. The false-positive probability counts every
    decoding attempt that could have been made (1 + :data:`_DECODES`).
    """
    if min(luma.shape) < _TILE // 2:
        return Detection(False, None, 1.0, None, None, None, 0)
    layout = _layout(key)
    residual = _whiten(luma)
    total = 1 + _DECODES
    found = _attempt(residual, 1.0, 0.0, layout, total, 1)
    if found is not None:
        return found
    search = centre(residual, 512)
    hypotheses = [*_PRIORS[1:], *(h for c in lattice_candidates(residual) for h in refinements(*c))]
    ranked = sorted(hypotheses, key=lambda h: -_sync(fold(search, *h), layout)[0])
    for tried, (scale, angle) in enumerate(ranked[:_DECODES], start=2):
        resampled = _whiten(canonical(centre(luma, WORK), scale, angle))
        found = _attempt(resampled, 1.0, 0.0, layout, total, tried, geometry=(scale, angle))
        if found is not None:
            return found
    return Detection(False, None, 1.0, None, None, None, min(total, 1 + len(ranked)))


def raw_payload_bits(luma: Float, *, key: bytes) -> list[int]:
    """The 48 payload bits as read at the untouched geometry, before error correction (for measurements)."""
    soft = _soft_bits(fold(_whiten(luma), 1.0, 0.0), _layout(key))
    return [int(v > 0) for v in soft[_CODE.parity : _CODE.parity + PAYLOAD_BITS]]


def _attempt(area: Float, scale: float, angle: float, layout: _Layout, total: int, tried: int, *,
             geometry: tuple[float, float] | None = None) -> Detection | None:  # fmt: skip
    folded = fold(area, scale, angle)
    for shift in _shifts(folded, layout):
        decoded = _decode_soft(_soft_bits(folded, layout, shift), chase=_CHASE)
        if decoded is not None:
            break
    else:
        return None
    payload, corrected = decoded
    tests = total * _SHIFTS * (1 << _CHASE)  # every BCH decoding the detector may run could decode by chance
    p = false_decode_probability(_CODE.n, _CODE.k, corrected, extra_check_bits=16) * tests
    scale, angle = geometry or (scale, angle)
    return Detection(True, payload, min(1.0, p), corrected, scale, angle, tried)
