"""BCH error correction and the false-decode probability it reports."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rightful.provenance.ecc import BCH, crc16, false_decode_probability, osd_candidates

CODE = BCH(m=8, t=29, shorten=7)


def test_code_dimensions() -> None:
    """The long code carries 64 information bits in 248 code bits and corrects 29 errors."""
    assert (CODE.n, CODE.k, CODE.t) == (248, 64, 29)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 1), min_size=64, max_size=64), st.integers(0, 29), st.randoms())
def test_up_to_t_errors_are_corrected(bits: list[int], errors: int, rnd: random.Random) -> None:
    """Any pattern of at most t flipped bits decodes back to the information bits and counts the flips."""
    word = CODE.encode(bits)
    for position in rnd.sample(range(CODE.n), errors):
        word[position] ^= 1
    decoded = CODE.decode(word)
    assert decoded == (bits, errors)


def test_too_many_errors_are_reported_not_miscorrected() -> None:
    """Far beyond t errors the decoder says so (None) rather than inventing bits (checked over 30 words)."""
    rnd = random.Random(7)
    for _ in range(30):
        bits = [rnd.randint(0, 1) for _ in range(64)]
        word = CODE.encode(bits)
        for position in rnd.sample(range(CODE.n), 60):
            word[position] ^= 1
        decoded = CODE.decode(word)
        assert decoded is None or decoded[0] != bits


def test_wrong_lengths_are_refused() -> None:
    """Encoding or decoding the wrong number of bits is a ValueError."""
    with pytest.raises(ValueError, match="64"):
        CODE.encode([0] * 63)
    with pytest.raises(ValueError, match="248"):
        CODE.decode([0] * 247)


def test_false_decode_probability_is_monotone_and_tiny_without_errors() -> None:
    """More corrections make a chance decode likelier; with a CRC the worst case is still below 1e-20."""
    values = [false_decode_probability(248, 64, e, extra_check_bits=16) for e in range(30)]
    assert values == sorted(values)
    assert values[-1] < 1e-20


def test_crc16_matches_ccitt_false() -> None:
    """CRC-16/CCITT-FALSE of ASCII '123456789' is 0x29B1."""
    bits = [int(b) for byte in b"123456789" for b in f"{byte:08b}"]
    assert int("".join(map(str, crc16(bits))), 2) == 0x29B1


def test_the_watermark_code_is_bch_127_64() -> None:
    """The watermark's own code: 127 bits, 64 information bits, 10 errors corrected."""
    from rightful.provenance.watermark import _CODE

    assert (_CODE.n, _CODE.k, _CODE.t) == (127, 64, 10)
    rnd = random.Random(3)
    bits = [rnd.randint(0, 1) for _ in range(64)]
    word = _CODE.encode(bits)
    for position in rnd.sample(range(127), 10):
        word[position] ^= 1
    assert _CODE.decode(word) == (bits, 10)


SMALL = BCH(m=5, t=3)  # BCH(31, 16)
SMALL_GENERATOR = np.array([SMALL.encode([int(i == j) for j in range(SMALL.k)]) for i in range(SMALL.k)], np.uint8)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 1), min_size=16, max_size=16), st.integers(0, 2), st.integers(0, 15), st.randoms())
def test_osd_finds_the_word_when_the_reliable_bits_hold_few_errors(bits: list[int], errors: int, weak_errors: int,
                                                                   rnd: random.Random) -> None:  # fmt: skip
    """Ordered-statistics decoding lists the sent word whenever at most ``order`` errors are among the most
    reliable bits (here the systematic ones, an information set), however many sit among the others."""
    word = np.array(SMALL.encode(bits))
    reliability = np.array([rnd.uniform(0.1, 0.5) for _ in range(15)] + [rnd.uniform(2.0, 3.0) for _ in range(16)])
    soft = (2.0 * word - 1) * reliability
    soft[rnd.sample(range(15), weak_errors)] *= -1  # parity bits: weak, any number of errors
    soft[rnd.sample(range(15, 31), errors)] *= -1  # information bits: strong, at most two errors
    candidates = osd_candidates(soft, SMALL_GENERATOR, order=2)
    assert any(np.array_equal(c, word) for c in candidates)
