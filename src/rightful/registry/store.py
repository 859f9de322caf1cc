"""The SQL store of the works registry: SQLite (WAL) in ``RIGHTFUL_HOME`` by default, PostgreSQL by URL.

The store is the source of truth; the FAISS index is derived from it. Every write appends to
``registry_changes`` in the same transaction, which is how an index in another process (or one a crash left
behind) finds out what it is missing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, create_engine, delete, event, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from rightful._presence import sqlite_has_registry
from rightful.errors import AlreadyRegistered, ConfigError, RegistryError, WorkNotFound
from rightful.models import Fingerprint, Purpose, Terms, TermStatus, Work
from rightful.registry.schema import ChangeRow, FingerprintRow, MetaRow, TermRow, TextRow, WorkRow

__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "NewWork",
    "RegistryStore",
    "SqlRegistryStore",
    "engine_url",
    "migrate",
    "registry_exists",
]

DEFAULT_BUSY_TIMEOUT = 10.0
_MIGRATION_LOCK = threading.Lock()
_ADVISORY_KEY = 0x52474854  # "RGHT": serialises concurrent migrations on PostgreSQL


@dataclass(frozen=True, slots=True)
class NewWork:
    """A work about to be registered: metadata, terms, fingerprints and (for texts) the normalised stream."""

    owner: str
    media_type: str
    digest: str
    terms: Terms
    title: str | None = None
    source: str | None = None
    size: int | None = None
    fingerprints: tuple[Fingerprint, ...] = ()
    text: tuple[int, bytes] | None = None  # (token count, compressed normalised tokens)


@dataclass(frozen=True, slots=True)
class StoreStats:
    works: int
    fingerprints: dict[str, int] = field(default_factory=dict)
    texts: int = 0
    last_change: int = 0
    backend: str = "sqlite"


class RegistryStore(Protocol):
    """What the registry needs from a store (the contract suite runs against every implementation)."""

    def add_works(self, items: Sequence[NewWork]) -> list[Work]: ...
    def get_work(self, work_id: int, *, fingerprints: bool = False) -> Work: ...
    def get_works(self, work_ids: Sequence[int]) -> dict[int, Work]: ...
    def find_by_digest(self, digest: str, *, owner: str | None = None) -> list[Work]: ...
    def list_works(self, *, owner: str | None = None, limit: int = 100, offset: int = 0) -> list[Work]: ...
    def set_terms(self, work_id: int, terms: Terms) -> Work: ...
    def add_fingerprints(self, work_id: int, fingerprints: Sequence[Fingerprint]) -> None: ...
    def remove_work(self, work_id: int) -> None: ...
    def iter_fingerprints(self, kinds: Sequence[str] | None = None, *, work_ids: Sequence[int] | None = None,
                          ) -> Iterator[tuple[int, int, Fingerprint]]: ...  # fmt: skip
    def text_of(self, work_id: int) -> bytes: ...
    def changes_since(self, seq: int) -> list[tuple[int, int, str]]: ...
    def change_bounds(self) -> tuple[int, int]: ...
    def stats(self) -> StoreStats: ...


def engine_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` for psycopg 3, ``sqlite:///path`` and plain paths."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("postgresql+psycopg://", "sqlite://")):
        return url
    if "://" in url:
        raise ConfigError(f"unsupported database URL {url.split('://')[0]}://: use sqlite:/// or postgresql://")
    return f"sqlite:///{Path(url).expanduser()}"


def registry_exists(url: str) -> bool:
    """True when the database exists and holds registry tables; never creates anything."""
    target = engine_url(url)
    if target.startswith("sqlite:///"):
        return sqlite_has_registry(Path(target[len("sqlite:///") :]))
    engine = create_engine(target, pool_pre_ping=False)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT to_regclass('registry_works')")).scalar() is not None
    except SQLAlchemyError as exc:
        raise RegistryError(f"cannot reach the registry database: {exc.__class__.__name__}") from exc
    finally:
        engine.dispose()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent, safe against a concurrent migrator)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    with _MIGRATION_LOCK, engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _make_engine(url: str, *, busy_timeout: float) -> Engine:
    target = engine_url(url)
    if not target.startswith("sqlite"):
        return create_engine(target, pool_pre_ping=True, connect_args={"connect_timeout": max(int(busy_timeout), 1)})
    path = target[len("sqlite:///") :]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(target, connect_args={"timeout": busy_timeout, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cur.close()

    return engine


class SqlRegistryStore:
    """:class:`RegistryStore` over SQLAlchemy: one engine, short transactions, errors mapped to RegistryError."""

    def __init__(self, url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT, create: bool = True) -> None:
        self.url = url
        self.busy_timeout = busy_timeout
        self.engine = _make_engine(url, busy_timeout=busy_timeout)
        self.backend = self.engine.dialect.name
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if create:
            with self._guard("creating the registry schema"):
                migrate(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> SqlRegistryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            message = str(exc.orig) if exc.orig is not None else str(exc)
            if "locked" in message or "busy" in message:
                raise RegistryError(
                    f"the registry database is locked by another process (waited {self.busy_timeout:g}s while "
                    f"{doing}); try again when it finishes", url=_safe_url(self.url)) from exc  # fmt: skip
            raise RegistryError(f"registry database error while {doing}: {message}", url=_safe_url(self.url)) from exc
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise RegistryError(f"registry database error while {doing}: {exc}", url=_safe_url(self.url)) from exc

    @contextmanager
    def _session(self, doing: str) -> Iterator[Session]:
        with self._guard(doing), self._sessions.begin() as session:
            yield session

    def add_works(self, items: Sequence[NewWork]) -> list[Work]:
        """Insert works in one transaction; raises AlreadyRegistered (nothing inserted) on a duplicate."""
        try:
            with self._session("registering works") as session:
                rows = [_row(item) for item in items]
                session.add_all(rows)
                session.flush()
                for row, item in zip(rows, items, strict=True):
                    session.add_all(
                        FingerprintRow(work_id=row.id, kind=f.kind, region=f.region, value=f.value, quality=f.quality)
                        for f in item.fingerprints
                    )
                    if item.text is not None:
                        session.add(TextRow(work_id=row.id, tokens=item.text[0], normalised=item.text[1]))
                    session.add(ChangeRow(work_id=row.id, op="add"))
                return [_work(row) for row in rows]
        except IntegrityError as exc:
            duplicate = next((i for i in items if self.find_by_digest(i.digest, owner=i.owner)), items[0])
            found = self.find_by_digest(duplicate.digest, owner=duplicate.owner)
            raise AlreadyRegistered(
                f"{duplicate.source or duplicate.digest} is already registered for {duplicate.owner}"
                + (f" as work {found[0].id}" if found else ""),
                work_id=found[0].id if found else None, digest=duplicate.digest) from exc  # fmt: skip

    def get_work(self, work_id: int, *, fingerprints: bool = False) -> Work:
        with self._session("reading a work") as session:
            row = session.get(WorkRow, work_id)
            if row is None:
                raise WorkNotFound(f"no registered work has id {work_id}", work_id=work_id)
            prints: tuple[Fingerprint, ...] = ()
            if fingerprints:
                fps = session.scalars(select(FingerprintRow).where(FingerprintRow.work_id == work_id)
                                      .order_by(FingerprintRow.id))  # fmt: skip
                prints = tuple(Fingerprint(f.kind, f.value, f.quality, f.region) for f in fps)
            return _work(row, prints)

    def get_works(self, work_ids: Sequence[int]) -> dict[int, Work]:
        """The works among ``work_ids`` that still exist (missing ids are simply absent)."""
        if not work_ids:
            return {}
        with self._session("reading works") as session:
            rows = session.scalars(select(WorkRow).where(WorkRow.id.in_(sorted(set(work_ids)))))
            return {row.id: _work(row) for row in rows}

    def find_by_digest(self, digest: str, *, owner: str | None = None) -> list[Work]:
        with self._session("looking up a digest") as session:
            query = select(WorkRow).where(WorkRow.digest == digest)
            if owner is not None:
                query = query.where(WorkRow.owner == owner)
            return [_work(row) for row in session.scalars(query.order_by(WorkRow.id))]

    def list_works(self, *, owner: str | None = None, limit: int = 100, offset: int = 0) -> list[Work]:
        with self._session("listing works") as session:
            query = select(WorkRow).order_by(WorkRow.id).limit(limit).offset(offset)
            if owner is not None:
                query = query.where(WorkRow.owner == owner)
            return [_work(row) for row in session.scalars(query)]

    def set_terms(self, work_id: int, terms: Terms) -> Work:
        with self._session("updating terms") as session:
            row = session.get(WorkRow, work_id)
            if row is None:
                raise WorkNotFound(f"no registered work has id {work_id}", work_id=work_id)
            row.terms = [TermRow(purpose=str(p), status=str(s)) for p, s in sorted(terms.purposes.items())]
            row.licence, row.contact, row.updated_at = terms.licence, terms.contact, datetime.now(UTC)
            session.add(ChangeRow(work_id=work_id, op="terms"))
            session.flush()
            return _work(row)

    def add_fingerprints(self, work_id: int, fingerprints: Sequence[Fingerprint]) -> None:
        """Add fingerprints to an existing work (a kind a newer version computes: the index re-reads the work)."""
        with self._session("adding fingerprints") as session:
            if session.get(WorkRow, work_id) is None:
                raise WorkNotFound(f"no registered work has id {work_id}", work_id=work_id)
            session.add_all(FingerprintRow(work_id=work_id, kind=f.kind, region=f.region, value=f.value,
                                           quality=f.quality) for f in fingerprints)  # fmt: skip
            session.add(ChangeRow(work_id=work_id, op="update"))

    def remove_work(self, work_id: int) -> None:
        with self._session("removing a work") as session:
            gone = session.execute(delete(WorkRow).where(WorkRow.id == work_id)).rowcount  # type: ignore[attr-defined]
            if not gone:
                raise WorkNotFound(f"no registered work has id {work_id}", work_id=work_id)
            for table in (FingerprintRow, TextRow, TermRow):  # no reliance on ON DELETE CASCADE being enabled
                session.execute(delete(table).where(table.work_id == work_id))
            session.add(ChangeRow(work_id=work_id, op="remove"))

    def iter_fingerprints(
        self, kinds: Sequence[str] | None = None, *, work_ids: Sequence[int] | None = None, batch: int = 20_000
    ) -> Iterator[tuple[int, int, Fingerprint]]:
        """``(fingerprint id, work id, fingerprint)`` of the given kinds (default: all), streamed in id order."""
        last = 0
        while True:
            with self._session("reading fingerprints") as session:
                query = select(FingerprintRow).where(FingerprintRow.id > last).order_by(FingerprintRow.id).limit(batch)
                if kinds is not None:
                    query = query.where(FingerprintRow.kind.in_(list(kinds)))
                if work_ids is not None:
                    query = query.where(FingerprintRow.work_id.in_(list(work_ids)))
                rows = [(r.id, r.work_id, Fingerprint(r.kind, r.value, r.quality, r.region))
                        for r in session.scalars(query)]  # fmt: skip
            yield from rows
            if len(rows) < batch:
                return
            last = rows[-1][0]

    def text_of(self, work_id: int) -> bytes:
        with self._session("reading a registered text") as session:
            row = session.get(TextRow, work_id)
            if row is None:
                raise WorkNotFound(f"work {work_id} has no registered text", work_id=work_id)
            return row.normalised

    def changes_since(self, seq: int) -> list[tuple[int, int, str]]:
        """``(seq, work id, op)`` of every change after ``seq``, oldest first (op: add, terms, remove)."""
        with self._session("reading the change log") as session:
            rows = session.execute(select(ChangeRow.seq, ChangeRow.work_id, ChangeRow.op).where(ChangeRow.seq > seq)
                                   .order_by(ChangeRow.seq))  # fmt: skip
            return [(int(s), int(w), str(o)) for s, w, o in rows]

    @property
    def instance(self) -> str:
        """The random id of this registry database (index files from another database are rebuilt)."""
        with self._session("reading the registry id") as session:
            value = session.get(MetaRow, "instance")
            return value.value if value is not None else ""

    def change_bounds(self) -> tuple[int, int]:
        """The oldest and newest change numbers still in the log (0, 0 when empty)."""
        with self._session("reading the change log") as session:
            low, high = session.execute(select(func.min(ChangeRow.seq), func.max(ChangeRow.seq))).one()
            return int(low or 0), int(high or 0)

    def compact_changes(self, upto: int) -> None:
        """Forget changes up to ``upto`` (after a full reindex: an index older than that rebuilds)."""
        with self._session("compacting the change log") as session:
            session.execute(delete(ChangeRow).where(ChangeRow.seq < upto))

    def stats(self) -> StoreStats:
        with self._session("counting works") as session:
            works = session.scalar(select(func.count()).select_from(WorkRow)) or 0
            kinds = session.execute(select(FingerprintRow.kind, func.count()).group_by(FingerprintRow.kind))
            texts = session.scalar(select(func.count()).select_from(TextRow)) or 0
            last = session.scalar(select(func.max(ChangeRow.seq))) or 0
            return StoreStats(works=int(works), fingerprints={str(k): int(n) for k, n in kinds}, texts=int(texts),
                              last_change=int(last), backend=self.backend)  # fmt: skip


def _row(item: NewWork) -> WorkRow:
    now = datetime.now(UTC)
    return WorkRow(
        owner=item.owner, title=item.title, media_type=item.media_type, digest=item.digest, size=item.size,
        source=item.source, licence=item.terms.licence, contact=item.terms.contact, created_at=now, updated_at=now,
        terms=[TermRow(purpose=str(p), status=str(s)) for p, s in sorted(item.terms.purposes.items())],
    )  # fmt: skip


def _work(row: WorkRow, fingerprints: tuple[Fingerprint, ...] = ()) -> Work:
    terms = Terms(
        purposes={Purpose(t.purpose): TermStatus(t.status) for t in row.terms},
        licence=row.licence,
        contact=row.contact,
    )
    return Work(
        id=row.id, owner=row.owner, media_type=row.media_type, digest=row.digest, terms=terms, title=row.title,
        source=row.source, size=row.size, created_at=_aware(row.created_at), updated_at=_aware(row.updated_at),
        fingerprints=fingerprints,
    )  # fmt: skip


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # SQLite drops the zone


def _safe_url(url: str) -> str:
    """The URL without its password, for error messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url
