"""Duplicates across shards: an on-disk seen-set the driver fills in input order as shards finish.

A shard flags the repeats it sees itself (and checks them once). Repeats in *different* shards are found
here: the driver merges finished shards into ``work/seen.sqlite`` strictly in shard order, so "duplicate"
always means "an earlier row of the input has the same item" whatever order the workers finished in, and the
local and Ray executors flag the same rows. Only the item keys (normalised URL and path, as 16-byte digests)
pass through the driver, read back from the shard's result file; memory stays flat because the set lives in
SQLite. A shard holding repeats gets its result file's ``duplicate`` column and its done marker's count
rewritten (atomically); both are recomputed from the file, so a merge interrupted by ``kill -9`` is simply
redone on the next run.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rightful.audit.shards import AuditPaths, Shard, output_error, write_atomic
from rightful.errors import AuditError

__all__ = ["SeenSet", "item_key", "normalise_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_BATCH = 8192


def normalise_url(url: str) -> str:
    """The same resource's URL in one spelling: scheme and host lower-cased, default port and fragment dropped,
    an empty path made ``/``. The query and the path's case are kept (servers may tell them apart)."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text
    if not parts.scheme or not parts.netloc:
        return text
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@" if userinfo else ""
    netloc += host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def item_key(url: str | None, path: str | None) -> str | None:
    """What makes two records the same item: the normalised URL and the local path (``None``: no identity)."""
    if not url and not path:
        return None
    return f"{normalise_url(url) if url else ''}\x00{path or ''}"


def _digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class SeenSet:
    """The keys of every item in the shards merged so far (``work/seen.sqlite``: key digest → first row)."""

    def __init__(self, paths: AuditPaths, shards: Sequence[Shard], *, unique_keys: bool = False) -> None:
        """``unique_keys``: the input cannot repeat a key (a folder listing names each file once), so there is
        nothing to merge and no database is kept."""
        self.paths, self.shards = paths, list(shards)
        self.found = 0
        self._next = len(self.shards) if unique_keys else 0
        self._db: sqlite3.Connection | None = None
        if unique_keys:
            return
        try:
            self._db = sqlite3.connect(paths.work / "seen.sqlite", isolation_level=None)
            self._db.executescript(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                "CREATE TABLE IF NOT EXISTS seen(key BLOB PRIMARY KEY, row INTEGER NOT NULL) WITHOUT ROWID;"
                "CREATE TABLE IF NOT EXISTS merged(shard INTEGER PRIMARY KEY);"
            )
            merged = {int(r[0]) for r in self._db.execute("SELECT shard FROM merged")}
        except sqlite3.Error as exc:
            raise AuditError(f"cannot use {paths.work / 'seen.sqlite'}: {exc}; rerun with --restart") from exc
        while self._next < len(self.shards) and self.shards[self._next].index in merged:
            self._next += 1

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    def advance(self, finished: Iterable[int]) -> None:
        """Merge every not yet merged shard whose predecessors are all merged and which is itself finished."""
        done = set(finished)
        while self._next < len(self.shards) and self.shards[self._next].index in done:
            self._merge(self.shards[self._next])
            self._next += 1

    def _merge(self, shard: Shard) -> None:
        db = self._db
        assert db is not None  # _next starts past the end when there is no database
        result_file = self.paths.result_file(shard)
        try:
            db.execute("BEGIN")
            repeats = self._insert(db, result_file)
            if repeats:
                _flag(result_file, repeats)
                self.found += len(repeats)
            if repeats or self._marker_stale(shard, result_file):
                _recount(self.paths, shard, result_file)
            db.execute("INSERT OR IGNORE INTO merged(shard) VALUES (?)", (shard.index,))
            db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise AuditError(f"cannot update {self.paths.work / 'seen.sqlite'}: {exc}") from exc
            raise

    def _insert(self, db: sqlite3.Connection, result_file: Path) -> list[int]:
        """Add the shard's keys (with the first row holding each); the rows that repeat an earlier row's key and
        are not flagged yet. Keyed on the first row, a shard merged twice (after a kill) finds the same rows."""
        repeats: list[int] = []
        cursor = db.cursor()
        for batch in pq.ParquetFile(result_file).iter_batches(_BATCH, columns=["row", "kind", "url", "path",
                                                                                 "duplicate"]):  # fmt: skip
            cols = batch.to_pydict()
            for row, kind, url, path, duplicate in zip(cols["row"], cols["kind"], cols["url"], cols["path"],
                                                       cols["duplicate"], strict=True):  # fmt: skip
                key = None if kind == "invalid" else item_key(url, path)
                if key is None:
                    continue
                digest = _digest(key)
                cursor.execute("INSERT OR IGNORE INTO seen(key, row) VALUES (?, ?)", (digest, row))
                if cursor.rowcount:
                    continue
                first = cursor.execute("SELECT row FROM seen WHERE key = ?", (digest,)).fetchone()[0]
                if first > row:
                    cursor.execute("UPDATE seen SET row = ? WHERE key = ?", (row, digest))
                elif first < row and not duplicate:
                    repeats.append(int(row))
        return repeats

    def _marker_stale(self, shard: Shard, result_file: Path) -> bool:
        """True when an interrupted merge flagged the file but did not get to the marker."""
        stats = self.paths.done([shard]).get(shard.index, {})
        return int(stats.get("duplicates", 0)) != _flagged(result_file)


def _flagged(result_file: Path) -> int:
    column = pq.read_table(result_file, columns=["duplicate"]).column("duplicate")
    return int(pc.sum(column.cast(pa.int64())).as_py() or 0)


def _flag(result_file: Path, rows: list[int]) -> None:
    """Rewrite a shard's result file with ``duplicate`` set on ``rows`` (atomically)."""
    table = pq.read_table(result_file)
    mask = pc.or_(table.column("duplicate"), pc.is_in(table.column("row"), value_set=pa.array(rows, pa.int64())))
    table = table.set_column(table.schema.get_field_index("duplicate"), "duplicate", mask)
    tmp = result_file.with_name(f".{result_file.name}.{os.getpid()}.dedup.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, result_file)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise output_error(result_file, exc) from exc


def _recount(paths: AuditPaths, shard: Shard, result_file: Path) -> None:
    """Set the done marker's duplicate count to what the result file flags."""
    marker = paths.done_marker(shard)
    stats = json.loads(marker.read_text(encoding="utf-8"))
    stats["duplicates"] = _flagged(result_file)
    write_atomic(marker, json.dumps(stats, ensure_ascii=False).encode("utf-8"))
