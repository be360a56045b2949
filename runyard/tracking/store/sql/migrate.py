"""Bring a database's schema to the newest migration, safely from several processes at once.

The upgrade runs in one write transaction that first takes a lock (``BEGIN IMMEDIATE`` on
SQLite, a transaction-scoped advisory lock on PostgreSQL), then reads the current revision,
so concurrent openers queue and all but the first find nothing to do. A fresh database also
gets the ``Default`` experiment (id ``0``) in that transaction.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from runyard.config import resolve_artifact_uri

__all__ = ["MIGRATIONS_DIR", "VERSION_TABLE", "current_revision", "head_revision", "upgrade"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "runyard_schema_version"
_PG_LOCK_KEY = 0x72756E79617264  # "runyard"


def _config(connection: sa.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.cache  # read once: every store opened checks it (reading the scripts costs ms)
def head_revision() -> str:
    """The newest revision shipped with this package."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    return head or ""


def current_revision(connection: sa.Connection) -> str | None:
    """The revision the database is at (None when it has no runyard schema)."""
    ctx = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return ctx.get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` (default: head) unless it is there already."""
    target = head_revision() if revision == "head" else revision
    with engine.connect() as conn:
        if current_revision(conn) == target:
            return
        conn.rollback()
    with engine.connect() as conn:
        conn = conn.execution_options(runyard_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            before = current_revision(conn)
            if before == target:
                return
            command.upgrade(_config(conn), revision)
            if before is None:
                _create_default_experiment(conn)


def _create_default_experiment(conn: sa.Connection) -> None:
    from runyard.tracking.store.sql.schema import experiments

    conn.execute(
        experiments.insert().values(
            experiment_id=0,
            name="Default",
            artifact_location=f"{resolve_artifact_uri().rstrip('/')}/0",
            lifecycle_stage="active",
            creation_time=int(time.time() * 1000),
        )
    )
