"""Alembic environment: runs migrations on the connection the store hands over.

The store calls :func:`runyard.tracking.store.sql.migrate.upgrade_to_head`, which puts an open
connection in ``config.attributes["connection"]``; no ``alembic.ini`` is read at runtime.
"""

from __future__ import annotations

from alembic import context

from runyard.tracking.store.sql.migrate import VERSION_TABLE
from runyard.tracking.store.sql.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
