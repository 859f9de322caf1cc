"""Matching a query image or text against the registry, with bands and calibrated thresholds.

Image bands (PDQ Hamming distance out of 256 bits, never for hashes under quality 50; pHash out of 64 bits as
the second opinion, never for flat images):

- ``exact``: the same bytes (content digest), or the same decoded pixels in another container;
- ``near-duplicate``: the query's frame (any dihedral variant, or with its uniform border trimmed) within
  :attr:`Thresholds.near` PDQ bits, or :attr:`Thresholds.phash_frame` pHash bits, of a work's frame;
- ``partial``: a central (or de-rotated) window of the query or of the work within :attr:`Thresholds.partial`
  PDQ bits or :attr:`Thresholds.phash_window` pHash bits (rotations, small crops, framing); or, when no frame
  matched, a window of the query's crop grid whose coarse hash lies within :attr:`Thresholds.window_coarse`
  bits of a work's anchor window and whose PDQ, refined around it, within :attr:`Thresholds.partial` bits of
  the anchor's PDQ (crops, see :mod:`rightful.fingerprints.windows`);
- ``similar``: frame to frame within :attr:`Thresholds.similar`, or a learned descriptor's cosine similarity
  at least :attr:`Thresholds.embedding`.

Text bands: ``exact`` (same normalised text), ``near-duplicate`` (verbatim spans cover most of the work, or
MinHash Jaccard ≥ :attr:`Thresholds.jaccard_near`), ``partial`` (a verbatim span of ≥ 50 tokens),
``similar`` (Jaccard ≥ :attr:`Thresholds.jaccard_similar`). The thresholds and the false-positive rates they
imply come from ``bench/match/run.py`` (docs/registry.md).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from rightful.fingerprints.image import FLAT_QUALITY, MIN_QUALITY, REGISTER_WINDOWS, ImageFingerprints, hamming
from rightful.fingerprints.text import (
    MIN_SPAN,
    NUM_PERM,
    WINNOW_K,
    Span,
    kgram_hashes,
    minhash,
    stored_ids,
    token_ids,
    tokenize,
)
from rightful.fingerprints.windows import (
    ANCHOR_NAME,
    MIN_GRID_STD,
    QUERY_BOXES,
    WINDOW_MIN_QUALITY,
    Box,
    coarse_hashes,
    grey_copy,
    refine_boxes,
    sample_grids,
    window_pdq,
)
from rightful.models import Fingerprint, MatchBand, Work
from rightful.registry.hashindex import HashIndex
from rightful.registry.index import REGIONS, RegistryIndex

__all__ = ["BAND_ORDER", "Candidate", "Thresholds", "match_image", "match_text", "match_windows", "scale_phash"]

BAND_ORDER = {MatchBand.EXACT: 0, MatchBand.NEAR_DUPLICATE: 1, MatchBand.PARTIAL: 2, MatchBand.SIMILAR: 3}
#: Dihedral variants that copies rarely go through: searched with the cheaper exact-chunk probes only.
_UNLIKELY = frozenset({"rot90", "rot180", "rot270", "flipx", "flipplus", "flipminus"})
#: A refined crop window this close to the anchor is a sure match: refinement stops there (unrelated pictures
#: stayed ≥ 86 bits away on the benchmark; the acceptance threshold is ``Thresholds.partial``).
_SURE = 24
_FRAME = frozenset({"full", "trimmed", "content", "content2", "rot90", "rot180", "rot270", "flipx", "flipy",
                    "flipplus", "flipminus"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Match thresholds (see the module docstring; calibrated in docs/registry.md)."""

    near: int = 31
    partial: int = 31
    similar: int = 47
    phash_frame: int = 8
    phash_window: int = 6
    embedding: float = 0.85
    embedding_near: float = 0.95
    jaccard_near: float = 0.8
    jaccard_similar: float = 0.5
    coverage_near: float = 0.8
    window_coarse: int = 10
    window_candidates: int = 3


