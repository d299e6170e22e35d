"""Options shared by several commands, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posts.platform import Platform, parse_platform

ArticleArgument = Annotated[
    Path,
    typer.Argument(
        metavar="ARTICLE", help="The article: .txt, .md or .html, or - for standard input."
    ),
]
# "x, bluesky" and the like, from the one list of platforms.
PLATFORM_NAMES = ", ".join(p.value for p in Platform)
PlatformsOption = Annotated[
    list[str],
    typer.Option("--platform", "-p", metavar="PLATFORM", help=f"{PLATFORM_NAMES} (repeatable)."),
]
StartOption = Annotated[
    str,
    typer.Option(
        "--start",
        metavar="WHEN",
        help="When the first post goes out: ISO 8601, now, or +30m/+2h/+1d.",
    ),
]
EveryOption = Annotated[
    str | None,
    typer.Option(
        "--every",
        metavar="DURATION",
        help="Space between posts: 90s, 30m, 2h, 1d, 1h30m. Whole days keep the local "
        "wall-clock time across DST changes.",
    ),
]
SpreadUntilOption = Annotated[
    str | None,
    typer.Option("--spread-until", metavar="WHEN", help="Spread the posts evenly up to this time."),
]
NaiveZoneOption = Annotated[
    str | None,
    typer.Option(
        "--tz",
        metavar="ZONE",
        help="IANA zone for naive times (default CAMPAIGN_TZ, else system).",
    ),
]
CampaignNameOption = Annotated[
    str | None,
    typer.Option(
        "--campaign",
        metavar="NAME",
        help="Campaign name (default: the file's stem; needed with - for standard input).",
    ),
]
AllowPastOption = Annotated[
    bool, typer.Option("--allow-past", help="Accept a start time in the past.")
]
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
TzOption = Annotated[
    str | None,
    typer.Option(
        "--tz",
        metavar="ZONE",
        help="IANA zone to show and read times in (default CAMPAIGN_TZ, else the system's).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


PlatformFilter = Annotated[
    str | None,
    typer.Option("--platform", "-p", metavar="PLATFORM", help=f"One of {PLATFORM_NAMES}."),
]
CampaignFilter = Annotated[
    str | None, typer.Option("--campaign", "-c", metavar="NAME", help="Campaign name.")
]


def platform_filter(name: str | None) -> Platform | None:
    return None if name is None else parse_platform(name)


# -- what the posts carry besides text (split, queue, plan) ---------------------------------
ImageOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--image",
        metavar="PATH",
        help="An image for the first post of each platform (repeatable, up to 4; PNG, JPEG, "
        "WebP or GIF), each described by the --alt in the same order.",
    ),
]
AltOption = Annotated[
    list[str] | None,
    typer.Option(
        "--alt", metavar="TEXT", help="The description of each --image, in order (repeatable)."
    ),
]
NoAltOption = Annotated[
    bool,
    typer.Option("--no-alt", help="Publish the images that have no --alt without a description."),
]
CardOption = Annotated[
    bool,
    typer.Option(
        "--card/--no-card",
        help="Give the --link a card on Bluesky (title, description, image from its page).",
    ),
]
LangOption = Annotated[
    list[str] | None,
    typer.Option(
        "--lang",
        metavar="CODE",
        help="The posts' language, BCP 47 (repeatable; default CAMPAIGN_LANGS): Bluesky takes "
        "up to 3, Mastodon the first.",
    ),
]
CwOption = Annotated[
    str | None,
    typer.Option(
        "--cw",
        metavar="TEXT",
        help="A content warning shown before each Mastodon post (it counts towards the limit).",
    ),
]
LabelOption = Annotated[
    list[str] | None,
    typer.Option(
        "--label",
        metavar="LABEL",
        help="A content warning on Bluesky: graphic-media, sexual, nudity or porn (repeatable).",
    ),
]
