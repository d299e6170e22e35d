"""Options shared by `split` and `queue`, and how they become SplitOptions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from posts.platform import Platform
    from posts.split import SplitOptions

TagOption = Annotated[
    list[str] | None,
    typer.Option(
        "--tag",
        "-t",
        metavar="TAG",
        help="Hashtag for every post (repeatable; 'Artsakh' or '#Artsakh'). "
        "Default: CAMPAIGN_HASHTAGS.",
    ),
]
LinkOption = Annotated[
    str | None, typer.Option("--link", metavar="URL", help="URL to put in the first post.")
]
ThreadOption = Annotated[
    bool,
    typer.Option(
        "--thread/--standalone", help="Post as a reply thread (default) or standalone posts."
    ),
]
NumberingOption = Annotated[
    bool | None,
    typer.Option(
        "--numbering/--no-numbering",
        help="Number posts like 1/7 (default: on for threads, off for standalone posts).",
        show_default=False,
    ),
]
TagsOnOption = Annotated[
    str,
    typer.Option(
        "--tags-on",
        metavar="all|first|last",
        help="Which posts carry the tags: all, first or last.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def platform_of(name: str) -> Platform:
    from posts.platform import parse_platform
    from scheduler.errors import BadInput

    try:
        return parse_platform(name)
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def split_options(
    platform: Platform,
    tags: list[str] | None,
    link: str | None,
    thread: bool,
    numbering: bool | None,
    tags_on: str,
    default_tags: list[str],
) -> SplitOptions:
    from posts.split import TAG_PLACEMENTS, SplitOptions, normalize_tag
    from scheduler.errors import BadInput

    if tags_on not in TAG_PLACEMENTS:
        raise BadInput(f"invalid --tags-on {tags_on!r}: choose all, first or last")
    chosen = tags if tags else default_tags
    normalized: list[str] = []
    for tag in chosen:
        canonical = normalize_tag(tag)
        if canonical.lower() not in (t.lower() for t in normalized):
            normalized.append(canonical)
    return SplitOptions(
        platform=platform,
        tags=tuple(normalized),
        link=link,
        thread=thread,
        numbering=numbering,
        tags_on=tags_on,  # checked against TAG_PLACEMENTS above
    )
