"""Alembic migrations, run on first use and by `campaign db upgrade`.

Checking the current revision is one query; Alembic itself is imported only when
there is something to do, which keeps every command's start-up short.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from scheduler.errors import BadInput, CampaignError

HEAD = "0004"
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


OUR_TABLES = ("campaigns", "posts", "events", "workers")


def ensure_current(engine: Engine) -> None:
    """Create or upgrade the schema, refusing a database whose tables are not ours."""
    with engine.connect() as conn:
        revision = current_revision(conn)
        if revision == HEAD:
            return
        if revision is None:
            from sqlalchemy import inspect

            taken = sorted(set(inspect(conn).get_table_names()) & set(OUR_TABLES))
            if taken:
                raise BadInput(
                    f"the database at {_shown(engine)} already has {_tables(taken)} that "
                    "campaign did not create: use an empty database or another "
                    "CAMPAIGN_DATABASE_URL"
                )
    try:
        upgrade(engine)
    except DBAPIError as exc:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise CampaignError(f"cannot create the tables in {_shown(engine)}: {first}") from None
    except Exception as exc:
        from alembic.util import CommandError

        if isinstance(exc, CommandError):  # a revision this version does not know
            raise CampaignError(
                f"the database at {_shown(engine)} is at revision {revision}, which this "
                "version of campaign does not know (was it made by a newer one?)"
            ) from None
        raise


def _tables(names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    if len(quoted) == 1:
        return f"a table named {quoted[0]}"
    return "tables named " + ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _shown(engine: Engine) -> str:
    from scheduler.store.db import redact

    return redact(engine.url.render_as_string(hide_password=False))