@dataclass(slots=True)
class Candidate:
    """The best evidence found so far for one work."""

    work_id: int
    band: MatchBand
    kind: str
    distance: int | None = None
    score: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def better_than(self, other: Candidate) -> bool:
        if BAND_ORDER[self.band] != BAND_ORDER[other.band]:
            return BAND_ORDER[self.band] < BAND_ORDER[other.band]
        if self.distance is not None and other.distance is not None:
            return self.distance < other.distance
        return (self.score or 0.0) > (other.score or 0.0)


def _keep(found: dict[int, Candidate], cand: Candidate) -> None:
    old = found.get(cand.work_id)
    if old is None or cand.better_than(old):
        found[cand.work_id] = cand


def match_image(
    fps: ImageFingerprints,
    *,
    index: RegistryIndex,
    digest: str | None,
    thresholds: Thresholds,
    embedding: Fingerprint | None = None,
    image: Image.Image | None = None,
) -> dict[int, Candidate]:
    """Candidates for an image query: digest look-up, PDQ radius search over every query hash, embeddings,
    and (given the decoded ``image``, when no frame matched) the crop-window search of :func:`match_windows`."""
    found: dict[int, Candidate] = {}
    if digest is not None:
        for work in index.store.find_by_digest(digest):
            _keep(found, Candidate(work.id, MatchBand.EXACT, "digest", 0, None, {"digest": digest}))
    pdq = [fp for fp in (fps.pdq, *fps.variants) if fp.kind == "pdq" and (fp.quality or 0) >= MIN_QUALITY]
    radius = max(thresholds.near, thresholds.partial, thresholds.similar)
    _search(found, index.hashes, pdq, radius, lambda q, w, d: _image_band(q, w, d, thresholds), "pdq")
    phashes = [fp for fp in (fps.phash, *fps.variants) if fp.kind == "phash" and (fp.quality or 0) >= FLAT_QUALITY]
    frames = sum(fp.region in _FRAME | {"mirror"} for fp in phashes)
    scaled = scale_phash(thresholds, works=len(index.phashes) // (1 + len(REGISTER_WINDOWS)), frame_queries=frames,
                         other_queries=len(phashes) - frames, windows=len(REGISTER_WINDOWS))  # fmt: skip
    radius = max(scaled.phash_frame, scaled.phash_window)
    _search(found, index.phashes, phashes, radius, lambda q, w, d: _phash_band(q, w, d, scaled), "phash")
    if embedding is not None and embedding.kind in index.vectors:
        vec = np.frombuffer(embedding.value, dtype="<f4").astype(np.float32)
        works, sims = index.vectors[embedding.kind].search(vec, k=16)
        for work_id, sim in zip(works, sims, strict=True):
            if sim >= thresholds.embedding:
                band = MatchBand.NEAR_DUPLICATE if sim >= thresholds.embedding_near else MatchBand.SIMILAR
                _keep(found, Candidate(int(work_id), band, embedding.kind, None, float(sim), {"cosine": float(sim)}))
    if image is not None and not any(BAND_ORDER[c.band] <= 1 for c in found.values()):
        for cand in match_windows(image, index=index, thresholds=thresholds):
            _keep(found, cand)
    return found


