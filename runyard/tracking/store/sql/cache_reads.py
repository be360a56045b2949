"""Reads on the path of every pipeline run: one query each, straight to the driver.

A cache lookup is on the path of every pipeline cache hit (a chain's lookups are serial:
each key needs the output digest the previous lookup found), and every pipeline run looks
its experiment up by name, so both skip SQLAlchemy's statement machinery. On a SQLite file
they also skip the pool: checking a connection out and back in (with its reset) costs as
much as the query. Each thread keeps one connection of its own for lookups, detached from
the pool so that it never takes a pooled one away. SQLite connections of this store run in
autocommit mode (the store begins its transactions itself), so a lookup holds no lock or
snapshot once its rows are read. A lookup connection is opened again after an error and in
a forked child, and closed in every thread (:func:`close_lookups`) when its engine is
disposed. PostgreSQL lookups use a pooled connection, which the pool checks before use.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

from runyard.entities import Experiment
from runyard.errors import StoreError
from runyard.tracking.store.sql.engine import driver_mark
from runyard.tracking.store.sql.reader import experiment_of

__all__ = ["close_lookups", "read_cache_entries", "read_experiment_by_name"]

CHUNK = 500
"""Keys per query (SQLite allows 999 bound values)."""


class _Held:
    """A thread's lookup connection to one engine's database; closed when dropped."""

    __slots__ = ("__weakref__", "closed", "conn", "engine", "pid")

    def __init__(self, engine: sa.Engine, conn: Any) -> None:
        self.engine = engine
        self.conn = conn
        self.pid = os.getpid()
        self.closed = False
        with _every_lock:
            _every.add(self)

    def close(self) -> None:
        """Close the connection (once, and only in the process that opened it)."""
        if not self.closed and self.pid == os.getpid():
            self.closed = True
            with contextlib.suppress(Exception):
                self.conn.close()

    def __del__(self) -> None:  # the thread ended, or the connection failed
        self.close()


_local = threading.local()  # engine id -> _Held, per thread
_every: weakref.WeakSet[_Held] = weakref.WeakSet()  # every thread's, for close_lookups
_every_lock = threading.Lock()


def close_lookups(engine: sa.Engine) -> None:
    """Close every thread's lookup connection to ``engine`` (call when it is disposed)."""
    with _every_lock:
        held = [h for h in _every if h.engine is engine]
    for h in held:
        h.close()


def read_cache_entries(engine: sa.Engine, keys: Sequence[str]) -> dict[str, str]:
    """The payloads stored under ``keys`` (duplicates allowed), by key.

    Raises:
        StoreError: the database failed.
    """
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    return _read(engine, "get_cache_entries", _query, wanted)


_T = TypeVar("_T")
_A = TypeVar("_A")


def _read(engine: sa.Engine, what: str, query: Callable[[Any, _A, str], _T], arg: _A) -> _T:
    """``query(connection, arg, mark)`` on this thread's own connection or a pooled one."""
    dbapi_error = engine.dialect.loaded_dbapi.Error
    own = _own_connection(engine)
    try:
        if own is not None:
            return query(own, arg, "?")
        raw = engine.raw_connection()
        try:
            return query(raw, arg, driver_mark(engine.dialect))
        finally:
            raw.close()
    except dbapi_error as e:
        if own is not None:
            _drop(engine)
        raise StoreError(f"{what}: {e}") from e


_EXPERIMENT_BY_NAME = (
    "SELECT e.experiment_id, e.name, e.artifact_location, e.lifecycle_stage,"
    " e.creation_time, t.key, t.value FROM experiments e"
    " LEFT JOIN experiment_tags t ON t.experiment_id = e.experiment_id WHERE e.name = {mark}"
)


def read_experiment_by_name(engine: sa.Engine, name: str) -> Experiment | None:
    """The experiment named ``name`` with its tags (one statement: one snapshot), or None.

    Raises:
        StoreError: the database failed.
    """
    rows = _read(engine, "get_experiment_by_name", _experiment_rows, name)
    if not rows:
        return None
    tags = {str(r[5]): str(r[6]) for r in rows if r[5] is not None}
    first = rows[0]
    return experiment_of(first[0], first[1], first[2], first[3], first[4], tags)


def _experiment_rows(conn: Any, name: str, mark: str) -> list[Any]:
    cursor = conn.cursor()
    try:
        cursor.execute(_EXPERIMENT_BY_NAME.format(mark=mark), (name,))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _query(conn: Any, wanted: list[str], mark: str) -> dict[str, str]:
    found: dict[str, str] = {}
    cursor = conn.cursor()
    try:
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            marks = ", ".join([mark] * len(chunk))
            cursor.execute(f"SELECT key, payload FROM cache_entries WHERE key IN ({marks})", chunk)
            found.update((str(k), str(v)) for k, v in cursor.fetchall())
    finally:
        cursor.close()
    return found


def _own_connection(engine: sa.Engine) -> Any:
    """This thread's lookup connection to a SQLite file (None for other databases)."""
    if engine.dialect.name != "sqlite" or not isinstance(engine.pool, sa.pool.QueuePool):
        return None  # in-memory SQLite shares one connection: use it through the pool
    mine: dict[int, _Held] = _local.__dict__.setdefault("conns", {})
    held = mine.get(id(engine))
    if held is not None and not held.closed and held.pid == os.getpid() and held.engine is engine:
        return held.conn
    for key in [k for k, h in mine.items() if h.closed]:
        del mine[key]  # its engine was disposed: let the engine go
    if not sa.event.contains(engine, "engine_disposed", close_lookups):
        sa.event.listen(engine, "engine_disposed", close_lookups)
    fairy = engine.raw_connection()  # opened with the engine's pragmas
    conn = fairy.dbapi_connection
    fairy.detach()  # the pool forgets it: it is this thread's from now on
    mine[id(engine)] = _Held(engine, conn)
    return conn


def _drop(engine: sa.Engine) -> None:
    """Forget (and so close) this thread's lookup connection after an error."""
    _local.__dict__.get("conns", {}).pop(id(engine), None)
