"""Opening the database: engine settings per dialect, connections per transaction.

SQLite: WAL, a busy timeout, foreign keys, and transactions that say up front whether
they write (`BEGIN IMMEDIATE`), so two writers queue on the lock instead of one
failing half-way. PostgreSQL: pre-ping, so a killed connection is replaced.
Every operation runs on a Core `Connection` inside one transaction: no ORM session,
identity map or unit of work between the code and its SQL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from scheduler.errors import BadInput, DatabaseUnavailable

BUSY_TIMEOUT_MS = 30_000


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<an unparsable database URL>"


def _sqlite_engine(url: str, busy_timeout_ms: int) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    # How long a writer waits for another writer's lock before "database is locked".
    engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("write", False) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def make_engine(url: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    """`busy_timeout_ms` applies to SQLite only (CAMPAIGN_SQLITE_BUSY_TIMEOUT_MS)."""
    try:
        if make_url(url).get_backend_name() == "sqlite":
            return _sqlite_engine(url, busy_timeout_ms)
        # No pre-ping (a round trip before every transaction, a fifth of a record's cost):
        # a connection the server dropped fails its first statement instead, the pool
        # discards it, and the caller's retry (the daemon's, for a record or a claim) runs
        # on a fresh one. A CLI command starts with fresh connections anyway.
        return create_engine(url, pool_size=5, max_overflow=5)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise BadInput(f"invalid database URL {redact(url)}: {exc}") from None
    except ImportError as exc:  # a dialect whose driver is not installed (mysql://...)
        raise BadInput(f"invalid database URL {redact(url)}: no driver for it ({exc})") from None


class Database:
    """The engine plus the two ways in: read transactions and write transactions."""

    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine
        # Made once: execution_options() builds a new engine facade on every call.
        self._write_engine = engine.execution_options(write=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self._transaction(self.engine) as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction: committed on success, rolled back on any error."""
        with self._transaction(self._write_engine) as conn:
            yield conn

    @contextlib.contextmanager
    def _transaction(self, engine: Engine) -> Iterator[Connection]:
        try:
            with engine.begin() as conn:
                yield conn
        except DBAPIError as exc:
            # OperationalError: the server went away, or SQLite stayed locked too long.
            if exc.connection_invalidated or isinstance(exc, OperationalError):
                raise DatabaseUnavailable(
                    f"the database at {redact(self.url)} is unavailable: {_first_line(exc)}"
                ) from exc
            raise

    def close(self) -> None:
        self.engine.dispose()


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__


def open_database(url: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Database:
    """Connect to the database at `url` (not yet migrated)."""
    try:
        database = Database(url, make_engine(url, busy_timeout_ms))
    except OSError as exc:  # a SQLite path whose directory cannot be created
        raise DatabaseUnavailable(f"cannot open the database at {redact(url)}: {exc}") from None
    try:
        with database.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        database.close()
        raise DatabaseUnavailable(
            f"cannot reach the database at {redact(url)}: {_first_line(exc)}"
        ) from None
    return database
