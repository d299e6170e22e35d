"""Sentence-aware packing of an article into posts, with hashtags, numbering and link.

Every candidate post is measured whole (numbering, body, link, tags) with the
platform's own rules, so reserved room is exact rather than estimated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from posts.article import Article
from posts.measure import LIMITS, Platform, fits, measure, url_spans
from posts.sentences import CLAUSE_RE, split_sentences

TagPlacement = Literal["all", "first", "last"]
TAG_PLACEMENTS: tuple[TagPlacement, ...] = ("all", "first", "last")

PARAGRAPH_BREAK = "\n\n"
# No post holds more code points than this (see _Packer._window); X URLs may be longer.
WINDOW = 4096
MAX_URL = 4096  # twitter-text's longest URL
_TAG_RE = re.compile(r"#?(\w{1,100})")


class SplitError(ValueError):
    """The options cannot produce valid posts; str() is one sentence for stderr."""


def normalize_tag(raw: str) -> str:
    """`Artsakh` or `#Artsakh` -> `#Artsakh`; anything else is refused."""
    text = raw.strip()
    match = _TAG_RE.fullmatch(text)
    if match is None or match.group(1).isdigit():
        raise SplitError(
            f"invalid tag {raw!r}: a hashtag is letters, digits and underscores "
            "(at most 100, not only digits), with or without a leading #"
        )
    return "#" + match.group(1)


def has_hashtag(text: str, tag: str) -> bool:
    """Does `text` already carry `tag` as a whole hashtag (case-insensitive)?"""
    pattern = rf"(?<![\w#]){re.escape(tag)}(?!\w)"
    return re.search(pattern, text, flags=re.IGNORECASE) is not None


@dataclass(frozen=True)
class SplitOptions:
    platform: Platform
    tags: tuple[str, ...] = ()
    link: str | None = None
    thread: bool = True
    numbering: bool | None = None  # None: on for threads, off for standalone posts
    tags_on: TagPlacement = "all"

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


@dataclass(frozen=True)
class _Unit:
    separator: str  # what joins it to the previous unit within one post
    text: str


def article_units(article: Article) -> list[_Unit]:
    """Title, byline and body as sentences, each with the separator before it."""
    units: list[_Unit] = []
    for paragraph in [*article.lead(), *article.paragraphs]:
        for position, (separator, sentence) in enumerate(split_sentences(paragraph)):
            units.append(_Unit(PARAGRAPH_BREAK if position == 0 else separator, sentence))
    return units


class _Frame:
    """Numbering, link and tags around a post's body."""

    def __init__(self, options: SplitOptions, digits: int, reserve_tags_from: int) -> None:
        self.options = options
        self.digits = digits
        # With tags_on="last" the last post is unknown while packing: posts from this
        # index on reserve room for the tags.
        self.reserve_tags_from = reserve_tags_from

    def reserves_tags(self, index: int) -> bool:
        placement = self.options.tags_on
        if placement == "all":
            return True
        if placement == "first":
            return index == 0
        return index >= self.reserve_tags_from

    def render(self, index: int, body: str, total: int | None, tagged: bool) -> str:
        """The post text; with total=None the numbering is the widest it can be and
        every tag is counted, which is what packing must reserve."""
        text = body
        if self.options.numbered:
            widest = "9" * self.digits
            label, count = (widest, widest) if total is None else (str(index + 1), str(total))
            text = f"{label}/{count} {text}"
        extras: list[str] = []
        if index == 0 and self.options.link:
            extras.append(self.options.link)
        if tagged:
            tags = self.options.tags
            if total is not None:  # the final text skips tags the body already carries
                tags = tuple(t for t in tags if not has_hashtag(body, t))
            extras.extend(tags)
        if extras:
            text = f"{text}{PARAGRAPH_BREAK}{' '.join(extras)}"
        return text

    def final(self, index: int, body: str, total: int) -> str:
        placement = self.options.tags_on
        tagged = (
            placement == "all"
            or (placement == "first" and index == 0)
            or (placement == "last" and index == total - 1)
        )
        return self.render(index, body, total, tagged)


def _graphemes_ends(text: str, limit: int) -> list[int]:
    """Where the first `limit` grapheme clusters end."""
    import itertools

    import regex

    return [m.end() for m in itertools.islice(regex.finditer(r"\X", text), limit)]


def _last_fitting(cuts: Sequence[int], ok: Callable[[int], bool]) -> int | None:
    """The largest cut for which ok() holds, assuming ok is monotone (True then False).

    Gallops from the short end first: ok() measures a prefix, so probing short
    prefixes before long ones keeps the work near the size of one post."""
    if not cuts or not ok(cuts[0]):
        return None
    lo, step = 0, 1  # cuts[lo] fits
    while lo + step < len(cuts) and ok(cuts[lo + step]):
        lo, step = lo + step, step * 2
    hi = min(lo + step, len(cuts)) - 1  # answer in cuts[lo..hi]
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(cuts[mid]):
            lo = mid
        else:
            hi = mid - 1
    return cuts[lo]


