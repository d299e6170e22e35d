"""A person's changes, planned before the store makes them: an edited text framed and
measured like a split post, and the new times of a reschedule.

No database and no clock of its own (like `scheduler.campaigns`): rows and `now` come in,
changes go out, and the store writes them in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo

from posts.measure import bluesky_graphemes, measure, utf8_bytes
from posts.platform import PROFILES, Counting, Profile
from posts.split import SplitOptions, TagPlacement, body_of, frame_post
from scheduler.campaigns import Budget, budget_warning
from scheduler.errors import BadInput
from scheduler.model import (
    Attachments,
    CampaignSettings,
    Platform,
    PostRow,
    TextChange,
    TimeChange,
)
from scheduler.plan import parse_duration, parse_shift, parse_when, repeated_time, schedule, shifted

if TYPE_CHECKING:
    from collections.abc import Mapping


def framing(platform: Platform, settings: CampaignSettings) -> SplitOptions:
    """How the campaign's posts on `platform` were framed and counted: its split options."""
    return SplitOptions(
        platform=platform,
        tags=settings.tags,
        link=settings.link,
        thread=settings.thread,
        numbering=settings.numbering,
        tags_on=cast(TagPlacement, settings.tags_on),
        counted_as=counted_profile(platform, settings),
    )


def counted_profile(
    platform: Platform,
    settings: CampaignSettings,
    instance: Profile | None = None,
) -> Profile:
    """How the campaign's posts on `platform` are counted: the instance's figures
    (`instance`, else those the campaign kept), less the room its content warning takes
    where the platform counts it with the post."""
    profile = instance or PROFILES[platform]
    for name, limit, url_length in settings.limits:
        if name == platform.value and instance is None:
            profile = replace(profile, limit=limit, url_length=url_length)
    if profile.content_warnings and settings.content_warning:
        profile = replace(
            profile, limit=profile.limit - bluesky_graphemes(settings.content_warning)
        )
    return profile


def check_fits(profile: Profile, text: str, what: str) -> None:
    """Refuse a text the platform would refuse, with its measured length."""
    name = profile.name or "the platform"
    length = measure(profile, text)
    if length > profile.limit:
        unit = (
            "graphemes"
            if profile.counting is Counting.GRAPHEMES
            else f"characters by {name}'s count (every link counts {profile.url_length})"
        )
        raise BadInput(f"{what} is {length} {unit}; {name} allows {profile.limit}")
    if profile.max_bytes is not None and utf8_bytes(text) > profile.max_bytes:
        raise BadInput(
            f"{what} is {utf8_bytes(text):,} bytes in UTF-8; {name} allows {profile.max_bytes:,}"
        )


@dataclass(frozen=True)
class Editing:
    """What a person edits of a post: its body (framed again after), or its whole text."""

    post: PostRow
    total: int  # the posts of its platform in the campaign, for its numbering
    options: SplitOptions
    body: str | None  # None: the text is edited exactly as it is published

    @property
    def shown(self) -> str:
        return self.post.text if self.body is None else self.body


def editing(row: PostRow, total: int, settings: CampaignSettings, exact: bool) -> Editing:
    """The body of a split post, or of a text that frames like one; else (or `exact`)
    the whole text."""
    options = framing(row.platform, settings)
    body = None
    if not exact:
        body = row.body or body_of(options, row.seq, total, row.text)
    return Editing(row, total, options, body)


def edited(edit: Editing, given: str, attachments: Attachments | None = None) -> TextChange | None:
    """The change `given` makes (None: the text stays as it is, and so do the images
    when `attachments` is None). Surrounding blank space goes (an editor leaves a final
    newline); numbering, link and tags are added back to a body; the result is measured
    against the platform's limit."""
    words = given.strip()
    if not words:
        raise BadInput(f"the new text of post {edit.post.id} is empty")
    if edit.body is None:
        text, body = words, None
    else:
        text = frame_post(edit.options, edit.post.seq, edit.total, words)
        body = words
    if attachments == edit.post.attachments:
        attachments = None
    if text == edit.post.text and attachments is None:
        return None
    check_fits(edit.options.profile, text, f"the new text of post {edit.post.id}")
    return TextChange(edit.post.id, edit.post.text, text, body, edit.post.revision, attachments)


# -- new times --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """How `reschedule` moves posts, as the user wrote it: one of at, shift or start
    (with every or spread_until, or else keeping the spacing)."""

    zone: ZoneInfo
    at: str | None = None
    shift: str | None = None
    start: str | None = None
    every: str | None = None
    spread_until: str | None = None
    allow_past: bool = False


@dataclass(frozen=True)
class Moved:
    changes: list[TimeChange]
    warnings: list[str]


def new_times(
    rows: Sequence[PostRow],
    move: Move,
    now: datetime,
    budgets: Mapping[Platform, Budget] | None = None,
) -> Moved:
    """Where each post goes. Posts of one campaign, platform and account move as a group:
    `--start` alone keeps their spacing, with `--every` or `--spread-until` they are
    scheduled afresh (like `queue`). A time in the past is refused unless allowed."""
    chosen = [name for name, given in (("--at", move.at), ("--shift", move.shift),
              ("--start", move.start)) if given is not None]  # fmt: skip
    if len(chosen) != 1:
        raise BadInput("give one of --at, --shift or --start")
    if (move.every or move.spread_until) and move.start is None:
        raise BadInput("--every and --spread-until go with --start")
    if move.every and move.spread_until:
        raise BadInput("--every and --spread-until cannot be used together")
    warnings = [
        note
        for given in (move.at, move.start, move.spread_until)
        if given and (note := repeated_time(given, move.zone))
    ]
    groups: dict[tuple[str, Platform, str], list[PostRow]] = {}
    for row in sorted(rows, key=lambda r: (r.scheduled_at, r.seq, r.id)):
        groups.setdefault((row.campaign, row.platform, row.account), []).append(row)
    times: dict[int, datetime] = {}
    for (_, platform, _), group in groups.items():
        planned = _group_times(group, move, now)
        times.update({r.id: t for r, t in zip(group, planned, strict=True)})
        budget = (budgets or {}).get(platform)
        over = budget and budget_warning(platform, sorted(planned), budget, move.zone)
        if over:
            warnings.append(over)
    past = [r for r in rows if times[r.id] < now - timedelta(seconds=1)]
    if past and not move.allow_past:
        first = min(past, key=lambda r: times[r.id])
        due = times[first.id].astimezone(move.zone)
        raise BadInput(
            f"post {first.id} would be due at {due:%Y-%m-%d %H:%M %Z}, in the past; "
            "pass --allow-past to move it there anyway"
        )
    changes = [
        TimeChange(r.id, r.scheduled_at, times[r.id])
        for r in sorted(rows, key=lambda r: r.id)
        if times[r.id] != r.scheduled_at
    ]
    return Moved(changes, warnings)


def _group_times(group: Sequence[PostRow], move: Move, now: datetime) -> list[datetime]:
    if move.at is not None:
        return [parse_when(move.at, now, move.zone)] * len(group)
    if move.shift is not None:
        sign, by = parse_shift(move.shift)
        return [shifted(r.scheduled_at, sign, by, move.zone) for r in group]
    assert move.start is not None
    first = parse_when(move.start, now, move.zone)
    if move.every is None and move.spread_until is None:
        offset = first - group[0].scheduled_at
        return [r.scheduled_at + offset for r in group]
    every = parse_duration(move.every) if move.every else None
    until = parse_when(move.spread_until, now, move.zone) if move.spread_until else None
    return schedule(len(group), first, move.zone, every=every, until=until)
