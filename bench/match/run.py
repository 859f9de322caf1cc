"""Matching benchmark (issue #5): robustness vs an imagehash pHash linear scan, scale at 1M hashes, text recall.

    .venv/bin/python bench/match/run.py                 # everything (about 10 minutes on 2 cores)
    .venv/bin/python bench/match/run.py --only robustness --distractors 100000 --unrelated 1000
    .venv/bin/python bench/match/run.py --only robustness --unrelated 100 --transforms crop screenshot  # quick
    .venv/bin/python bench/match/run.py --only scale --scale 1000000
    .venv/bin/python bench/match/run.py --only text --text-mb 100

Robustness: every corpus image (scikit-image's sample photographs plus generated scenes) is registered in a
fresh registry that also holds ``--distractors`` synthetic works (random PDQ hashes for every stored region);
each transformed copy is a query, and recall@1 means the best match is the right work. Unrelated queries
(other generated scenes, JPEG-compressed) measure the false-positive rate: any match at all counts. The
baseline hashes the same images with ``imagehash.phash`` and scans registered + distractor hashes linearly,
at the largest threshold whose FPR on the same unrelated queries stays ≤ 1e-4 (and whose expected random
collisions with the distractors stay under 1e-4 per query).

Results: a table on stdout and ``bench/results/match.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import resource
import sys
import tempfile
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench" / "match"))
RESULTS = REPO / "bench" / "results" / "match.json"

from corpus import TRANSFORMS, encode, real_images, scene, target_for  # noqa: E402


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------------------------- robustness


def add_distractors(registry: Any, n: int, *, seed: int = 7) -> float:
    """Insert ``n`` synthetic works straight into the store (random PDQ and pHash for every stored region)."""
    from sqlalchemy import insert

    from rightful.fingerprints.image import REGISTER_WINDOWS
    from rightful.registry.schema import ChangeRow, FingerprintRow, WorkRow

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    regions = ["full", *(w.name for w in REGISTER_WINDOWS)]
    base = 10_000_000
    with registry.store.engine.begin() as conn:
        for start in range(0, n, 20_000):
            ids = range(base + start, base + min(n, start + 20_000))
            conn.execute(insert(WorkRow), [{"id": i, "owner": "distractor", "media_type": "image/jpeg",
                                            "digest": f"sha256:distractor-{i}", "created_at": now, "updated_at": now}
                                           for i in ids])  # fmt: skip
            for kind, size in (("pdq", 32), ("phash", 8)):
                codes = rng.integers(0, 256, (len(ids) * len(regions), size), dtype=np.uint8)
                conn.execute(insert(FingerprintRow), [
                    {"work_id": i, "kind": kind, "region": r, "value": codes[k * len(regions) + j].tobytes(),
                     "quality": 100}
                    for k, i in enumerate(ids) for j, r in enumerate(regions)])  # fmt: skip
            for kind, size in (("window", 8), ("window-pdq", 32)):  # the anchor window's coarse hash and PDQ
                codes = rng.integers(0, 256, (len(ids), size), dtype=np.uint8)
                conn.execute(insert(FingerprintRow), [
                    {"work_id": i, "kind": kind, "region": "c60", "value": codes[k].tobytes(), "quality": 100}
                    for k, i in enumerate(ids)])  # fmt: skip
            conn.execute(insert(ChangeRow), [{"work_id": i, "op": "add"} for i in ids])
    registry.index.sync()
    registry.index.save()
    return time.perf_counter() - t0


def _stored_hashes(registry: Any, work_ids: list[int]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The registered (real) works' PDQ and pHash codes with their work ids, as the index would keep them."""
    from rightful.fingerprints.image import FLAT_QUALITY, MIN_QUALITY

    out: dict[str, tuple[list[bytes], list[int]]] = {"pdq": ([], []), "phash": ([], [])}
    for _, wid, fp in registry.store.iter_fingerprints(["pdq", "phash"], work_ids=work_ids):
        if (fp.quality or 0) >= (MIN_QUALITY if fp.kind == "pdq" else FLAT_QUALITY):
            out[fp.kind][0].append(fp.value)
            out[fp.kind][1].append(wid)
    return {k: (np.frombuffer(b"".join(v), dtype=np.uint8).reshape(len(w), -1), np.asarray(w))
            for k, (v, w) in out.items()}  # fmt: skip


