"""The payload code and its soft decoder: exact null tails, decoding past the BCH radius, calibration."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rightful.provenance.ecc import weighted_tail
from rightful.provenance.wm_code import CODE, PAYLOAD_BITS, decode_soft, payload_bits, payload_code, payload_from_bits


@settings(max_examples=40, deadline=None)
@given(st.integers(0, (1 << PAYLOAD_BITS) - 1))
def test_valid_code_words_are_an_affine_code(payload: int) -> None:
    """Every payload's code word (BCH of payload + CRC) equals payload · G ⊕ offset over GF(2)."""
    generator, offset = payload_code()
    bits = np.array([(payload >> (PAYLOAD_BITS - 1 - i)) & 1 for i in range(PAYLOAD_BITS)], dtype=np.int64)
    word = (bits @ generator.astype(np.int64)) % 2 ^ offset
    assert word.tolist() == CODE.encode(payload_bits(payload))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=10), st.integers(-2, 70))
def test_weighted_tail_matches_enumeration(weights: list[int], threshold: int) -> None:
    """The weighted tail equals the brute-force count over every sign pattern of fair bits."""
    hits = sum(sum(w for w, b in zip(weights, bits, strict=True) if b) >= threshold
               for bits in itertools.product((0, 1), repeat=len(weights)))  # fmt: skip
    assert weighted_tail(np.array(weights, dtype=np.int64), threshold) == pytest.approx(hits / 2 ** len(weights))


def test_unit_weights_give_the_binomial_tail() -> None:
    """With unit weights the tail is the binomial tail of the number of agreeing bits."""
    expected = sum(math.comb(127, i) for i in range(100, 128)) / 2**127
    assert weighted_tail(np.ones(127, dtype=np.int64), 100) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("noise", ["gaussian", "laplace", "uniform"])
def test_agreement_tails_are_calibrated_under_the_null(noise: str) -> None:
    """For sign-symmetric readings the weighted tail of a fixed word is a valid p-value: P(p ≤ α) ≤ α."""
    rng = np.random.default_rng(5)
    draw = {
        "gaussian": rng.standard_normal,
        "laplace": lambda n: rng.laplace(size=n),
        "uniform": lambda n: rng.uniform(-1, 1, n),
    }
    word = rng.integers(0, 2, 127).astype(bool)
    pvalues = []
    for _ in range(1500):
        soft = np.asarray(draw[noise](127), dtype=np.float64)
        weights = np.rint(4 * np.minimum(np.abs(soft) / np.sqrt(np.mean(soft**2)), 2.5)).astype(np.int64)
        pvalues.append(weighted_tail(weights, int(np.sum(weights[(soft > 0) == word]))))
    for alpha in (0.01, 0.05, 0.2, 0.5):
        observed = float(np.mean(np.array(pvalues) <= alpha))
        assert observed <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / 1500)
        assert observed >= 0.5 * alpha  # not vacuous: the test has power near its nominal level


def test_decoding_goes_past_the_bch_radius() -> None:
    """Twenty flipped code bits (twice what BCH corrects) among weak readings still decode to the payload."""
    rng = np.random.default_rng(11)
    payload = 0x0123456789AB
    word = np.array(CODE.encode(payload_bits(payload)))
    soft = (2.0 * word - 1) * rng.uniform(1.0, 2.0, CODE.n)
    flipped = rng.choice(CODE.n, 20, replace=False)
    soft[flipped] = -0.3 * soft[flipped]
    hard = CODE.decode((soft > 0).astype(int).tolist())
    assert hard is None or payload_from_bits(hard[0]) != payload  # beyond what the algebraic decoder reaches
    p, found, errors = decode_soft(soft)
    assert found == payload
    assert errors == 20
    assert p < 1e-6


def test_pure_noise_never_claims_a_payload() -> None:
    """Noise readings (no watermark) give a false-positive probability near 1, never below 1e-3."""
    rng = np.random.default_rng(2)
    worst = min(decode_soft(rng.standard_normal(CODE.n))[0] for _ in range(40))
    assert worst > 1e-3
