"""Engines for the SQL store: URI normalisation, SQLite pragmas, write transactions.

SQLite connections run with WAL journaling, ``synchronous=NORMAL``, foreign keys on and a
30 s busy timeout. The pysqlite driver's own transaction handling is switched off so that
SQLAlchemy's ``begin()`` emits ``BEGIN`` itself: a connection opened with the execution
option ``runyard_write=True`` begins with ``BEGIN IMMEDIATE``, which takes SQLite's write
lock up front so that concurrent writers queue on the busy timeout instead of failing with
a lock-upgrade deadlock. Within one process, SQLite writers also queue on a Python lock
(:func:`write_lock`) before ``BEGIN IMMEDIATE``: a thread waiting there wakes the moment the
writer before it commits, instead of sleeping in SQLite's busy handler.

Stores share one engine per URI: :func:`open_engine` counts its users and
:func:`release_engine` gives one back. An engine no store uses stays open while it is among
the :data:`IDLE_ENGINES` most recently released (reopening a store on it then costs no new
connections); older idle engines are disposed, which closes their pooled connections (three
file descriptors each for a SQLite file, a socket each for PostgreSQL).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import OrderedDict
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from runyard.errors import InvalidArgument, MissingDependency

__all__ = [
    "driver_mark",
    "get_engine",
    "normalize_url",
    "open_engine",
    "release_engine",
    "release_idle_engines",
    "write_lock",
]

BUSY_TIMEOUT_S = 30.0
IDLE_ENGINES = 4
"""Engines that no store uses, kept open for the next store on the same URI."""

_engines: dict[str, sa.Engine] = {}
_users: dict[str, int] = {}  # stores holding each engine (see open_engine)
_idle: OrderedDict[str, None] = OrderedDict()  # counted URLs with no user, oldest first
_engines_lock = threading.Lock()
_write_locks: dict[str, threading.RLock] = {}


def _forget_engines_in_child() -> None:
    """After fork, drop inherited pools without closing them (they belong to the parent)."""
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()
    _users.clear()
    _idle.clear()
    _write_locks.clear()


os.register_at_fork(after_in_child=_forget_engines_in_child)


def normalize_url(uri: str) -> str:
    """Map a tracking URI to a SQLAlchemy URL (``postgresql://`` uses psycopg 3).

    Raises:
        InvalidArgument: the URI is not a SQLite or PostgreSQL URI.
    """
    try:
        url = make_url(uri)
    except sa.exc.ArgumentError as e:
        raise InvalidArgument(f"not a database URI: {uri!r}") from e
    backend = url.get_backend_name()
    if backend == "sqlite":
        return uri
    if backend in ("postgresql", "postgres"):
        if url.get_driver_name() in ("psycopg2", "pg8000", "asyncpg"):
            return uri
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise InvalidArgument(
        f"the SQL tracking store supports sqlite:// and postgresql:// URIs, not {uri!r}"
    )


def get_engine(uri: str) -> sa.Engine:
    """Return the process-wide engine for ``uri``, creating it on first use.

    The engine is not counted as used (see :func:`open_engine`): when the stores on ``uri``
    retire it, it is disposed and stays usable, opening connections again on demand.
    """
    url = normalize_url(uri)
    with _engines_lock:
        return _engine_for(url)


def open_engine(uri: str) -> sa.Engine:
    """Return the process-wide engine for ``uri`` and count one more user of it.

    Every call must be matched by one :func:`release_engine` when the user is done.
    """
    url = normalize_url(uri)
    with _engines_lock:
        engine = _engine_for(url)
        _users[url] = _users.get(url, 0) + 1
        _idle.pop(url, None)
        return engine


def release_engine(engine: sa.Engine) -> None:
    """One user of ``engine`` (from :func:`open_engine`) is done with it.

    An engine left without users joins the idle ones; beyond :data:`IDLE_ENGINES` idle
    engines, the longest idle is disposed: its idle pooled connections close (ones still
    checked out close when they are returned) and a later store on its URI opens a new
    engine. An in-memory SQLite database lives in its one connection and holds no descriptor,
    so its engine is never disposed. An engine this process does not count (inherited across
    a fork) is left alone.
    """
    with _engines_lock:
        url = next((u for u, e in _engines.items() if e is engine), None)
        if url is None or url not in _users:
            return
        _users[url] -= 1
        if _users[url] > 0 or isinstance(engine.pool, sa.pool.StaticPool):
            return
        _idle[url] = None
    _retire_idle(keep=IDLE_ENGINES)


def release_idle_engines() -> None:
    """Dispose every engine no store uses (their connections close)."""
    _retire_idle(keep=0)


def _retire_idle(keep: int) -> None:
    """Dispose the longest-idle engines until at most ``keep`` idle ones are left."""
    retired = []
    with _engines_lock:
        while len(_idle) > keep:
            url, _ = _idle.popitem(last=False)
            del _users[url]
            retired.append(_engines.pop(url))
    for engine in retired:
        engine.dispose()


def _engine_for(url: str) -> sa.Engine:
    """The engine for a normalised URL, created on first use (caller holds the lock)."""
    engine = _engines.get(url)
    if engine is None:
        engine = _create_engine(url)
        _engines[url] = engine
    return engine


def write_lock(uri: str) -> AbstractContextManager[object]:
    """The lock this process's writers to ``uri`` hold around a write transaction.

    One re-entrant lock per SQLite database (SQLite has one writer at a time anyway); no lock
    for PostgreSQL, whose writers run concurrently.
    """
    url = normalize_url(uri)
    if make_url(url).get_backend_name() != "sqlite":
        return nullcontext()
    with _engines_lock:
        return _write_locks.setdefault(url, threading.RLock())


def _create_engine(url: str) -> sa.Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _create_sqlite_engine(parsed)
    try:
        return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    except ModuleNotFoundError as e:
        raise MissingDependency(e.name or "psycopg", "postgres") from e


def _create_sqlite_engine(url: sa.URL) -> sa.Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {}
    if database in ("", ":memory:"):
        # An in-memory database lives in its connection: share that one connection.
        options["poolclass"] = sa.pool.StaticPool
    engine = sa.create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}, **options
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself, see below
        cursor = dbapi_conn.cursor()
        try:
            _enable_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA case_sensitive_like=ON")  # `like` is case-sensitive
            cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Straight to the driver: a statement through SQLAlchemy costs more than the BEGIN.
        sql = "BEGIN IMMEDIATE" if conn.get_execution_options().get("runyard_write") else "BEGIN"
        try:
            conn.connection.driver_connection.execute(sql)  # type: ignore[union-attr]
        except sqlite3.Error as e:  # e.g. "database is locked" after the busy timeout
            raise sa.exc.OperationalError(sql, (), e) from e

    return engine


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    """``PRAGMA journal_mode=WAL``, retried while another process holds the database.

    Switching a new database to WAL needs it to itself, and SQLite answers "database is
    locked" at once, without its busy handler, when another connection is in the middle
    of the same switch or of the first migration: several processes opening one fresh
    database together (two sweep drivers, a pool of workers) would fail at random.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.002
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(2 * delay, 0.1)


def driver_mark(dialect: sa.Dialect) -> str:
    """The placeholder of one parameter in SQL sent straight to this dialect's driver."""
    return "?" if dialect.paramstyle == "qmark" else "%s"
