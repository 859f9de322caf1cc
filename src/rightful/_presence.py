"""Is there a works registry to consult? Answered with the standard library only, and remembered.

Every item ``check_file`` / ``audit`` screens asks the registry for matches. Most installations have no registry,
and the registry package imports FAISS, SQLAlchemy and SciPy (≈ 0.7 s per process) — a cost every audit worker
would pay for nothing. This module answers "no registry here" without them: for the default SQLite database it
looks for the ``registry_works`` table with :mod:`sqlite3`, and remembers the answer until the file (or its WAL)
changes. A PostgreSQL URL is never answered here (``None``: ask the registry).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from rightful.config import Settings

__all__ = ["forget", "registry_absent", "sqlite_has_registry"]

#: The table whose presence means "a registry was created in this database".
WORKS_TABLE = "registry_works"

_LOCK = threading.Lock()
#: SQLite path → (the file stamp it had when last looked at, whether it held a registry then).
_KNOWN: dict[str, tuple[object, bool]] = {}


def sqlite_has_registry(path: Path) -> bool:
    """True when the SQLite file exists and holds the registry's tables; opens it read-only, creates nothing."""
    if not path.is_file():
        return False
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0) as conn:
            row = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (WORKS_TABLE,))
            return row.fetchone() is not None
    except sqlite3.Error:
        return False


def registry_absent(settings: Settings) -> bool:
    """True when ``settings`` point at a SQLite database without a registry (cheap once known); False otherwise,
    including for PostgreSQL, which only the registry itself can answer."""
    if settings.database_url and not settings.database_url.startswith("sqlite:///"):
        return False
    path = Path(settings.database_url[len("sqlite:///") :]) if settings.database_url else settings.db_path
    key = str(path)
    stamp = (_stat(key), _stat(key + "-wal"))
    with _LOCK:
        known = _KNOWN.get(key)
    if known is not None and known[0] == stamp:
        return not known[1]
    present = sqlite_has_registry(path)
    with _LOCK:
        _KNOWN[key] = (stamp, present)
    return not present


def forget() -> None:
    """Drop what was remembered (tests, and a service that just created a registry in-process)."""
    with _LOCK:
        _KNOWN.clear()


def _stat(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)
