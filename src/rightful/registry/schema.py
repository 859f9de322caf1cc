"""The registry's tables (SQLAlchemy 2 declarative models). Alembic migrations in ``migrations/`` create them.

Every table carries the ``registry_`` prefix so the registry can share ``rightful.db`` with the signal cache,
the ledger and the service's keys. ``registry_changes`` is the log the FAISS index replays to catch up with
writes made by other processes (or lost in a crash): one row per work added, changed or removed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["Base", "ChangeRow", "FingerprintRow", "MetaRow", "TermRow", "TextRow", "WorkRow"]


class Base(DeclarativeBase):
    pass


class WorkRow(Base):
    __tablename__ = "registry_works"
    __table_args__ = (
        UniqueConstraint("owner", "digest", name="uq_registry_works_owner_digest"),
        Index("ix_registry_works_digest", "digest"),
        {"sqlite_autoincrement": True},  # ids are never reused: a stale index entry can't point at a new work
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(500))
    media_type: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str | None] = mapped_column(Text)
    licence: Mapped[str | None] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    terms: Mapped[list[TermRow]] = relationship(
        back_populates="work", cascade="all, delete-orphan", lazy="selectin", order_by="TermRow.purpose"
    )


class TermRow(Base):
    __tablename__ = "registry_terms"

    work_id: Mapped[int] = mapped_column(ForeignKey("registry_works.id", ondelete="CASCADE"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))

    work: Mapped[WorkRow] = relationship(back_populates="terms")


class FingerprintRow(Base):
    __tablename__ = "registry_fingerprints"
    __table_args__ = (
        Index("ix_registry_fingerprints_work", "work_id"),
        Index("ix_registry_fingerprints_kind", "kind"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("registry_works.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(40))
    value: Mapped[bytes] = mapped_column(LargeBinary)
    quality: Mapped[int | None] = mapped_column(Integer)


class TextRow(Base):
    __tablename__ = "registry_texts"

    work_id: Mapped[int] = mapped_column(ForeignKey("registry_works.id", ondelete="CASCADE"), primary_key=True)
    tokens: Mapped[int] = mapped_column(BigInteger)
    normalised: Mapped[bytes] = mapped_column(LargeBinary)


class ChangeRow(Base):
    __tablename__ = "registry_changes"
    __table_args__ = ({"sqlite_autoincrement": True},)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    work_id: Mapped[int] = mapped_column(Integer)
    op: Mapped[str] = mapped_column(String(8))


class MetaRow(Base):
    """Registry-wide facts; ``instance`` is a random id that ties index files to this very database."""

    __tablename__ = "registry_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