def _pair_minima(query: bytes, stored: dict[str, tuple[np.ndarray, np.ndarray]], out: dict[str, list[int]]) -> None:
    """For one unrelated query: the closest distance to each registered work, over every hash pairing."""
    from rightful.fingerprints.image import FLAT_QUALITY, MIN_QUALITY, fingerprint_image

    fps = fingerprint_image(query, query=True)
    for kind, floor in (("pdq", MIN_QUALITY), ("phash", FLAT_QUALITY)):
        qs = [f.value for f in (fps.pdq, fps.phash, *fps.variants) if f.kind == kind and (f.quality or 0) >= floor]
        codes, works = stored[kind]
        if not qs or not len(codes):
            continue
        q = np.frombuffer(b"".join(qs), dtype=np.uint8).reshape(len(qs), -1)
        d = np.unpackbits(q[:, None, :] ^ codes[None, :, :], axis=2).sum(axis=2).min(axis=0)
        for wid in np.unique(works):
            out[kind].append(int(d[works == wid].min()))


def _calibration(pair_min: dict[str, list[int]], thresholds: Any) -> dict[str, Any]:
    """How close unrelated pictures came to registered ones, and the per-pair false-match rate each
    threshold implies (an upper bound at 95 % when nothing fell under it: 3 / pairs)."""
    out: dict[str, Any] = {}
    for kind, limits in (("pdq", {"near/partial": thresholds.near, "similar": thresholds.similar}),
                         ("phash", {"frame": thresholds.phash_frame, "window": thresholds.phash_window})):  # fmt: skip
        d = np.asarray(pair_min[kind]) if pair_min[kind] else np.asarray([999])
        out[kind] = {"pairs": len(pair_min[kind]), "closest": int(d.min()), "p001": float(np.percentile(d, 0.1)),
                     "under": {name: int((d <= t).sum()) for name, t in limits.items()},
                     "per_pair_rate_95": {name: max(int((d <= t).sum()), 3) / max(len(d), 1)
                                          for name, t in limits.items()}}  # fmt: skip
    return out


def _window_minimum(registry: Any, query: bytes) -> int:
    """For one unrelated query: the smallest refined PDQ distance the crop-window search reached (999: no
    coarse candidate at all), with the PDQ acceptance threshold lifted so every candidate is refined."""
    from dataclasses import replace

    from rightful.fingerprints.image import load_image
    from rightful.registry.match import match_windows

    img, _ = load_image(query)
    open_t = replace(registry.thresholds, partial=256)
    cands = match_windows(img, index=registry.index, thresholds=open_t)
    return min((c.distance for c in cands if c.distance is not None), default=999)


def phash_bits(img: Any) -> int:
    import imagehash

    return int(str(imagehash.phash(img)), 16)