def match_windows(image: Image.Image, *, index: RegistryIndex, thresholds: Thresholds) -> list[Candidate]:
    """Crops: look the query's window grid up among the works' anchor windows, then verify with PDQ.

    Coarse hits (64-bit, within :attr:`Thresholds.window_coarse`) only nominate works: the best
    :attr:`Thresholds.window_candidates` of them are refined with PDQ on a 1.2 % then 0.6 % grid around their
    best window (and their second best, when the first gave no sure match), and only a refined PDQ within
    :attr:`Thresholds.partial` of the anchor's PDQ is a match.
    """
    if len(index.windows) == 0:
        return []
    grids = sample_grids(grey_copy(image), QUERY_BOXES)
    busy = np.flatnonzero(grids.std(axis=(1, 2)) >= MIN_GRID_STD)
    if len(busy) == 0:
        return []
    rows, works, dists = index.windows.search_pairs(coarse_hashes(grids[busy]), radius=thresholds.window_coarse,
                                                    cheap=True)  # fmt: skip
    boxes: dict[int, list[tuple[int, int]]] = {}  # work -> [(coarse distance, box)]
    for row, work_id, dist in zip(rows.tolist(), works.tolist(), dists.tolist(), strict=True):
        boxes.setdefault(work_id, []).append((dist, int(busy[row])))
    ranked = sorted(((w, sorted(set(b))[:2]) for w, b in boxes.items()), key=lambda item: item[1][0])
    ranked = ranked[: thresholds.window_candidates]
    if not ranked:
        return []
    stored = index.store.iter_fingerprints(["window-pdq"], work_ids=[w for w, _ in ranked])
    anchors = {wid: fp.value for _, wid, fp in stored}
    out = []
    for work_id, tries in ranked:
        anchor = anchors.get(work_id)
        if anchor is None or len(anchor) != 32:
            continue
        coarse, dist, where = tries[0][0], 257, QUERY_BOXES[tries[0][1]]
        for _, box in tries:  # the two best windows, the second only while no sure match was found
            dist, where = min((dist, where), _refine(image, anchor, QUERY_BOXES[box], enough=_SURE))
            if dist <= _SURE:
                break
        if dist <= thresholds.partial:
            evidence = {"query_region": "window", "work_region": ANCHOR_NAME, "rule": f"crop window: coarse ≤ "
                        f"{thresholds.window_coarse}, PDQ ≤ {thresholds.partial}", "coarse_distance": coarse,
                        "query_box": [round(v, 4) for v in where]}  # fmt: skip
            out.append(Candidate(work_id, MatchBand.PARTIAL, "pdq", dist, None, evidence))
    return out


def _refine(image: Image.Image, anchor: bytes, box: Box, *, enough: int) -> tuple[int, Box]:
    """The smallest PDQ distance to ``anchor`` over two rounds of windows around ``box``, and its window; the
    finer round is skipped when the first already came within ``enough`` bits."""
    best, where = 257, box
    for step, scale in ((0.012, 1.02), (0.006, 1.01)):
        if best <= enough:
            break
        boxes = refine_boxes(where, step=step, scale=scale)
        for candidate, (code, quality) in zip(boxes, window_pdq(image, boxes), strict=True):
            dist = hamming(code, anchor)
            if quality >= WINDOW_MIN_QUALITY and dist < best:
                best, where = dist, candidate
    return best, where


def scale_phash(t: Thresholds, *, works: int, frame_queries: int, other_queries: int, windows: int = 1,
                budget: float = 1e-4) -> Thresholds:  # fmt: skip
    """Lower the pHash thresholds until chance collisions stay under ``budget`` expected per query.

    A 64-bit hash leaves little room: P(two random pHashes within 8 bits) is 2.8e-10, so three frame hashes
    against a million works would expect 8e-4 random matches per query. Frame-to-frame pairs (query frames ×
    works) use the frame threshold, every other pairing the window threshold; the frame threshold gives way
    first, then the window one, a bit at a time, until the expected count fits (PDQ's 256 bits need no care).
    """

    def within(limit: int) -> float:
        return sum(math.comb(64, k) for k in range(limit + 1)) / 2**64

    frame_pairs = frame_queries * works
    window_pairs = frame_queries * works * windows + other_queries * works * (1 + windows)
    frame, window = t.phash_frame, t.phash_window
    while frame_pairs * within(frame) + window_pairs * within(window) > budget and frame + window > 0:
        if frame > window or window == 0:
            frame -= 1
        else:
            window -= 1
    if (frame, window) == (t.phash_frame, t.phash_window):
        return t
    return replace(t, phash_frame=frame, phash_window=window)


