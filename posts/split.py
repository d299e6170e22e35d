"""An article cut into posts for one platform, with hashtags, numbering and link.

Where posts break is `posts.pack`'s choice (balanced, between sentences where it can); this
module decides what goes around each body. The room for numbering, link and tags is reserved
by measuring every candidate post whole with the platform's own rules, so it is exact rather
than estimated, and every final post is measured again.
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from posts.article import Article
from posts.breaks import PARAGRAPH_BREAK, Piece, sentence_pieces
from posts.hashtags import has_hashtag, normalize_tag
from posts.measure import fixed_url_spans, measure, utf8_bytes
from posts.pack import Packer, SplitError
from posts.platform import PROFILES, Platform, Profile

TagPlacement = Literal["all", "first", "last"]
TAG_PLACEMENTS: tuple[TagPlacement, ...] = ("all", "first", "last")


@dataclass(frozen=True)
class SplitOptions:
    platform: Platform
    tags: tuple[str, ...] = ()
    link: str | None = None
    thread: bool = True
    numbering: bool | None = None  # None: on for threads, off for standalone posts
    tags_on: TagPlacement = "all"
    # How the platform counts; None: its usual profile (a Mastodon instance may differ).
    counted_as: Profile | None = None
    # A link to a loopback or private address is accepted (CAMPAIGN_ALLOW_PRIVATE_LINKS:
    # an intranet page, a test's server) although X would not make a link of it.
    local_links: bool = False

    @property
    def profile(self) -> Profile:
        return self.counted_as or PROFILES[self.platform]

    @property
    def numbered(self) -> bool:
        return self.thread if self.numbering is None else self.numbering


@dataclass(frozen=True)
class Post:
    seq: int
    platform: Platform
    text: str  # exactly what will be published
    body: str  # the article's own words in this post
    length: int
    limit: int


@dataclass
class SplitResult:
    posts: list[Post]
    warnings: list[str] = field(default_factory=list)


class _Frame:
    """Numbering, link and tags around a post's body."""

    def __init__(self, options: SplitOptions, digits: int) -> None:
        self.options = options
        self.digits = digits

    def tagged(self, first: bool, last: bool) -> bool:
        placement = self.options.tags_on
        return (
            placement == "all" or (placement == "first" and first) or (placement == "last" and last)
        )

    def reserve(self, first: bool, last: bool, body: str) -> str:
        """The post as packing must reserve room for it: numbering as wide as it can be, and
        every tag counted, also those the body already carries."""
        return self._render(first, self.tagged(first, last), body, None)

    def final(self, index: int, body: str, total: int) -> str:
        first, last = index == 0, index == total - 1
        return self._render(first, self.tagged(first, last), body, (index + 1, total))

    def _render(
        self, first: bool, tagged: bool, body: str, numbered: tuple[int, int] | None
    ) -> str:
        text = body
        # A lone post is not "1/1" (packing still reserved the room, not knowing).
        if self.options.numbered and (numbered is None or numbered[1] > 1):
            widest = "9" * self.digits
            label, count = (widest, widest) if numbered is None else map(str, numbered)
            text = f"{label}/{count} {text}"
        extras: list[str] = []
        if first and self.options.link:
            extras.append(self.options.link)
        if tagged:
            tags = self.options.tags
            if numbered is not None:  # the final text skips tags the body already carries
                tags = tuple(t for t in tags if not has_hashtag(body, t))
            extras.extend(tags)
        if extras:
            text = f"{text}{PARAGRAPH_BREAK}{' '.join(extras)}"
        return text


def _pack(
    sentences: Sequence[Piece], options: SplitOptions, balanced: bool
) -> tuple[list[str], list[str], list[int], list[str]]:
    """Bodies, final texts, their lengths and warnings. Repacks while the numbering needs
    more digits, and measuring everything if a summed size was ever wrong."""
    profile = options.profile
    digits, exact = 1, False
    if options.numbered:
        # A long article starts near the width its numbering needs, sparing a repack per
        # digit (a 4/3 overestimate: at worst one digit too many is reserved). Short ones
        # start at one digit, so they are packed as tightly as possible.
        rough_posts = sum(len(s.text) + 1 for s in sentences) * 4 // (profile.limit * 3)
        if rough_posts >= 100:
            digits = len(str(rough_posts))
    while True:
        frame = _Frame(options, digits)
        most = 10**digits - 1 if options.numbered else None
        packer = Packer(profile, frame.reserve, options.platform.value, exact, most)
        packing = packer.pack(sentences, balanced)
        bodies = packing.bodies
        total = len(bodies)
        if options.numbered and len(str(total)) > digits:
            digits = len(str(total))
            continue
        # Every post is measured whole once, here; if a summed size was ever wrong,
        # pack again measuring every candidate.
        texts = [frame.final(i, body, total) for i, body in enumerate(bodies)]
        lengths = [measure(profile, text) for text in texts]
        within = all(
            length <= profile.limit
            and (profile.max_bytes is None or utf8_bytes(text) <= profile.max_bytes)
            for text, length in zip(texts, lengths, strict=True)
        )
        if not within and not exact:
            exact = True
            continue
        return bodies, texts, lengths, packing.warnings


