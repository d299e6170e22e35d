"""`campaign status` and `campaign db upgrade`."""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.cli.context import display_zone, iso_utc, local, open_default_store, settings
from scheduler.cli.options import JsonOption
from scheduler.cli.output import plural, print_json
from scheduler.cli.root import app
from scheduler.clock import utcnow
from scheduler.errors import BadInput

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(db_app, name="db")


@app.command()
def status(json_out: JsonOption = False) -> None:
    """Database, counts by status, next due post, daemons seen."""
    from scheduler.config import env_file_places, env_files
    from scheduler.store import redact

    zone = display_zone()
    files = [str(path) for path in env_files()]
    url = settings().resolved_database_url()
    now = utcnow()
    with open_default_store() as store:
        overview = store.overview(now)
        credits = store.waiting_for_credits()
    stale = settings().heartbeat_stale_seconds
    upcoming = overview.next_due
    if json_out:
        print_json(
            {
                "database": redact(url),
                "settings_files": files,
                "counts": overview.counts,
                "paused_campaigns": list(overview.paused),
                "waiting_for_credits": [
                    {"platform": p, "account": a, "posts": n, "until": iso_utc(until)}
                    for p, a, n, until in credits
                ],
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
                        "running": w.running(now, stale),
                    }
                    for w in overview.workers
                ],
            }
        )
        return
    if files:
        settings_line = f"settings: {', then '.join(files)} (the environment wins over them)"
    else:
        places = " or ".join(str(p.parent) for p in env_file_places())
        settings_line = f"settings: the environment only (no .env in {places})"
    lines = [f"database: {redact(url)}", settings_line]
    counts = ", ".join(f"{k} {v}" for k, v in sorted(overview.counts.items())) or "no posts"
    lines.append(f"posts: {counts}")
    if overview.paused:
        names = ", ".join(repr(n) for n in overview.paused)
        lines.append(f"paused: {names} (their posts wait for `campaign resume`)")
    for platform, account, waiting, until in credits:
        who = platform if account == "default" else f"{platform} ({account})"
        lines.append(
            f"out of credits: {who}, {plural(waiting, 'post')} wait until "
            f"{local(until, zone)}, or `campaign retry --campaign NAME` once credits are added"
        )
    if upcoming is not None:
        lines.append(
            f"next due: post {upcoming.id} ({upcoming.platform}) "
            f"at {local(upcoming.next_attempt_at, zone)}"
        )
    if not overview.workers:
        lines.append("daemons: none has run yet")
    for w in overview.workers[:10]:
        state = "running" if w.running(now, stale) else "stopped"
        lines.append(f"daemon {w.id}: {state}, last seen {local(w.last_seen, zone)}")
    typer.echo("\n".join(lines))


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(metavar="REVISION", help="Target revision.")] = "head",
) -> None:
    """Create or upgrade the database schema (also done automatically on first use)."""
    from scheduler.store import redact

    if not revision.strip():
        raise BadInput("the revision is empty: give one such as head")
    url = settings().resolved_database_url()
    with open_default_store(migrate=False) as store:
        store.migrate(revision)
    typer.echo(f"database at {redact(url)} is at revision {revision}")
