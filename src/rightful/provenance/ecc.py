"""Binary BCH codes (our own implementation): systematic encoding, Berlekamp–Massey decoding, shortening;
soft-decision tools for any binary linear code.

The watermark carries 64 information bits (48 payload + CRC-16) in BCH(127, 64), correcting up to 10 bit
errors algebraically; longer codes (e.g. BCH(255, 71) shortened to 248 bits, t = 29) come from the same class.
From soft readings, :func:`osd_candidates` (ordered-statistics decoding) reaches far past that radius, and
:func:`weighted_tail` gives the exact null tail of a reliability-weighted agreement, from which the
watermark's false-positive probability is computed, not guessed (:func:`false_decode_probability` is the
hard-decision bound for algebraic decoding alone).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray

__all__ = ["BCH", "crc16", "false_decode_probability", "osd_candidates", "weighted_tail"]

_PRIMITIVE = {4: 0b10011, 5: 0b100101, 6: 0b1000011, 7: 0b10001001, 8: 0b100011101}


@dataclass(frozen=True, slots=True)
class _Field:
    m: int
    exp: tuple[int, ...]
    log: tuple[int, ...]

    @property
    def order(self) -> int:
        return (1 << self.m) - 1

    def mul(self, a: int, b: int) -> int:
        if a == 0 or b == 0:
            return 0
        return self.exp[(self.log[a] + self.log[b]) % self.order]

    def inv(self, a: int) -> int:
        return self.exp[(self.order - self.log[a]) % self.order]


@cache
def _field(m: int) -> _Field:
    order = (1 << m) - 1
    exp, log = [0] * (2 * order), [0] * (order + 1)
    x = 1
    for i in range(order):
        exp[i] = exp[i + order] = x
        log[x] = i
        x <<= 1
        if x >> m:
            x ^= _PRIMITIVE[m]
    return _Field(m, tuple(exp), tuple(log))


def _polymul2(a: int, b: int) -> int:
    out = 0
    while b:
        if b & 1:
            out ^= a
        a <<= 1
        b >>= 1
    return out


def _polymod2(a: int, g: int) -> int:
    dg = g.bit_length()
    while a.bit_length() >= dg:
        a ^= g << (a.bit_length() - dg)
    return a


def _minimal_poly(gf: _Field, power: int) -> int:
    """The minimal polynomial over GF(2) of α^power (product over its cyclotomic coset)."""
    coset, p = [], power % gf.order
    while p not in coset:
        coset.append(p)
        p = (p * 2) % gf.order
    poly = [1]  # coefficients in GF(2^m), low degree first
    for c in coset:
        root = gf.exp[c]
        nxt = [0] * (len(poly) + 1)
        for i, coef in enumerate(poly):
            nxt[i + 1] ^= coef
            nxt[i] ^= gf.mul(coef, root)
        poly = nxt
    return sum(1 << i for i, c in enumerate(poly) if c)


class BCH:
    """A narrow-sense binary BCH code of length ``2^m - 1`` correcting ``t`` errors, shortened by ``shorten``."""

    def __init__(self, *, m: int = 8, t: int = 29, shorten: int = 0) -> None:
        self.gf = _field(m)
        self.t = t
        generator, seen = 1, set()
        for power in range(1, 2 * t + 1):
            poly = _minimal_poly(self.gf, power)
            if poly not in seen:
                seen.add(poly)
                generator = _polymul2(generator, poly)
        self.generator = generator
        self.full_n = self.gf.order
        self.parity = generator.bit_length() - 1
        self.k = self.full_n - self.parity - shorten
        self.n = self.full_n - shorten
        if self.k < 1:
            raise ValueError("no information bits left")
        order = self.gf.order
        exp = np.array(self.gf.exp[:order], dtype=np.int64)
        powers = np.outer(np.arange(1, 2 * t + 1), np.arange(self.n)) % order
        self._syndrome_table = exp[powers]  # α^(i·j): row j-1, column i
        self._exp = exp
        self._log = np.array(self.gf.log, dtype=np.int64)

    def encode(self, bits: Sequence[int]) -> list[int]:
        """``k`` information bits → ``n`` code bits (parity first, then the information bits)."""
        if len(bits) != self.k or any(b not in (0, 1) for b in bits):
            raise ValueError(f"expected {self.k} bits")
        info = sum(b << i for i, b in enumerate(bits))
        shifted = info << self.parity
        word = shifted ^ _polymod2(shifted, self.generator)
        return [(word >> i) & 1 for i in range(self.n)]

    def decode(self, bits: Sequence[int]) -> tuple[list[int], int] | None:
        """The information bits and the number of corrected errors, or None when uncorrectable."""
        if len(bits) != self.n:
            raise ValueError(f"expected {self.n} bits")
        word = [int(b) for b in bits]
        ones = np.flatnonzero(np.asarray(word, dtype=np.int64))
        syndromes = [int(v) for v in np.bitwise_xor.reduce(self._syndrome_table[:, ones], axis=1)] if ones.size else []
        if not any(syndromes):
            return word[self.parity :], 0
        locator = self._berlekamp_massey(syndromes)
        degree = len(locator) - 1
        if degree > self.t:
            return None
        positions = self._roots(locator)
        if len(positions) != degree or any(p >= self.n for p in positions):
            return None  # wrong number of roots, or an error in the shortened (always zero) part
        for p in positions:
            word[p] ^= 1
        return word[self.parity :], degree

    def _roots(self, locator: list[int]) -> list[int]:
        """Chien search, vectorised: the positions ``i`` where Λ(α^-i) = 0."""
        order = self.gf.order
        positions = np.arange(self.gf.order)
        acc = np.zeros(order, dtype=np.int64)
        for power, coef in enumerate(locator):
            if coef:
                acc ^= self._exp[(self._log[coef] - power * positions) % order]
        return [int(i) for i in np.flatnonzero(acc == 0)]

    def _berlekamp_massey(self, s: list[int]) -> list[int]:
        gf = self.gf
        c, b = [1], [1]
        length, shift, last = 0, 1, 1
        for n in range(len(s)):
            d = s[n]
            for i in range(1, length + 1):
                if i < len(c):
                    d ^= gf.mul(c[i], s[n - i])
            if d == 0:
                shift += 1
                continue
            coef = gf.mul(d, gf.inv(last))
            t = list(c)
            c = c + [0] * max(0, len(b) + shift - len(c))
            for i, bi in enumerate(b):
                c[i + shift] ^= gf.mul(coef, bi)
            if 2 * length <= n:
                length, b, last, shift = n + 1 - length, t, d, 1
            else:
                shift += 1
        while len(c) > 1 and c[-1] == 0:
            c.pop()
        return c

    def false_decode_probability(self, corrected: int, *, extra_check_bits: int = 0) -> float:
        return false_decode_probability(self.n, self.k, corrected, extra_check_bits=extra_check_bits)


def false_decode_probability(n: int, k: int, corrected: int, *, extra_check_bits: int = 0) -> float:
    """P(a uniformly random ``n``-bit word decodes with ≤ ``corrected`` errors and passes the extra checks).

    A random word lands within distance ``e`` of one of the ``2^k`` codewords with probability
    ``2^k · V(n, e) / 2^n``; a CRC of ``c`` bits inside the information bits passes by chance with ``2^-c``.
    """
    volume = sum(math.comb(n, i) for i in range(corrected + 1))
    return min(1.0, math.ldexp(volume, k - n - extra_check_bits))


def crc16(bits: Sequence[int]) -> list[int]:
    """CRC-16/CCITT over a bit sequence, as 16 bits (most significant first)."""
    reg = 0xFFFF
    for bit in bits:
        top = ((reg >> 15) & 1) ^ bit
        reg = ((reg << 1) & 0xFFFF) ^ (0x1021 if top else 0)
    return [(reg >> (15 - i)) & 1 for i in range(16)]


def osd_candidates(soft: NDArray[np.float64], generator: NDArray[np.uint8], *, order: int = 2) -> NDArray[np.uint8]:
    """Ordered-statistics decoding: candidate code words (rows) of the linear code spanned by ``generator``
    (k × n, GF(2)) for ``soft`` values (positive means bit 1, magnitude means reliability).

    The k most reliable independent positions are taken as an information set; every flip pattern of up to
    ``order`` of their hard decisions is re-encoded. The best candidate (by correlation or by Hamming distance)
    is near maximum-likelihood for short codes at order 2, where algebraic decoding stops at half the minimum
    distance.
    """
    k, n = generator.shape
    ranked = np.argsort(-np.abs(soft), kind="stable")
    matrix = generator[:, ranked].copy()
    pivots: list[int] = []
    row = 0
    for col in range(n):
        if row == k:
            break
        hits = np.flatnonzero(matrix[row:, col]) + row
        if hits.size == 0:
            continue
        matrix[[row, hits[0]]] = matrix[[hits[0], row]]
        others = np.flatnonzero(matrix[:, col])
        others = others[others != row]
        matrix[others] ^= matrix[row]
        pivots.append(col)
        row += 1
    basis = matrix[:row]
    hard = (soft[ranked][pivots] > 0).astype(np.uint8)
    flips = [np.zeros((1, row), dtype=np.uint8)]
    for weight in range(1, order + 1):
        combos = np.array(list(itertools.combinations(range(row), weight)), dtype=np.int64)
        pattern = np.zeros((len(combos), row), dtype=np.uint8)
        pattern[np.arange(len(combos))[:, None], combos] = 1
        flips.append(pattern)
    info = np.concatenate(flips) ^ hard
    words = (info.astype(np.int32) @ basis.astype(np.int32)) & 1
    out = np.empty_like(words, dtype=np.uint8)
    out[:, ranked] = words
    return out


def weighted_tail(weights: NDArray[np.int64], agreement: int) -> float:
    """P(Σ wᵢ·Bᵢ ≥ ``agreement``) for fair independent bits Bᵢ: exact, by convolution over the integer weights.

    With wᵢ = 1 this is the binomial tail of the Hamming distance; larger weights for more reliable bits make
    a stronger test with the same exactness (the weights must not depend on the bits' signs).
    """
    dist = np.zeros(int(weights.sum()) + 1)
    dist[0] = 1.0
    top = 0
    for w in (int(v) for v in weights if v > 0):
        shifted = dist[: top + 1].copy()
        dist[: top + 1] *= 0.5
        dist[w : top + w + 1] += 0.5 * shifted
        top += w
    return float(min(1.0, dist[max(0, agreement) :].sum()))
