"""Works, terms, fingerprints, registered texts and the change log.

Revision ID: 0001_registry
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0001_registry"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_works",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("title", sa.String(500)),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("digest", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger()),
        sa.Column("source", sa.Text()),
        sa.Column("licence", sa.Text()),
        sa.Column("contact", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("owner", "digest", name="uq_registry_works_owner_digest"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_registry_works_digest", "registry_works", ["digest"])
    op.create_table(
        "registry_terms",
        sa.Column("work_id", sa.Integer(), sa.ForeignKey("registry_works.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("purpose", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_table(
        "registry_fingerprints",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("work_id", sa.Integer(), sa.ForeignKey("registry_works.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("region", sa.String(40), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("quality", sa.Integer()),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_registry_fingerprints_work", "registry_fingerprints", ["work_id"])
    op.create_index("ix_registry_fingerprints_kind", "registry_fingerprints", ["kind"])
    op.create_table(
        "registry_texts",
        sa.Column("work_id", sa.Integer(), sa.ForeignKey("registry_works.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("normalised", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "registry_changes",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column("op", sa.String(8), nullable=False),
        sqlite_autoincrement=True,
    )
    meta = op.create_table(
        "registry_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.bulk_insert(meta, [{"key": "instance", "value": uuid.uuid4().hex}])


def downgrade() -> None:
    for table in (
        "registry_meta",
        "registry_changes",
        "registry_texts",
        "registry_fingerprints",
        "registry_terms",
        "registry_works",
    ):
        op.drop_table(table)
