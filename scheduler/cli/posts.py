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
# Post ids are a 32-bit INTEGER column on PostgreSQL (64-bit on SQLite, which never gets
# that far): a bigger id cannot exist, and looking it up would fail in the driver.
MAX_POST_ID = 2**31 - 1


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
    from scheduler.cli.output import print_json_rows, stdout_console, warn
    from scheduler.clock import utcnow
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
        objects = [
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
        print_json_rows(objects)
        return
    if len(rows) > FAST_OUTPUT_ROWS:
        _print_plain_table(
            f"{len(rows)} posts",
            ["id", "campaign", "platform", "seq", "status", f"scheduled ({zone.key})", "tries",
             "url / last error"],
            [
                [str(r.id), r.campaign, r.platform, str(r.seq), r.status,
                 local(r.scheduled_at, zone), str(r.attempts), r.remote_url or r.last_error or ""]
                for r in rows
            ],
            right=frozenset({6}),
        )  # fmt: skip
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


# Above this many rows, `list` draws its table itself: Rich lays out every cell (about
# 2.5 ms a row, 25 s for 10,000 posts).
FAST_OUTPUT_ROWS = 200


def _print_plain_table(
    title: str, headers: list[str], rows: list[list[str]], right: frozenset[int] = frozenset()
) -> None:
    """A table drawn like Rich's default (heavy head), laid out once for all rows: cells
    keep one line, except the last column, which folds to fit the console width."""
    import sys

    from rich.cells import cell_len as cells
    from rich.cells import chop_cells
    from rich.console import Console

    def cell_len(text: str) -> int:  # rich's cell_len, skipped for ASCII
        return len(text) if text.isascii() else cells(text)

    width = Console().width
    widths = [max([cell_len(h), *(cell_len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    # Borders and one space of padding each side: 3 per column, plus 1.
    room = width - (3 * len(widths) + 1) - sum(widths[:-1])
    widths[-1] = max(min(widths[-1], room), 8)

    def lines(cells: list[str], bar: str) -> list[str]:
        *fixed, folded = cells
        pieces = chop_cells(folded, widths[-1]) if cell_len(folded) > widths[-1] else [folded]
        out = []
        for n, piece in enumerate(pieces or [""]):
            padded = []
            for i, (cell, w) in enumerate(zip([*fixed, piece], widths, strict=True)):
                text = cell if n == 0 or i == len(widths) - 1 else ""
                gap = " " * (w - cell_len(text))
                padded.append(gap + text if i in right else text + gap)
            out.append(bar + bar.join(f" {c} " for c in padded) + bar)
        return out

    def rule(left: str, mid: str, right: str, fill: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + right

    total = sum(widths) + 3 * len(widths) + 1
    out = [title.center(total).rstrip(), rule("┏", "┳", "┓", "━"), *lines(headers, "┃")]
    out.append(rule("┡", "╇", "┩", "━"))
    for row in rows:
        out.extend(lines(row, "│"))
    out.append(rule("└", "┴", "┘", "─"))
    sys.stdout.write("\n".join(out) + "\n")


def _targets(post_ids: list[int] | None, campaign: str | None, verb: str) -> tuple[list[int], bool]:
    from scheduler.errors import BadInput, NotFound

    if bool(post_ids) == bool(campaign):
        raise BadInput(f"give post ids or --campaign NAME to {verb}, not both and not neither")
    beyond = [i for i in post_ids or [] if not -MAX_POST_ID <= i <= MAX_POST_ID]
    if beyond:
        raise NotFound(f"no post with id {', '.join(map(str, beyond))}")
    return list(post_ids or []), campaign is not None


def _change(post_ids: list[int] | None, campaign: str | None, verb: str) -> None:
    from scheduler.cli.context import open_default_store
    from scheduler.clock import utcnow
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
