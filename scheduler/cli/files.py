"""`campaign plan`, `export` and `apply`: a campaign as a file to review in a pull
request, then applied like Terraform: the diff first, then all of it or nothing."""

from __future__ import annotations

import difflib
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from posts.platform import PROFILES
from scheduler.cli.context import iso_utc, open_default_store, settings
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
from scheduler.cli.output import plural, print_json, terminal_width, warn
from scheduler.cli.queue import plan_from_options, print_extras
from scheduler.cli.root import app
from scheduler.clock import utcnow
from scheduler.errors import BadInput

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from scheduler.attachments import Rich
    from scheduler.campaign_file import CampaignFile, FilePost
    from scheduler.file_diff import ImagesOf
    from scheduler.model import (
        Attachments,
        CampaignChanges,
        CampaignRow,
        LinkCard,
        Plan,
        PostRow,
        StoredImage,
    )

OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", metavar="FILE", help="Write to FILE (default: stdout)."),
]
STDOUT = "-"


def _write(text: str, output: Path | None) -> None:
    """To stdout, or to FILE whole: written beside it, then renamed over it, so a file
    under review is never left half-written."""
    if output is None or str(output) == STDOUT:
        sys.stdout.write(text)
        return
    folder = output.resolve().parent
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{output.name}.")
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(temporary, output)
    except OSError as exc:
        raise BadInput(f"cannot write {output}: {exc.strerror or exc}") from None


def _as_file(plan: Plan, source: str, rich: Rich) -> CampaignFile:
    """The plan as a file; its images named by the paths given (apply reads them)."""
    from scheduler.campaign_file import CampaignFile, FileImage, FilePost

    images = tuple(
        FileImage(alt=spec.alt or "", path=str(spec.path.resolve())) for spec in rich.images
    )
    return CampaignFile(
        name=plan.name,
        settings=plan.settings,
        source=source,
        posts=tuple(
            FilePost(
                p.platform,
                p.seq,
                p.scheduled_at,
                p.text,
                p.account,
                images=images if p.attachments.images else (),
            )
            for p in plan.posts
        ),
    )


@app.command()
def plan(
    article: ArticleArgument,
    platform: PlatformsOption,
    start: StartOption,
    output: OutputOption = None,
    every: EveryOption = None,
    spread_until: SpreadUntilOption = None,
    tz: NaiveZoneOption = None,
    campaign: CampaignNameOption = None,
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
) -> None:
    """Write what `queue` would queue as a campaign file (TOML), touching no database.

    Review it, edit texts, times and images, then `campaign apply FILE` queues it (and
    fetches the link's card then).

    Example: campaign plan examples/artsakh-op-ed.txt -p x --start +1d --every 2h -o a.toml
    """
    from dataclasses import replace

    from scheduler.campaign_file import write_toml
    from scheduler.cli.rich_options import rich_from_options

    now = utcnow()
    rich = rich_from_options(image, alt, no_alt, card, lang, label, cw)
    planned, _ = plan_from_options(
        article, platform, start, every, spread_until, tz, campaign, allow_past,
        tag, link, thread, numbering, tags_on, now, replace(rich, card=False),
    )  # fmt: skip
    planned = replace(planned, settings=replace(planned.settings, card=card))
    header = (
        f"Planned by `campaign plan` on {now:%Y-%m-%d %H:%M} UTC from {article}: "
        f"{plural(len(planned.posts), 'post')}."
    )
    _write(write_toml(_as_file(planned, str(article), rich), header), output)
    for message in planned.notes:
        typer.echo(message, err=True)
    for message in planned.warnings:
        warn(message)
    print_extras(planned, err=True)
    if output is not None and str(output) != STDOUT:
        typer.echo(
            f"wrote {output}: campaign {planned.name!r}, {plural(len(planned.posts), 'post')}; "
            f"`campaign apply {output}` queues it",
            err=True,
        )


