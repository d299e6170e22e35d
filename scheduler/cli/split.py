"""`campaign split`: preview the posts an article becomes. Writes nothing."""

from __future__ import annotations

from typing import Annotated

import typer

from posts.platform import parse_platform
from scheduler.cli.context import settings
from scheduler.cli.options import (
    PLATFORM_NAMES,
    AltOption,
    ArticleArgument,
    CardOption,
    CwOption,
    ImageOption,
    JsonOption,
    LabelOption,
    LangOption,
    LinkOption,
    NoAltOption,
    NumberingOption,
    TagOption,
    TagsOnOption,
    ThreadOption,
)
from scheduler.cli.output import plural, print_json_rows, stdout_console, warn
from scheduler.cli.root import app
from scheduler.clock import utcnow


@app.command()
def split(
    article: ArticleArgument,
    platform: Annotated[
        str,
        typer.Option("--platform", "-p", metavar="PLATFORM", help=f"One of {PLATFORM_NAMES}."),
    ],
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
    """Preview how ARTICLE is cut into posts for one platform, with the images or link
    card its first post would carry and what X would charge (queues nothing).

    Example: campaign split examples/artsakh-op-ed.txt -p x -t Artsakh -t Armenia
    """
    from scheduler.campaigns import PostOptions, attachments_of, preview
    from scheduler.cli.queue import describe_attachments
    from scheduler.cli.rich_options import rich_from_options
    from scheduler.costs import x_cost, x_prices
    from scheduler.model import PlannedPost

    options = PostOptions(
        tags=tuple(tag) if tag else None,
        link=link,
        thread=thread,
        numbering=numbering,
        tags_on=tags_on,
        rich=rich_from_options(image, alt, no_alt, card, lang, label, cw),
    )
    chosen = parse_platform(platform)
    result, notes = preview(article, chosen, options, settings())
    for note in notes:
        typer.echo(note, err=True)
    attached = attachments_of(options, [chosen], settings())
    for message in [*result.warnings, *attached.warnings]:
        warn(message)
    now = utcnow()  # a preview: any time does
    as_planned = [
        PlannedPost(chosen, p.seq, p.text, now, thread, attachments=attached.of(chosen, p.seq))
        for p in result.posts
    ]
    if json_out:
        print_json_rows(
            [
                {
                    "seq": p.seq,
                    "platform": p.platform.value,
                    "text": p.text,
                    "length": p.length,
                    "limit": p.limit,
                    "attachments": planned.attachments.as_json(),
                }
                for p, planned in zip(result.posts, as_planned, strict=True)
            ]
        )
        return
    from rich.table import Table

    table = Table(title=f"{plural(len(result.posts), 'post')} for {chosen}", show_lines=True)
    table.add_column("seq", justify="right")
    table.add_column("length", justify="right")
    table.add_column("text", overflow="fold")
    for p in result.posts:
        table.add_row(str(p.seq), f"{p.length}/{p.limit}", p.text)
    stdout_console().print(table)
    for planned in as_planned[:1]:
        for line in describe_attachments(chosen, planned.seq, planned.attachments):
            typer.echo(line)
    cost = x_cost(as_planned, x_prices(settings())).describe()
    if cost:
        typer.echo(cost)
