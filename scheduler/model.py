"""The shared vocabulary: the values that cross between the store, the dispatcher, the
platform adapters, the planning layer and the CLI.

A leaf: it imports nothing from `scheduler`. `Platform` is the one enum from `posts/` to
the adapters; it lives in `posts/platform.py` (posts may not import scheduler) and is
re-exported here. Nothing in this module touches a database, a network or a clock.

Post states: queued -> publishing -> published; publishing -> queued (retry, rate limit,
release, expired lease); -> failed (permanent error, attempts used up, missed); queued or
held -> cancelled; held: a thread reply whose parent failed, was cancelled, or went out
with an id we could not learn. `retry` moves failed, held and cancelled posts back to queued.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from posts.platform import Platform

__all__ = [
    "CANCELLABLE",
    "CHANGEABLE",
    "NO_ATTACHMENTS",
    "PENDING",
    "RETRYABLE",
    "WAITING_FOR_CREDITS",
    "Attachments",
    "CampaignChanges",
    "CampaignRow",
    "CampaignSettings",
    "Clock",
    "Deferred",
    "Duplicate",
    "Failed",
    "Job",
    "Kind",
    "LinkCard",
    "LogEntry",
    "Missed",
    "Outcome",
    "OutgoingPost",
    "Overview",
    "Plan",
    "PlannedPost",
    "Platform",
    "PostRow",
    "Published",
    "QueuedPost",
    "RemoteRef",
    "ReplyTarget",
    "Requeued",
    "Rethreaded",
    "RetryLater",
    "SameText",
    "Status",
    "StoredImage",
    "TextChange",
    "TimeChange",
    "WorkerRow",
]

# The wall clock, as every layer takes it: a function returning an aware UTC datetime.
Clock = Callable[[], datetime]


class Status(StrEnum):
    QUEUED = "queued"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"
    HELD = "held"


# Which posts each operation may touch.
CANCELLABLE = frozenset({Status.QUEUED, Status.HELD})
# Cancelling is undone by retry too, or a cancelled thread post would strand its replies.
RETRYABLE = frozenset({Status.FAILED, Status.HELD, Status.CANCELLED})
# Still to go out.
PENDING = frozenset({Status.QUEUED, Status.PUBLISHING})
# What people may change (edit, reschedule): not a post on its way out or already out.
CHANGEABLE = frozenset({Status.QUEUED, Status.HELD, Status.FAILED, Status.CANCELLED})


class Kind(StrEnum):
    """Event kinds in the post log."""

    QUEUED = "queued"
    CLAIMED = "claimed"
    PUBLISHED = "published"
    RECOVERED = "recovered"  # published, learnt after an ambiguous outcome
    RETRY_SCHEDULED = "retry scheduled"
    RATE_LIMITED = "rate-limited"
    FAILED = "failed"
    CANCELLED = "cancelled"
    HELD = "held"
    REQUEUED = "requeued"  # `campaign retry`
    RELEASED = "released"  # handed back unpublished (stopping, or the batch ran long)
    NO_CREDENTIALS = "no credentials"
    # The account cannot post until it pays (X's 402 or usage cap): its posts all wait.
    OUT_OF_CREDITS = "out of credits"
    # People's changes, each with the old and the new value in its detail.
    EDITED = "edited"
    RESCHEDULED = "rescheduled"
    RETHREADED = "rethreaded"  # its parent was cancelled with --keep-thread
    # A campaign's own events (post_id null).
    PAUSED = "paused"
    RESUMED = "resumed"
    RENAMED = "renamed"
    DELETED = "deleted"


# -- what goes to a platform and what comes back --------------------------------------------


@dataclass(frozen=True)
class RemoteRef:
    """Where a published post lives. `id` is None when the platform has the post
    but we could not learn its id (X duplicate content with no way to look it up)."""

    id: str | None
    url: str | None = None
    uri: str | None = None  # Bluesky at:// URI
    cid: str | None = None  # Bluesky content hash (strong refs need uri + cid)
    recovered: bool = False  # found after an ambiguous outcome, not from a clean reply
    note: str | None = None  # what the log should say about how we know
    reads: int = 0  # the account's posts read back to find out (X bills each read)


@dataclass(frozen=True)
class ReplyTarget:
    """The thread a reply belongs to: Bluesky needs both root and parent."""

    root: RemoteRef
    parent: RemoteRef


@dataclass(frozen=True)
class StoredImage:
    """An image copied into the data directory under its SHA-256 at queue time, so that a
    moved or deleted original never breaks a queued post. `alt` is "" only with --no-alt."""

    sha256: str
    mime: str  # image/png, image/jpeg, image/webp, image/gif
    width: int
    height: int
    size: int  # bytes, as stored
    alt: str = ""
    # The image the user gave, when this is a copy resized to fit a platform ("" : it is).
    original: str = ""

    @property
    def source(self) -> str:
        """The hash of the image as the user gave it (what a campaign file names)."""
        return self.original or self.sha256

    def as_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "mime": self.mime,
            "width": self.width,
            "height": self.height,
            "size": self.size,
            "alt": self.alt,
            **({"original": self.original} if self.original else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredImage:
        return cls(
            sha256=str(data["sha256"]),
            mime=str(data["mime"]),
            width=int(data["width"]),
            height=int(data["height"]),
            size=int(data["size"]),
            alt=str(data.get("alt", "")),
            original=str(data.get("original", "")),
        )


@dataclass(frozen=True)
class LinkCard:
    """A link's preview, read from its page once at queue time (Bluesky draws no card
    itself: the post carries it as an app.bsky.embed.external)."""

    uri: str
    title: str
    description: str
    thumb: StoredImage | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "title": self.title,
            "description": self.description,
            "thumb": None if self.thumb is None else self.thumb.as_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinkCard:
        thumb = data.get("thumb")
        return cls(
            uri=str(data["uri"]),
            title=str(data.get("title", "")),
            description=str(data.get("description", "")),
            thumb=None if thumb is None else StoredImage.from_json(thumb),
        )


@dataclass(frozen=True)
class Attachments:
    """What a post carries besides its text: images (up to 4), a link card, its languages
    (BCP 47) and self-labels. Stored with the post as JSON; empty for a bare post."""

    images: tuple[StoredImage, ...] = ()
    card: LinkCard | None = None
    langs: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    content_warning: str = ""  # Mastodon's spoiler text, shown before the post

    def __bool__(self) -> bool:
        return bool(self.images or self.card or self.langs or self.labels or self.content_warning)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.images:
            data["images"] = [image.as_json() for image in self.images]
        if self.card is not None:
            data["card"] = self.card.as_json()
        if self.langs:
            data["langs"] = list(self.langs)
        if self.labels:
            data["labels"] = list(self.labels)
        if self.content_warning:
            data["content_warning"] = self.content_warning
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Attachments:
        if not data:
            return NO_ATTACHMENTS
        card = data.get("card")
        return cls(
            images=tuple(StoredImage.from_json(i) for i in data.get("images", ())),
            card=None if card is None else LinkCard.from_json(card),
            langs=tuple(data.get("langs", ())),
            labels=tuple(data.get("labels", ())),
            content_warning=str(data.get("content_warning", "")),
        )


NO_ATTACHMENTS = Attachments()


@dataclass(frozen=True)
class OutgoingPost:
    post_id: int
    platform: Platform
    text: str
    # Chosen and stored before the first attempt. Bluesky: the record key (a TID).
    idempotency_key: str
    # 1-based; > 1 means an earlier attempt may have reached the platform.
    attempt: int = 1
    # True when an earlier attempt ended without knowing whether the post went out
    # (timeout, dropped connection, expired lease): look before posting again.
    ambiguous: bool = False
    attachments: Attachments = NO_ATTACHMENTS


@dataclass(frozen=True)
class Job:
    """A claimed post, as plain data: what the dispatcher publishes and then records."""

    post: OutgoingPost
    account: str
    reply_to: ReplyTarget | None
    due: datetime  # when it was meant to go out (its next attempt time)
    revision: int = 1  # which text (edits count up): logged with the publish

    @property
    def post_id(self) -> int:
        return self.post.post_id

    @property
    def platform(self) -> Platform:
        return self.post.platform


# -- outcomes: what the dispatcher decided, for the store to record ---------------------------


@dataclass(frozen=True)
class Published:
    """The platform has the post (an attempt counted)."""

    ref: RemoteRef


@dataclass(frozen=True)
class RetryLater:
    """A transient failure: queued again for `at` (an attempt counted)."""

    reason: str
    at: datetime
    ambiguous: bool = False  # the attempt may have reached the platform: look next time


@dataclass(frozen=True)
class Deferred:
    """Rate-limited: queued again for the platform's reset time (not an attempt).
    `credits`: the account is out of credits; all its queued posts wait until then."""

    reason: str
    until: datetime
    credits: bool = False
    # Passed on from an earlier post of the account in the same batch (not asked again).
    passed_on: bool = False


# How the last_error of a post waiting for its account's credits begins (`retry` finds it).
WAITING_FOR_CREDITS = "waiting for credits: "


@dataclass(frozen=True)
class Failed:
    """A permanent refusal, or the last attempt used up: failed, replies held (counted)."""

    reason: str
    ambiguous: bool = False


@dataclass(frozen=True)
class Duplicate:
    """The platform refused the text as a repeat of a post the account has (`existing`,
    when found) that is not this one: failed, replies held; the store names the earlier
    post when it is one of ours (an attempt counted)."""

    reason: str
    existing: RemoteRef | None = None


@dataclass(frozen=True)
class Missed:
    """Too late to send: failed without an attempt, replies held."""

    reason: str


Outcome = Published | RetryLater | Deferred | Failed | Duplicate | Missed


# -- what is queued, and what the listings show ------------------------------------------------


@dataclass(frozen=True)
class PlannedPost:
    """One post of a plan, before it is stored."""

    platform: Platform
    seq: int
    text: str
    scheduled_at: datetime
    thread: bool  # part of a reply chain with the previous post of the same platform
    account: str = "default"
    body: str | None = None  # the article's words in it; None: the text is exact
    attachments: Attachments = NO_ATTACHMENTS


@dataclass(frozen=True)
class CampaignSettings:
    """How a campaign's posts are framed around their bodies, kept with the campaign so
    that an edited body is framed the same way, and written into campaign files."""

    tags: tuple[str, ...] = ()
    link: str | None = None
    thread: bool = True
    numbering: bool | None = None  # None: on for threads
    tags_on: str = "all"
    tz: str = "UTC"  # the zone its times are written in (campaign files)
    # What its Bluesky posts carry: languages, self-labels, a card for the link.
    langs: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    card: bool = True
    content_warning: str = ""  # Mastodon: shown before each post (and counted with it)
    # How an instance counted its posts when it differs from the platform's defaults:
    # (platform, limit, characters a URL counts), kept so that edits count the same.
    limits: tuple[tuple[str, int, int], ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "tags": list(self.tags),
            "link": self.link,
            "thread": self.thread,
            "numbering": self.numbering,
            "tags_on": self.tags_on,
            "tz": self.tz,
            "langs": list(self.langs),
            "labels": list(self.labels),
            "card": self.card,
            "content_warning": self.content_warning,
            "limits": [list(limit) for limit in self.limits],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CampaignSettings:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("tags", "langs", "labels"):
            if key in known:
                known[key] = tuple(known[key])
        if "limits" in known:
            known["limits"] = tuple((str(p), int(n), int(u)) for p, n, u in known["limits"])
        return cls(**known)


@dataclass(frozen=True)
class Plan:
    """A campaign ready to queue: its posts in order, and what to tell the user."""

    name: str
    posts: tuple[PlannedPost, ...]
    source_path: str = ""
    source_sha256: str = ""
    hashtags: str = ""
    warnings: tuple[str, ...] = ()
    settings: CampaignSettings = CampaignSettings()
    notes: tuple[str, ...] = ()  # what is worth saying but is no warning (how it counted)


@dataclass(frozen=True)
class Requeued:
    """A post `retry` put back in the queue: when it was meant to go out, and when now;
    `replanned` when it moved with others from now rather than simply going now."""

    post_id: int
    was: datetime
    at: datetime
    replanned: bool = False


@dataclass(frozen=True)
class SameText:
    """A stored post whose text a planned post repeats (on the same platform and account)."""

    platform: Platform
    account: str
    text: str
    post_id: int
    campaign: str
    status: Status


@dataclass(frozen=True)
class QueuedPost:
    id: int
    platform: Platform
    seq: int
    scheduled_at: datetime
    text: str


@dataclass(frozen=True)
class PostRow:
    """A post as the listings and `show` see it."""

    id: int
    campaign: str
    platform: Platform
    account: str
    seq: int
    parent_id: int | None
    status: Status
    scheduled_at: datetime
    next_attempt_at: datetime
    attempts: int
    remote_id: str | None
    remote_url: str | None
    last_error: str | None
    published_at: datetime | None
    text: str
    body: str | None = None
    revision: int = 1
    attachments_json: dict[str, Any] | None = None  # as stored; see `attachments`

    @property
    def attachments(self) -> Attachments:
        return Attachments.from_json(self.attachments_json)


@dataclass(frozen=True)
class CampaignRow:
    """A campaign as `campaigns` shows it."""

    name: str
    platforms: tuple[Platform, ...]
    counts: dict[Status, int]
    first: datetime | None  # the earliest scheduled post
    next: datetime | None  # the next queued post due
    last: datetime | None  # the latest scheduled post
    paused_at: datetime | None
    settings: CampaignSettings
    source_path: str = ""


@dataclass(frozen=True)
class TextChange:
    """A post's new text (and body: None when the text is exact). `revision`: the one the
    change was made against; another edit since then refuses it."""

    post_id: int
    old: str
    new: str
    body: str | None
    revision: int | None = None
    attachments: Attachments | None = None  # new images (etc.); None: unchanged


@dataclass(frozen=True)
class TimeChange:
    post_id: int
    old: datetime
    new: datetime


@dataclass(frozen=True)
class CampaignChanges:
    """What `apply` changes in a campaign, as one transaction: the diff it shows first."""

    campaign: str
    new_campaign: bool = False
    added: tuple[PlannedPost, ...] = ()
    retexted: tuple[TextChange, ...] = ()
    retimed: tuple[TimeChange, ...] = ()
    removed: tuple[int, ...] = ()  # queued or held posts the file no longer has: cancelled
    settings: CampaignSettings | None = None  # new settings, when they changed
    source_path: str = ""

    def __bool__(self) -> bool:
        return bool(self.added or self.retexted or self.retimed or self.removed or self.settings)


@dataclass(frozen=True)
class Rethreaded:
    """A reply re-attached when the post it replied to was dropped (cancel --keep-thread)."""

    post_id: int
    was: int  # the dropped post
    now: int | None  # its new parent; None: it starts the thread


@dataclass(frozen=True)
class LogEntry:
    id: int
    at: datetime
    kind: str
    post_id: int | None
    campaign: str | None
    platform: str | None
    seq: int | None
    worker: str | None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkerRow:
    """A daemon's heartbeat row."""

    id: str
    host: str
    pid: int
    started_at: datetime
    last_seen: datetime
    stopped_at: datetime | None

    def running(self, now: datetime, stale_seconds: float) -> bool:
        return self.stopped_at is None and (now - self.last_seen).total_seconds() <= stale_seconds


@dataclass(frozen=True)
class Overview:
    """The queue at a glance, read in one transaction (`status`, and `list`'s warning)."""

    counts: dict[Status, int]
    next_due: PostRow | None
    overdue: int
    workers: tuple[WorkerRow, ...]
    paused: tuple[str, ...] = ()  # campaigns whose posts wait

    @property
    def last_heartbeat(self) -> datetime | None:
        return max((w.last_seen for w in self.workers), default=None)

    def unattended(self, now: datetime, stale_seconds: float) -> bool:
        """Posts are overdue and no daemon has been seen within `stale_seconds`."""
        seen = self.last_heartbeat
        return self.overdue > 0 and (seen is None or (now - seen).total_seconds() > stale_seconds)
