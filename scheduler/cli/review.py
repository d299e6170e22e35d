"""`campaign show`, `edit` and `reschedule`: one post seen whole, its text and its time
changed before it goes out."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scheduler.cli.context import (
    display_zone,
    iso_utc,
    local,
    open_default_store,
    settings,
    time_column,
    zone_label,
)
from scheduler.cli.log import describe
from scheduler.cli.options import (
    AltOption,
    CampaignFilter,
    ImageOption,
    JsonOption,
    NoAltOption,
    TzOption,
)
from scheduler.cli.output import plural, print_json, print_table, warn
from scheduler.cli.posts import PostIds, post_ids
from scheduler.cli.root import app
from scheduler.clock import utcnow
from scheduler.errors import BadInput, CampaignError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from scheduler.model import Attachments, LogEntry, PostRow
    from scheduler.review import Editing
    from scheduler.store import Store

PostId = Annotated[int, typer.Argument(metavar="POST_ID", help="The post's id.")]


@app.command()
def show(post_id: PostId, tz: TzOption = None, json_out: JsonOption = False) -> None:
    """Show one post whole: its text as it will be published, state, time and log.

    Example: campaign show 12
    """
    from posts.measure import measure
    from scheduler.review import framing

    zone = display_zone(tz)
    with open_default_store() as store:
        post = store.post(post_id)
        campaign = store.campaign(post.campaign)
        paused = campaign.paused_at is not None
        entries = store.log(post_id=post_id)
    # Counted as the campaign was (an instance's limit, less a content warning's room).
    profile = framing(post.platform, campaign.settings).profile
    length, limit = measure(profile, post.text), profile.limit
    if json_out:
        print_json(
            {
                "id": post.id,
                "campaign": post.campaign,
                "platform": post.platform,
                "account": post.account,
                "seq": post.seq,
                "replies_to": post.parent_id,
                "status": post.status,
                "campaign_paused": paused,
                "scheduled_at": iso_utc(post.scheduled_at),
                "next_attempt_at": iso_utc(post.next_attempt_at),
                "attempts": post.attempts,
                "revision": post.revision,
                "remote_url": post.remote_url,
                "last_error": post.last_error,
                "published_at": iso_utc(post.published_at),
                "text": post.text,
                "length": length,
                "limit": limit,
                "attachments": post.attachments.as_json(),
                "log": [
                    {"at": iso_utc(e.at), "kind": e.kind, "worker": e.worker, "detail": e.detail}
                    for e in entries
                ],
            }
        )
        return
    state = str(post.status) + (" (its campaign is paused)" if paused else "")
    fields = [
        ("campaign", post.campaign),
        ("platform", post.platform if post.account == "default" else
         f"{post.platform} ({post.account})"),
        ("seq", str(post.seq)),
        ("replies to", "-" if post.parent_id is None else f"post {post.parent_id}"),
        ("status", state),
        ("scheduled", local(post.scheduled_at, zone)),
        ("attempts", str(post.attempts)),
        ("revision", str(post.revision)),
        ("url", post.remote_url or "-"),
        ("last error", post.last_error or "-"),
        ("length", f"{length} of {limit}"),
        *_attachment_fields(post.attachments),
    ]  # fmt: skip
    if post.status == "queued" and post.next_attempt_at != post.scheduled_at:
        fields.insert(6, ("next attempt", local(post.next_attempt_at, zone)))
    lines = [f"post {post.id}, times in {zone_label(zone)}"]
    lines.extend(f"  {name + ':':<12} {value}" for name, value in fields)
    lines.append("")
    lines.extend(f"  {line}" if line else "" for line in post.text.split("\n"))
    lines.append("")
    typer.echo("\n".join(lines))
    _print_log(entries, zone)


def _attachment_fields(attached: Attachments) -> list[tuple[str, str]]:
    fields = [
        ("image", f"{i.width}x{i.height} {i.mime}, {i.size:,} bytes, alt: {i.alt or '(none)'}")
        for i in attached.images
    ]
    if attached.card is not None:
        card = attached.card
        thumb = ", with a thumbnail" if card.thumb is not None else ""
        fields.append(("card", f"{card.title} ({card.uri}){thumb}"))
    if attached.langs:
        fields.append(("languages", ", ".join(attached.langs)))
    if attached.labels:
        fields.append(("labels", ", ".join(attached.labels)))
    if attached.content_warning:
        fields.append(("warning", attached.content_warning))
    return fields


def _print_log(entries: list[LogEntry], zone: ZoneInfo) -> None:
    when, times = time_column("at", [e.at for e in entries], zone, seconds=True)
    print_table(
        f"its log ({plural(len(entries), 'event')})",
        [when, "kind", "detail"],
        [[at, e.kind, describe(e.detail, zone)] for e, at in zip(entries, times, strict=True)],
    )


@app.command()
def edit(
    post_id: PostId,
    text: Annotated[
        str | None,
        typer.Option("--text", metavar="TEXT", help="The new text (else $VISUAL/$EDITOR opens)."),
    ] = None,
    text_file: Annotated[
        Path | None,
        typer.Option("--text-file", metavar="FILE", help="Read the new text from FILE (- stdin)."),
    ] = None,
    exact: Annotated[
        bool,
        typer.Option(
            "--exact", help="Publish the text exactly as given: no numbering, link or tags added."
        ),
    ] = False,
    image: ImageOption = None,
    alt: AltOption = None,
    no_alt: NoAltOption = False,
    no_images: Annotated[
        bool, typer.Option("--no-images", help="Remove the post's images.")
    ] = False,
) -> None:
    """Change a post's text, or its images, before it goes out.

    The text given is the post's body: its numbering, link and hashtags are added back
    as for a split post, and it is measured against the platform's limit. With neither
    --text nor --text-file (nor an image option), $VISUAL or $EDITOR opens on it; an
    unchanged or empty result changes nothing. --image (with --alt) replaces the post's
    images; --no-images removes them.

    Example: campaign edit 12 --text "A sharper first sentence. And the rest."
    """
    from scheduler.model import CHANGEABLE
    from scheduler.review import edited, editing

    if text is not None and text_file is not None:
        raise BadInput("give --text or --text-file, not both")
    if image and no_images:
        raise BadInput("give --image or --no-images, not both")
    with open_default_store() as store:
        post = store.post(post_id)
        if post.status not in CHANGEABLE:
            what = "images" if (image or no_images) and text is None and not text_file else "text"
            raise BadInput(f"post {post.id} is {post.status}: its {what} can no longer change")
        campaign = store.campaign(post.campaign)
        draft = editing(post, _thread_length(store, post), campaign.settings, exact)
        media = _new_attachments(post, image, alt, no_alt, no_images)
        if text is not None:
            given = text
        elif text_file is not None:
            given = _read_text_file(text_file)
        elif media is not None:
            given = draft.shown  # the images alone change
        else:
            given = _in_editor(draft)
            if not given.strip():
                typer.echo(f"the text is empty: post {post.id} is unchanged", err=True)
                raise typer.Exit(1)
        change = edited(draft, given, media)
        if change is None:
            typer.echo(f"post {post.id} is unchanged", err=True)
            return
        store.edit(change, now=utcnow())
    from posts.measure import measure

    profile = draft.options.profile
    typer.echo(
        f"post {post.id} ({post.platform} {post.seq}) edited, revision {post.revision + 1}, "
        f"{measure(profile, change.new)} of {profile.limit}:"
    )
    typer.echo("\n".join(f"  {line}" if line else "" for line in change.new.split("\n")))


def _new_attachments(
    post: PostRow, image: list[Path] | None, alt: list[str] | None, no_alt: bool, no_images: bool
) -> Attachments | None:
    """The post's attachments with its images replaced or removed; None: not asked."""
    from dataclasses import replace

    from scheduler.attachments import fitted_images, load_images
    from scheduler.cli.rich_options import rich_from_options
    from scheduler.media import MediaDir

    if not image and not no_images:
        if alt:
            raise BadInput("--alt describes an --image: give the images too")
        return None
    now = post.attachments
    if no_images:
        if not now.images:
            raise BadInput(f"post {post.id} has no images")
        return replace(now, images=())
    specs = rich_from_options(image, alt, no_alt, True, None, None).images
    media = MediaDir(settings().resolved_data_dir() / "media")
    images, notes = fitted_images(specs, load_images(specs, media), post.platform, media)
    for note in notes:
        warn(note)
    if now.card is not None:
        warn(f"post {post.id}: the images take its one embed, so its link card goes")
    return replace(now, images=images, card=None)