def _search(found: dict[int, Candidate], index: HashIndex, queries: list[Fingerprint], radius: int,
            band_of: Callable[[str, str, int], tuple[MatchBand, str] | None], kind: str) -> None:  # fmt: skip
    if not queries:
        return
    codes = np.frombuffer(b"".join(fp.value for fp in queries), dtype=np.uint8).reshape(len(queries), -1)
    cheap = np.asarray([fp.region in _UNLIKELY for fp in queries], dtype=bool)
    for query, hits in zip(queries, index.search(codes, radius=radius, cheap=cheap), strict=True):
        for work_id, fp_id, region, dist in zip(hits.work_ids, hits.fp_ids, hits.regions, hits.distances,
                                                strict=True):  # fmt: skip
            cand = band_of(query.region, REGIONS[int(region)], int(dist))
            if cand is not None:
                evidence = {"query_region": query.region, "work_region": REGIONS[int(region)],
                            "fingerprint_id": int(fp_id), "quality": query.quality, "rule": cand[1]}  # fmt: skip
                _keep(found, Candidate(int(work_id), cand[0], kind, int(dist), None, evidence))


def _phash_band(query_region: str, work_region: str, dist: int, t: Thresholds) -> tuple[MatchBand, str] | None:
    """pHash (64 bits) is the second opinion: it tolerates small crops and rotations better than PDQ."""
    if query_region in _FRAME | {"mirror"} and work_region == "full":
        if dist <= t.phash_frame:
            return MatchBand.NEAR_DUPLICATE, f"pHash ≤ {t.phash_frame} frame to frame"
        return None
    if dist <= t.phash_window:
        return MatchBand.PARTIAL, f"pHash ≤ {t.phash_window} between {query_region} and the work's {work_region}"
    return None


def _image_band(query_region: str, work_region: str, dist: int, t: Thresholds) -> tuple[MatchBand, str] | None:
    if query_region in _FRAME and work_region == "full":
        if dist <= t.near:
            return MatchBand.NEAR_DUPLICATE, f"PDQ ≤ {t.near} frame to frame"
        if dist <= t.similar:
            return MatchBand.SIMILAR, f"PDQ ≤ {t.similar} frame to frame"
        return None
    if dist <= t.partial:
        return MatchBand.PARTIAL, f"PDQ ≤ {t.partial} between {query_region} and the work's {work_region}"
    return None


def exact_pixels(cands: dict[int, Candidate], fps: ImageFingerprints, works: dict[int, Work]) -> None:
    """Promote a distance-0 frame match to ``exact`` when the decoded pixels are identical (a new container)."""
    for cand in cands.values():
        work = works.get(cand.work_id)
        if work is None or cand.band is not MatchBand.NEAR_DUPLICATE or cand.distance != 0:
            continue
        pixels = next((f for f in work.fingerprints if f.kind == "pixels"), None)
        if pixels is not None and pixels.value == fps.pixels.value:
            cand.band = MatchBand.EXACT
            cand.evidence["rule"] = "identical pixels"


class TokenCache:
    """Token ids of registered texts, most recently used kept (verification reads the same works again)."""

    def __init__(self, load: Callable[[int], bytes], *, capacity: int = 64) -> None:
        self._load = load
        self._items: OrderedDict[int, NDArray[np.uint64]] = OrderedDict()
        self.capacity = capacity

    def get(self, work_id: int) -> NDArray[np.uint64]:
        ids = self._items.pop(work_id, None)
        if ids is None:
            ids = stored_ids(self._load(work_id))
        self._items[work_id] = ids
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return ids


