"""Dialect-aware INSERT ... ON CONFLICT statements (SQLite and PostgreSQL share the syntax).

The statements are built once per (dialect, table, columns) and reused: building one costs
more than executing it on SQLite. A cached statement is never mutated; ``.values()`` and
``.returning()`` on it return new statements.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["insert_ignore", "upsert"]


def _insert(dialect: str, table: sa.Table) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


@functools.cache
def _insert_ignore(dialect: str, table: sa.Table) -> Any:
    return _insert(dialect, table).on_conflict_do_nothing()


@functools.cache
def _upsert(dialect: str, table: sa.Table, keys: tuple[str, ...], update: tuple[str, ...]) -> Any:
    ins = _insert(dialect, table)
    return ins.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={c: ins.excluded[c] for c in update},
    )


def insert_ignore(conn: sa.Connection, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` on ``table``."""
    return _insert_ignore(conn.dialect.name, table)


def upsert(conn: sa.Connection, table: sa.Table, keys: Sequence[str], update: Sequence[str]) -> Any:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE SET update = excluded.update``."""
    return _upsert(conn.dialect.name, table, tuple(keys), tuple(update))
