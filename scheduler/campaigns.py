"""Article + options -> Plan: read, split per platform, schedule, check the budgets.

This is where `queue` (and the preview of `split`) get their rules: which tags, how a
campaign may be named, when a start is too far in the past, when a schedule outruns a
platform's posting budget. No database and no clock of its own: `now` comes in.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from posts.article import Article, parse_bytes, read_article
from posts.platform import PROFILES, Profile
from posts.split import TAG_PLACEMENTS, SplitOptions, SplitResult, normalize_tag, split_article
from scheduler.attachments import (
    NO_RICH,
    Attached,
    Rich,
    attach,
    campaign_langs,
    check_labels,
)
from scheduler.errors import BadInput
from scheduler.model import CampaignSettings, Plan, PlannedPost, Platform, SameText
from scheduler.plan import format_local, parse_duration, parse_when, repeated_time, schedule

if TYPE_CHECKING:
    from scheduler.config import Settings

MAX_CAMPAIGN_NAME = 200


@dataclass(frozen=True)
class PostOptions:
    """How an article becomes posts: the options `split` and `queue` share."""

    tags: tuple[str, ...] | None = None  # None: the CAMPAIGN_HASHTAGS setting
    link: str | None = None
    thread: bool = True
    numbering: bool | None = None  # None: on for threads, off for standalone posts
    tags_on: str = "all"
    rich: Rich = NO_RICH  # images, the link's card, languages, labels


@dataclass(frozen=True)
class When:
    """When the posts go out, as the user wrote it (--start, --every, --spread-until)."""

    start: str
    zone: ZoneInfo
    every: str | None = None
    spread_until: str | None = None
    allow_past: bool = False


@dataclass(frozen=True)
class Budget:
    """A platform's posting budget: at most `posts` in any `window_seconds`."""

    posts: int
    window_seconds: int


def budgets(settings: Settings) -> dict[Platform, Budget]:
    """Each platform's budget, from its CAMPAIGN_<PLATFORM>_BUDGET_* settings."""
    return {
        p: Budget(
            int(getattr(settings, f"{p.value}_budget_posts")),
            int(getattr(settings, f"{p.value}_budget_window_seconds")),
        )
        for p in Platform
    }


def split_options(
    platform: Platform,
    options: PostOptions,
    default_tags: Sequence[str],
    local_links: bool = False,
    counted_as: Profile | None = None,
) -> SplitOptions:
    """The splitter's options for one platform: tags normalised, without repeats."""
    if options.tags_on not in TAG_PLACEMENTS:
        raise BadInput(f"invalid --tags-on {options.tags_on!r}: choose all, first or last")
    tags: list[str] = []
    for tag in options.tags if options.tags else default_tags:
        canonical = normalize_tag(tag)
        if canonical.lower() not in (t.lower() for t in tags):
            tags.append(canonical)
    return SplitOptions(
        platform=platform,
        tags=tuple(tags),
        link=options.link,
        thread=options.thread,
        numbering=options.numbering,
        tags_on=options.tags_on,  # checked against TAG_PLACEMENTS above
        local_links=local_links,
        counted_as=counted_as,
    )


STDIN = "-"  # the article argument that means standard input


def load_article(article: Path, settings: Settings, kind: str | None = None) -> Article:
    """The article at `article`, or read from standard input when it is "-" (a saved web
    page is recognised by its first tag, else it is plain text unless `kind` says)."""
    if str(article) != STDIN:
        if kind is None:
            return read_article(article, max_bytes=settings.max_article_bytes)
        data = article.read_bytes() if article.is_file() else b""
        return parse_bytes(data, str(article), kind)
    data = sys.stdin.buffer.read(settings.max_article_bytes + 1)
    if len(data) > settings.max_article_bytes:
        raise BadInput(
            f"standard input is too big for an article: the limit is "
            f"{settings.max_article_bytes:,} bytes (CAMPAIGN_MAX_ARTICLE_BYTES)"
        )
    return parse_bytes(data, "standard input", kind)


def preview(
    article: Path,
    platform: Platform,
    options: PostOptions,
    settings: Settings,
    kind: str | None = None,
) -> tuple[SplitResult, list[str]]:
    """What `split` shows: the posts one platform would get, and how they were counted
    when an instance was asked (a note). Reads, writes nothing."""
    counted, notes, _ = counted_profiles([platform], options, settings)
    chosen = split_options(
        platform,
        options,
        settings.default_tags(),
        settings.allow_private_links,
        counted[platform],
    )
    return split_article(load_article(article, settings, kind), chosen), notes


