"""`campaign split`: preview the posts an article becomes. Writes nothing."""

from __future__ import annotations

from typing import Annotated

import typer

from posts.platform import parse_platform
from scheduler.cli.context import settings
from scheduler.cli.options import (
    ArticleArgument,
    JsonOption,
    LinkOption,
    NumberingOption,
    TagOption,
    TagsOnOption,
    ThreadOption,
)
from scheduler.cli.output import plural, print_json_rows, stdout_console, warn
from scheduler.cli.root import app


@app.command()
def split(
    article: ArticleArgument,
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
    """Preview how ARTICLE is cut into posts for one platform (writes nothing).

    Example: campaign split examples/artsakh-op-ed.txt -p x -t Artsakh -t Armenia
    """
    from scheduler.campaigns import PostOptions, preview

    options = PostOptions(
        tags=tuple(tag) if tag else None,
        link=link,
        thread=thread,
        numbering=numbering,
        tags_on=tags_on,
    )
    chosen = parse_platform(platform)
    result = preview(article, chosen, options, settings())
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

    table = Table(title=f"{plural(len(result.posts), 'post')} for {chosen}", show_lines=True)
    table.add_column("seq", justify="right")
    table.add_column("length", justify="right")
    table.add_column("text", overflow="fold")
    for p in result.posts:
        table.add_row(str(p.seq), f"{p.length}/{p.limit}", p.text)
    stdout_console().print(table)
