"""Crop and screenshot matching through the anchor-window search, its verification, and its index."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image, ImageDraw
from sqlalchemy import delete

from rightful.models import MatchBand
from rightful.registry import Registry
from rightful.registry.hashindex import HashIndex
from rightful.registry.match import match_windows
from rightful.registry.schema import FingerprintRow

from .registry_helpers import RESERVED, encode, scene


def _add(reg: Registry, img: Image.Image) -> int:
    item = reg.register_bytes(encode(img), owner="ann", terms=RESERVED)
    assert item.work is not None
    return item.work.id


def _crop(img: Image.Image, keep: float, fx: float, fy: float) -> Image.Image:
    w, h = img.size
    kw, kh = round(w * keep), round(h * keep)
    x, y = round(fx * (w - kw)), round(fy * (h - kh))
    return img.crop((x, y, x + kw, y + kh))


@pytest.mark.parametrize(("keep", "fx", "fy"), [(0.9, 0.0, 1.0), (0.8, 1.0, 0.0), (0.8, 0.5, 0.3)])
def test_cropped_copy_matches_as_partial_with_its_window(registry: Registry, keep: float, fx: float,
                                                         fy: float) -> None:  # fmt: skip
    """A 10–20 % crop (corner or middle), re-encoded, is a partial match found by the verified crop window."""
    work = scene(11, size=(480, 360))
    wid = _add(registry, work)
    _add(registry, scene(12, size=(480, 360)))
    report = registry.match(encode(_crop(work, keep, fx, fy), "JPEG", quality=85))
    m = report.matches[0]
    assert (m.work.id, m.band) == (wid, MatchBand.PARTIAL)
    assert m.distance is not None
    assert m.distance <= registry.thresholds.partial
    assert m.evidence["work_region"] == "c60"
    assert m.evidence["coarse_distance"] <= registry.thresholds.window_coarse
    assert len(m.evidence["query_box"]) == 4


def test_unrelated_picture_is_not_matched_by_windows(registry: Registry) -> None:
    """No window of an unrelated picture survives PDQ verification, even with every candidate refined."""
    for seed in range(20, 24):
        _add(registry, scene(seed, size=(480, 360)))
    query = scene(99, size=(480, 360))
    assert registry.match(encode(query, "JPEG", quality=80)).matches == ()
    lenient = replace(registry.thresholds, window_coarse=16, window_candidates=10)
    for cand in match_windows(query, index=registry.index, thresholds=lenient):
        assert cand.distance is not None
        assert cand.distance > 31


def test_picture_in_a_screenshot_matches_its_work(registry: Registry) -> None:
    """A work pasted into a fake app window (title bar, side panel, caption) matches through its content box."""
    work = scene(13, size=(400, 300))
    wid = _add(registry, work)
    canvas = Image.new("RGB", (560, 405), (242, 242, 242))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, 560, 24), fill=(40, 44, 52))
    draw.rectangle((0, 0, 100, 405), fill=(225, 228, 232))
    canvas.paste(work, (120, 45))
    draw.text((120, 360), "Posted by someone", fill=(60, 60, 60))
    m = registry.match(encode(canvas, "JPEG", quality=90)).matches[0]
    assert (m.work.id, m.band) == (wid, MatchBand.NEAR_DUPLICATE)
    assert m.evidence["query_region"] == "content"


def test_flat_work_has_no_window_in_the_index(registry: Registry) -> None:
    """A flat image's anchor is too weak to verify: it is stored with its low quality and never indexed."""
    wid = _add(registry, Image.new("RGB", (300, 200), (120, 130, 140)))
    stored = [fp for fp in registry.get(wid, fingerprints=True).fingerprints if fp.kind == "window-pdq"]
    assert len(stored) == 1
    assert (stored[0].quality or 0) < 20
    assert len(registry.index.windows) == 0
    assert match_windows(Image.new("RGB", (250, 180), (120, 130, 140)), index=registry.index,
                         thresholds=registry.thresholds) == []  # fmt: skip


def test_window_index_survives_reindex_and_removal(registry: Registry) -> None:
    """Window hashes are rebuilt from the store and dropped with their work."""
    wid = _add(registry, scene(14, size=(480, 360)))
    assert registry.index.windows.work_ids.tolist() == [wid]
    registry.reindex()
    assert registry.index.windows.work_ids.tolist() == [wid]
    registry.remove(wid)
    assert len(registry.index.windows) == 0


@pytest.mark.parametrize("mih", [False, True])
def test_search_pairs_agrees_with_search(monkeypatch: pytest.MonkeyPatch, mih: bool) -> None:
    """The flat pair listing holds exactly the hits of the per-query search (flat scan and multi-index hash)."""
    if mih:
        monkeypatch.setattr("rightful.registry.hashindex.MIH_MIN", 100)
    rng = np.random.default_rng(2)
    codes = rng.integers(0, 256, (3000, 8), dtype=np.uint8)
    index = HashIndex(64)
    ids = np.arange(3000, dtype=np.int64)
    index.add(ids, ids + 7, np.zeros(3000, dtype=np.int64), codes)
    queries = codes[:30].copy()
    for row in range(30):
        for bit in rng.choice(64, size=row % 8, replace=False):
            queries[row, bit // 8] ^= 1 << (bit % 8)
    rows, works, dists = index.search_pairs(queries, radius=7, cheap=False)
    got = set(zip(rows.tolist(), works.tolist(), dists.tolist(), strict=True))
    want = {(q, int(w), int(d)) for q, hits in enumerate(index.search(queries, radius=7))
            for w, d in zip(hits.work_ids, hits.distances, strict=True)}  # fmt: skip
    assert got == want
    assert {(q, q + 7) for q in range(30)} <= {(r, w) for r, w, _ in got}
    exact_rows, exact_works, _ = index.search_pairs(queries, radius=7, cheap=True)
    exact = set(zip(exact_rows.tolist(), exact_works.tolist(), strict=True))
    assert {(q, q + 7) for q in range(30) if q % 8 == 0} <= exact  # no bit off: an exact chunk always agrees


def test_registering_again_adds_window_hashes_an_older_version_lacked(registry: Registry) -> None:
    """A work stored without anchor hashes gets them when registered again, and then matches its crops."""
    work = scene(15, size=(480, 360))
    wid = _add(registry, work)
    with registry.store.engine.begin() as conn:  # what a registry from before the crop search holds
        conn.execute(delete(FingerprintRow).where(FingerprintRow.kind.in_(["window", "window-pdq"])))
    registry.reindex()
    assert len(registry.index.windows) == 0
    again = registry.register_bytes(encode(work), owner="ann", terms=RESERVED)
    assert (again.created, again.notes) == (False, ("already registered", "crop-window hashes added"))
    assert registry.index.windows.work_ids.tolist() == [wid]
    assert registry.register_bytes(encode(work), owner="ann", terms=RESERVED).notes == ("already registered",)
    m = registry.match(encode(_crop(work, 0.8, 0.2, 0.7), "JPEG", quality=85)).matches[0]
    assert (m.work.id, m.band) == (wid, MatchBand.PARTIAL)
