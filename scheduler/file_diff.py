"""A campaign file compared with the database: the changes `apply` makes, or why not.

Posts are matched by `id` when the file gives one, else by platform, account and seq.
A matched post whose text or time differs is changed; a file post matching none is added
at its seq; a queued or held post the file no longer has is cancelled (its reply keeps
the thread). Every refusal is collected, so one run names them all: a post on its way
out or already out cannot change or go, read-only fields (id, status, url, and a
post's platform, account and seq) must match, every new text is measured, and no
changed time may be in the past unless allowed. No database here: rows come in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from posts.platform import PROFILES
from posts.split import body_of
from scheduler.attachments import carried
from scheduler.campaign_file import CampaignFile, FilePost
from scheduler.errors import BadInput
from scheduler.model import (
    CANCELLABLE,
    CHANGEABLE,
    NO_ATTACHMENTS,
    Attachments,
    CampaignChanges,
    CampaignRow,
    CampaignSettings,
    LinkCard,
    PlannedPost,
    Platform,
    PostRow,
    StoredImage,
    TextChange,
    TimeChange,
)
from scheduler.review import check_fits, framing

# A file post's images as its platform takes them (read, stored, fitted); BadInput if not.
ImagesOf = Callable[[FilePost], tuple[StoredImage, ...]]


def _no_images(post: FilePost) -> tuple[StoredImage, ...]:
    if post.images:
        raise BadInput("this file's images cannot be read here")
    return ()


MOST_SHOWN = 3  # refusals named in the one sentence; `--json` lists them all


class Refused(BadInput):
    """The file cannot be applied; str() names the first problems, `reasons` all of them."""

    def __init__(self, where: str, reasons: Sequence[str]) -> None:
        self.reasons = list(reasons)
        shown = "; ".join(reasons[:MOST_SHOWN])
        more = len(reasons) - MOST_SHOWN
        tail = f"; and {more} more" if more > 0 else ""
        super().__init__(f"{where}: nothing was applied: {shown}{tail}")


@dataclass
class _Diff:
    where: str
    now: datetime
    allow_past: bool
    refusals: list[str]

    def refuse(self, post: FilePost | None, reason: str) -> None:
        line = f"line {post.line}: " if post is not None and post.line else ""
        self.refusals.append(f"{line}{reason}")

    def check_time(self, post: FilePost, label: str) -> None:
        if post.at < self.now - timedelta(seconds=1) and not self.allow_past:
            self.refuse(post, f"{label} would be due at {post.at:%Y-%m-%d %H:%M} UTC, in the "
                        "past (pass --allow-past to apply it anyway)")  # fmt: skip

    def attachments(
        self,
        post: FilePost,
        file: CampaignFile,
        images_of: ImagesOf,
        now: Attachments,
        card: LinkCard | None,
    ) -> Attachments:
        """What the post should carry: the file's images (the stored ones when the file
        names the same images and alt texts), its campaign's languages and labels on
        Bluesky, its card unless images take the one embed."""
        try:
            images = images_of(post)
        except BadInput as exc:
            self.refuse(post, str(exc))
            images = ()
        if [(i.source, i.alt) for i in images] == [(i.source, i.alt) for i in now.images]:
            images = now.images
        every = carried(
            post.platform, file.settings.langs, file.settings.labels, file.settings.content_warning
        )
        return replace(
            now,
            images=images,
            card=None if images else card,
            langs=every.langs,
            labels=every.labels,
            content_warning=every.content_warning,
        )

    def check_text(self, post: FilePost, label: str, settings: CampaignSettings) -> bool:
        try:
            check_fits(framing(post.platform, settings).profile, post.text, f"the text of {label}")
        except BadInput as exc:
            self.refuse(post, str(exc))
            return False
        return True


def _label(post: FilePost) -> str:
    return f"post {post.id}" if post.id is not None else f"{post.platform} post {post.seq}"


def _same_time(a: datetime, b: datetime) -> bool:
    """Files hold whole seconds; a stored time may carry a fraction (`retry` from now)."""
    return a.replace(microsecond=0) == b.replace(microsecond=0)


def _totals(posts: Sequence[tuple[Platform, str, int]]) -> dict[tuple[Platform, str], int]:
    """The number each platform's (and account's) thread counts to: its highest seq."""
    totals: dict[tuple[Platform, str], int] = {}
    for platform, account, seq in posts:
        totals[(platform, account)] = max(seq, totals.get((platform, account), 0))
    return totals


def diff_campaign(
    file: CampaignFile,
    where: str,
    campaign: CampaignRow | None,
    rows: Sequence[PostRow],
    by_id: Mapping[int, PostRow],
    now: datetime,
    allow_past: bool = False,
    images_of: ImagesOf = _no_images,
    card: LinkCard | None = None,
) -> CampaignChanges:
    """What applying `file` changes. `campaign` and `rows`: the stored campaign of the
    file's name and its posts (None and empty when it is new); `by_id`: the stored posts
    the file names by id, whatever their campaign; `images_of`: the images of a file
    post; `card`: the link's card for the first Bluesky post of a new campaign."""
    d = _Diff(where, now, allow_past, [])
    if campaign is not None:  # counted as the campaign was counted when it was queued
        file = replace(file, settings=replace(file.settings, limits=campaign.settings.limits))
    totals = _totals(
        [(p.platform, p.account, p.seq) for p in file.posts]
        + [(r.platform, r.account, r.seq) for r in rows]
    )
    mine = {r.id: r for r in rows}
    by_place = {(r.platform, r.account, r.seq): r for r in rows}
    matched: dict[int, FilePost] = {}
    added: list[PlannedPost] = []
    retexted: list[TextChange] = []
    retimed: list[TimeChange] = []
    for post in file.posts:
        before = len(d.refusals)
        row = _match(d, post, file.name, mine, by_place, by_id)
        if row is None:
            if len(d.refusals) == before:  # no id and no place taken: a new post
                carded = PROFILES[post.platform].link_cards and post.seq == 1
                start = card if campaign is None and carded else None
                attached = d.attachments(post, file, images_of, NO_ATTACHMENTS, start)
                added.append(_new_post(d, post, file, totals, attached))
            continue
        if row.id in matched:
            d.refuse(post, f"post {row.id} appears twice in the file")
            continue
        matched[row.id] = post
        if len(d.refusals) > before:  # a read-only field edited: nothing more to say
            continue
        attached = d.attachments(post, file, images_of, row.attachments, row.attachments.card)
        change = _changes(d, post, row, file, totals, attached)
        if change is not None:
            text, time = change
            if text is not None:
                retexted.append(text)
            if time is not None:
                retimed.append(time)
    removed = []
    for row in rows:
        if row.id in matched:
            continue
        if row.status in CANCELLABLE:
            removed.append(row.id)
        elif row.status not in CHANGEABLE:  # publishing or published: its history stays
            d.refuse(None, f"post {row.id} ({row.platform} {row.seq}) is {row.status}: "
                     "a file cannot remove it, keep its entry")  # fmt: skip
    if d.refusals:
        raise Refused(where, d.refusals)
    platforms = dict.fromkeys(p.platform for p in file.posts)
    first = {platform: i for i, platform in enumerate(platforms)}
    settings = None
    if campaign is None or file.settings != campaign.settings:
        settings = file.settings
    return CampaignChanges(
        campaign=file.name,
        new_campaign=campaign is None,
        # In thread order (each added post joins its thread after the one before it),
        # platforms in the file's order.
        added=tuple(sorted(added, key=lambda p: (first[p.platform], p.account, p.seq))),
        retexted=tuple(retexted),
        retimed=tuple(retimed),
        removed=tuple(removed),
        settings=settings,
        source_path=file.source,
    )