def robustness(args: argparse.Namespace) -> dict[str, Any]:
    from PIL import Image

    from rightful.config import Settings
    from rightful.models import Terms
    from rightful.registry import Registry

    corpus = real_images() + [(f"scene-{s}", scene(s)) for s in range(args.scenes)]
    home = Path(tempfile.mkdtemp(prefix="rightful-bench-"))
    settings = Settings.load(home=home)
    registry = Registry.open(settings)
    truth: dict[int, str] = {}
    t0 = time.perf_counter()
    for name, img in corpus:
        item = registry.register_bytes(encode(img, quality=95), owner="bench", terms=Terms(), title=name)
        assert item.work is not None
        truth[item.work.id] = name
    register_s = time.perf_counter() - t0
    distractor_s = add_distractors(registry, args.distractors)
    print(f"registered {len(corpus)} works in {register_s:.1f}s, {args.distractors} distractors in "
          f"{distractor_s:.1f}s; index {registry.index.stats()['pdq_hashes']} PDQ hashes, "
          f"{registry.index.stats()['phashes']} pHashes")  # fmt: skip

    # baseline: pHash linear scan over the registered works and as many random distractor hashes
    ref_ids = list(truth)
    ref_hash = np.asarray([phash_bits(img.convert("RGB")) for _, img in corpus], dtype=np.uint64)
    rng = np.random.default_rng(11)
    base_hashes = np.concatenate([ref_hash, rng.integers(0, 2**63, args.distractors, dtype=np.uint64) * 2 + 1])
    by_name = {name: wid for wid, name in truth.items()}

    def baseline(img: Image.Image) -> tuple[int, int]:
        d = np.bitwise_count(base_hashes ^ np.uint64(phash_bits(img.convert("RGB"))))
        best = int(np.argmin(d))
        return (ref_ids[best] if best < len(ref_ids) else -1), int(d[best])

    unrelated: list[tuple[bool, int]] = []
    t_unrel = time.perf_counter()
    pair_min: dict[str, list[int]] = {"pdq": [], "phash": []}
    window_min: list[int] = []
    stored = _stored_hashes(registry, list(truth))
    for s in range(args.unrelated):
        img = scene(1_000_000 + s)
        q = encode(img, quality=random.Random(s).choice((50, 70, 90)))
        report = registry.match(q)
        b_id, b_d = baseline(Image.open(__import__("io").BytesIO(q)))
        unrelated.append((bool(report.matches), b_d))
        _pair_minima(q, stored, pair_min)
        window_min.append(_window_minimum(registry, q))
    unrel_s = time.perf_counter() - t_unrel
    calibration = _calibration(pair_min, registry.thresholds)
    w = np.asarray([d for d in window_min if d < 999] or [999])
    calibration["window"] = {"queries_with_candidates": int((np.asarray(window_min) < 999).sum()),
                             "closest_refined_pdq": int(w.min()),
                             "under_partial": int((w <= registry.thresholds.partial).sum())}  # fmt: skip
    fp_rightful = sum(m for m, _ in unrelated)
    # baseline threshold: the largest with no false match on the unrelated set and < 1e-4 random collisions
    base_t = 0
    for t in range(0, 33):
        collisions = args.distractors * sum(math.comb(64, k) for k in range(t + 1)) / 2**64
        if collisions > 1e-4 or any(d <= t for _, d in unrelated):
            break
        base_t = t
    rows = []
    latencies: list[float] = []
    for tname, (fn, quality) in TRANSFORMS.items():
        if args.transforms and not any(tname.startswith(p) for p in args.transforms):
            continue
        hits = base_hits = 0
        bands: dict[str, int] = {}
        trng = random.Random(zlib.crc32(tname.encode()))
        for name, img in corpus:
            q_img = fn(img, trng)
            q = encode(q_img, quality=quality) if quality else encode(q_img, "PNG")
            t1 = time.perf_counter()
            report = registry.match(q, top_k=1)
            latencies.append(time.perf_counter() - t1)
            if report.matches and report.matches[0].work.id == by_name[name]:
                hits += 1
                band = str(report.matches[0].band)
                bands[band] = bands.get(band, 0) + 1
            b_id, b_d = baseline(q_img)
            base_hits += b_id == by_name[name] and b_d <= base_t
        n = len(corpus)
        rows.append({"transform": tname, "recall_rightful": hits / n, "recall_phash": base_hits / n, "n": n,
                     "bands": bands, "target": target_for(tname)})  # fmt: skip
        print(f"{tname:15s} rightful {hits / n:6.3f}  phash {base_hits / n:6.3f}  {bands}")
    lat = np.asarray(latencies) * 1000
    registry.close()
    return {
        "corpus": len(corpus), "real": len(real_images()), "scenes": args.scenes, "distractors": args.distractors,
        "index_hashes": len(registry.index.hashes), "unrelated_queries": args.unrelated,
        "fpr_rightful": fp_rightful / max(args.unrelated, 1), "false_matches_rightful": fp_rightful,
        "fpr_phash": sum(d <= base_t for _, d in unrelated) / max(args.unrelated, 1), "phash_threshold": base_t,
        "unrelated_match_ms_mean": 1000 * unrel_s / max(args.unrelated, 1),
        "query_ms_p50_with_fingerprinting": float(np.percentile(lat, 50)),
        "query_ms_p99_with_fingerprinting": float(np.percentile(lat, 99)),
        "thresholds": registry.thresholds.__repr__(), "calibration": calibration, "rows": rows,
    }  # fmt: skip


