"""The persisted index: derived from the store, caught up through the change log, repaired when damaged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rightful.registry import Registry
from rightful.registry.hashindex import HashIndex
from rightful.registry.index import MAGIC, IndexCorrupt, read_part

from .registry_helpers import RESERVED, encode, scene


def _register(reg: Registry, seed: int) -> int:
    item = reg.register_bytes(encode(scene(seed)), owner="ann", terms=RESERVED, title=f"s{seed}")
    assert item.work is not None
    return item.work.id


def _best(reg: Registry, seed: int) -> int | None:
    report = reg.match(encode(scene(seed), "JPEG", quality=70))
    return report.matches[0].work.id if report.matches else None


def _indexed_codes(n: int, *, seed: int) -> tuple[HashIndex, np.ndarray[Any, Any], np.random.Generator]:
    """A HashIndex over ``n`` random 256-bit codes (id = row), and the generator that made them."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    index = HashIndex()
    ids = np.arange(n, dtype=np.int64)
    index.add(ids, ids, np.zeros(n, dtype=np.int64), codes)
    return index, codes, rng


def _near_copies(codes: np.ndarray[Any, Any], flips: list[int], rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """Copies of the first ``len(flips)`` codes, row ``i`` with ``flips[i]`` distinct bits flipped."""
    queries = codes[: len(flips)].copy()
    for row, count in enumerate(flips):
        for bit in rng.choice(256, size=count, replace=False):
            queries[row, bit // 8] ^= 1 << (bit % 8)
    return queries


def test_index_files_are_written_and_reloaded(registry: Registry, open_registry: Callable[..., Registry]) -> None:
    """After registering, the index files exist and a second opener loads them without a rebuild."""
    wid = _register(registry, 1)
    registry.index.save()
    for name in ("pdq.idx", "phash.idx", "window.idx", "text.idx"):
        assert (registry.index.directory / name).read_bytes().startswith(MAGIC)
    other = open_registry()
    assert other.index.notes == []
    assert _best(other, 1) == wid


def test_other_process_catches_up_through_the_change_log(
    registry: Registry, open_registry: Callable[..., Registry]
) -> None:
    """A reader opened before a write sees the new work on its next query (no file reload needed)."""
    reader = open_registry()
    assert _best(reader, 2) is None
    wid = _register(registry, 2)  # the writer does not save its index files
    assert _best(reader, 2) == wid
    registry.remove(wid)
    assert _best(reader, 2) is None


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda p: p.unlink(), "missing"),
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "truncated"),
        (lambda p: p.write_bytes(b"not an index at all"), "not a Rightful index"),
        (lambda p: p.write_bytes(p.read_bytes().replace(b'"format": 2', b'"format": 1')), "another index format"),
    ],
)
def test_damaged_index_is_rebuilt_not_crashed(
    registry: Registry, open_registry: Callable[..., Registry], damage: Callable[[Path], None], why: str
) -> None:
    """A missing, truncated, foreign or old-version pdq.idx is rebuilt from the store on open."""
    wid = _register(registry, 3)
    registry.index.save()
    damage(registry.index.directory / "pdq.idx")
    reopened = open_registry()
    assert any(why in note for note in reopened.index.notes), reopened.index.notes
    assert _best(reopened, 3) == wid
    assert read_part(reopened.index.directory / "pdq.idx", instance=reopened.store.instance)[0] >= 1


def test_index_from_another_database_is_rebuilt(
    registry: Registry, open_registry: Callable[..., Registry], tmp_home: Path
) -> None:
    """Index files left by a deleted database are not trusted by a new one with the same path."""
    _register(registry, 4)
    registry.index.save()
    registry.store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_home / 'rightful.db'}{suffix}").unlink(missing_ok=True)
    fresh = open_registry()
    assert _best(fresh, 4) is None
    assert any("another registry database" in n for n in fresh.index.notes)


def test_crash_between_store_and_index_is_repaired(registry: Registry, open_registry: Callable[..., Registry]) -> None:
    """Works committed to the store but never saved to the index files are found by the next opener."""
    registry.index.save()
    wid = _register(registry, 5)
    registry.index._dirty = False  # simulate a crash: the files still describe the registry before the work
    reopened = open_registry()
    assert reopened.index.seq > 0
    assert _best(reopened, 5) == wid


def test_compacted_change_log_forces_a_rebuild(registry: Registry, open_registry: Callable[..., Registry]) -> None:
    """An index older than the oldest logged change rebuilds instead of replaying a gap."""
    registry.index.save()
    old_seq = registry.index.seq
    wid = _register(registry, 6)
    _register(registry, 7)
    registry.store.compact_changes(registry.store.change_bounds()[1])
    registry.index._dirty = False
    reopened = open_registry()
    assert old_seq < reopened.index.seq
    assert _best(reopened, 6) == wid
    assert any("change log" in n for n in reopened.index.notes)


def test_reindex_rebuilds_from_the_store(registry: Registry) -> None:
    """reindex gives the same entries as incremental updates."""
    for seed in (8, 9):
        _register(registry, seed)
    before = sorted(registry.index.hashes.fp_ids.tolist())
    stats = registry.reindex()
    assert sorted(registry.index.hashes.fp_ids.tolist()) == before
    assert stats["pdq_hashes"] == len(before)


