"""Opening the database: engine settings per dialect, connections per transaction.

SQLite: WAL, a busy timeout, foreign keys, and transactions that say up front whether
they write (`BEGIN IMMEDIATE`), so two writers queue on the lock instead of one
failing half-way. PostgreSQL: pre-ping, so a killed connection is replaced.
Every operation runs on a Core `Connection` inside one transaction: no ORM session,
identity map or unit of work between the code and its SQL.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from scheduler.errors import BadInput, DatabaseUnavailable

BUSY_TIMEOUT_MS = 30_000


# Query parameters that can carry a credential (password=, sslpassword=, a token...).
_SECRET_PARAMETER = re.compile(r"pass|pwd|secret|token|key", re.IGNORECASE)


def redact(url: str) -> str:
    """The URL without any credential it carries (the password in user:password@, and
    every query parameter that can hold one), for messages and logs."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "<an unparsable database URL>"
    query = {k: ("***" if _SECRET_PARAMETER.search(k) else v) for k, v in parsed.query.items()}
    shown = parsed.set(query=query).render_as_string(hide_password=True)
    return shown.replace("%2A%2A%2A", "***")  # the mask, not URL-quoted


def _secrets(url: str) -> list[str]:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return []
    values = [parsed.password or ""]
    for key, value in parsed.query.items():
        if _SECRET_PARAMETER.search(key):
            values.extend([value] if isinstance(value, str) else value)
    return sorted((str(v) for v in values if len(str(v)) >= 3), key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """`text` (a driver's error message) with the URL's credentials masked."""
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text


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


def _in_memory(parsed: URL) -> bool:
    database = parsed.database or ""
    return (
        database in ("", ":memory:")
        or database.startswith("file::memory:")
        or parsed.query.get("mode") == "memory"
    )


def with_driver(url: str) -> str:
    """postgres:// and postgresql:// (as most tools write them) through psycopg 3, the
    driver installed; SQLAlchemy would look for psycopg2, or not know 'postgres'."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    if parsed.drivername in ("postgres", "postgresql"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def make_engine(url: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    """`busy_timeout_ms` applies to SQLite only (CAMPAIGN_SQLITE_BUSY_TIMEOUT_MS)."""
    url = with_driver(url)
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            if _in_memory(parsed):
                raise BadInput(
                    f"the database URL {redact(url)} is an in-memory SQLite database, which "
                    "is gone when the command ends: give a file, e.g. sqlite:////path/campaign.db"
                )
            return _sqlite_engine(url, busy_timeout_ms)
        # No pre-ping (a round trip before every transaction, a fifth of a record's cost):
        # a connection the server dropped fails its first statement instead, the pool
        # discards it, and the caller's retry (the daemon's, for a record or a claim) runs
        # on a fresh one. A CLI command starts with fresh connections anyway.
        return create_engine(url, pool_size=5, max_overflow=5)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise BadInput(f"invalid database URL {redact(url)}: {scrub(str(exc), url)}") from None
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
                    f"the database at {redact(self.url)} is unavailable: "
                    f"{scrub(_first_line(exc), self.url)}"
                ) from exc
            raise

    def close(self) -> None:
        self.engine.dispose()


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__


def open_database(url: str, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Database:
    """Connect to the database at `url` (not yet migrated)."""
    url = with_driver(url)
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
            f"cannot reach the database at {redact(url)}: {scrub(_first_line(exc), url)}"
        ) from None
    return database
