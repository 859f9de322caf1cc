"""The watermark's payload code and its soft decoder, with the calibrated false-positive probability.

The 48-bit payload gets a CRC-16 and the 64 bits are coded with BCH(127, 64). Because BCH encoding is linear
and the CRC affine, the 2^48 valid code words form a coset of a 48-dimensional linear code, which the detector
decodes directly from soft values: the algebraic BCH decoder first (cheap, up to 10 errors), then
ordered-statistics decoding (near maximum likelihood, far beyond 10 errors) when that is not convincing.

The false-positive probability does not depend on the decoder. For an image not marked with the key, the
signs of the code-bit readings are fair coins given their magnitudes (every chip's sign is keyed), so the tail
of any agreement statistic whose weights depend only on the magnitudes is exact; a union bound over the 2^48
valid code words covers whatever word a decoder picks.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from numpy.typing import NDArray

from rightful.errors import InvalidInput
from rightful.provenance.ecc import BCH, crc16, osd_candidates, weighted_tail

__all__ = ["CODE", "PAYLOAD_BITS", "decode_soft", "payload_bits", "payload_code", "payload_from_bits"]

PAYLOAD_BITS = 48
CODE = BCH(m=7, t=10)  # BCH(127, 64): 64 information bits = 48 payload + 16 CRC
OSD_ORDER = 2  # ordered-statistics decoding: every flip of up to 2 of the 48 most reliable bits
_LEVELS, _CAP = 4, 2.5  # reliability weights: |soft| / RMS, capped at 2.5, in quarter steps

Float = NDArray[np.float64]


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


@cache
def payload_code() -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """The payload → code-word map as an affine code over GF(2): ``word = payload · G ⊕ offset``.

    BCH encoding is linear and the CRC is affine, so the 2^48 valid code words form a coset of a 48-dimensional
    linear code; decoding searches that code directly (the CRC needs no separate check).
    """
    offset = np.array(CODE.encode(payload_bits(0)), dtype=np.uint8)
    rows = [np.array(CODE.encode(payload_bits(1 << (PAYLOAD_BITS - 1 - i))), dtype=np.uint8) ^ offset
            for i in range(PAYLOAD_BITS)]  # fmt: skip
    return np.array(rows, dtype=np.uint8), offset


def decode_soft(soft: Float, *, enough: float = 0.0) -> tuple[float, int, int]:
    """For soft code-bit values: the probability that an unmarked image reads as well, the best payload and the
    number of code bits it disagrees with.

    Two statistics of agreement with a payload's code word, the smaller tail doubled (Bonferroni): the Hamming
    agreement, and the same weighted by each bit's reliability. Under the null (an image not marked with
    this key) the signs are fair coins given the magnitudes, so both tails are exact (:func:`weighted_tail`);
    a union bound over the 2^48 valid code words covers the search, whatever decoder found the word. The
    algebraic BCH decoder runs first (cheap); ordered-statistics decoding only when its word is not
    convincing (below ``enough``).
    """
    hard = soft > 0
    decoded = CODE.decode(hard.astype(np.int64).tolist())
    if decoded is not None and payload_from_bits(decoded[0]) is not None:
        word = np.array(CODE.encode(decoded[0]), dtype=np.uint8)
        found = _evaluate(soft, word, word)
        if found[0] <= enough:
            return found
    generator, offset = payload_code()
    words = osd_candidates(np.where(offset == 1, -soft, soft), generator, order=OSD_ORDER) ^ offset
    nearest = words[int(np.argmin(np.sum(words != hard, axis=1)))]
    return _evaluate(soft, nearest, words[int(np.argmax((2.0 * words - 1) @ soft))])


def _evaluate(soft: Float, nearest: NDArray[np.uint8], likeliest: NDArray[np.uint8]) -> tuple[float, int, int]:
    hard = soft > 0
    scale = float(np.sqrt(np.mean(soft**2))) + 1e-12
    weights = np.rint(_LEVELS * np.minimum(np.abs(soft) / scale, _CAP)).astype(np.int64)
    tests = ((np.ones_like(weights), nearest), (weights, likeliest))
    p, index = min((weighted_tail(w, int(np.sum(w[hard == (c == 1)]))), i) for i, (w, c) in enumerate(tests))
    word = tests[index][1]
    payload = int("".join(map(str, word[CODE.parity : CODE.parity + PAYLOAD_BITS])), 2)
    return min(1.0, math.ldexp(p * len(tests), PAYLOAD_BITS)), payload, int(np.sum(hard != (word == 1)))