# ----------------------------------------------------------------------------------------------- scale


def scale(args: argparse.Namespace) -> dict[str, Any]:
    """Query latency (fingerprinting excluded) and memory with ``--scale`` synthetic works in the index,
    and registration throughput against the raw pdqhash rate."""
    import pdqhash

    from rightful.fingerprints.image import MIN_QUALITY, QUERY_ANGLES, REGISTER_WINDOWS
    from rightful.fingerprints.windows import QUERY_BOXES
    from rightful.registry.hashindex import HashIndex

    rng = np.random.default_rng(3)
    n = args.scale
    per_work = 1 + len(REGISTER_WINDOWS)  # the frame and each window: a PDQ hash and a pHash each
    rss0 = _rss_mb()
    pdq_index, phash_index = HashIndex(), HashIndex(64)
    t0 = time.perf_counter()
    ids = np.arange(n * per_work, dtype=np.int64)
    pdq_codes = rng.integers(0, 256, (n * per_work, 32), dtype=np.uint8)
    pdq_index.add(ids, ids // per_work, ids % per_work, pdq_codes)
    phash_index.add(ids, ids // per_work, ids % per_work, rng.integers(0, 256, (n * per_work, 8), dtype=np.uint8))
    win_index = HashIndex(64)  # one coarse anchor-window hash per work
    win_index.add(ids[:n], ids[:n], np.zeros(n, dtype=np.int64), rng.integers(0, 256, (n, 8), dtype=np.uint8))
    pdq_index.search(pdq_codes[:1], radius=31)  # builds the multi-index hashes
    phash_index.search(phash_index.codes[:1], radius=7)
    win_index.search_pairs(win_index.codes[:1], radius=10, cheap=True)
    build_s = time.perf_counter() - t0
    # a query is what Registry.match sends: 8 dihedral PDQ hashes (6 probed cheaply), the trimmed frame, the
    # windows and the de-rotated windows; pHashes of the frame, mirror, trimmed frame, windows, de-rotated windows
    n_pdq = 8 + 1 + len(REGISTER_WINDOWS) + len(QUERY_ANGLES)
    n_phash = 3 + len(REGISTER_WINDOWS) + len(QUERY_ANGLES)
    cheap = np.asarray([False, False, *([True] * 6), *([False] * (n_pdq - 8))])
    lat, cpu, win_lat = [], [], []
    n_win = len(QUERY_BOXES)  # the crop-window grid: every window looked up (exact 16-bit chunks only)
    win_found: list[bool] = []
    found: dict[str, list[bool]] = {"0-25": [], "26-31": [], "32-47": []}
    for _ in range(args.scale_queries):
        src = rng.integers(len(pdq_codes), size=n_pdq)
        q = pdq_codes[src].copy()
        planted = rng.integers(0, 48, size=n_pdq)  # a known distance from a known entry, to measure recall
        for r in range(n_pdq):
            for b in rng.choice(256, size=planted[r], replace=False):
                q[r, b // 8] ^= 1 << (b % 8)
        qp = phash_index.codes[rng.integers(len(phash_index.codes), size=n_phash)]
        t1, c1 = time.perf_counter(), time.process_time()
        hits = pdq_index.search(q, radius=47, cheap=cheap)
        phash_index.search(qp, radius=8)
        t2 = time.perf_counter()
        wsrc = rng.integers(n, size=n_win)
        wq = np.unpackbits(win_index.codes[wsrc], axis=1)
        flips = rng.random(wq.shape) < 4 / 64  # ~4 bits off, as a well-aligned crop window is
        wq = np.packbits(wq ^ flips, axis=1)
        wrows, wworks, _ = win_index.search_pairs(wq, radius=10, cheap=True)
        lat.append(time.perf_counter() - t1)
        win_lat.append(time.perf_counter() - t2)
        cpu.append(time.process_time() - c1)
        hit_pairs = set(zip(wrows.tolist(), wworks.tolist(), strict=True))
        win_found += [(r, int(w)) in hit_pairs for r, w in enumerate(wsrc[:20])]
        for r in np.flatnonzero(~cheap):
            bucket = "0-25" if planted[r] <= 25 else "26-31" if planted[r] <= 31 else "32-47"
            found[bucket].append(int(src[r]) in set(hits[r].fp_ids.tolist()))
    lat_ms, cpu_ms = np.asarray(lat) * 1000, np.asarray(cpu) * 1000
    flat_lat = []  # the flat FAISS scan for comparison (the engine below MIH_MIN hashes)
    for _ in range(10):
        q = pdq_codes[rng.integers(len(pdq_codes), size=13)]
        t1 = time.perf_counter()
        pdq_index._flat_search(q, 47)
        flat_lat.append(time.perf_counter() - t1)
    # registration throughput: raw pdqhash.compute on decoded images vs Rightful's full fingerprinting
    from PIL import Image

    from rightful.fingerprints.image import fingerprint_image

    imgs = [encode(scene(50_000 + i, (1024, 768)), quality=90) for i in range(args.throughput_images)]
    t1 = time.perf_counter()
    for data in imgs:
        arr = np.asarray(Image.open(__import__("io").BytesIO(data)).convert("RGB"))
        pdqhash.compute(arr)
    raw_rate = len(imgs) / (time.perf_counter() - t1)
    t1 = time.perf_counter()
    low = 0
    for data in imgs:
        low += fingerprint_image(data).quality < MIN_QUALITY
    ours_rate = len(imgs) / (time.perf_counter() - t1)
    return {
        "works": n, "pdq_hashes": len(pdq_index), "phashes": len(phash_index), "window_hashes": len(win_index),
        "build_s": build_s, "window_p50_ms": float(np.percentile(np.asarray(win_lat) * 1000, 50)),
        "window_p99_ms": float(np.percentile(np.asarray(win_lat) * 1000, 99)),
        "window_recall_4_bits": float(np.mean(win_found)),
        "rss_mb": _rss_mb() - rss0,
        "p50_ms": float(np.percentile(lat_ms, 50)), "p99_ms": float(np.percentile(lat_ms, 99)),
        "recall_by_distance": {k: float(np.mean(v)) if v else None for k, v in found.items()},
        "cpu_p50_ms": float(np.percentile(cpu_ms, 50)), "cpu_p99_ms": float(np.percentile(cpu_ms, 99)),
        "load_average": os.getloadavg(), "query": f"{n_pdq} PDQ (r 47) + {n_phash} pHash (r 8) + {n_win} window (r 10)",
        "flat_faiss_p50_ms": float(np.percentile(np.asarray(flat_lat) * 1000, 50)),
        "raw_pdqhash_images_per_s": raw_rate, "rightful_images_per_s": ours_rate,
        "throughput_ratio": ours_rate / raw_rate, "image_size": "1024x768 JPEG",
    }  # fmt: skip


# ----------------------------------------------------------------------------------------------- text


def _words(rng: random.Random, vocab: list[str], n: int) -> list[str]:
    return rng.choices(vocab, k=n)


def text_recall(args: argparse.Namespace) -> dict[str, Any]:
    """``--text-mb`` MB of registered text; 1,000 passages with a planted 50-token span must all be found."""
    from rightful.config import Settings
    from rightful.fingerprints.text import MIN_SPAN
    from rightful.models import Terms
    from rightful.registry import Registry

    rng = random.Random(5)
    vocab = [f"{''.join(rng.choices('abcdefghijklmnopqrstuvwxyz', k=rng.randint(2, 9)))}" for _ in range(50_000)]
    home = Path(tempfile.mkdtemp(prefix="rightful-bench-text-"))
    registry = Registry.open(Settings.load(home=home))
    per_doc = 100_000  # bytes per registered document
    docs: list[list[str]] = []
    target = args.text_mb * 1_000_000
    size = 0
    t0 = time.perf_counter()
    while size < target:
        words = _words(rng, vocab, per_doc // 6)
        text = " ".join(words)
        size += len(text)
        registry.register_text(text, owner="bench", terms=Terms(), title=f"doc {len(docs)}")
        if len(docs) < 2000:
            docs.append(words)
    registry.index.save()
    register_s = time.perf_counter() - t0
    found = false_spans = 0
    t1 = time.perf_counter()
    for _ in range(args.passages):
        doc = docs[rng.randrange(len(docs))]
        start = rng.randrange(len(doc) - MIN_SPAN)
        planted = doc[start : start + MIN_SPAN]
        passage = _words(rng, vocab, 150) + planted + _words(rng, vocab, 150)
        report = registry.match_text(" ".join(passage), top_k=3)
        spans = [s for m in report.matches if m.kind == "text-winnow" for s in m.evidence.get("spans", [])]
        found += any(s["tokens"] >= MIN_SPAN for s in spans)
    planted_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    for _ in range(args.passages):
        report = registry.match_text(" ".join(_words(rng, vocab, 350)), top_k=3)
        false_spans += sum(1 for m in report.matches if m.kind == "text-winnow")
    clean_s = time.perf_counter() - t2
    registry.close()
    return {"registered_mb": size / 1e6, "documents": registry.store.stats().works, "register_s": register_s,
            "register_mb_per_s": size / 1e6 / register_s, "passages": args.passages, "recall": found / args.passages,
            "false_spans": false_spans, "queries_per_s": 2 * args.passages / (planted_s + clean_s)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=("robustness", "scale", "text"), action="append")
    ap.add_argument("--scenes", type=int, default=78, help="generated scenes added to the 22 real photographs")
    ap.add_argument("--distractors", type=int, default=100_000)
    ap.add_argument("--unrelated", type=int, default=1000)
    ap.add_argument("--scale", type=int, default=1_000_000)
    ap.add_argument("--scale-queries", type=int, default=500)
    ap.add_argument("--throughput-images", type=int, default=60)
    ap.add_argument("--text-mb", type=int, default=100)
    ap.add_argument("--transforms", nargs="*", help="only the transforms whose names start with these")
    ap.add_argument("--passages", type=int, default=1000)
    args = ap.parse_args()
    parts = args.only or ["robustness", "scale", "text"]
    out: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                       "platform": platform.platform()}, "argv": sys.argv[1:]}  # fmt: skip
    if "robustness" in parts:
        out["robustness"] = r = robustness(args)
        print(
            f"\ncalibration (unrelated query vs registered work, closest over all hash pairings): "
            f"{json.dumps(r['calibration'])}"
        )
        print(f"\nFPR on {r['unrelated_queries']} unrelated queries: rightful {r['fpr_rightful']:.4g} "
              f"({r['false_matches_rightful']} false), phash {r['fpr_phash']:.4g} "
              f"at threshold {r['phash_threshold']}")  # fmt: skip
    if "scale" in parts:
        out["scale"] = s = scale(args)
        print(f"\nscale {s['works']:,} works ({s['pdq_hashes']:,} PDQ + {s['phashes']:,} pHash): "
              f"p50 {s['p50_ms']:.2f} ms, p99 {s['p99_ms']:.2f} ms per query of {s['query']} (CPU time p50 "
              f"{s['cpu_p50_ms']:.2f}, p99 {s['cpu_p99_ms']:.2f} ms; load average {s['load_average'][0]:.1f}; "
              f"recall by planted distance {s['recall_by_distance']}; window search p50 {s['window_p50_ms']:.2f}, "
              f"p99 {s['window_p99_ms']:.2f} ms, recall at ~4 bits {s['window_recall_4_bits']:.3f}) "
              f"(flat FAISS p50 {s['flat_faiss_p50_ms']:.2f} ms); +{s['rss_mb']:.0f} MB; build {s['build_s']:.1f}s; "
              f"registration {s['rightful_images_per_s']:.1f} img/s vs raw pdqhash {s['raw_pdqhash_images_per_s']:.1f}"
              f" ({s['throughput_ratio']:.2f})")  # fmt: skip
    if "text" in parts:
        out["text"] = t = text_recall(args)
        print(f"\ntext: {t['registered_mb']:.0f} MB in {t['documents']} documents ({t['register_mb_per_s']:.1f} MB/s); "
              f"recall {t['recall']:.3f} on {t['passages']} planted passages, {t['false_spans']} false spans; "
              f"{t['queries_per_s']:.0f} queries/s")  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing.update(out)
    RESULTS.write_text(json.dumps(existing, indent=2, default=str))
    print(f"\nresults: {RESULTS}")


if __name__ == "__main__":
    main()