def check_link(link: str, local_links: bool = False) -> None:
    """Refuse a `--link` that would not be posted as one working link, in one sentence;
    with `local_links`, one to localhost or an IP address is let through."""
    import ipaddress
    from urllib.parse import urlsplit

    def refuse(reason: str) -> SplitError:
        return SplitError(f"invalid link {_clipped(link)!r}: {reason}")

    if not link or any(_is_space_or_control(c) for c in link):
        raise refuse("a link is one URL, without spaces or control characters")
    if not link.lower().startswith(("https://", "http://")):
        raise refuse("give a full URL starting with https:// or http://")
    try:
        parts = urlsplit(link)
        host, _ = parts.hostname, parts.port
    except ValueError:  # "https://[::1/": a bracketed host never closed, a port not a number
        raise refuse("its host or port is malformed") from None
    if not host:
        raise refuse("the URL names no host")
    if local_links:
        with contextlib.suppress(ValueError):
            ipaddress.ip_address(host)
            return
        if host == "localhost" or host.endswith(".localhost"):
            return
    # X links (and counts as 23) only what twitter-text finds, Mastodon what its own take on
    # twitter-text finds; the rest would be plain text. (Bluesky finds no fixed-length URLs.)
    for platform, profile in PROFILES.items():
        spans = fixed_url_spans(profile, link)
        name = platform.value.capitalize()
        if profile.url_length is None:
            continue
        if not spans or spans[0][0] != 0:
            raise refuse(f"{name} would not recognise it as a link")
        if spans[0][1] != len(link):
            raise refuse(f"{name} would link only {_clipped(link[: spans[0][1]])!r} of it")


def _clipped(text: str, most: int = 80) -> str:
    return text if len(text) <= most else text[: most - 3] + "..."


def _is_space_or_control(char: str) -> bool:
    # Z*: spaces and line separators; Cc: control characters; Cf: format characters
    # (bidirectional overrides, zero-width spaces and joiners).
    category = unicodedata.category(char)
    return category[0] == "Z" or category in ("Cc", "Cf")


def frame_post(options: SplitOptions, seq: int, total: int, body: str) -> str:
    """The text of post `seq` of `total` whose body is `body`: numbering, link and tags
    added as `split_article` adds them (an edited post is framed like its neighbours)."""
    digits = len(str(total))
    return _Frame(options, digits).final(seq - 1, body, total)


def body_of(options: SplitOptions, seq: int, total: int, text: str) -> str | None:
    """The body that `frame_post` frames into exactly `text`, if there is one: an edited
    text keeps its body when only the words changed, not the numbering or the tags."""
    candidate = text
    if options.numbered and total > 1:
        label = f"{seq}/{total} "
        if not text.startswith(label):
            return None
        candidate = text[len(label) :]
    # Without the link and tags first: a body that carries the tags itself would frame
    # into the same text (tags already there are not added again).
    for body in (candidate.rpartition(PARAGRAPH_BREAK)[0], candidate):
        if body and frame_post(options, seq, total, body) == text:
            return body
    return None


def split_article(article: Article, options: SplitOptions, balanced: bool = True) -> SplitResult:
    """Cut the article into posts for one platform. balanced=False fills each post greedily
    (the simple packing, kept to measure the balanced one against)."""
    if options.link is not None:
        check_link(options.link, options.local_links)
    sentences = sentence_pieces(article)
    if not sentences:
        raise SplitError("the article has no text to post")
    bodies, texts, lengths, warnings = _pack(sentences, options, balanced)
    limit = options.profile.limit
    posts = [
        Post(
            seq=index + 1,
            platform=options.platform,
            text=text,
            body=body,
            length=length,
            limit=limit,
        )
        for index, (body, text, length) in enumerate(zip(bodies, texts, lengths, strict=True))
    ]
    return SplitResult(posts=posts, warnings=[*article.warnings, *warnings])


__all__ = [
    "TAG_PLACEMENTS",
    "Post",
    "SplitError",
    "SplitOptions",
    "SplitResult",
    "TagPlacement",
    "body_of",
    "check_link",
    "frame_post",
    "has_hashtag",
    "normalize_tag",
    "split_article",
]
