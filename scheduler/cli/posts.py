"""`campaign list`, `cancel` and `retry`: the queue's posts and their states."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
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
from scheduler.cli.options import (
    CampaignFilter,
    JsonOption,
    PlatformFilter,
    TzOption,
    platform_filter,
)
from scheduler.cli.output import plural, print_json_rows, print_table, warn
from scheduler.cli.root import app
from scheduler.clock import utcnow
from scheduler.errors import BadInput

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from scheduler.model import Overview, PostRow, Status

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
    count: Annotated[
        int | None, typer.Option("-n", metavar="N", help="Only the first N, in schedule order.")
    ] = None,
    tz: TzOption = None,
    json_out: JsonOption = False,
) -> None:
    """List posts in schedule order: status, time, the text's first line, URL or error.

    `campaign show POST_ID` shows one post whole.

    Example: campaign list --campaign artsakh-op-ed --status queued -n 10
    """
    if count is not None and count < 1:
        raise BadInput("-n must be at least 1")
    chosen = parse_status(status)
    zone = display_zone(tz)
    now = utcnow()
    with open_default_store() as store:
        rows = store.posts(
            campaign,
            statuses=[chosen] if chosen else (),
            platform=platform_filter(platform),
            limit=count,
        )
        overview = store.overview(now)
    _warn_if_no_daemon(overview, now)
    paused = set(overview.paused) & {r.campaign for r in rows}
    if paused:
        names = ", ".join(repr(n) for n in sorted(paused))
        warn(f"paused: {names} (its posts wait for `campaign resume`)")
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
                    "text": r.text,
                }
                for r in rows
            ]
        )
        return
    _print_posts(rows, zone, paused, campaign, platform_filter(platform))


def _print_posts(
    rows: Sequence[PostRow],
    zone: ZoneInfo,
    paused: Collection[str],
    campaign: str | None,
    platform: str | None,
) -> None:
    """One line a post. The campaign and platform columns go when a filter makes them
    all the same (the title says it), leaving the text room; tries show when a post
    needed more than one; the URL or last error, when a post has one, in a last column
    that wraps; the text is cut to fit."""
    when, times = time_column("scheduled", [r.scheduled_at for r in rows], zone)
    tries = any(r.attempts > 1 for r in rows)
    notes = any(r.remote_url or r.last_error for r in rows)
    columns: list[tuple[str, Callable[[PostRow], str]]] = [("id", lambda r: str(r.id))]
    if campaign is None:
        columns.append(("campaign", lambda r: r.campaign))
    if platform is None:
        columns.append(("platform", lambda r: r.platform))
    columns.append(("seq", lambda r: str(r.seq)))
    columns.append(("status", lambda r: _state(r, paused)))
    shrink = [1] if campaign is None else []
    table = [[cell(r) for _, cell in columns] + [at] for r, at in zip(rows, times, strict=True)]
    headers = [name for name, _ in columns] + [when]
    right: frozenset[int] = frozenset()
    if tries:
        right = frozenset({len(headers)})
        headers.append("tries")
        for cells, r in zip(table, rows, strict=True):
            cells.append(str(r.attempts))
    if notes:
        shrink.append(len(headers))
    headers += ["text"] + ["url / last error"] * notes
    for cells, r in zip(table, rows, strict=True):
        cells += [_first_line(r.text)] + [r.remote_url or r.last_error or ""] * notes
    scope = "".join(
        [f" of campaign {campaign!r}" if campaign else "", f" on {platform}" if platform else ""]
    )
    print_table(
        f"{plural(len(rows), 'post')}{scope}, times in {zone_label(zone)}",
        headers,
        table,
        right=right,
        shrink=shrink,
        clip_last=not notes,
    )


def _state(row: PostRow, paused: Collection[str]) -> str:
    waits = row.campaign in paused and row.status == "queued"
    return f"{row.status} (paused)" if waits else str(row.status)


def _first_line(text: str) -> str:
    line = text.strip().split("\n", 1)[0]
    return line if line == text.strip() else line + " …"


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
def cancel(
    post_ids: PostIds = None,
    campaign: CampaignFilter = None,
    keep_thread: Annotated[
        bool,
        typer.Option(
            "--keep-thread",
            help="Drop the posts from their threads: each reply attaches to the dropped "
            "post's parent instead of being held.",
        ),
    ] = False,
) -> None:
    """Cancel queued posts (by id, or a whole campaign); later thread posts are held.

    Example: campaign cancel 14 --keep-thread
    """
    ids = _targets(post_ids, campaign, "cancel")
    if keep_thread and campaign is not None:
        raise BadInput("--keep-thread drops single posts: give their ids, not --campaign")
    with open_default_store() as store:
        if not keep_thread:
            _report("cancelled", store.cancel(ids, campaign, now=utcnow()))
            return
        rethreaded = store.cancel_keeping_threads(ids, now=utcnow())
    _report("cancelled", ids)
    for r in rethreaded:
        parent = "starts the thread now" if r.now is None else f"replies to post {r.now} now"
        typer.echo(f"post {r.post_id} {parent}, not to post {r.was}")
    if rethreaded:
        warn(
            "numbering such as 3/15 in the thread's other posts stays as it was; "
            "`campaign edit` changes a post's text"
        )


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
