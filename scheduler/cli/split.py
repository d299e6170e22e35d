"""`campaign split`: preview the posts an article becomes. Writes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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


@app.command()
def split(
    article: Annotated[
        Path, typer.Argument(metavar="ARTICLE", help="The article: .txt, .md or .html.")
    ],
    platform: Annotated[
        str, typer.Option("--platform", "-p", metavar="PLATFORM", help="x or bluesky.")
    ],
    tag: TagOption = None,
    link: LinkOption = None,
    thread: ThreadOption = True,
    numbering: NumberingOption = None,
    tags_on: TagsOnOption = "all",
    json_out: JsonOption = False,
) -> None:
    """Preview how ARTICLE is cut into posts for one platform (writes nothing)."""
    from posts.article import read_article
    from posts.split import split_article
    from scheduler.cli.output import print_json_rows, stdout_console, warn
    from scheduler.config import get_settings

    settings = get_settings()
    options = split_options(
        platform_of(platform), tag, link, thread, numbering, tags_on, settings.default_tags()
    )
    parsed = read_article(article, max_bytes=settings.max_article_bytes)
    result = split_article(parsed, options)
    for message in result.warnings:
        warn(message)
    if json_out:
        print_json_rows(
            [
                {
                    "seq": p.seq,
                    "platform": p.platform.value,
                    "text": p.text,
                    "length": p.length,
                    "limit": p.limit,
                }
                for p in result.posts
            ]
        )
        return
    from rich.table import Table

    table = Table(title=f"{len(result.posts)} posts for {options.platform.value}", show_lines=True)
    table.add_column("seq", justify="right")
    table.add_column("length", justify="right")
    table.add_column("text", overflow="fold")
    for p in result.posts:
        table.add_row(str(p.seq), f"{p.length}/{p.limit}", p.text)
    stdout_console().print(table)
