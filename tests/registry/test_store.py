"""The store contract: every backend (SQLite, PostgreSQL) behaves the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from rightful.config import Settings
from rightful.errors import AlreadyRegistered, ConfigError, WorkNotFound
from rightful.models import Fingerprint, Purpose, Terms, TermStatus
from rightful.registry import NewWork, SqlRegistryStore
from rightful.registry.store import engine_url, registry_exists


def _work(digest: str = "sha256:aa", owner: str = "ann", **kw: object) -> NewWork:
    terms = Terms({Purpose.AI_TRAINING: TermStatus.RESERVED}, licence="https://example.org/l", contact="a@b.c")
    prints = (Fingerprint("pdq", bytes(range(32)), 100, "full"), Fingerprint("phash", b"\x01" * 8))
    return NewWork(owner=owner, media_type="image/png", digest=digest, terms=terms, title="T", source="a.png",
                   size=10, fingerprints=prints, **kw)  # type: ignore[arg-type]  # fmt: skip


def test_add_and_get_round_trip(store: SqlRegistryStore) -> None:
    """A work comes back with its metadata, terms and fingerprints intact."""
    (work,) = store.add_works([_work()])
    got = store.get_work(work.id, fingerprints=True)
    assert got.owner == "ann"
    assert got.title == "T"
    assert got.digest == "sha256:aa"
    assert got.size == 10
    assert got.terms.purposes == {Purpose.AI_TRAINING: TermStatus.RESERVED}
    assert got.terms.licence == "https://example.org/l"
    assert got.terms.contact == "a@b.c"
    assert [f.kind for f in got.fingerprints] == ["pdq", "phash"]
    assert got.fingerprints[0].value == bytes(range(32))
    assert got.fingerprints[0].quality == 100
    assert got.created_at is not None
    assert got.created_at.tzinfo is not None


def test_same_owner_and_digest_is_refused(store: SqlRegistryStore) -> None:
    """Registering the same content twice for one owner raises AlreadyRegistered naming the work."""
    (work,) = store.add_works([_work()])
    with pytest.raises(AlreadyRegistered, match=f"work {work.id}"):
        store.add_works([_work()])
    assert store.stats().works == 1


def test_other_owner_may_register_same_digest(store: SqlRegistryStore) -> None:
    """Two owners can register the same content; a digest look-up finds both."""
    store.add_works([_work(owner="ann"), _work(owner="bob")])
    assert {w.owner for w in store.find_by_digest("sha256:aa")} == {"ann", "bob"}
    assert [w.owner for w in store.find_by_digest("sha256:aa", owner="bob")] == ["bob"]


def test_unknown_work_raises_not_found(store: SqlRegistryStore) -> None:
    """Reading, updating or removing a missing id raises WorkNotFound."""
    with pytest.raises(WorkNotFound):
        store.get_work(999)
    with pytest.raises(WorkNotFound):
        store.set_terms(999, Terms())
    with pytest.raises(WorkNotFound):
        store.remove_work(999)


def test_set_terms_replaces_all_terms(store: SqlRegistryStore) -> None:
    """New terms replace the old ones wholesale and are logged as a change."""
    (work,) = store.add_works([_work()])
    updated = store.set_terms(work.id, Terms({Purpose.SEARCH: TermStatus.ALLOWED}, licence=None))
    assert updated.terms.purposes == {Purpose.SEARCH: TermStatus.ALLOWED}
    assert updated.terms.licence is None
    assert store.get_work(work.id).terms == updated.terms
    assert [op for _, _, op in store.changes_since(0)] == ["add", "terms"]


def test_remove_deletes_work_and_fingerprints(store: SqlRegistryStore) -> None:
    """A removed work is gone with its fingerprints, and the removal is logged."""
    (work,) = store.add_works([_work()])
    store.remove_work(work.id)
    assert store.stats().works == 0
    assert store.stats().fingerprints == {}
    assert list(store.iter_fingerprints()) == []
    assert store.changes_since(0)[-1][1:] == (work.id, "remove")


def test_fingerprints_added_later_are_stored_and_logged(store: SqlRegistryStore) -> None:
    """Fingerprints added to an existing work are read back with it and logged as an update; an unknown id raises."""
    (work,) = store.add_works([_work()])
    store.add_fingerprints(work.id, [Fingerprint("window", b"\x01" * 8, 70, "c60")])
    got = [(wid, fp.kind, fp.region) for _, wid, fp in store.iter_fingerprints(["window"])]
    assert got == [(work.id, "window", "c60")]
    assert store.changes_since(0)[-1][1:] == (work.id, "update")
    with pytest.raises(WorkNotFound):
        store.add_fingerprints(work.id + 1000, [Fingerprint("window", b"\x02" * 8, 70, "c60")])


def test_ids_are_never_reused(store: SqlRegistryStore) -> None:
    """After removing the newest work, the next one gets a new id (stale index entries stay harmless)."""
    (a,) = store.add_works([_work("sha256:1")])
    store.remove_work(a.id)
    (b,) = store.add_works([_work("sha256:2")])
    assert b.id > a.id


def test_iter_fingerprints_streams_in_batches(store: SqlRegistryStore) -> None:
    """Fingerprints stream in id order across batch boundaries, filtered by kind and work."""
    works = store.add_works([_work(f"sha256:{i}") for i in range(7)])
    rows = list(store.iter_fingerprints(["pdq"], batch=3))
    assert [w for _, w, _ in rows] == [w.id for w in works]
    some = list(store.iter_fingerprints(work_ids=[works[2].id], batch=3))
    assert {f.kind for _, _, f in some} == {"pdq", "phash"}


def test_text_is_stored(store: SqlRegistryStore) -> None:
    """A text work keeps its compressed normalised stream for span verification."""
    (work,) = store.add_works([_work(text=(3, b"zlib-bytes"))])
    assert store.text_of(work.id) == b"zlib-bytes"
    with pytest.raises(WorkNotFound):
        store.text_of(work.id + 1)


def test_list_works_pages_and_filters(store: SqlRegistryStore) -> None:
    """Listing pages by id and filters by owner."""
    store.add_works([_work(f"sha256:{i}", owner="ann" if i % 2 else "bob") for i in range(5)])
    assert len(store.list_works(limit=2)) == 2
    assert len(store.list_works(limit=2, offset=4)) == 1
    assert {w.owner for w in store.list_works(owner="ann")} == {"ann"}


def test_change_log_bounds_and_compaction(store: SqlRegistryStore) -> None:
    """The change log numbers every write; compaction forgets old entries."""
    store.add_works([_work("sha256:1")])
    store.add_works([_work("sha256:2")])
    low, high = store.change_bounds()
    assert (low, high) == (1, 2) or high - low == 1
    store.compact_changes(high)
    assert store.change_bounds() == (high, high)


def test_schema_migration_is_idempotent(store_url: str) -> None:
    """Opening the same database twice migrates once and keeps the registry's instance id."""
    first = SqlRegistryStore(store_url)
    second = SqlRegistryStore(store_url)
    try:
        assert first.instance
        assert first.instance == second.instance
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize(
    ("given_url", "expected"),
    [
        ("postgresql://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgres://h/db", "postgresql+psycopg://h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        ("/tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_engine_url_accepts_the_documented_forms(given_url: str, expected: str) -> None:
    """postgres(ql):// URLs go to psycopg 3; plain paths become SQLite URLs."""
    assert engine_url(given_url) == expected


def test_engine_url_refuses_other_databases() -> None:
    """A MySQL URL is a ConfigError naming the supported schemes."""
    with pytest.raises(ConfigError, match="sqlite:/// or postgresql://"):
        engine_url("mysql://h/db")


def test_registry_exists_never_creates_a_file(tmp_path: Path) -> None:
    """Asking whether a registry exists at a path creates nothing there."""
    path = tmp_path / "none.db"
    assert registry_exists(f"sqlite:///{path}") is False
    assert not path.exists()


def test_database_url_setting_is_validated() -> None:
    """RIGHTFUL_DATABASE_URL must be SQLite or PostgreSQL."""
    with pytest.raises(ConfigError):
        Settings.load(environ={"RIGHTFUL_DATABASE_URL": "mysql://h/db"})
    assert Settings.load(environ={"RIGHTFUL_DATABASE_URL": "postgresql://h/db"}).database_url == "postgresql://h/db"
