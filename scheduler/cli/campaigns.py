"""`campaign campaigns`, `pause`, `resume`, `rename` and `delete`: whole campaigns."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from scheduler.cli.context import (
    display_zone,
    iso_utc,
    open_default_store,
    time_column,
    zone_label,
)
from scheduler.cli.options import JsonOption, TzOption
from scheduler.cli.output import plural, print_json_rows, print_table
from scheduler.cli.root import app
from scheduler.clock import utcnow

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

Name = Annotated[str, typer.Argument(metavar="NAME", help="The campaign's name.")]


@app.command()
def campaigns(tz: TzOption = None, json_out: JsonOption = False) -> None:
    """List campaigns: platforms, posts by status, first, next and last time, paused."""
    zone = display_zone(tz)
    with open_default_store() as store:
        rows = store.campaigns()
    if json_out:
        print_json_rows(
            [
                {
                    "name": c.name,
                    "platforms": list(c.platforms),
                    "counts": dict(sorted(c.counts.items())),
                    "first": iso_utc(c.first),
                    "next": iso_utc(c.next),
                    "last": iso_utc(c.last),
                    "paused": c.paused_at is not None,
                    "paused_at": iso_utc(c.paused_at),
                    "source": c.source_path,
                }
                for c in rows
            ]
        )
        return
    next_col, nexts = _times("next", [c.next for c in rows], zone)
    last_col, lasts = _times("last", [c.last for c in rows], zone)
    print_table(
        f"{plural(len(rows), 'campaign')}, times in {zone_label(zone)}",
        ["campaign", "platforms", next_col, last_col, "state", "posts"],
        [
            [
                c.name,
                " ".join(c.platforms),
                at_next,
                at_last,
                "paused" if c.paused_at is not None else "active",
                ", ".join(f"{n} {s}" for s, n in sorted(c.counts.items())) or "none",
            ]
            for c, at_next, at_last in zip(rows, nexts, lasts, strict=True)
        ],
        shrink=[0],
    )


def _times(name: str, times: list[datetime | None], zone: ZoneInfo) -> tuple[str, list[str]]:
    """A time column whose empty cells (nothing queued) show '-'."""
    known = [t for t in times if t is not None]
    header, cells = time_column(name, known, zone)
    shown = iter(cells)
    return header, [next(shown) if t is not None else "-" for t in times]


@app.command()
def pause(name: Name) -> None:
    """Stop a campaign's posts going out (one already publishing finishes).

    Example: campaign pause artsakh-op-ed
    """
    with open_default_store() as store:
        changed = store.pause(name, now=utcnow())
    if changed:
        typer.echo(f"campaign {name!r} paused: none of its posts goes out until `campaign resume`")
    else:
        typer.echo(f"campaign {name!r} was paused already")


@app.command()
def resume(
    name: Name,
    keep_times: Annotated[
        bool,
        typer.Option(
            "--keep-times",
            help="Keep the posts' times (those passed meanwhile follow the catch-up rule) "
            "instead of moving them later by the time spent paused.",
        ),
    ] = False,
) -> None:
    """Let a paused campaign's posts go out again, later by the time spent paused so
    the spacing is kept and nothing bursts.

    Example: campaign resume artsakh-op-ed
    """
    from scheduler.plan import describe_span

    now = utcnow()
    with open_default_store() as store:
        paused_at, moved = store.resume(name, keep_times, now=now)
    span = describe_span((now - paused_at).total_seconds())
    said = f"campaign {name!r} resumed after {span} paused"
    if keep_times:
        typer.echo(f"{said}; its posts keep their times (those passed meanwhile go out now)")
    else:
        typer.echo(f"{said}; {plural(moved, 'post')} moved {span} later, keeping their spacing")


@app.command()
def rename(
    old: Annotated[str, typer.Argument(metavar="OLD", help="The campaign's name.")],
    new: Annotated[str, typer.Argument(metavar="NEW", help="Its new name.")],
) -> None:
    """Rename a campaign (its posts and log stay with it)."""
    from scheduler.campaigns import check_campaign_name

    cleaned = check_campaign_name(new)
    with open_default_store() as store:
        store.rename(old, cleaned, now=utcnow())
    typer.echo(f"campaign {old!r} is now {cleaned!r}")


@app.command()
def delete(name: Name) -> None:
    """Delete a campaign none of whose posts went out (else cancel it instead).

    Its posts and their log go; one `deleted` event keeps what it held.
    """
    with open_default_store() as store:
        counts = store.delete(name, now=utcnow())
    held = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no posts"
    typer.echo(f"campaign {name!r} deleted ({held})")