def _match(
    d: _Diff,
    post: FilePost,
    name: str,
    mine: Mapping[int, PostRow],
    by_place: Mapping[tuple[Platform, str, int], PostRow],
    by_id: Mapping[int, PostRow],
) -> PostRow | None:
    """The stored post this entry is, by id or by place; a refusal for a read-only field
    edited (the post is still matched, so it is not taken as removed too)."""
    if post.id is None:
        if post.status is not None or post.url is not None:
            d.refuse(post, f"{_label(post)} has no id, so it is new: status and url are "
                     "read-only and a new post has neither")  # fmt: skip
            return None
        return by_place.get((post.platform, post.account, post.seq))
    row = mine.get(post.id)
    if row is None:
        other = by_id.get(post.id)
        if other is None:
            d.refuse(post, f"there is no post {post.id}")
        else:
            d.refuse(post, f"post {post.id} belongs to campaign {other.campaign!r}, not "
                     f"{name!r} (`campaign rename` renames a campaign)")  # fmt: skip
        return None
    for field, given, stored in (
        ("platform", post.platform, row.platform),
        ("account", post.account, row.account),
        ("seq", post.seq, row.seq),
        ("status", post.status, row.status),
        ("url", post.url, row.remote_url),
    ):
        if field in ("status", "url") and given is None:
            continue  # left out: nothing to compare
        if given != stored:
            said, has = (repr(None if v is None else str(v)) for v in (given, stored))
            d.refuse(post, f"post {row.id}: {field} is read-only: the file says {said}, "
                     f"the database {has} (export the campaign again for a fresh "
                     "file)")  # fmt: skip
            break
    return row


def _changes(
    d: _Diff,
    post: FilePost,
    row: PostRow,
    file: CampaignFile,
    totals: Mapping[tuple[Platform, str], int],
    attached: Attachments,
) -> tuple[TextChange | None, TimeChange | None] | None:
    new_text = post.text != row.text
    new_time = not _same_time(post.at, row.scheduled_at)
    new_attachments = attached != row.attachments
    if not (new_text or new_time or new_attachments):
        return None
    if row.status not in CHANGEABLE:
        what = "text" if new_text else "time" if new_time else "images"
        d.refuse(post, f"post {row.id} is {row.status}: its {what} can no longer change")
        return None
    text = time = None
    if (new_text or new_attachments) and d.check_text(post, f"post {row.id}", file.settings):
        options = framing(row.platform, file.settings)
        body = body_of(options, row.seq, totals[(row.platform, row.account)], post.text)
        media = attached if new_attachments else None
        text = TextChange(row.id, row.text, post.text, body, row.revision, media)
    if new_time:
        d.check_time(post, f"post {row.id}")
        time = TimeChange(row.id, row.scheduled_at, post.at)
    return text, time


def _new_post(
    d: _Diff,
    post: FilePost,
    file: CampaignFile,
    totals: Mapping[tuple[Platform, str], int],
    attached: Attachments,
) -> PlannedPost:
    label = _label(post)
    d.check_text(post, label, file.settings)
    d.check_time(post, label)
    options = framing(post.platform, file.settings)
    return PlannedPost(
        platform=post.platform,
        seq=post.seq,
        text=post.text,
        scheduled_at=post.at,
        thread=file.settings.thread,
        account=post.account,
        body=body_of(options, post.seq, totals[(post.platform, post.account)], post.text),
        attachments=attached,
    )
