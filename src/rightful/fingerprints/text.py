"""Text fingerprints: normalisation, token shingles, MinHash, and winnowing for long verbatim spans.

Normalisation makes copies that differ only in Unicode form, case, punctuation or spacing identical: each word
(``\\w+`` after NFKC) is case-folded, everything between words is dropped. Two fingerprints come out of the
token stream:

- **MinHash** over 5-token shingles estimates Jaccard similarity (near-duplicate and similar bands);
- **winnowing** (Schleimer, Wilkerson & Aiken, 2003) keeps the minimum of every window of ``W`` consecutive
  ``K``-token hashes. Any verbatim run of ``K + W - 1 = 50`` tokens shared by two texts contains a whole
  window, so both texts select the same hash: a 50-token copy cannot be missed. Hits are then verified and
  extended token by token against the registered text, so no reported span is a hash collision.

Everything works on streams of chunks so a huge file never sits in memory as Python strings; the registered
text is kept as a compressed stream of normalised tokens for that verification.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import unicodedata
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rightful.errors import InvalidInput
from rightful.models import Fingerprint

__all__ = [
    "MIN_SPAN",
    "NUM_PERM",
    "SHINGLE",
    "WINNOW_K",
    "WINNOW_W",
    "Span",
    "TextFingerprints",
    "decode_text",
    "fingerprint_text",
    "jaccard",
    "kgram_hashes",
    "minhash",
    "normalise_text",
    "pack_winnow",
    "token_ids",
    "tokenize",
    "unpack_winnow",
    "winnow",
]

SHINGLE = 5
WINNOW_K = 13
WINNOW_W = 38
#: The shortest verbatim run winnowing is guaranteed to find (``WINNOW_K + WINNOW_W - 1``).
MIN_SPAN = WINNOW_K + WINNOW_W - 1
NUM_PERM = 128

_WORD = re.compile(r"\w+")
_rng = np.random.default_rng(0x5EED_0F_7E47)
_PERM_A = _rng.integers(1, 2**63, NUM_PERM, dtype=np.uint64) | np.uint64(1)  # odd multipliers
_PERM_B = _rng.integers(0, 2**63, NUM_PERM, dtype=np.uint64)
_ROLL = np.uint64(0x100000001B3)  # FNV prime: the base of the polynomial k-gram hash


@dataclass(frozen=True, slots=True)
class Span:
    """A verbatim run shared by a query and a registered work, in tokens (end exclusive) and query characters."""

    query_start: int
    query_end: int
    work_start: int
    work_end: int
    char_start: int | None = None
    char_end: int | None = None

    @property
    def tokens(self) -> int:
        return self.query_end - self.query_start

    def to_dict(self) -> dict[str, int | None]:
        return {"tokens": self.tokens, "query_start": self.query_start, "query_end": self.query_end,
                "work_start": self.work_start, "work_end": self.work_end,
                "char_start": self.char_start, "char_end": self.char_end}  # fmt: skip


@dataclass(frozen=True, slots=True)
class TextFingerprints:
    """A text's digest (of its normalised form), token count, MinHash, winnow fingerprints and the compressed
    normalised token stream kept for span verification."""

    digest: str
    tokens: int
    minhash: Fingerprint
    winnow: Fingerprint
    normalised: bytes

    def all(self) -> tuple[Fingerprint, ...]:
        return (self.minhash, self.winnow)


def normalise_text(text: str) -> str:
    """NFKC, case-folded words joined by single spaces; punctuation and spacing differences vanish."""
    return " ".join(iter_words([text]))


def tokenize(text: str) -> tuple[list[str], NDArray[np.int64]]:
    """Normalised words and their ``(start, end)`` character offsets in the NFKC form of ``text``.

    The offsets index ``unicodedata.normalize("NFKC", text)``, which is ``text`` itself for almost all input.
    """
    words: list[str] = []
    offsets: list[tuple[int, int]] = []
    for m in _WORD.finditer(unicodedata.normalize("NFKC", text)):
        words.append(m.group().casefold())
        offsets.append((m.start(), m.end()))
    return words, np.asarray(offsets, dtype=np.int64).reshape(-1, 2)


def iter_words(chunks: Iterable[str]) -> Iterator[str]:
    """Normalised words of a text given in chunks; a word cut by a chunk boundary is joined first."""
    carry = ""
    for chunk in chunks:
        text = carry + chunk
        cut = len(text)
        while cut > 0 and (_WORD.match(text, cut - 1) or unicodedata.combining(text[cut - 1])):
            cut -= 1  # hold back a word (or a combining mark) the next chunk may continue
        carry = text[cut:]
        yield from (w.casefold() for w in _WORD.findall(unicodedata.normalize("NFKC", text[:cut])))
    if carry:
        yield from (w.casefold() for w in _WORD.findall(unicodedata.normalize("NFKC", carry)))


_ID_CACHE: dict[str, int] = {}


def token_ids(words: Iterable[str]) -> NDArray[np.uint64]:
    """A stable 64-bit id per normalised word (BLAKE2b, so ids agree across processes and machines)."""
    cache = _ID_CACHE
    out: list[int] = []
    for word in words:
        ident = cache.get(word)
        if ident is None:
            ident = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
            if len(cache) < 2_000_000:
                cache[word] = ident
        out.append(ident)
    return np.asarray(out, dtype=np.uint64)


def kgram_hashes(ids: NDArray[np.uint64], k: int) -> NDArray[np.uint64]:
    """One 64-bit hash per run of ``k`` consecutive tokens (polynomial, wrapping at 2**64)."""
    n = len(ids) - k + 1
    if n <= 0:
        return np.empty(0, dtype=np.uint64)
    acc = np.zeros(n, dtype=np.uint64)
    for i in range(k):
        acc = acc * _ROLL + ids[i : i + n]
    return acc


def winnow(hashes: NDArray[np.uint64], w: int = WINNOW_W) -> NDArray[np.int64]:
    """Positions selected by winnowing: the minimum of each window of ``w`` hashes (leftmost on ties)."""
    if len(hashes) == 0:
        return np.empty(0, dtype=np.int64)
    if len(hashes) <= w:
        return np.asarray([int(np.argmin(hashes))], dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(hashes, w)
    picks = np.arange(len(windows), dtype=np.int64) + np.argmin(windows, axis=1)
    return np.unique(picks)


def minhash(shingles: NDArray[np.uint64]) -> NDArray[np.uint32]:
    """MinHash signature (``NUM_PERM`` values) of a set of 64-bit shingle hashes (multiply-shift hashing)."""
    sig = np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)
    values = np.unique(shingles)
    for start in range(0, len(values), 65536):
        block = values[start : start + 65536, None]
        hashed = ((block * _PERM_A[None, :] + _PERM_B[None, :]) >> np.uint64(32)).astype(np.uint32)
        sig = np.minimum(sig, hashed.min(axis=0))
    return sig


def jaccard(a: NDArray[np.uint32], b: NDArray[np.uint32]) -> float:
    """Estimated Jaccard similarity of two MinHash signatures."""
    return float(np.mean(a == b))


def pack_winnow(hashes: NDArray[np.uint64], positions: NDArray[np.int64]) -> bytes:
    return hashes.astype("<u8").tobytes() + positions.astype("<u4").tobytes()


def unpack_winnow(value: bytes) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    n = len(value) // 12
    hashes = np.frombuffer(value[: 8 * n], dtype="<u8").astype(np.uint64)
    positions = np.frombuffer(value[8 * n : 12 * n], dtype="<u4").astype(np.int64)
    return hashes, positions


def fingerprint_text(text: str | Iterable[str]) -> TextFingerprints:
    """Fingerprint a text (a string, or an iterable of chunks for huge files). Empty text is ``InvalidInput``."""
    chunks = [text] if isinstance(text, str) else text
    digest = hashlib.sha256()
    packer = zlib.compressobj(6)
    parts: list[bytes] = []
    id_blocks: list[NDArray[np.uint64]] = []
    batch: list[str] = []
    first = True
    for word in iter_words(chunks):
        batch.append(word)
        if len(batch) >= 65536:
            first = _flush(batch, digest, packer, parts, id_blocks, first=first)
    _flush(batch, digest, packer, parts, id_blocks, first=first)
    parts.append(packer.flush())
    ids = np.concatenate(id_blocks) if id_blocks else np.empty(0, dtype=np.uint64)
    if len(ids) == 0:
        raise InvalidInput("the text has no words to fingerprint")
    grams = kgram_hashes(ids, WINNOW_K)
    picks = winnow(grams)
    shingles = kgram_hashes(ids, min(SHINGLE, len(ids)))
    return TextFingerprints(
        digest="sha256:" + digest.hexdigest(),
        tokens=len(ids),
        minhash=Fingerprint("text-minhash", minhash(shingles).astype("<u4").tobytes()),
        winnow=Fingerprint("text-winnow", pack_winnow(grams[picks], picks)),
        normalised=b"".join(parts),
    )


def _flush(batch: list[str], digest: hashlib._Hash, packer: zlib._Compress, parts: list[bytes],
           id_blocks: list[NDArray[np.uint64]], *, first: bool) -> bool:  # fmt: skip
    if not batch:
        return first
    blob = (("" if first else " ") + " ".join(batch)).encode("utf-8")
    digest.update(blob)
    parts.append(packer.compress(blob))
    id_blocks.append(token_ids(batch))
    batch.clear()
    return False


def stored_ids(normalised: bytes) -> NDArray[np.uint64]:
    """Token ids of a registered text from its compressed normalised stream."""
    text = zlib.decompress(normalised).decode("utf-8")
    return token_ids(text.split(" ")) if text else np.empty(0, dtype=np.uint64)


def decode_text(data: bytes) -> str:
    """Bytes to text: UTF-8 (BOM allowed), UTF-16 with a BOM, else Windows-1252. Binary data is refused."""
    if not data.strip():
        raise InvalidInput("the text is empty")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"invalid UTF-16 text: {exc}") from exc
    if b"\x00" in data[:65536]:
        raise InvalidInput("binary data, not text (NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    sample = text[:65536]
    controls = sum(1 for c in sample if unicodedata.category(c) == "Cc" and c not in "\t\n\r\f\v")
    if controls > 0.01 * len(sample):
        raise InvalidInput("binary data, not text (control characters)")
    return text


def iter_text_file(handle: Iterable[bytes], *, first: bytes = b"") -> Iterator[str]:
    """Decode a byte stream of UTF-8 text incrementally (invalid bytes replaced)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    if first:
        yield decoder.decode(first)
    for block in handle:
        yield decoder.decode(block)
    yield decoder.decode(b"", final=True)