def _exported(campaign: CampaignRow, rows: list[PostRow]) -> CampaignFile:
    from scheduler.campaign_file import CampaignFile, FileImage, FilePost

    # Platforms in the order they were queued, each thread in seq order.
    first: dict[str, int] = {}
    for r in sorted(rows, key=lambda r: r.id):
        first.setdefault(r.platform, r.id)
    ordered = sorted(rows, key=lambda r: (first[r.platform], r.account, r.seq))
    return CampaignFile(
        name=campaign.name,
        settings=campaign.settings,
        source=campaign.source_path,
        posts=tuple(
            FilePost(
                platform=r.platform,
                seq=r.seq,
                at=r.scheduled_at.replace(microsecond=0),
                text=r.text,
                account=r.account,
                id=r.id,
                status=r.status,
                url=r.remote_url,
                images=tuple(FileImage(alt=i.alt, sha256=i.source) for i in r.attachments.images),
            )
            for r in ordered
        ),
    )


@app.command()
def export(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The campaign's name.")],
    output: OutputOption = None,
    format_: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="toml|csv|ics",
            help="toml: a campaign file to edit and apply; csv: for a spreadsheet; "
            "ics: a calendar with an event at each post's time.",
        ),
    ] = "toml",
) -> None:
    """Write a queued campaign as a file, each post with its id, status and URL.

    Example: campaign export artsakh-op-ed -o artsakh.toml
    """
    from scheduler.campaign_file import write_csv, write_ics, write_toml

    chosen = format_.strip().lower()
    if chosen not in ("toml", "csv", "ics"):
        raise BadInput(f"unknown --format {format_!r}: choose toml, csv or ics")
    now = utcnow()
    with open_default_store() as store:
        campaign = store.campaign(name)
        rows = store.posts(name)
    exported = _exported(campaign, rows)
    if chosen == "csv":
        text = write_csv(exported)
    elif chosen == "ics":
        text = write_ics(exported, now)
    else:
        header = (
            f"Exported by `campaign export` on {now:%Y-%m-%d %H:%M} UTC: "
            f"{plural(len(rows), 'post')}."
        )
        text = write_toml(exported, header)
    _write(text, output)


# -- apply ------------------------------------------------------------------------------------


def _read_file(path: Path) -> str:
    try:
        data = sys.stdin.buffer.read() if str(path) == STDOUT else path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path} is not UTF-8 text (byte {exc.start + 1})") from None


