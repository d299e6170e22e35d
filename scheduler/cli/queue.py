"""`campaign queue`: plan the campaign, store it in one transaction, say what was queued."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from posts.platform import parse_platform
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
    AllowPastOption,
    AltOption,
    ArticleArgument,
    CampaignNameOption,
    CardOption,
    CwOption,
    EveryOption,
    ImageOption,
    JsonOption,
    LabelOption,
    LangOption,
    LinkOption,
    NaiveZoneOption,
    NoAltOption,
    NumberingOption,
    PlatformsOption,
    SpreadUntilOption,
    StartOption,
    TagOption,
    TagsOnOption,
    ThreadOption,
)
from scheduler.cli.output import plural, print_json_rows, print_table, warn
from scheduler.cli.root import app
from scheduler.clock import utcnow

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from scheduler.attachments import Rich
    from scheduler.model import Attachments, Plan, QueuedPost

# Above this many posts, the table gives way to a summary (`--json` still has them all).
SUMMARY_ABOVE = 50
SUMMARY_ROWS = 5


@app.command()
def queue(
    article: ArticleArgument,
    platform: PlatformsOption,
    start: StartOption,
    every: EveryOption = None,
    spread_until: SpreadUntilOption = None,
    tz: NaiveZoneOption = None,
    campaign: CampaignNameOption = None,
    append: Annotated[
        bool, typer.Option("--append", help="Add to an existing campaign of that name.")
    ] = False,
    allow_past: AllowPastOption = False,
    tag: TagOption = None,
    link: LinkOption = None,
    thread: ThreadOption = True,
    numbering: NumberingOption = None,
    tags_on: TagsOnOption = "all",
    image: ImageOption = None,
    alt: AltOption = None,
    no_alt: NoAltOption = False,
    card: CardOption = True,
    lang: LangOption = None,
    label: LabelOption = None,
    cw: CwOption = None,
    json_out: JsonOption = False,
) -> None:
    """Split ARTICLE for each platform and queue the posts on a schedule.

    Example: campaign queue examples/artsakh-op-ed.txt -p x -p bluesky --start +1h --every 2h
    """
    from scheduler.campaigns import repeat_warnings
    from scheduler.cli.rich_options import rich_from_options

    now = utcnow()
    rich = rich_from_options(image, alt, no_alt, card, lang, label, cw)
    plan, zone = plan_from_options(
        article, platform, start, every, spread_until, tz, campaign, allow_past,
        tag, link, thread, numbering, tags_on, now, rich,
    )  # fmt: skip
    with open_default_store() as store:
        repeats = repeat_warnings(plan, store.same_texts(plan))
        queued = store.queue(plan, now, append=append)
    # Warnings wait until the posts are stored: a refused queue prints one line, its error.
    for message in plan.notes:
        typer.echo(message, err=True)
    for message in [*plan.warnings, *repeats]:
        warn(message)
    if json_out:
        print_json_rows(
            [
                {
                    "id": q.id,
                    "platform": q.platform,
                    "seq": q.seq,
                    "scheduled_at": iso_utc(q.scheduled_at),
                    "text": q.text,
                }
                for q in queued
            ],
            wrapper={"campaign": plan.name, "x_cost_usd": _x_total(plan), "posts": None},
        )
        return
    title = f"campaign {plan.name!r}: {plural(len(queued), 'post')} queued"
    if len(queued) > SUMMARY_ABOVE:
        _print_summary(title, plan.name, queued, zone)
    else:
        _print_rows(title, queued, zone)
    print_extras(plan)


def print_extras(plan: Plan, err: bool = False) -> None:
    """Under a plan's table: what its first posts carry, and what X will charge."""
    from scheduler.costs import x_cost, x_prices

    for post in plan.posts:
        for line in describe_attachments(post.platform, post.seq, post.attachments):
            typer.echo(line, err=err)
    cost = x_cost(plan.posts, x_prices(settings())).describe()
    if cost:
        typer.echo(cost, err=err)


def describe_attachments(platform: str, seq: int, attached: Attachments) -> list[str]:
    """One line for each image and for a card, as `split`, `queue` and `show` print them."""
    lines = [
        f"{platform} post {seq}: image {image.width}x{image.height} {image.mime} "
        f"({image.size / 1e6:.1f} MB), alt: {image.alt or '(none)'}"
        for image in attached.images
    ]
    if attached.card is not None:
        thumb = " with a thumbnail" if attached.card.thumb is not None else ""
        lines.append(
            f"{platform} post {seq}: card{thumb}: {attached.card.title} - {attached.card.uri}"
        )
    return lines


def _x_total(plan: Plan) -> float:
    from scheduler.costs import x_cost, x_prices

    return x_cost(plan.posts, x_prices(settings())).total


def plan_from_options(
    article: Path,
    platform: list[str],
    start: str,
    every: str | None,
    spread_until: str | None,
    tz: str | None,
    campaign: str | None,
    allow_past: bool,
    tag: list[str] | None,
    link: str | None,
    thread: bool,
    numbering: bool | None,
    tags_on: str,
    now: datetime,
    rich: Rich | None = None,
) -> tuple[Plan, ZoneInfo]:
    """The plan `queue` stores and `plan` writes, from the options they share."""
    from scheduler.attachments import Rich
    from scheduler.campaigns import PostOptions, When, plan_campaign

    zone = display_zone(tz)
    plan = plan_campaign(
        article,
        [parse_platform(p) for p in platform],
        When(start, zone, every, spread_until, allow_past),
        PostOptions(
            tags=tuple(tag) if tag else None,
            link=link,
            thread=thread,
            numbering=numbering,
            tags_on=tags_on,
            rich=rich or Rich(),
        ),
        settings(),
        now,
        name=campaign,
    )
    return plan, zone


def _print_rows(title: str, queued: Sequence[QueuedPost], zone: ZoneInfo) -> None:
    when, times = time_column("scheduled", [q.scheduled_at for q in queued], zone)
    print_table(
        f"{title}, times in {zone_label(zone)}",
        ["id", "platform", "seq", when, "text"],
        [
            [str(q.id), q.platform, str(q.seq), at, " ".join(q.text.split())]
            for q, at in zip(queued, times, strict=True)
        ],
        clip_last=True,  # a preview: one line a post (`show` has the whole text)
    )


def _print_summary(title: str, name: str, queued: Sequence[QueuedPost], zone: ZoneInfo) -> None:
    """Per platform: how many, the first and last time; then the first few rows."""
    by_platform: dict[str, list[QueuedPost]] = {}
    for q in queued:
        by_platform.setdefault(q.platform, []).append(q)
    print_table(
        f"{title}, times in {zone_label(zone)}",
        ["platform", "posts", "ids", "first", "last"],
        [
            [
                str(p),
                str(len(rows)),
                f"{rows[0].id}-{rows[-1].id}" if len(rows) > 1 else str(rows[0].id),
                local(min(q.scheduled_at for q in rows), zone),
                local(max(q.scheduled_at for q in rows), zone),
            ]
            for p, rows in by_platform.items()
        ],
    )
    _print_rows(f"the first {SUMMARY_ROWS} posts", queued[:SUMMARY_ROWS], zone)
    typer.echo(f"campaign list --campaign {shlex.quote(name)} shows them all")
