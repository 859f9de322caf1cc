"""Text fingerprints: normalisation, tokens, MinHash, winnowing's 50-token guarantee, decoding bad input."""

from __future__ import annotations

import contextlib
import hashlib
import random
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rightful.errors import InvalidInput
from rightful.fingerprints import MIN_SPAN, decode_text, fingerprint_text, jaccard, normalise_text, tokenize
from rightful.fingerprints.text import (
    WINNOW_K,
    WINNOW_W,
    iter_words,
    kgram_hashes,
    minhash,
    stored_ids,
    token_ids,
    unpack_winnow,
    winnow,
)

WORDS = [f"w{i}" for i in range(5000)]


def _text(seed: int, n: int) -> list[str]:
    return random.Random(seed).choices(WORDS, k=n)


def test_normalisation_ignores_case_punctuation_spacing_and_unicode_form() -> None:
    """Copies differing in case, punctuation, spacing, ligatures and composed accents normalise alike."""
    a = "The ﬁnal CAFÉ — “quoted”,   spaced\ttext!"
    b = "the final cafe\u0301 quoted spaced text"
    assert normalise_text(a) == normalise_text(b) == "the final café quoted spaced text"


def test_tokenize_reports_character_offsets() -> None:
    """Each token carries its start and end in the (NFKC) text."""
    words, offsets = tokenize("Hello, big  World")
    assert words == ["hello", "big", "world"]
    assert [tuple(o) for o in offsets] == [(0, 5), (7, 10), (12, 17)]


def test_chunked_words_equal_whole_text_words() -> None:
    """A text split anywhere into chunks (mid-word, mid-accent) yields the same words as the whole."""
    text = "Caf\u00e9s cafe\u0301 naïve-coöperation " * 20
    whole = list(iter_words([text]))
    for cut in (1, 3, 4, 5, 17, 50):
        chunks = [text[i : i + cut] for i in range(0, len(text), cut)]
        assert list(iter_words(chunks)) == whole


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=300), st.integers(1, 40))
def test_chunking_never_changes_words(text: str, cut: int) -> None:
    """Property: chunk boundaries never change the token stream."""
    chunks = [text[i : i + cut] for i in range(0, len(text), cut)]
    assert list(iter_words(chunks)) == list(iter_words([text]))


def test_token_ids_are_stable() -> None:
    """Token ids are a pure function of the word (BLAKE2b), the same in every process."""
    expected = int.from_bytes(hashlib.blake2b(b"hello", digest_size=8).digest(), "little")
    assert int(token_ids(["hello"])[0]) == expected
    assert token_ids(["a", "b", "a"])[0] == token_ids(["a", "b", "a"])[2]


def test_minhash_estimates_jaccard() -> None:
    """MinHash of half-overlapping shingle sets estimates their Jaccard similarity (1/3) within 0.1."""
    a = np.arange(0, 2000, dtype=np.uint64) * np.uint64(2654435761)
    b = np.arange(1000, 3000, dtype=np.uint64) * np.uint64(2654435761)
    assert abs(jaccard(minhash(a), minhash(b)) - 1 / 3) < 0.1
    assert jaccard(minhash(a), minhash(a)) == 1.0


def test_winnowing_guarantee_finds_every_shared_50_token_run() -> None:
    """Any 50-token run shared by two texts yields at least one common winnowed hash."""
    assert WINNOW_K + WINNOW_W - 1 == MIN_SPAN == 50
    rng = random.Random(3)
    for trial in range(40):
        source = _text(trial, 2000)
        start = rng.randrange(len(source) - MIN_SPAN)
        other = _text(1000 + trial, 300) + source[start : start + MIN_SPAN] + _text(2000 + trial, 300)
        sa = kgram_hashes(token_ids(source), WINNOW_K)
        sb = kgram_hashes(token_ids(other), WINNOW_K)
        picked = set(sa[winnow(sa)].tolist())
        assert picked & set(sb.tolist()), trial


def test_winnow_density_is_about_two_over_window() -> None:
    """Winnowing keeps about 2/(w+1) of the k-gram hashes, so the index stays small."""
    grams = kgram_hashes(token_ids(_text(9, 20_000)), WINNOW_K)
    density = len(winnow(grams)) / len(grams)
    assert 1.5 / (WINNOW_W + 1) < density < 2.5 / (WINNOW_W + 1)


def test_fingerprint_text_round_trips_its_parts() -> None:
    """A text's fingerprints unpack to positions inside it, and the stored stream gives back its token ids."""
    words = _text(4, 600)
    fps = fingerprint_text(" ".join(words))
    hashes, positions = unpack_winnow(fps.winnow.value)
    assert fps.tokens == 600
    assert len(hashes) == len(positions)
    assert positions.max() < 600
    assert np.array_equal(stored_ids(fps.normalised), token_ids(words))
    assert zlib.decompress(fps.normalised).decode() == " ".join(words)
    assert len(fps.minhash.value) == 128 * 4


def test_fingerprint_of_chunks_equals_fingerprint_of_text() -> None:
    """Streaming a huge text in chunks gives exactly the fingerprints of the whole string."""
    text = " ".join(_text(5, 200_000))
    chunks = [text[i : i + 65_537] for i in range(0, len(text), 65_537)]
    assert fingerprint_text(chunks) == fingerprint_text(text)


def test_short_text_still_fingerprints() -> None:
    """A three-word text gets a digest and a MinHash (spans need 50 tokens, similarity does not)."""
    fps = fingerprint_text("just three words")
    assert fps.tokens == 3
    assert fps.digest.startswith("sha256:")


@pytest.mark.parametrize("data", [b"", b"   \n\t ", b"...!?"])
def test_empty_text_is_refused(data: bytes) -> None:
    """Empty, blank or punctuation-only text is InvalidInput."""
    with pytest.raises(InvalidInput):
        fingerprint_text(decode_text(data) if data.strip() else "")


def test_binary_data_is_not_text() -> None:
    """NUL bytes or many control characters mean binary data, not text."""
    with pytest.raises(InvalidInput, match="binary"):
        decode_text(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(InvalidInput, match="binary"):
        decode_text(bytes(range(1, 32)) * 10)


def test_decoding_utf8_utf16_and_legacy() -> None:
    """UTF-8 (with BOM), UTF-16 with a BOM and Windows-1252 all decode."""
    assert decode_text("\ufeffcafé".encode()) == "café"
    assert decode_text("café".encode("utf-16")) == "café"
    assert decode_text("café".encode("cp1252")) == "café"


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=400))
def test_decode_text_never_crashes(data: bytes) -> None:
    """Property: any bytes decode to text or raise InvalidInput."""
    with contextlib.suppress(InvalidInput):
        assert isinstance(decode_text(data), str)