class _Packer:
    def __init__(self, options: SplitOptions, frame: _Frame) -> None:
        self.options = options
        self.frame = frame
        self.bodies: list[str] = []
        self.warnings: list[str] = []

    def fits(self, index: int, body: str) -> bool:
        frame = self.frame
        return fits(
            self.options.platform, frame.render(index, body, None, frame.reserves_tags(index))
        )

    def pack(self, units: Sequence[_Unit]) -> list[str]:
        current = ""
        for unit in units:
            candidate = f"{current}{unit.separator}{unit.text}" if current else unit.text
            if self.fits(len(self.bodies), candidate):
                current = candidate
                continue
            if current:
                self.bodies.append(current)
                current = ""
            rest = unit.text
            # A sentence longer than a post: fill whole posts with its leading clauses.
            # Only a window of the rest is ever measured, so a huge sentence or word
            # costs time in proportion to its length, not to its length squared.
            while len(rest) > len(window := self._window(rest)) or not self.fits(
                len(self.bodies), rest
            ):
                cut = self._cut(len(self.bodies), window)
                self.bodies.append(rest[:cut].rstrip())
                rest = rest[cut:].lstrip()
            current = rest
        if current:
            self.bodies.append(current)
        return self.bodies

    def _window(self, text: str) -> str:
        """The longest prefix that could matter for one post: more code points than
        WINDOW never fit (Bluesky: 3,000 bytes; X: 280 weighted, emoji sequences
        aside), except through a long URL on X, which the window then takes whole."""
        end = min(len(text), WINDOW)
        if end < len(text) and self.options.platform is Platform.X:
            for start, stop in url_spans(text[: end + MAX_URL]):
                if start < end < stop:
                    end = stop
        return text[:end]

    def _cut(self, index: int, text: str) -> int:
        """Where to break a too-long text: the last clause boundary that fills at least
        half the room, else the last word that fits, else inside an oversized token."""

        def ok(cut: int) -> bool:
            return self.fits(index, text[:cut].rstrip())

        words = [m.start() for m in re.finditer(r"\s+", text) if m.start() > 0]
        word_cut = _last_fitting(words, ok)
        if word_cut is not None:
            # After ; , : but before a dash, which then opens the next post.
            clauses = [
                m.start() if m.group()[0].isspace() else m.start() + 1
                for m in CLAUSE_RE.finditer(text)
            ]
            clauses = [c for c in clauses if 0 < c <= word_cut]
            if clauses:
                clause_cut = clauses[-1]
                if measure(self.options.platform, text[:clause_cut]) * 2 >= measure(
                    self.options.platform, text[:word_cut]
                ):
                    return clause_cut
            return word_cut
        return self._cut_token(index, text, ok)

    def _cut_token(self, index: int, text: str, ok: Callable[[int], bool]) -> int:
        """The first word alone is longer than a post: cut inside it, never through a
        URL on X (where a URL counts 23 whatever its length)."""
        token_end = re.match(r"\S+", text)
        end = token_end.end() if token_end else len(text)
        forbidden: list[tuple[int, int]] = []
        if self.options.platform is Platform.X:
            forbidden = [(s, e) for s, e in url_spans(text) if s < end]
        # No post holds more grapheme clusters than its limit, so look no further.
        ends = _graphemes_ends(text[:end], LIMITS[self.options.platform] + 1)
        cuts = [c for c in ends if not any(s < c < e for s, e in forbidden)]
        # A long URL counts 23 on X: the cut just after it may lie far beyond `ends`.
        cuts = sorted({*cuts, *(e for _, e in forbidden if e <= end)})
        cut = _last_fitting(cuts, ok)
        if cut is None or cut == 0:
            platform = self.options.platform.value
            if cuts and self.fits(index, "x"):
                raise SplitError(
                    f"a single character with its combining marks is longer than a {platform} post"
                )
            raise SplitError(
                f"the numbering, link and tags leave no room for text in a {platform} post"
            )
        token = text[:end]
        shown = token if len(token) <= 40 else token[:37] + "..."
        warning = f"a word longer than a post was cut across posts: {shown!r}"
        if warning not in self.warnings:  # once per word, not once per piece
            self.warnings.append(warning)
        return cut


def _pack(units: Sequence[_Unit], options: SplitOptions) -> tuple[list[str], _Frame, list[str]]:
    """Pack, repacking while the numbering needs more digits or the last post has no
    room for its tags (tags_on="last")."""
    digits, reserve_from = 1, 1 << 62
    while True:
        frame = _Frame(options, digits, reserve_from)
        packer = _Packer(options, frame)
        bodies = packer.pack(units)
        total = len(bodies)
        if options.numbered and len(str(total)) > digits:
            digits = len(str(total))
            continue
        last = total - 1
        if (
            options.tags_on == "last"
            and not frame.reserves_tags(last)
            and not fits(options.platform, frame.render(last, bodies[last], None, True))
        ):
            # Repacking can only add posts, so the new last post reserves room.
            reserve_from = last
            continue
        return bodies, frame, packer.warnings


def split_article(article: Article, options: SplitOptions) -> SplitResult:
    """Cut the article into posts for one platform."""
    if options.link and not url_spans(options.link):
        raise SplitError(f"invalid link {options.link!r}: give a full URL such as https://...")
    units = article_units(article)
    if not units:
        raise SplitError("the article has no text to post")
    bodies, frame, warnings = _pack(units, options)
    limit = LIMITS[options.platform]
    posts = []
    for index, body in enumerate(bodies):
        text = frame.final(index, body, len(bodies))
        posts.append(
            Post(
                seq=index + 1,
                platform=options.platform,
                text=text,
                body=body,
                length=measure(options.platform, text),
                limit=limit,
            )
        )
    return SplitResult(posts=posts, warnings=[*article.warnings, *warnings])


__all__ = [
    "TAG_PLACEMENTS",
    "Post",
    "SplitError",
    "SplitOptions",
    "SplitResult",
    "TagPlacement",
    "has_hashtag",
    "normalize_tag",
    "split_article",
]
