"""The origin-document cache: persisted, TTL-bounded, never storing unreachable outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from rightful.signals.base import DocumentState, OriginDocument
from rightful.signals.cache import MemoryOriginCache, SqliteOriginCache


def _doc(url: str, state: DocumentState = DocumentState.OK, age: float = 0.0) -> OriginDocument:
    return OriginDocument(
        url=url, state=state, status=200, body=b"User-agent: *\nDisallow: /\n",
        fetched_at=datetime.now(UTC) - timedelta(seconds=age), content_type="text/plain",
    )  # fmt: skip


def test_sqlite_cache_survives_reopening(tmp_path: Path) -> None:
    """A document stored by one run is read back by the next (no refetch)."""
    path = tmp_path / "home" / "rightful.db"
    cache = SqliteOriginCache(path)
    cache.put(_doc("https://a.example/robots.txt"))
    cache.close()
    again = SqliteOriginCache(path)
    doc = again.get("https://a.example/robots.txt", max_age=3600)
    assert doc is not None
    assert doc.body == b"User-agent: *\nDisallow: /\n"
    assert doc.state is DocumentState.OK
    assert doc.hash is not None
    assert doc.hash.startswith("sha256:")
    again.close()


def test_expired_entries_are_not_served_but_remain_as_last_good_copy(tmp_path: Path) -> None:
    """Past the TTL a document is stale; with max_age=None it is still there as the last good copy."""
    cache = SqliteOriginCache(tmp_path / "rightful.db")
    cache.put(_doc("https://a.example/robots.txt", age=90_000))
    assert cache.get("https://a.example/robots.txt", max_age=86_400) is None
    assert cache.get("https://a.example/robots.txt", max_age=None) is not None
    cache.close()


def test_unreachable_outcomes_are_never_stored(tmp_path: Path) -> None:
    """A 5xx or timeout is retried next run rather than cached for a day."""
    for cache in (SqliteOriginCache(tmp_path / "rightful.db"), MemoryOriginCache()):
        cache.put(_doc("https://b.example/robots.txt", state=DocumentState.UNREACHABLE))
        assert cache.get("https://b.example/robots.txt", max_age=None) is None
        cache.put(_doc("https://b.example/ai.txt", state=DocumentState.UNAVAILABLE))
        assert cache.get("https://b.example/ai.txt", max_age=60) is not None
        cache.close()


def test_many_processes_can_open_a_new_cache_at_once(tmp_path: Path) -> None:
    """Parallel workers creating the same database at the same moment all succeed (no 'database is locked')."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    path = tmp_path / "shared" / "rightful.db"
    with ctx.Pool(6) as pool:
        results = pool.map(_open_and_write, [(path, n) for n in range(12)])
    assert results == list(range(12))
    cache = SqliteOriginCache(path)
    assert all(cache.get(f"https://o{n}.example/robots.txt", max_age=None) for n in range(12))
    cache.close()


def _open_and_write(arg: tuple[Path, int]) -> int:
    path, n = arg
    cache = SqliteOriginCache(path)
    cache.put(_doc(f"https://o{n}.example/robots.txt"))
    cache.close()
    return n