def check_campaign_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise BadInput("the campaign name is empty")
    if len(cleaned) > MAX_CAMPAIGN_NAME:
        raise BadInput(
            f"the campaign name is {len(cleaned)} characters; at most {MAX_CAMPAIGN_NAME}"
        )
    # The zero-width joiner is what holds emoji sequences such as 👨‍👩‍👧 together.
    if any(not ch.isprintable() and ch != "\u200d" for ch in cleaned):
        raise BadInput("the campaign name contains control characters")
    return cleaned


def plan_campaign(
    article: Path,
    platforms: Sequence[Platform],
    when: When,
    options: PostOptions,
    settings: Settings,
    now: datetime,
    name: str | None = None,
    kind: str | None = None,
) -> Plan:
    """Everything `queue` will store, and the warnings to print once it is stored."""
    if when.every is not None and when.spread_until is not None:
        raise BadInput("--every and --spread-until cannot be used together")
    first = parse_when(when.start, now, when.zone)
    in_past = first < now - timedelta(seconds=1) and when.start.strip().lower() != "now"
    if in_past and not when.allow_past:
        raise BadInput(f"--start {when.start} is in the past; pass --allow-past to queue it anyway")
    step = parse_duration(when.every) if when.every is not None else None
    until = parse_when(when.spread_until, now, when.zone) if when.spread_until else None
    if name is None and str(article) == STDIN:
        raise BadInput("an article read from standard input needs --campaign NAME")
    campaign = check_campaign_name(name if name is not None else article.stem)

    parsed = load_article(article, settings, kind)
    warnings = list(parsed.warnings)
    for given in (when.start, when.spread_until):
        note = repeated_time(given, when.zone) if given else None
        if note:
            warnings.append(note)
    attached = attachments_of(options, platforms, settings)
    warnings.extend(attached.warnings)
    counted, notes, kept = counted_profiles(platforms, options, settings)
    planned: list[PlannedPost] = []
    tags: tuple[str, ...] = ()
    limits = budgets(settings)
    for platform in dict.fromkeys(platforms):
        chosen = split_options(
            platform,
            options,
            settings.default_tags(),
            settings.allow_private_links,
            counted[platform],
        )
        tags = chosen.tags
        result = split_article(parsed, chosen)
        warnings.extend(f"{platform}: {w}" for w in result.warnings[len(parsed.warnings) :])
        times = schedule(len(result.posts), first, when.zone, every=step, until=until)
        over = budget_warning(platform, times, limits[platform], when.zone)
        if over:
            warnings.append(over)
        planned.extend(
            PlannedPost(
                platform=platform,
                seq=post.seq,
                text=post.text,
                scheduled_at=at,
                thread=options.thread,
                body=post.body,
                attachments=attached.of(platform, post.seq),
            )
            for post, at in zip(result.posts, times, strict=True)
        )
    return Plan(
        name=campaign,
        posts=tuple(planned),
        source_path=STDIN if str(article) == STDIN else str(article.resolve()),
        source_sha256=parsed.source_sha256,
        hashtags=" ".join(tags),
        warnings=tuple(warnings),
        notes=tuple(notes),
        settings=CampaignSettings(
            tags=tags,
            link=options.link,
            thread=options.thread,
            numbering=options.numbering,
            tags_on=options.tags_on,
            tz=when.zone.key or "UTC",
            langs=campaign_langs(options.rich, settings),
            labels=check_labels(options.rich.labels),
            card=options.rich.card,
            content_warning=options.rich.content_warning,
            limits=kept,
        ),
    )


