"""Database errors reach the caller as runyard errors, with the original as __cause__."""

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from runyard.errors import AlreadyExists, StoreError, StoreUnavailable
from runyard.tracking.store.sql.errors import translate_errors


def test_a_locked_sqlite_database_is_store_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with pytest.raises(StoreUnavailable, match="locked") as info:
            with translate_errors("read"), engine.connect() as conn:
                conn.execute(sa.text("SELECT * FROM t")).all()
        assert isinstance(info.value.__cause__, sa.exc.OperationalError)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()


def test_unique_and_other_errors(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (x INTEGER PRIMARY KEY)"))
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        with pytest.raises(AlreadyExists), translate_errors("insert"), engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        with pytest.raises(StoreError, match="no such table"):
            with translate_errors("select"), engine.connect() as conn:
                conn.execute(sa.text("SELECT * FROM missing"))
    finally:
        engine.dispose()
