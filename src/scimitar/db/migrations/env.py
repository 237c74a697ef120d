"""Alembic environment: runs migrations on the engine handed over by ``migrate.py``."""

from __future__ import annotations

from alembic import context

# Importing the table modules registers every table on the shared metadata.
import scimitar.directory.tables
import scimitar.provisioning.tables
import scimitar.server.tables  # noqa: F401
from scimitar.db.metadata import metadata

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    # SQLite cannot ALTER most things in place: batch mode copies the table instead.
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=engine.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
