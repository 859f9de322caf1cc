"""The persistent cache of origin-wide documents (robots.txt, tdmrep.json, ai.txt, TDM policies).

RFC 9309 caps caching at 24 hours; an unreachable origin may keep using its last good copy. Entries live in
``$RIGHTFUL_HOME/rightful.db`` (SQLite, WAL) so a rerun does not refetch, and several worker processes on one
machine share them. Only definite outcomes (2xx, 4xx) are stored: an unreachable origin is retried next run.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from rightful.errors import ConfigError
from rightful.signals.base import DocumentState, OriginDocument

__all__ = ["MemoryOriginCache", "OriginCache", "SqliteOriginCache"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS origin_documents (
    url TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    status INTEGER,
    body BLOB NOT NULL,
    fetched_at REAL NOT NULL,
    error TEXT,
    truncated INTEGER NOT NULL DEFAULT 0,
    content_type TEXT
)
"""


class OriginCache(Protocol):
    """Where fetched origin documents are kept between runs."""

    def get(self, url: str, *, max_age: float | None) -> OriginDocument | None:
        """The stored document if younger than ``max_age`` seconds (None: any age)."""

    def put(self, doc: OriginDocument) -> None: ...

    def close(self) -> None: ...


def _age(doc: OriginDocument) -> float:
    return time.time() - doc.fetched_at.timestamp() if doc.fetched_at else float("inf")


class MemoryOriginCache:
    """A cache that lives as long as the process (``cache = false``, tests)."""

    def __init__(self) -> None:
        self._docs: dict[str, OriginDocument] = {}

    def get(self, url: str, *, max_age: float | None) -> OriginDocument | None:
        doc = self._docs.get(url)
        if doc is None or (max_age is not None and _age(doc) > max_age):
            return None
        return doc

    def put(self, doc: OriginDocument) -> None:
        if doc.state is not DocumentState.UNREACHABLE:
            self._docs[doc.url] = doc

    def close(self) -> None:
        self._docs.clear()


def _setup(conn: sqlite3.Connection, *, attempts: int = 60) -> None:
    """WAL mode and the table. Switching the journal mode takes the lock without waiting on the busy timeout,
    so several processes opening a new database at once (parallel workers) retry briefly instead of failing."""
    for attempt in range(attempts):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 + 0.01 * attempt)


class SqliteOriginCache:
    """Origin documents in the embedded SQLite store."""

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
            _setup(self._conn)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the cache database {path}: {exc}", path=str(path)) from exc
        self._lock = threading.Lock()

    def get(self, url: str, *, max_age: float | None) -> OriginDocument | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT state, status, body, fetched_at, error, truncated, content_type"
                " FROM origin_documents WHERE url = ?",
                (url,),
            ).fetchone()
        if row is None:
            return None
        state, status, body, fetched_at, error, truncated, content_type = row
        if max_age is not None and time.time() - fetched_at > max_age:
            return None
        return OriginDocument(
            url=url,
            state=DocumentState(state),
            status=status,
            body=bytes(body),
            fetched_at=datetime.fromtimestamp(fetched_at, UTC),
            error=error,
            truncated=bool(truncated),
            content_type=content_type,
        )

    def put(self, doc: OriginDocument) -> None:
        if doc.state is DocumentState.UNREACHABLE:
            return
        fetched = (doc.fetched_at or datetime.now(UTC)).timestamp()
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO origin_documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (doc.url, doc.state.value, doc.status, doc.body, fetched, doc.error, int(doc.truncated),
                 doc.content_type),
            )  # fmt: skip

    def close(self) -> None:
        with self._lock:
            self._conn.close()