def test_hash_index_multi_index_agrees_with_flat_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above MIH_MIN the multi-index hash returns exactly the flat scan's hits up to 31 bits."""
    monkeypatch.setattr("rightful.registry.hashindex.MIH_MIN", 100)
    index, codes, rng = _indexed_codes(5000, seed=0)
    queries = _near_copies(codes, [row % 32 for row in range(40)], rng)
    fast = index.search(queries, radius=31)
    slow = index._flat_search(queries, 31)
    for got, (want, dist) in zip(fast, slow, strict=True):
        assert sorted(got.fp_ids.tolist()) == sorted(want.tolist())
        assert sorted(got.distances.tolist()) == sorted(dist.tolist())


def test_hash_index_serialises_round_trip() -> None:
    """Serialising through FAISS and back keeps every code and id."""
    rng = np.random.default_rng(1)
    index = HashIndex(64)
    codes = rng.integers(0, 256, (50, 8), dtype=np.uint8)
    index.add(np.arange(50), np.arange(50) // 2, np.zeros(50, dtype=np.int64), codes)
    back = HashIndex.deserialize(index.serialize())
    assert back.bits == 64
    assert np.array_equal(back.codes, codes)
    assert np.array_equal(back.work_ids, index.work_ids)


def _writer(home: str, seeds: list[int]) -> None:
    """Runs in another process: registers works one by one (saving the index at the end only)."""
    import os

    os.environ["RIGHTFUL_HOME"] = home
    from rightful.config import Settings as S
    from rightful.registry import Registry as R

    with R.open(S.load()) as reg:
        for seed in seeds:
            reg.register_bytes(encode(scene(seed)), owner="writer", terms=RESERVED)


def test_concurrent_reader_while_another_process_writes(registry: Registry, tmp_home: Path) -> None:
    """A reader keeps querying while another process registers; it never fails and ends up seeing every work."""
    import multiprocessing

    seeds = list(range(100, 108))
    proc = multiprocessing.get_context("spawn").Process(target=_writer, args=(str(tmp_home), seeds))
    proc.start()
    seen: set[int] = set()
    while proc.is_alive():
        report = registry.match(encode(scene(seeds[len(seen) % len(seeds)]), "JPEG", quality=80))
        seen.update(m.work.id for m in report.matches)
    proc.join(60)
    assert proc.exitcode == 0
    found = {_best(registry, seed) for seed in seeds}
    assert None not in found
    assert len(found) == len(seeds)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([b"", MAGIC, MAGIC + b"\x05\x00\x00\x00"]))
def test_index_reader_refuses_any_garbage_cleanly(tmp_path_factory: pytest.TempPathFactory, body: bytes,
                                                  prefix: bytes) -> None:  # fmt: skip
    """Property: any bytes in an index file give IndexCorrupt (answered by a rebuild), never another error."""
    path = tmp_path_factory.mktemp("idx") / "pdq.idx"
    path.write_bytes(prefix + body)
    with pytest.raises(IndexCorrupt):
        read_part(path, instance="x")


def test_cheap_rows_are_exact_up_to_15_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows searched with exact-chunk probes only still find every hash within 15 bits."""
    monkeypatch.setattr("rightful.registry.hashindex.MIH_MIN", 100)
    index, codes, rng = _indexed_codes(3000, seed=2)
    queries = _near_copies(codes, list(range(16)), rng)
    hits = index.search(queries, radius=15, cheap=np.ones(16, dtype=bool))
    assert [int(h.fp_ids[0]) for h in hits] == list(range(16))
    assert [int(h.distances[0]) for h in hits] == list(range(16))


def test_wide_chunks_are_exact_up_to_25_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    """With 20-bit chunks (huge indexes) every hash within 25 bits is still found, with its exact distance."""
    monkeypatch.setattr("rightful.registry.hashindex.MIH_MIN", 100)
    monkeypatch.setattr("rightful.registry.hashindex.WIDE_MIN", 100)
    index, codes, rng = _indexed_codes(4000, seed=3)
    queries = _near_copies(codes, list(range(26)), rng)
    fast = index.search(queries, radius=25)
    assert index._mih is not None
    assert index._mih.widths[0] == 20
    for row, (got, (want, dist)) in enumerate(zip(fast, index._flat_search(queries, 25), strict=True)):
        assert sorted(got.fp_ids.tolist()) == sorted(want.tolist())
        assert sorted(got.distances.tolist()) == sorted(dist.tolist())
        assert row in got.fp_ids.tolist()


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.sampled_from([[20] * 12 + [16], [16] * 16]))
def test_chunk_values_cut_the_bit_string_in_order(code: bytes, widths: list[int]) -> None:
    """Property: the chunks, read back to back, are exactly the hash's bits in order."""
    from rightful.registry.hashindex import _chunk_values

    values = _chunk_values(np.frombuffer(code, dtype=np.uint8).reshape(1, 32), widths)[0]
    rebuilt = "".join(format(int(v), f"0{w}b") for v, w in zip(values, widths, strict=True))
    assert rebuilt == "".join(format(b, "08b") for b in code)
