"""`campaign log`: the append-only post log, newest last."""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.cli.options import JsonOption
from scheduler.cli.root import app


def describe(kind: str, detail: dict[str, object]) -> str:
    """One readable line for an event's detail."""
    parts = []
    for key in ("url", "reason", "note", "until", "next_attempt_at", "attempt", "platform"):
        value = detail.get(key)
        if value not in (None, ""):
            parts.append(str(value) if key in ("url", "reason", "note") else f"{key}={value}")
    return "; ".join(parts)


@app.command()
def log(
    campaign: Annotated[
        str | None, typer.Option("--campaign", "-c", metavar="NAME", help="Campaign name.")
    ] = None,
    post: Annotated[int | None, typer.Option("--post", metavar="ID", help="One post's id.")] = None,
    platform: Annotated[
        str | None, typer.Option("--platform", "-p", metavar="PLATFORM", help="x or bluesky.")
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            metavar="KIND",
            help="queued, claimed, published, recovered, 'retry scheduled', "
            "rate-limited, failed, cancelled, held, requeued, released, 'no credentials'.",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="WHEN", help="Only events from then on: ISO 8601, or -2h/-1d ago."
        ),
    ] = None,
    count: Annotated[
        int | None, typer.Option("-n", metavar="N", help="Only the newest N events.")
    ] = None,
    json_out: JsonOption = False,
    csv_out: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
) -> None:
    """Show the post log: what happened to each post, and when."""
    from datetime import timedelta

    from scheduler.cli.context import display_zone, iso_utc, local, open_default_store
    from scheduler.cli.options import platform_of
    from scheduler.cli.output import print_json_rows, stdout_console
    from scheduler.cli.posts import MAX_POST_ID
    from scheduler.clock import utcnow
    from scheduler.errors import BadInput, NotFound
    from scheduler.plan import parse_duration, parse_when
    from scheduler.store import queries
    from scheduler.store.log import read_log
    from scheduler.store.models import Kind, Post

    if json_out and csv_out:
        raise BadInput("choose --json or --csv, not both")
    if count is not None and count < 1:
        raise BadInput("-n must be at least 1")
    if kind is not None and kind not in {k.value for k in Kind}:
        raise BadInput(f"unknown kind {kind!r}: choose one of {', '.join(k.value for k in Kind)}")
    zone = display_zone()
    since_at = None
    if since is not None:
        if since.startswith("-"):  # "-2h": that long ago
            since_at = utcnow() - timedelta(seconds=parse_duration(since[1:]).total_seconds())
        else:
            since_at = parse_when(since, utcnow(), zone)
    platform_name = platform_of(platform).value if platform is not None else None
    store = open_default_store()
    try:
        with store.read() as session:
            if campaign is not None:
                queries.campaign_id(session, campaign)  # unknown name -> clear error
            if post is not None and (
                not -MAX_POST_ID <= post <= MAX_POST_ID or session.get(Post, post) is None
            ):
                raise NotFound(f"no post with id {post}")
            # "-n 99999999999999999999" means all of them (SQL's LIMIT has a range).
            limit = None if count is None else min(count, MAX_POST_ID)
            entries = read_log(session, campaign, post, platform_name, kind, since_at, limit)
    finally:
        store.close()
    records = [
        {
            "id": e.id,
            "at": iso_utc(e.at),
            "kind": e.kind,
            "post_id": e.post_id,
            "campaign": e.campaign,
            "platform": e.platform or e.detail.get("platform"),
            "seq": e.seq,
            "worker": e.worker,
            "detail": e.detail,
        }
        for e in entries
    ]
    if json_out:
        print_json_rows(records)
        return
    if csv_out:
        import csv
        import json
        import sys

        writer = csv.writer(sys.stdout)
        writer.writerow(
            ["id", "at", "kind", "post_id", "campaign", "platform", "seq", "worker", "detail"]
        )
        for r in records:
            writer.writerow(
                [
                    *(("" if v is None else v) for k, v in r.items() if k != "detail"),
                    json.dumps(r["detail"], ensure_ascii=False),
                ]
            )
        return
    from rich.table import Table

    table = Table(title=f"post log ({len(entries)} events)")
    table.add_column(f"at ({zone.key})", no_wrap=True)
    table.add_column("post", no_wrap=True)
    table.add_column("campaign", overflow="fold")
    table.add_column("platform", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for e in entries:
        table.add_row(
            local(e.at, zone, seconds=True),
            "-" if e.post_id is None else f"{e.post_id} (#{e.seq})",
            e.campaign or "-",
            e.platform or str(e.detail.get("platform", "-")),
            e.kind,
            describe(e.kind, e.detail),
        )
    stdout_console().print(table)
