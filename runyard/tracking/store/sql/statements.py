"""Dialect-aware INSERT ... ON CONFLICT statements (SQLite and PostgreSQL share the syntax)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["insert_ignore", "upsert"]


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def insert_ignore(conn: sa.Connection, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` on ``table``."""
    return _insert(conn, table).on_conflict_do_nothing()


def upsert(conn: sa.Connection, table: sa.Table, keys: Sequence[str], update: Sequence[str]) -> Any:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE SET update = excluded.update``."""
    ins = _insert(conn, table)
    return ins.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={c: ins.excluded[c] for c in update},
    )
