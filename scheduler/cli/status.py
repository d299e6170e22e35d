"""`campaign status` and `campaign db upgrade`."""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.cli.options import JsonOption
from scheduler.cli.root import app

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(db_app, name="db")


@app.command()
def status(json_out: JsonOption = False) -> None:
    """Database, counts by status, next due post, daemons seen."""
    from scheduler.cli.context import display_zone, iso_utc, local, open_default_store, settings
    from scheduler.cli.output import print_json, stdout_console
    from scheduler.clock import utcnow
    from scheduler.store import queries
    from scheduler.store.db import redact

    zone = display_zone()
    url = settings().resolved_database_url()
    store = open_default_store()
    try:
        with store.read() as session:
            counts = queries.counts_by_status(session)
            upcoming = queries.next_due(session)
            daemons = queries.workers(session)
    finally:
        store.close()
    now = utcnow()
    stale = settings().heartbeat_stale_seconds

    def alive(last_seen: object, stopped: object) -> bool:
        return stopped is None and (now - last_seen).total_seconds() <= stale  # type: ignore[operator]

    if json_out:
        print_json(
            {
                "database": redact(url),
                "counts": counts,
                "next_due": None
                if upcoming is None
                else {
                    "id": upcoming.id,
                    "platform": upcoming.platform,
                    "at": iso_utc(upcoming.next_attempt_at),
                },
                "daemons": [
                    {
                        "id": w.id,
                        "host": w.host,
                        "pid": w.pid,
                        "started_at": iso_utc(w.started_at),
                        "last_seen": iso_utc(w.last_seen),
                        "running": alive(w.last_seen, w.stopped_at),
                    }
                    for w in daemons
                ],
            }
        )
        return
    console = stdout_console()
    console.print(f"database: {redact(url)}")
    shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no posts"
    console.print(f"posts: {shown}")
    if upcoming is not None:
        console.print(
            f"next due: post {upcoming.id} ({upcoming.platform}) "
            f"at {local(upcoming.next_attempt_at, zone)}"
        )
    if not daemons:
        console.print("daemons: none has run yet")
    for w in daemons[:10]:
        state = "running" if alive(w.last_seen, w.stopped_at) else "stopped"
        console.print(f"daemon {w.id}: {state}, last seen {local(w.last_seen, zone)}")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(metavar="REVISION", help="Target revision.")] = "head",
) -> None:
    """Create or upgrade the database schema (also done automatically on first use)."""
    from scheduler.cli.context import open_default_store, settings
    from scheduler.errors import BadInput
    from scheduler.store.db import redact
    from scheduler.store.migrate import upgrade

    if not revision.strip():
        raise BadInput("the revision is empty: give one such as head")
    url = settings().resolved_database_url()
    store = open_default_store(migrate=False)
    try:
        upgrade(store.engine, revision)
    except Exception as exc:
        from alembic.util import CommandError

        if isinstance(exc, CommandError):  # an unknown revision
            first = (str(exc).strip().splitlines() or ["unknown revision"])[0]
            raise BadInput(f"cannot upgrade the database: {first}") from None
        raise
    finally:
        store.close()
    typer.echo(f"database at {redact(url)} is at revision {revision}")
