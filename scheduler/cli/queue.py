"""`campaign queue`: split an article per platform, schedule it, store it in one transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scheduler.cli.options import (
    JsonOption,
    LinkOption,
    NumberingOption,
    TagOption,
    TagsOnOption,
    ThreadOption,
    platform_of,
    split_options,
)
from scheduler.cli.root import app

if TYPE_CHECKING:
    from scheduler.config import Settings

MAX_CAMPAIGN_NAME = 200


def check_campaign_name(name: str) -> str:
    from scheduler.errors import BadInput

    cleaned = name.strip()
    if not cleaned:
        raise BadInput("the campaign name is empty")
    if len(cleaned) > MAX_CAMPAIGN_NAME:
        raise BadInput(
            f"the campaign name is {len(cleaned)} characters; at most {MAX_CAMPAIGN_NAME}"
        )
    # The zero-width joiner is what holds emoji sequences such as 👨‍👩‍👧 together.
    if any(not ch.isprintable() and ch != "\u200d" for ch in cleaned):
        raise BadInput("the campaign name contains control characters")
    return cleaned


def budget_warning(
    platform: str, times: list[datetime], budget: int, window_seconds: int, zone_name: str
) -> str | None:
    """Say when a schedule exceeds the platform's posting budget, and when the last
    post would really go out if every post waits for room in the budget."""
    if len(times) <= budget:
        return None
    window = timedelta(seconds=window_seconds)
    sent: list[datetime] = []
    for index, planned in enumerate(times):
        at = planned
        if index >= budget:
            at = max(at, sent[index - budget] + window)
        sent.append(at)
    if sent[-1] == times[-1]:
        return None
    from zoneinfo import ZoneInfo

    from scheduler.plan import format_local

    return (
        f"{platform}: {len(times)} posts exceed the posting budget of {budget} per "
        f"{window_seconds // 60} min; the last post would really go out at "
        f"{format_local(sent[-1], ZoneInfo(zone_name))}, not "
        f"{format_local(times[-1], ZoneInfo(zone_name))}"
    )


def _budget(settings: Settings, platform: str) -> tuple[int, int]:
    if platform == "x":
        return settings.x_budget_posts, settings.x_budget_window_seconds
    return settings.bluesky_budget_posts, settings.bluesky_budget_window_seconds


@app.command()
def queue(
    article: Annotated[
        Path, typer.Argument(metavar="ARTICLE", help="The article: .txt, .md or .html.")
    ],
    platform: Annotated[
        list[str],
        typer.Option("--platform", "-p", metavar="PLATFORM", help="x and/or bluesky (repeatable)."),
    ],
    start: Annotated[
        str,
        typer.Option(
            "--start",
            metavar="WHEN",
            help="When the first post goes out: ISO 8601, now, or +30m/+2h/+1d.",
        ),
    ],
    every: Annotated[
        str | None,
        typer.Option(
            "--every",
            metavar="DURATION",
            help="Space between posts: 90s, 30m, 2h, 1d, 1h30m. Whole days keep the local "
            "wall-clock time across DST changes.",
        ),
    ] = None,
    spread_until: Annotated[
        str | None,
        typer.Option(
            "--spread-until", metavar="WHEN", help="Spread the posts evenly up to this time."
        ),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz",
            metavar="ZONE",
            help="IANA zone for naive times (default CAMPAIGN_TZ, else system).",
        ),
    ] = None,
    campaign: Annotated[
        str | None,
        typer.Option(
            "--campaign", metavar="NAME", help="Campaign name (default: the file's stem)."
        ),
    ] = None,
    append: Annotated[
        bool, typer.Option("--append", help="Add to an existing campaign of that name.")
    ] = False,
    allow_past: Annotated[
        bool, typer.Option("--allow-past", help="Accept a start time in the past.")
    ] = False,
    tag: TagOption = None,
    link: LinkOption = None,
    thread: ThreadOption = True,
    numbering: NumberingOption = None,
    tags_on: TagsOnOption = "all",
    json_out: JsonOption = False,
) -> None:
    """Split ARTICLE for each platform and queue the posts on a schedule."""

    from posts.article import read_article
    from posts.split import split_article
    from scheduler.cli.context import display_zone, iso_utc, local, open_default_store, settings
    from scheduler.cli.output import print_json_rows, stdout_console, warn
    from scheduler.clock import utcnow
    from scheduler.errors import BadInput
    from scheduler.plan import parse_duration, parse_when, schedule
    from scheduler.store.queueing import PlannedPost, queue_campaign

    config = settings()
    platforms = list(dict.fromkeys(platform_of(p) for p in platform))
    if every is not None and spread_until is not None:
        raise BadInput("--every and --spread-until cannot be used together")
    zone = display_zone(tz)
    now = utcnow()
    first = parse_when(start, now, zone)
    if first < now - timedelta(seconds=1) and start.strip().lower() != "now" and not allow_past:
        raise BadInput(f"--start {start} is in the past; pass --allow-past to queue it anyway")
    step = parse_duration(every) if every is not None else None
    until = parse_when(spread_until, now, zone) if spread_until is not None else None
    name = check_campaign_name(campaign if campaign is not None else article.stem)

    parsed = read_article(article, max_bytes=config.max_article_bytes)
    # Warnings wait until the posts are stored: a refused queue prints one line, its error.
    warnings = list(parsed.warnings)
    planned: list[PlannedPost] = []
    hashtags = ""
    for chosen in platforms:
        options = split_options(
            chosen, tag, link, thread, numbering, tags_on, config.default_tags()
        )
        hashtags = " ".join(options.tags)
        result = split_article(parsed, options)
        for message in result.warnings[len(parsed.warnings) :]:
            warnings.append(f"{chosen.value}: {message}")
        times = schedule(len(result.posts), first, zone, every=step, until=until)
        budget, window = _budget(config, chosen.value)
        over = budget_warning(chosen.value, times, budget, window, zone.key or "UTC")
        if over:
            warnings.append(over)
        planned.extend(
            PlannedPost(
                platform=chosen.value,
                account="default",
                seq=post.seq,
                text=post.text,
                scheduled_at=at,
                thread=thread,
            )
            for post, at in zip(result.posts, times, strict=True)
        )

    store = open_default_store()
    try:
        with store.write() as session:
            queued = queue_campaign(
                session,
                name=name,
                source_path=str(article.resolve()),
                source_sha256=parsed.source_sha256,
                hashtags=hashtags,
                planned=planned,
                append=append,
                now=now,
            )
    finally:
        store.close()
    for message in warnings:
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
            wrapper={"campaign": name, "posts": None},
        )
        return
    from rich.table import Table

    table = Table(title=f"campaign {name!r}: {len(queued)} posts queued")
    for column in ("id", "platform", "seq"):
        table.add_column(column)
    table.add_column(f"scheduled ({zone.key})", no_wrap=True)
    table.add_column("text", overflow="fold")
    for q in queued:
        preview = q.text.replace("\n", " ")
        table.add_row(
            str(q.id),
            q.platform,
            str(q.seq),
            local(q.scheduled_at, zone),
            preview if len(preview) <= 60 else preview[:57] + "...",
        )
    stdout_console().print(table)
