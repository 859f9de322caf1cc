"""The works registry: register works and their terms once; recognise them anywhere, metadata or not.

SQL store (SQLAlchemy 2 + Alembic; SQLite in ``RIGHTFUL_HOME`` or PostgreSQL by ``RIGHTFUL_DATABASE_URL``),
a FAISS index derived from it (persisted, repaired on open), matching with bands, and the ``registry``
signal source. Guide: docs/registry.md.
"""

from __future__ import annotations

from pathlib import Path

from rightful.config import Settings
from rightful.media import media_type_for, read_capped
from rightful.models import Match, Terms
from rightful.registry.findings import registry_findings
from rightful.registry.match import Thresholds
from rightful.registry.store import NewWork, RegistryStore, SqlRegistryStore
from rightful.registry.works import MatchReport, Registered, Registry, database_url

__all__ = [
    "MatchReport",
    "NewWork",
    "Registered",
    "Registry",
    "RegistryStore",
    "SqlRegistryStore",
    "Thresholds",
    "database_url",
    "match",
    "register_work",
    "registry_findings",
]


def register_work(path: str | Path, *, owner: str, terms: Terms | None = None, title: str | None = None,
                  settings: Settings | None = None) -> Registered:  # fmt: skip
    """Register one file (image or text) with its terms in the registry ``settings`` point at."""
    with Registry.open(settings) as registry:
        return registry.register_file(path, owner=owner, terms=terms or Terms(), title=title)


def match(query: bytes | str | Path, *, settings: Settings | None = None, media_type: str | None = None,
          top_k: int = 10) -> list[Match]:  # fmt: skip
    """Registered works that ``query`` (image or text bytes, a text string, or a file path) replicates, best
    first. ``InvalidInput`` when no registry exists."""
    with Registry.open(settings, create=False) as registry:
        if isinstance(query, str):
            return list(registry.match_text(query, top_k=top_k).matches)
        if isinstance(query, Path):
            data, _ = read_capped(query)
            return list(registry.match(data, media_type=media_type_for(query.name), top_k=top_k).matches)
        return list(registry.match(query, media_type=media_type, top_k=top_k).matches)