@app.command()
def apply(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="A campaign file (TOML), or - for stdin.")
    ],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Apply without asking for confirmation.")
    ] = False,
    allow_past: Annotated[
        bool, typer.Option("--allow-past", help="Accept new or changed times in the past.")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Make the database match a campaign file: show the diff, ask, then apply it all in
    one transaction, or nothing.

    Posts are matched by id, else by platform, account and seq. A new campaign name
    queues the file; posts left out are cancelled; published posts cannot change.
    Without a terminal and without --yes, only the diff is printed (exit 1).

    Example: campaign apply artsakh.toml
    """
    from scheduler.campaign_file import read_toml
    from scheduler.errors import NotFound
    from scheduler.file_diff import diff_campaign
    from scheduler.plan import parse_zone

    where = "standard input" if str(file) == STDOUT else str(file)
    wanted = read_toml(_read_file(file), where)
    now = utcnow()
    with open_default_store() as store:
        try:
            stored: CampaignRow | None = store.campaign(wanted.name)
        except NotFound:
            stored = None
        rows = store.posts(wanted.name) if stored is not None else []
        named = [p.id for p in wanted.posts if p.id is not None]
        by_id = {r.id: r for r in store.posts(post_ids=named)} if named else {}
        card = None
        if stored is None:  # a new campaign: counted and carded as `queue` would
            wanted = _counted_as_queue_would(wanted)
            card = _card_for(wanted)
        changes = diff_campaign(
            wanted, where, stored, rows, by_id, now, allow_past, _images_reader(file), card
        )
        zone = parse_zone(wanted.settings.tz)
        if not changes:
            if json_out:
                print_json(_diff_json(changes, applied=False))
            else:
                typer.echo(f"no changes: campaign {wanted.name!r} matches {where}")
            return
        mine = {r.id: r for r in rows}
        if json_out:
            if not yes:
                print_json(_diff_json(changes, applied=False))
                raise typer.Exit(1)
        else:
            _print_diff(changes, mine, zone, where)
            if not yes and not _confirmed():
                raise typer.Exit(1)
        store.apply(changes, now=now)
    if json_out:
        print_json(_diff_json(changes, applied=True))
    else:
        typer.echo(f"applied: {_summary(changes)}")


def _images_reader(file: Path) -> ImagesOf:
    """A file post's images, read (a path relative to the campaign file's folder, or an
    image already in the data directory by its hash), stored and fitted to its platform."""
    from scheduler.attachments import ImageSpec, fitted_images, load_images
    from scheduler.media import MediaDir

    media = MediaDir(settings().resolved_data_dir() / "media")
    folder = Path.cwd() if str(file) == STDOUT else file.resolve().parent

    def images_of(post: FilePost) -> tuple[StoredImage, ...]:
        if not post.images:
            return ()
        specs = [
            ImageSpec(
                folder / image.path if image.path is not None else media.path(image.sha256 or ""),
                image.alt or None,
            )
            for image in post.images
        ]
        images, notes = fitted_images(specs, load_images(specs, media), post.platform, media)
        if any(image.path is not None for image in post.images):
            for note in notes:  # an image named by its hash was fitted when first queued
                warn(note)
        return images

    return images_of


def _counted_as_queue_would(wanted: CampaignFile) -> CampaignFile:
    """The file with the figures its instances count by (asked as `queue` asks), kept
    with the new campaign so that its texts, and later edits, are measured by them."""
    from dataclasses import replace

    from scheduler.attachments import Rich
    from scheduler.campaigns import PostOptions, counted_profiles

    platforms = list(dict.fromkeys(p.platform for p in wanted.posts))
    warning = Rich(content_warning=wanted.settings.content_warning)
    _, notes, kept = counted_profiles(platforms, PostOptions(rich=warning), settings())
    for note in notes:
        typer.echo(note, err=True)
    return replace(wanted, settings=replace(wanted.settings, limits=kept))


def _card_for(wanted: CampaignFile) -> LinkCard | None:
    """The link's card for a new campaign's first Bluesky post (fetched once, here)."""
    from scheduler.linkcard import fetch_card
    from scheduler.media import MediaDir

    link = wanted.settings.link
    first = [p for p in wanted.posts if PROFILES[p.platform].link_cards and p.seq == 1]
    if link is None or not wanted.settings.card or not first or first[0].images:
        return None
    config = settings()
    card, said = fetch_card(
        link,
        MediaDir(config.resolved_data_dir() / "media"),
        allow_private=config.allow_private_links,
        timeout=config.link_timeout_seconds,
    )
    for note in said:
        warn(f"{first[0].platform}: {note}")
    return card


def _attachments_change(old: Attachments, new: Attachments) -> str:
    def images(a: Attachments) -> str:
        return ", ".join(f"{i.source[:12]} ({i.alt[:30] or 'no alt'})" for i in a.images) or "none"

    parts = []
    if [(i.source, i.alt) for i in old.images] != [(i.source, i.alt) for i in new.images]:
        parts.append(f"images: {images(old)} -> {images(new)}")
    if old.langs != new.langs:
        parts.append(f"languages: {', '.join(old.langs) or '-'} -> {', '.join(new.langs) or '-'}")
    if old.labels != new.labels:
        parts.append(f"labels: {', '.join(old.labels) or '-'} -> {', '.join(new.labels) or '-'}")
    if (old.card is None) != (new.card is None):
        parts.append("card removed" if new.card is None else "card added")
    return "; ".join(parts) or "attachments changed"


def _confirmed() -> bool:
    if not sys.stdin.isatty():
        typer.echo("nothing was applied: no terminal to confirm on; pass --yes to apply", err=True)
        return False
    if typer.confirm("Apply these changes?", default=False):
        return True
    typer.echo("nothing was applied", err=True)
    return False


def _summary(changes: CampaignChanges) -> str:
    parts = []
    if changes.new_campaign:
        parts.append(
            f"campaign {changes.campaign!r} queued with {plural(len(changes.added), 'post')}"
        )
    elif changes.added:
        parts.append(f"{plural(len(changes.added), 'post')} added")
    texts = [c for c in changes.retexted if c.new != c.old]
    if texts:
        parts.append(f"{plural(len(texts), 'text')} changed")
    media = [c for c in changes.retexted if c.attachments is not None]
    if media:
        parts.append(f"{plural(len(media), 'post')}' images or languages changed")
    if changes.retimed:
        parts.append(f"{plural(len(changes.retimed), 'time')} changed")
    if changes.removed:
        parts.append(f"{plural(len(changes.removed), 'post')} cancelled")
    if changes.settings is not None and not changes.new_campaign:
        parts.append("settings changed")
    return ", ".join(parts)


def _local(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _line(text: str, room: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= room else flat[: room - 1] + "…"


def _text_diff(old: str, new: str, room: int) -> list[str]:
    """The lines that differ, - old and + new; a long line is shown from a little before
    its first change, so the change itself is on screen."""
    removed, added = [], []
    for line in difflib.ndiff(old.split("\n"), new.split("\n")):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    shown = []
    for i, line in enumerate(removed):
        other = added[i] if i < len(added) else ""
        shown.append(f"      - {_window(line, other, room)}")
    for i, line in enumerate(added):
        other = removed[i] if i < len(removed) else ""
        shown.append(f"      + {_window(line, other, room)}")
    return shown


def _window(line: str, other: str, room: int) -> str:
    flat, against = " ".join(line.split()), " ".join(other.split())
    same = next(
        (i for i, (a, b) in enumerate(zip(flat, against, strict=False)) if a != b),
        min(len(flat), len(against)),
    )
    start = max(0, same - 20) if len(flat) > room else 0
    return _line(("…" if start else "") + flat[start:], room)


def _print_diff(
    changes: CampaignChanges, rows: dict[int, PostRow], zone: ZoneInfo, where: str
) -> None:
    """Terraform-like: + added, ~ changed, - cancelled; texts as a line diff."""
    room = max(40, terminal_width() - 8)
    out = []
    if changes.new_campaign:
        out.append(
            f"campaign {changes.campaign!r} is new: {where} queues "
            f"{plural(len(changes.added), 'post')}"
        )
    else:
        out.append(f"campaign {changes.campaign!r}: {_summary(changes)} ({where})")
    for post in changes.added:
        out.append(f"  + {post.platform} {post.seq} at {_local(post.scheduled_at, zone)}")
        out.append(f"      {_line(post.text, room)}")
    for text in changes.retexted:
        row = rows[text.post_id]
        if text.new != text.old:
            out.append(f"  ~ post {row.id} ({row.platform} {row.seq}) text:")
            out.extend(_text_diff(text.old, text.new, room - 2))
        if text.attachments is not None:
            out.append(
                f"  ~ post {row.id} ({row.platform} {row.seq}) "
                f"{_attachments_change(row.attachments, text.attachments)}"
            )
    for time in changes.retimed:
        row = rows[time.post_id]
        out.append(
            f"  ~ post {row.id} ({row.platform} {row.seq}) time: "
            f"{_local(time.old, zone)} -> {_local(time.new, zone)}"
        )
    for post_id in changes.removed:
        row = rows[post_id]
        out.append(f"  - post {row.id} ({row.platform} {row.seq}) cancelled:")
        out.append(f"      {_line(row.text, room)}")
    if changes.settings is not None and not changes.new_campaign:
        out.append(f"  ~ settings: {changes.settings.as_json()}")
    typer.echo("\n".join(out))


def _diff_json(changes: CampaignChanges, applied: bool) -> dict[str, Any]:
    return {
        "campaign": changes.campaign,
        "new_campaign": changes.new_campaign,
        "applied": applied,
        "added": [
            {
                "platform": p.platform,
                "account": p.account,
                "seq": p.seq,
                "at": iso_utc(p.scheduled_at),
                "text": p.text,
            }
            for p in changes.added
        ],
        "texts": [{"id": t.post_id, "old": t.old, "new": t.new} for t in changes.retexted],
        "times": [
            {"id": t.post_id, "old": iso_utc(t.old), "new": iso_utc(t.new)} for t in changes.retimed
        ],
        "cancelled": list(changes.removed),
        "settings": None if changes.settings is None else changes.settings.as_json(),
    }
