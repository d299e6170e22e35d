"""`campaign list`, `cancel` and `retry`: the queue's posts and their states."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from scheduler.cli.context import (
    display_zone,
    iso_utc,
    local,
    open_default_store,
    settings,
    time_column,
    zone_label,
)
from scheduler.cli.options import CampaignFilter, JsonOption, PlatformFilter, platform_filter
from scheduler.cli.output import plural, print_json_rows, print_table, warn
from scheduler.cli.root import app
from scheduler.clock import utcnow
from scheduler.errors import BadInput

if TYPE_CHECKING:
    from scheduler.model import Overview, Status

PostIds = Annotated[
    list[str] | None,
    typer.Argument(metavar="POST_ID", help="Post ids, or ranges such as 4-15.", show_default=False),
]
_ID = re.compile(r"(\d+)(?:-(\d+))?")
MAX_RANGE = 100_000


def post_ids(given: list[str] | None) -> list[int]:
    """'12', '4-15' (both ends included): digits only, so '8_0' is not taken for 80."""
    ids: list[int] = []
    for text in given or []:
        match = _ID.fullmatch(text.strip())
        if match is None:
            raise BadInput(
                f"{text!r} is not a post id: give numbers such as 12, or ranges such as 4-15"
            )
        first = int(match[1])
        last = int(match[2]) if match[2] else first
        if last < first:
            raise BadInput(f"the range {text!r} runs backwards: write {last}-{first}")
        if last - first >= MAX_RANGE:
            raise BadInput(f"the range {text!r} holds more than {MAX_RANGE:,} ids")
        ids.extend(range(first, last + 1))
    return list(dict.fromkeys(ids))


def parse_status(name: str | None) -> Status | None:
    from scheduler.model import Status

    if name is None:
        return None
    try:
        return Status(name.strip().lower())
    except ValueError:
        raise BadInput(
            f"unknown status {name!r}: choose one of {', '.join(s.value for s in Status)}"
        ) from None


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
    platform: PlatformFilter = None,
    json_out: JsonOption = False,
) -> None:
    """List posts with their status, time, attempts, URL and last error."""
    chosen = parse_status(status)
    zone = display_zone()
    now = utcnow()
    with open_default_store() as store:
        rows = store.posts(
            campaign, statuses=[chosen] if chosen else (), platform=platform_filter(platform)
        )
        overview = store.overview(now)
    _warn_if_no_daemon(overview, now)
    if json_out:
        print_json_rows(
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
    when, times = time_column("scheduled", [r.scheduled_at for r in rows], zone)
    print_table(
        f"{plural(len(rows), 'post')}, times in {zone_label(zone)}",
        ["id", "campaign", "platform", "seq", "status", when, "tries", "url / last error"],
        [
            [str(r.id), r.campaign, r.platform, str(r.seq), r.status, at, str(r.attempts),
             r.remote_url or r.last_error or ""]
            for r, at in zip(rows, times, strict=True)
        ],
        right=frozenset({6}),
        shrink=[1],
    )  # fmt: skip


def _warn_if_no_daemon(overview: Overview, now: datetime) -> None:
    if not overview.unattended(now, settings().heartbeat_stale_seconds):
        return
    seen = overview.last_heartbeat
    when = (
        "no daemon has ever run"
        if seen is None
        else f"no daemon has been seen for {int((now - seen).total_seconds() // 60)} min"
    )
    verb = "is" if overview.overdue == 1 else "are"
    warn(
        f"{when}; {plural(overview.overdue, 'post')} {verb} overdue (start one with `campaign run`)"
    )


def _targets(given: list[str] | None, campaign: str | None, verb: str) -> list[int]:
    if bool(given) == bool(campaign):
        raise BadInput(f"give post ids or --campaign NAME to {verb}, not both and not neither")
    return post_ids(given)


def _report(done: str, ids: list[int]) -> None:
    shown = ", ".join(map(str, ids)) or "none"
    typer.echo(f"{done} {plural(len(ids), 'post')}: {shown}")


@app.command()
def cancel(post_ids: PostIds = None, campaign: CampaignFilter = None) -> None:
    """Cancel queued posts (by id, or a whole campaign); later thread posts are held."""
    ids = _targets(post_ids, campaign, "cancel")
    with open_default_store() as store:
        changed = store.cancel(ids, campaign, now=utcnow())
    _report("cancelled", changed)


@app.command()
def retry(post_ids: PostIds = None, campaign: CampaignFilter = None) -> None:
    """Queue failed, held or cancelled posts again (by id, or a whole campaign).

    Posts whose time has passed are re-planned from now, keeping their spacing, so a
    thread does not burst onto the timeline.
    """
    ids = _targets(post_ids, campaign, "retry")
    with open_default_store() as store:
        requeued = store.retry(ids, campaign, now=utcnow())
    _report("queued again", [r.post_id for r in requeued])
    moved = [r for r in requeued if r.replanned]
    if moved:
        zone = display_zone()
        first, last = min(r.at for r in moved), max(r.at for r in moved)
        span = (
            local(first, zone) if first == last else f"{local(first, zone)} to {local(last, zone)}"
        )
        typer.echo(
            f"their time had passed: {plural(len(moved), 'post')} re-planned from now, "
            f"keeping their spacing: {span}"
        )
