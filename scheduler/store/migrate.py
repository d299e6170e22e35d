"""Alembic migrations, run on first use and by `campaign db upgrade`.

Checking the current revision is one query; Alembic itself is imported only when
there is something to do, which keeps every command's start-up short.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

HEAD = "0001"
MIGRATIONS = Path(__file__).with_name("migrations")
# Any constant works; it only has to be the same for every daemon of this project.
_PG_MIGRATION_LOCK = 7_424_617


def current_revision(conn: Connection) -> str | None:
    # Asking directly is one round trip; reflecting the table list costs several.
    try:
        with conn.begin_nested():
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:  # no such table yet
        return None


def _alembic_config(conn: Connection) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    with engine.execution_options(write=True).begin() as conn:
        if conn.dialect.name == "postgresql":
            # Several daemons starting on a fresh database must not migrate twice.
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        command.upgrade(_alembic_config(conn), revision)  # type: ignore[arg-type]


def downgrade(engine: Engine, revision: str = "base") -> None:
    from alembic import command

    with engine.execution_options(write=True).begin() as conn:
        command.downgrade(_alembic_config(conn), revision)  # type: ignore[arg-type]


def ensure_current(engine: Engine) -> None:
    with engine.connect() as conn:
        if current_revision(conn) == HEAD:
            return
    upgrade(engine)
