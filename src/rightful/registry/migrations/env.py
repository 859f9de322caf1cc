"""Alembic environment for the registry: always run in-process on a connection the store hands over."""

from __future__ import annotations

from alembic import context

from rightful.registry.schema import Base

VERSION_TABLE = "registry_alembic_version"

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,  # SQLite can only ALTER through table copies
)
with context.begin_transaction():
    context.run_migrations()