def _thread_length(store: Store, post: PostRow) -> int:
    """The number its numbering counts to: the highest seq of its platform and account."""
    rows = store.posts(post.campaign, platform=post.platform)
    return max(r.seq for r in rows if r.account == post.account)


def _read_text_file(path: Path) -> str:
    try:
        data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{path} is not UTF-8 text") from None


def _in_editor(draft: Editing) -> str:
    """What the person leaves in $VISUAL or $EDITOR, opened on the draft (as `git commit`
    does: the command is split like a shell would, the file named last)."""
    command = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not command:
        raise BadInput("set $VISUAL or $EDITOR to edit in an editor, or give --text TEXT")
    with tempfile.TemporaryDirectory(prefix="campaign-") as folder:
        path = Path(folder) / f"post-{draft.post.id}.txt"
        path.write_text(draft.shown + "\n", encoding="utf-8")
        try:
            done = subprocess.run([*shlex.split(command), str(path)], check=False)
        except (OSError, ValueError) as exc:
            raise CampaignError(f"cannot start the editor {command!r}: {exc}") from None
        if done.returncode != 0:
            raise CampaignError(
                f"the editor {command!r} exited with status {done.returncode}: nothing changed"
            )
        return _read_text_file(path)


@app.command()
def reschedule(
    post_ids_: PostIds = None,
    campaign: CampaignFilter = None,
    at: Annotated[
        str | None,
        typer.Option("--at", metavar="WHEN", help="Move the posts to this time."),
    ] = None,
    shift: Annotated[
        str | None,
        typer.Option(
            "--shift", metavar="DURATION", help="Move them later (30m) or earlier (-30m)."
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            metavar="WHEN",
            help="The first goes out then; the rest keep their spacing, or take --every "
            "or --spread-until.",
        ),
    ] = None,
    every: Annotated[
        str | None, typer.Option("--every", metavar="DURATION", help="Space between posts.")
    ] = None,
    spread_until: Annotated[
        str | None,
        typer.Option("--spread-until", metavar="WHEN", help="Spread them evenly up to then."),
    ] = None,
    tz: TzOption = None,
    allow_past: Annotated[
        bool, typer.Option("--allow-past", help="Accept a time in the past (they go out now).")
    ] = False,
) -> None:
    """Move unpublished posts (by id, or a campaign's queued and held ones) in time.

    WHEN and DURATION as for `queue`; a reply is never moved before its parent.

    Example: campaign reschedule --campaign artsakh-op-ed --shift 2h
    """
    from scheduler.campaigns import budgets
    from scheduler.model import Status
    from scheduler.review import Move, new_times

    if bool(post_ids_) == bool(campaign):
        raise BadInput("give post ids or --campaign NAME to reschedule, not both and not neither")
    zone = display_zone(tz)
    now = utcnow()
    ids = post_ids(post_ids_)
    with open_default_store() as store:
        if campaign is not None:
            rows = store.posts(campaign, statuses=[Status.QUEUED, Status.HELD])
        else:
            rows = store.posts(post_ids=ids)
            missing = sorted(set(ids) - {r.id for r in rows})
            if missing:
                raise BadInput(f"no post with id {', '.join(map(str, missing))}")
        move = Move(zone, at, shift, start, every, spread_until, allow_past)
        moved = new_times(rows, move, now, budgets(settings()))
        if moved.changes:
            store.reschedule(moved.changes, now=now)
    for message in moved.warnings:
        warn(message)
    if not moved.changes:
        typer.echo("no post moved: they are at those times already")
        return
    by_id = {r.id: r for r in rows}
    old_col, old = time_column("was", [c.old for c in moved.changes], zone)
    new_col, new = time_column("now", [c.new for c in moved.changes], zone)
    print_table(
        f"{plural(len(moved.changes), 'post')} rescheduled, times in {zone_label(zone)}",
        ["id", "platform", "seq", old_col, new_col],
        [
            [str(c.post_id), by_id[c.post_id].platform, str(by_id[c.post_id].seq), was, now_at]
            for c, was, now_at in zip(moved.changes, old, new, strict=True)
        ],
    )
