"""In-memory search structures: PDQ hashes (FAISS binary), learned descriptors (FAISS float), text k-grams.

Each structure holds aligned arrays (fingerprint id, work id, region code) beside the FAISS index, so removing
a work is a mask and results carry their evidence. Exact Hamming search is a FAISS ``IndexBinaryFlat`` scan;
past :data:`MIH_MIN` hashes a multi-index hash (16-bit chunks, one-bit probes) answers the same query from a
few thousand candidates: exact up to 31 bits for PDQ and 7 bits for pHash (pigeonhole), and close to it beyond.
Past :data:`WIDE_MIN` PDQ hashes the chunks widen to 20 bits, which keeps buckets small (a query then stays
under 5 ms at a million works on two cores) at the price of exactness beyond 25 bits (~99 % of pairs at 31).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

__all__ = ["MIH_MIN", "WIDE_MIN", "HashHits", "HashIndex", "TextIndex", "VectorIndex"]

faiss: Any = importlib.import_module("faiss")  # untyped C++ bindings, used as Any on purpose

#: Below this many hashes a flat scan is faster than building the multi-index hash.
MIH_MIN = 200_000
#: From this many PDQ hashes on, the multi-index hash uses 20-bit chunks (exact to 25 bits instead of 31).
WIDE_MIN = 1_000_000


@dataclass(frozen=True, slots=True)
class HashHits:
    """Hits of one query hash: parallel arrays of work id, fingerprint id, region code and Hamming distance."""

    work_ids: NDArray[np.int64]
    fp_ids: NDArray[np.int64]
    regions: NDArray[np.int64]
    distances: NDArray[np.int64]


class _Aligned:
    """Arrays that travel with every entry of an index."""

    def __init__(self) -> None:
        self.fp_ids = np.empty(0, dtype=np.int64)
        self.work_ids = np.empty(0, dtype=np.int64)
        self.regions = np.empty(0, dtype=np.int64)

    def _append(self, fp_ids: NDArray[np.int64], work_ids: NDArray[np.int64], regions: NDArray[np.int64]) -> None:
        self.fp_ids = np.concatenate([self.fp_ids, fp_ids.astype(np.int64)])
        self.work_ids = np.concatenate([self.work_ids, work_ids.astype(np.int64)])
        self.regions = np.concatenate([self.regions, regions.astype(np.int64)])

    def _keep(self, work_ids: NDArray[np.int64]) -> NDArray[np.bool_]:
        keep = ~np.isin(self.work_ids, work_ids)
        self.fp_ids, self.work_ids, self.regions = self.fp_ids[keep], self.work_ids[keep], self.regions[keep]
        return keep

    def __len__(self) -> int:
        return len(self.fp_ids)


class HashIndex(_Aligned):
    """256-bit PDQ hashes, searched by Hamming radius."""

    def __init__(self, bits: int = 256) -> None:
        super().__init__()
        self.bits = bits
        self.codes = np.empty((0, bits // 8), dtype=np.uint8)
        self._flat: Any = None
        self._mih: _MultiIndexHash | None = None

    def add(self, fp_ids: NDArray[np.int64], work_ids: NDArray[np.int64], regions: NDArray[np.int64],
            codes: NDArray[np.uint8]) -> None:  # fmt: skip
        if len(codes) == 0:
            return
        self.codes = np.concatenate([self.codes, np.asarray(codes, dtype=np.uint8).reshape(-1, self.bits // 8)])
        self._append(fp_ids, work_ids, regions)
        self._flat = self._mih = None

    def remove_works(self, work_ids: NDArray[np.int64]) -> None:
        keep = self._keep(work_ids)
        if not keep.all():
            self.codes = self.codes[keep]
            self._flat = self._mih = None

    def search(self, queries: NDArray[np.uint8], *, radius: int, cheap: NDArray[np.bool_] | None = None,
               ) -> list[HashHits]:  # fmt: skip
        """Every indexed hash within ``radius`` bits of each query (one :class:`HashHits` per query row).

        Rows flagged ``cheap`` skip the one-bit probes of the multi-index hash: exact up to 15 bits (PDQ) and
        most hits up to 31, for a sixteenth of the candidates (used for unlikely variants: 90° rotations).
        """
        queries = np.ascontiguousarray(queries, dtype=np.uint8).reshape(-1, self.bits // 8)
        if len(self) == 0 or len(queries) == 0:
            empty = np.empty(0, dtype=np.int64)
            return [HashHits(empty, empty, empty, empty) for _ in range(len(queries))]
        if len(self) >= MIH_MIN:
            if self._mih is None:
                self._mih = _MultiIndexHash(self.codes)
            rows = self._mih.search(queries, radius, cheap)
        else:
            rows = self._flat_search(queries, radius)
        return [HashHits(self.work_ids[pos], self.fp_ids[pos], self.regions[pos], dist) for pos, dist in rows]

    def search_pairs(self, queries: NDArray[np.uint8], *, radius: int, cheap: bool = False,
                     ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:  # fmt: skip
        """``(query row, work id, distance)`` of every hit, as flat arrays: for callers that aggregate hundreds of
        queries per work (the crop-window grid), where a list per query costs more than the search. A pair may
        repeat when ``cheap`` is false; ``cheap`` probes exact chunks only, as in :meth:`search`."""
        queries = np.ascontiguousarray(queries, dtype=np.uint8).reshape(-1, self.bits // 8)
        if len(self) == 0 or len(queries) == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty
        if len(self) >= MIH_MIN:
            if self._mih is None:
                self._mih = _MultiIndexHash(self.codes)
            flags = np.full(len(queries), cheap, dtype=bool)
            rows, entries, dist = self._mih._gather(queries, radius, flags, unique=False)
            return rows, self.work_ids[entries], dist
        found = self._flat_search(queries, radius)
        rows = np.repeat(np.arange(len(found), dtype=np.int64), [len(pos) for pos, _ in found])
        entries = np.concatenate([pos for pos, _ in found])
        return rows, self.work_ids[entries], np.concatenate([d for _, d in found])

    def _flat_search(
        self, queries: NDArray[np.uint8], radius: int
    ) -> list[tuple[NDArray[np.int64], NDArray[np.int64]]]:
        if self._flat is None:
            self._flat = faiss.IndexBinaryFlat(self.bits)
            self._flat.add(self.codes)
        lims, dist, labels = self._flat.range_search(queries, radius + 1)  # FAISS keeps distances < radius
        return [(labels[lims[i] : lims[i + 1]].astype(np.int64), dist[lims[i] : lims[i + 1]].astype(np.int64))
                for i in range(len(queries))]  # fmt: skip

    def serialize(self) -> dict[str, NDArray[Any]]:
        flat = faiss.IndexBinaryFlat(self.bits)
        flat.add(self.codes)
        return {"faiss": faiss.serialize_index_binary(flat), "fp_ids": self.fp_ids, "work_ids": self.work_ids,
                "regions": self.regions}  # fmt: skip

    @classmethod
    def deserialize(cls, arrays: dict[str, NDArray[Any]]) -> HashIndex:
        flat = faiss.deserialize_index_binary(arrays["faiss"])
        index = cls(flat.d)
        codes = faiss.vector_to_array(flat.xb).reshape(-1, flat.d // 8) if flat.ntotal else index.codes
        index.codes = np.ascontiguousarray(codes, dtype=np.uint8)
        index.fp_ids, index.work_ids, index.regions = arrays["fp_ids"], arrays["work_ids"], arrays["regions"]
        if not len(index.codes) == len(index.fp_ids) == len(index.work_ids) == len(index.regions):
            raise ValueError("index arrays disagree in length")
        index._flat = flat
        return index


def _chunk_widths(bits: int, n: int) -> list[int]:
    """16-bit chunks, or 20-bit chunks for PDQ past :data:`WIDE_MIN` hashes (a sixteenth of the candidates)."""
    if bits == 256 and n >= WIDE_MIN:
        return [20] * 12 + [16]
    return [16] * (bits // 16)


def _chunk_values(codes: NDArray[np.uint8], widths: list[int]) -> NDArray[np.int64]:
    """Split each big-endian bit string into consecutive chunks of the given widths: ``(n, len(widths))``."""
    words = np.ascontiguousarray(codes).view(">u8").astype(np.uint64)
    out = np.empty((len(codes), len(widths)), dtype=np.int64)
    at = 0
    for i, width in enumerate(widths):
        word, shift = divmod(at, 64)
        end = shift + width
        if end <= 64:
            value = words[:, word] >> np.uint64(64 - end)
        else:
            value = (words[:, word] << np.uint64(end - 64)) | (words[:, word + 1] >> np.uint64(128 - end))
        out[:, i] = (value & np.uint64((1 << width) - 1)).astype(np.int64)
        at += width
    return out


class _MultiIndexHash:
    """Multi-index hashing (Norouzi et al., 2012): each hash is cut into chunks, each chunk keys a sorted
    table, and a query probes each chunk's value and its one-bit neighbours. Two hashes within
    ``2 * chunks - 1`` bits agree within one bit on at least one chunk, so up to that radius the search is
    exact: 31 bits for PDQ in 16-bit chunks, 25 in 20-bit chunks (and about 99 % of pairs at 31), 7 for pHash."""

    def __init__(self, codes: NDArray[np.uint8]) -> None:
        n, width = codes.shape
        self.widths = _chunk_widths(width * 8, n)
        self.chunks = len(self.widths)
        self.words = np.ascontiguousarray(codes).view(np.uint64).reshape(n, width // 8)
        values = _chunk_values(codes, self.widths)
        self.order = np.ascontiguousarray(np.argsort(values, axis=0, kind="stable").T.astype(np.int32))
        self.base = np.concatenate([[0], np.cumsum([(1 << w) + 1 for w in self.widths])[:-1]]).astype(np.int64)
        self.offsets = np.concatenate([
            np.searchsorted(values[self.order[c], c], np.arange((1 << w) + 1)) for c, w in enumerate(self.widths)
        ]).astype(np.int64)  # fmt: skip
        probes = max(self.widths) + 1
        self.probes = np.zeros((self.chunks, probes), dtype=np.int64)
        self.valid = np.zeros((self.chunks, probes), dtype=bool)
        for c, w in enumerate(self.widths):
            self.probes[c, : w + 1] = [0] + [1 << b for b in range(w)]
            self.valid[c, : w + 1] = True

    def _gather(self, queries: NDArray[np.uint8], radius: int, cheap: NDArray[np.bool_] | None, *, unique: bool,
                ) -> Any:  # fmt: skip
        """All queries at once: gather every probed bucket, verify every candidate, de-duplicate the hits
        (``unique``: a list per query) or not (three flat arrays: query row, entry, distance)."""
        n, nq = len(self.words), len(queries)
        qwords = np.ascontiguousarray(queries).view(np.uint64).reshape(nq, self.words.shape[1])
        all_cheap = cheap is not None and bool(np.all(cheap))
        probes = self.probes[:, :1] if all_cheap else self.probes  # exact buckets only: skip the probe columns
        keys = _chunk_values(queries, self.widths)[:, :, None] ^ probes[None, :, :]  # (queries, chunks, probes)
        slots = self.base[None, :, None] + keys
        starts = self.offsets[slots]
        lengths = np.where(self.valid[None, :, : probes.shape[1]], self.offsets[slots + 1] - starts, 0)
        if cheap is not None and not all_cheap:
            lengths[np.asarray(cheap, dtype=bool), :, 1:] = 0
        rows = np.broadcast_to(np.arange(self.chunks)[None, :, None], keys.shape).ravel()
        starts, lengths = starts.ravel(), lengths.ravel()
        total = int(lengths.sum())
        flat = np.arange(total, dtype=np.int64) + np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
        entry = self.order.ravel()[np.repeat(rows * n, lengths) + flat]
        per_query = lengths.reshape(nq, -1).sum(axis=1)
        expanded = np.repeat(qwords, per_query, axis=0)  # each query's candidates are contiguous: no gather
        dist = np.bitwise_count(self.words[entry] ^ expanded).sum(axis=1, dtype=np.int64)
        hit = dist <= radius  # verify first, de-duplicate after: sorting every candidate costs more
        owner_of = np.repeat(np.arange(nq, dtype=np.int64), per_query)[hit]
        if not unique:
            return owner_of, entry[hit].astype(np.int64), dist[hit]
        pairs, first = np.unique(owner_of * n + entry[hit], return_index=True)
        q_of, found, dist = pairs // n, pairs % n, dist[hit][first]
        bounds = np.searchsorted(q_of, np.arange(nq + 1))
        return [(found[bounds[q] : bounds[q + 1]], dist[bounds[q] : bounds[q + 1]]) for q in range(nq)]

    def search(self, queries: NDArray[np.uint8], radius: int, cheap: NDArray[np.bool_] | None = None,
               ) -> list[tuple[NDArray[np.int64], NDArray[np.int64]]]:  # fmt: skip
        """Per query: the entries within ``radius`` and their distances, each entry once."""
        return cast("list[tuple[NDArray[np.int64], NDArray[np.int64]]]", self._gather(queries, radius, cheap,
                                                                                       unique=True))  # fmt: skip


class VectorIndex(_Aligned):
    """L2-normalised float descriptors of one embedding model, searched by cosine similarity."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.vectors = np.empty((0, dim), dtype=np.float32)

    def add(self, fp_ids: NDArray[np.int64], work_ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        self.vectors = np.concatenate([self.vectors, np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)])
        self._append(fp_ids, work_ids, np.zeros(len(fp_ids), dtype=np.int64))

    def remove_works(self, work_ids: NDArray[np.int64]) -> None:
        keep = self._keep(work_ids)
        self.vectors = self.vectors[keep]

    def search(self, query: NDArray[np.float32], *, k: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """The ``k`` nearest (work id, cosine similarity), best first."""
        if len(self) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        flat = faiss.IndexFlatIP(self.dim)
        flat.add(self.vectors)
        sims, labels = flat.search(np.asarray(query, dtype=np.float32).reshape(1, -1), min(k, len(self)))
        keep = labels[0] >= 0
        return self.work_ids[labels[0][keep]], sims[0][keep]

    def serialize(self) -> dict[str, NDArray[Any]]:
        flat = faiss.IndexFlatIP(self.dim)
        flat.add(self.vectors)
        return {"faiss": faiss.serialize_index(flat), "fp_ids": self.fp_ids, "work_ids": self.work_ids}

    @classmethod
    def deserialize(cls, arrays: dict[str, NDArray[Any]]) -> VectorIndex:
        flat = faiss.deserialize_index(arrays["faiss"])
        index = cls(flat.d)
        if flat.ntotal:
            index.vectors = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(-1, flat.d).copy()
        index.fp_ids, index.work_ids = arrays["fp_ids"], arrays["work_ids"]
        index.regions = np.zeros(len(index.fp_ids), dtype=np.int64)
        if not len(index.vectors) == len(index.fp_ids) == len(index.work_ids):
            raise ValueError("index arrays disagree in length")
        return index


@dataclass(slots=True)
class TextIndex:
    """Winnowed k-gram hashes of every registered text (sorted for binary search) and their MinHashes."""

    hashes: NDArray[np.uint64] = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    work_ids: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    positions: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    sig_works: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    signatures: NDArray[np.uint32] = field(default_factory=lambda: np.empty((0, 128), dtype=np.uint32))

    def __len__(self) -> int:
        return len(self.sig_works)

    def add(self, entries: list[tuple[int, NDArray[np.uint64], NDArray[np.int64], NDArray[np.uint32] | None]]) -> None:
        """Add ``(work id, winnow hashes, positions, MinHash or None)`` entries; call :meth:`finish` after."""
        if not entries:
            return
        self.hashes = np.concatenate([self.hashes, *(e[1].astype(np.uint64) for e in entries)])
        self.work_ids = np.concatenate([self.work_ids, *(np.full(len(e[1]), e[0], dtype=np.int64) for e in entries)])
        self.positions = np.concatenate([self.positions, *(e[2].astype(np.int64) for e in entries)])
        signed = [e for e in entries if e[3] is not None]
        if signed:
            self.sig_works = np.concatenate([self.sig_works, np.asarray([e[0] for e in signed], dtype=np.int64)])
            self.signatures = np.concatenate([self.signatures, np.stack([e[3] for e in signed if e[3] is not None])])

    def finish(self) -> None:
        """Sort the k-gram hashes (after a batch of adds) so lookups can bisect."""
        order = np.argsort(self.hashes, kind="stable")
        self.hashes, self.work_ids, self.positions = self.hashes[order], self.work_ids[order], self.positions[order]

    def remove_works(self, work_ids: NDArray[np.int64]) -> None:
        keep = ~np.isin(self.work_ids, work_ids)
        self.hashes, self.work_ids, self.positions = self.hashes[keep], self.work_ids[keep], self.positions[keep]
        keep_sig = ~np.isin(self.sig_works, work_ids)
        self.sig_works, self.signatures = self.sig_works[keep_sig], self.signatures[keep_sig]

    def lookup(self, grams: NDArray[np.uint64]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        """``(query position, work id, work position)`` for every query k-gram that is a registered fingerprint."""
        if len(self.hashes) == 0 or len(grams) == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty
        left = np.searchsorted(self.hashes, grams, side="left")
        right = np.searchsorted(self.hashes, grams, side="right")
        counts = right - left
        qpos = np.repeat(np.arange(len(grams), dtype=np.int64), counts)
        base = np.repeat(left - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        idx = np.arange(int(counts.sum())) + base
        return qpos, self.work_ids[idx], self.positions[idx]

    def similar(
        self, signature: NDArray[np.uint32], *, min_score: float
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Works whose estimated Jaccard similarity reaches ``min_score``, best first."""
        if len(self.sig_works) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        scores = (self.signatures == signature[None, :]).mean(axis=1)
        hit = np.flatnonzero(scores >= min_score)
        order = hit[np.argsort(-scores[hit], kind="stable")]
        return self.sig_works[order], scores[order]

    def serialize(self) -> dict[str, NDArray[Any]]:
        return {"hashes": self.hashes, "work_ids": self.work_ids, "positions": self.positions,
                "sig_works": self.sig_works, "signatures": self.signatures}  # fmt: skip

    @classmethod
    def deserialize(cls, arrays: dict[str, NDArray[Any]]) -> TextIndex:
        index = cls(arrays["hashes"].astype(np.uint64), arrays["work_ids"], arrays["positions"], arrays["sig_works"],
                    arrays["signatures"].astype(np.uint32))  # fmt: skip
        if not len(index.hashes) == len(index.work_ids) == len(index.positions):
            raise ValueError("text index arrays disagree in length")
        return index