def match_text(
    text: str, *, index: RegistryIndex, digest: str, thresholds: Thresholds, tokens_of: TokenCache
) -> dict[int, Candidate]:
    """Candidates for a text query: same normalised text, verified verbatim spans, MinHash similarity."""
    found: dict[int, Candidate] = {}
    for work in index.store.find_by_digest(digest):
        _keep(found, Candidate(work.id, MatchBand.EXACT, "text-digest", None, 1.0, {"digest": digest}))
    words, offsets = tokenize(text)
    ids = token_ids(words)
    for work_id, spans in find_spans(ids, index=index, tokens_of=tokens_of).items():
        covered = sum(s.tokens for s in spans)
        work_tokens = len(tokens_of.get(work_id))
        coverage = covered / max(work_tokens, 1)
        band = MatchBand.NEAR_DUPLICATE if coverage >= thresholds.coverage_near else MatchBand.PARTIAL
        shown = [_with_chars(s, offsets).to_dict() for s in spans[:20]]
        evidence = {"spans": shown, "span_tokens": covered, "work_coverage": round(coverage, 4)}
        _keep(found, Candidate(work_id, band, "text-winnow", None, round(coverage, 4), evidence))
    if len(ids) >= 1:
        sig = minhash(kgram_hashes(ids, min(5, len(ids))))
        works, scores = index.text.similar(sig, min_score=thresholds.jaccard_similar)
        for work_id, score in zip(works, scores, strict=True):
            band = MatchBand.NEAR_DUPLICATE if score >= thresholds.jaccard_near else MatchBand.SIMILAR
            evidence = {"jaccard": round(float(score), 4), "permutations": NUM_PERM}
            _keep(found, Candidate(int(work_id), band, "text-minhash", None, float(score), evidence))
    return found


def _with_chars(span: Span, offsets: NDArray[np.int64]) -> Span:
    if len(offsets) < span.query_end:
        return span
    return Span(span.query_start, span.query_end, span.work_start, span.work_end,
                int(offsets[span.query_start][0]), int(offsets[span.query_end - 1][1]))  # fmt: skip


def find_spans(ids: NDArray[np.uint64], *, index: RegistryIndex, tokens_of: TokenCache) -> dict[int, list[Span]]:
    """Verbatim runs of at least :data:`MIN_SPAN` tokens shared with registered texts, verified token by token."""
    qpos, works, wpos = index.text.lookup(kgram_hashes(ids, WINNOW_K))
    out: dict[int, list[Span]] = {}
    if len(qpos) == 0:
        return out
    order = np.lexsort((qpos, wpos - qpos, works))
    done: dict[tuple[int, int], int] = {}  # (work, diagonal) -> query position already covered up to
    for i in order:
        work_id, q, diag = int(works[i]), int(qpos[i]), int(wpos[i] - qpos[i])
        if done.get((work_id, diag), -1) > q:
            continue
        wids = tokens_of.get(work_id)
        run = _run_around(ids, wids, diag, q)
        if run is None:
            continue
        start, end = run
        done[(work_id, diag)] = end
        if end - start >= MIN_SPAN:
            out.setdefault(work_id, []).append(Span(start, end, start + diag, end + diag))
    for spans in out.values():
        spans.sort(key=lambda s: (-s.tokens, s.query_start))
    return out


def _run_around(q: NDArray[np.uint64], w: NDArray[np.uint64], diag: int, anchor: int) -> tuple[int, int] | None:
    """The maximal run of equal tokens through ``anchor`` on one diagonal (None for a hash collision)."""
    lo, hi = max(0, -diag), min(len(q), len(w) - diag)
    if not lo <= anchor < hi or q[anchor] != w[anchor + diag]:
        return None
    start = end = anchor
    step = 256
    while start > lo:  # walk left in growing blocks
        a = max(lo, start - step)
        diff = np.flatnonzero(q[a:start] != w[a + diag : start + diag])
        if len(diff):
            start = a + int(diff[-1]) + 1
            break
        start, step = a, step * 2
    step = 256
    while end < hi:
        b = min(hi, end + step)
        diff = np.flatnonzero(q[end:b] != w[end + diag : b + diag])
        if len(diff):
            end = end + int(diff[0])
            break
        end, step = b, step * 2
    return start, end