def counted_profiles(
    platforms: Sequence[Platform], options: PostOptions, settings: Settings
) -> tuple[dict[Platform, Profile], list[str], tuple[tuple[str, int, int], ...]]:
    """How each platform counts the campaign's posts: an instance's own figures where it
    has them (Mastodon), less the room a content warning takes; what to say; and the
    instances' figures that differ from the platforms' defaults, for the campaign to keep."""
    from scheduler.platforms.factory import instance_profile
    from scheduler.review import counted_profile  # review plans with this module's budgets

    counted: dict[Platform, Profile] = {}
    notes: list[str] = []
    kept: list[tuple[str, int, int]] = []
    warning = CampaignSettings(content_warning=options.rich.content_warning)
    for platform in dict.fromkeys(platforms):
        instance, note = instance_profile(settings, platform)
        if note:
            notes.append(f"{platform}: {note}")
        counted[platform] = counted_profile(platform, warning, instance)
        default = PROFILES[platform]
        if instance is not None and (instance.limit, instance.url_length) != (
            default.limit,
            default.url_length,
        ):
            kept.append((platform.value, instance.limit, instance.url_length or 0))
    return counted, notes, tuple(kept)


def attachments_of(
    options: PostOptions, platforms: Sequence[Platform], settings: Settings
) -> Attached:
    """The images, card, languages and labels the campaign's posts carry (images stored
    in the data directory, the card's page fetched)."""
    from scheduler.media import MediaDir

    media = MediaDir(settings.resolved_data_dir() / "media")
    return attach(options.rich, options.link, list(dict.fromkeys(platforms)), settings, media)


def repeat_warnings(plan: Plan, stored: Sequence[SameText]) -> list[str]:
    """Per platform and account: posts whose text repeats an earlier post of the plan,
    or a queued or published post already stored. X refuses a repeated text as duplicate
    content (the post then fails); elsewhere it reads as spam."""
    warnings = []
    groups: dict[tuple[Platform, str], list[PlannedPost]] = {}
    for post in plan.posts:
        groups.setdefault((post.platform, post.account), []).append(post)
    for (platform, account), posts in groups.items():
        who = platform if account == "default" else f"{platform} ({account})"
        why = (
            "X refuses a repeated text as duplicate content: the repeat would fail"
            if platform is Platform.X
            else "repeated posts read as spam"
        )
        seen: set[str] = set()
        again = []
        for post in posts:
            if post.text in seen:
                again.append(post.seq)
            seen.add(post.text)
        if again:
            warnings.append(
                f"{who}: {_posts_repeat(again)} the text of an earlier post of this campaign; {why}"
            )
        earlier: dict[str, tuple[set[int], set[str]]] = {}  # campaign -> ids, texts
        for match in stored:
            if (match.platform, match.account) == (platform, account):
                ids, texts = earlier.setdefault(match.campaign, (set(), set()))
                ids.add(match.post_id)
                texts.add(match.text)
        for campaign, (ids, texts) in sorted(earlier.items()):
            where = "this campaign" if campaign == plan.name else f"campaign {campaign!r}"
            shown = ", ".join(map(str, sorted(ids)[:5])) + (", ..." if len(ids) > 5 else "")
            count = sum(1 for p in posts if p.text in texts)
            warnings.append(
                f"{who}: {count} {'post repeats' if count == 1 else 'posts repeat'} the text "
                f"of {where} (post {shown}); {why}"
            )
    return warnings


def _posts_repeat(seqs: Sequence[int]) -> str:
    shown = ", ".join(map(str, seqs[:10])) + (", ..." if len(seqs) > 10 else "")
    return f"post {shown} repeats" if len(seqs) == 1 else f"{len(seqs)} posts (seq {shown}) repeat"


def budget_warning(
    platform: Platform, times: Sequence[datetime], budget: Budget, zone: ZoneInfo
) -> str | None:
    """Say when a schedule exceeds the platform's posting budget, and when the last
    post would really go out if every post waits for room in the budget."""
    if len(times) <= budget.posts:
        return None
    window = timedelta(seconds=budget.window_seconds)
    sent: list[datetime] = []
    for index, planned in enumerate(times):
        at = planned
        if index >= budget.posts:
            at = max(at, sent[index - budget.posts] + window)
        sent.append(at)
    if sent[-1] == times[-1]:
        return None
    return (
        f"{platform}: {len(times)} posts exceed the posting budget of {budget.posts} per "
        f"{budget.window_seconds // 60} min; the last post would really go out at "
        f"{format_local(sent[-1], zone)}, not {format_local(times[-1], zone)}"
    )


__all__ = [
    "Budget",
    "PostOptions",
    "When",
    "attachments_of",
    "budget_warning",
    "check_campaign_name",
    "plan_campaign",
    "preview",
    "repeat_warnings",
    "split_options",
]
