"""`campaign list`, `cancel` and `retry`: the queue's posts and their states."""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.cli.options import JsonOption
from scheduler.cli.root import app

CampaignFilter = Annotated[
    str | None, typer.Option("--campaign", "-c", metavar="NAME", help="Campaign name.")
]
PostIds = Annotated[
    list[int] | None, typer.Argument(metavar="POST_ID", help="Post ids.", show_default=False)
]


@app.command("list")
def list_(
    campaign: CampaignFilter = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            help="queued, publishing, published, failed, cancelled or held.",
        ),
    ] = None,
    platform: Annotated[
        str | None, typer.Option("--platform", "-p", metavar="PLATFORM", help="x or bluesky.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """List posts with their status, time, attempts, URL and last error."""
    from scheduler.cli.context import display_zone, iso_utc, local, open_default_store, settings
    from scheduler.cli.options import platform_of
    from scheduler.cli.output import print_json, stdout_console, warn
    from scheduler.dispatch import utcnow
    from scheduler.errors import BadInput
    from scheduler.store import queries
    from scheduler.store.models import Status

    if status is not None and status not in {s.value for s in Status}:
        raise BadInput(
            f"unknown status {status!r}: choose one of {', '.join(s.value for s in Status)}"
        )
    platform_name = platform_of(platform).value if platform is not None else None
    zone = display_zone()
    now = utcnow()
    store = open_default_store()
    try:
        with store.read() as session:
            rows = queries.list_posts(session, campaign, status, platform_name)
            overdue = queries.overdue_count(session, now)
            seen = queries.last_heartbeat(session)
    finally:
        store.close()
    stale = settings().heartbeat_stale_seconds
    if overdue and (seen is None or (now - seen).total_seconds() > stale):
        when = (
            "no daemon has ever run"
            if seen is None
            else (f"no daemon has been seen for {int((now - seen).total_seconds() // 60)} min")
        )
        warn(f"{when}; {overdue} posts are overdue (start one with `campaign run`)")
    if json_out:
        print_json(
            [
                {
                    "id": r.id,
                    "campaign": r.campaign,
                    "platform": r.platform,
                    "seq": r.seq,
                    "status": r.status,
                    "scheduled_at": iso_utc(r.scheduled_at),
                    "attempts": r.attempts,
                    "remote_url": r.remote_url,
                    "last_error": r.last_error,
                }
                for r in rows
            ]
        )
        return
    from rich.table import Table

    table = Table(title=f"{len(rows)} posts")
    for column in ("id", "campaign", "platform", "seq", "status"):
        table.add_column(column)
    table.add_column(f"scheduled ({zone.key})", no_wrap=True)
    table.add_column("tries", justify="right")
    table.add_column("url / last error", overflow="fold")
    for r in rows:
        table.add_row(
            str(r.id),
            r.campaign,
            r.platform,
            str(r.seq),
            r.status,
            local(r.scheduled_at, zone),
            str(r.attempts),
            r.remote_url or r.last_error or "",
        )
    stdout_console().print(table)


def _targets(post_ids: list[int] | None, campaign: str | None, verb: str) -> tuple[list[int], bool]:
    from scheduler.errors import BadInput

    if bool(post_ids) == bool(campaign):
        raise BadInput(f"give post ids or --campaign NAME to {verb}, not both and not neither")
    return list(post_ids or []), campaign is not None


def _change(post_ids: list[int] | None, campaign: str | None, verb: str) -> None:
    from scheduler.cli.context import open_default_store
    from scheduler.dispatch import utcnow
    from scheduler.store import lifecycle, queries
    from scheduler.store.models import Status

    ids, whole = _targets(post_ids, campaign, verb)
    store = open_default_store()
    try:
        with store.write() as session:
            if whole:
                assert campaign is not None
                wanted = (
                    (Status.QUEUED.value, Status.HELD.value)
                    if verb == "cancel"
                    else (Status.FAILED.value, Status.HELD.value, Status.CANCELLED.value)
                )
                ids = [r.id for r in queries.list_posts(session, campaign) if r.status in wanted]
            changed = (
                lifecycle.cancel(session, ids, utcnow())
                if verb == "cancel"
                else lifecycle.retry(session, ids, utcnow())
            )
    finally:
        store.close()
    done = "cancelled" if verb == "cancel" else "queued again"
    noun = "post" if len(changed) == 1 else "posts"
    shown = ", ".join(str(p.id) for p in changed) or "none"
    typer.echo(f"{done} {len(changed)} {noun}: {shown}")


@app.command()
def cancel(post_ids: PostIds = None, campaign: CampaignFilter = None) -> None:
    """Cancel queued posts (by id, or a whole campaign); later thread posts are held."""
    _change(post_ids, campaign, "cancel")


@app.command()
def retry(post_ids: PostIds = None, campaign: CampaignFilter = None) -> None:
    """Queue failed, held or cancelled posts again (by id, or a whole campaign)."""
    _change(post_ids, campaign, "retry")
