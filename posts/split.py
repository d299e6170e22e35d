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
from posts.measure import MAX_URL_LENGTH, fits, measure, url_spans, utf8_bytes
from posts.platform import PROFILES, Platform, Profile
from posts.sentences import CLAUSE_RE, split_sentences

TagPlacement = Literal["all", "first", "last"]
TAG_PLACEMENTS: tuple[TagPlacement, ...] = ("all", "first", "last")

PARAGRAPH_BREAK = "\n\n"
# No post holds more code points than this (see _Packer._window); X URLs may be longer.
WINDOW = 4096
# Within this of a limit, a summed size is checked by measuring the whole post.
_SLACK = 1
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
    # How the platform counts; None: its usual profile (a Mastodon instance may differ).
    counted_as: Profile | None = None

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
    """Greedy packing. Whether a sentence still fits is first judged from sizes added
    up (each sentence measured once): sentences join at whitespace, where neither URLs
    nor emoji sequences run across, so lengths add up. Near the limit, and whenever
    `exact` is set, the whole candidate post is measured instead; `_pack` checks every
    result exactly and repacks with `exact` if a sum was ever wrong."""

    def __init__(self, options: SplitOptions, frame: _Frame, exact: bool = False) -> None:
        self.options = options
        self.frame = frame
        self.exact = exact
        self.bodies: list[str] = []
        self.warnings: list[str] = []
        self._sizes: dict[str, tuple[int, int]] = {}
        self._overheads: dict[tuple[bool, bool], tuple[int, int]] = {}

    def fits(self, index: int, body: str) -> bool:
        frame = self.frame
        return fits(
            self.options.profile, frame.render(index, body, None, frame.reserves_tags(index))
        )

    def size(self, text: str) -> tuple[int, int]:
        """(platform length, UTF-8 bytes) of a piece of text."""
        found = self._sizes.get(text)
        if found is None:
            found = self._sizes[text] = (measure(self.options.profile, text), utf8_bytes(text))
        return found

    def _overhead(self, index: int) -> tuple[int, int]:
        """What numbering, link and tags add around a body at this position."""
        key = (index == 0, self.frame.reserves_tags(index))
        found = self._overheads.get(key)
        if found is None:
            length, nbytes = self.size(self.frame.render(index, "a", None, key[1]))
            found = self._overheads[key] = (length - 1, nbytes - 1)
        return found

    def _clearly(self, index: int, length: int, nbytes: int) -> bool | None:
        """True or False when the summed size is clear of the limits, None near them."""
        extra_length, extra_bytes = self._overhead(index)
        length, nbytes = length + extra_length, nbytes + extra_bytes
        profile = self.options.profile
        limit = profile.limit
        max_bytes = profile.max_bytes if profile.max_bytes is not None else 1 << 62
        if length > limit + _SLACK or nbytes > max_bytes + _SLACK:
            return False
        if length <= limit - _SLACK and nbytes <= max_bytes - _SLACK:
            return True
        return None

    def _fits_sized(self, index: int, body: str) -> bool:
        """fits(), judged from the body's (cached) size where that is clear."""
        length, nbytes = self.size(body)
        verdict = None if self.exact else self._clearly(index, length, nbytes)
        return self.fits(index, body) if verdict is None else verdict

    def pack(self, units: Sequence[_Unit]) -> list[str]:
        current, length, nbytes = "", 0, 0
        for unit in units:
            candidate = f"{current}{unit.separator}{unit.text}" if current else unit.text
            unit_length, unit_bytes = self.size(unit.text)
            sep_length, sep_bytes = self.size(unit.separator) if current else (0, 0)
            sum_length = length + sep_length + unit_length
            sum_bytes = nbytes + sep_bytes + unit_bytes
            index = len(self.bodies)
            verdict = None if self.exact else self._clearly(index, sum_length, sum_bytes)
            if verdict is None:
                verdict = self.fits(index, candidate)
            if verdict:
                current, length, nbytes = candidate, sum_length, sum_bytes
                continue
            if current:
                self.bodies.append(current)
                current = ""
            rest = unit.text
            # A sentence longer than a post: fill whole posts with its leading clauses.
            # Only a window of the rest is ever measured, so a huge sentence or word
            # costs time in proportion to its length, not to its length squared.
            while len(rest) > len(window := self._window(rest)) or not self._fits_sized(
                len(self.bodies), rest
            ):
                cut = self._cut(len(self.bodies), window)
                self.bodies.append(rest[:cut].rstrip())
                rest = rest[cut:].lstrip()
            current = rest
            length, nbytes = self.size(rest)
        if current:
            self.bodies.append(current)
        return self.bodies

    def _window(self, text: str) -> str:
        """The longest prefix that could matter for one post: more code points than
        WINDOW never fit (Bluesky: 3,000 bytes; X: 280 weighted, emoji sequences
        aside), except through a long URL on X, which the window then takes whole."""
        end = min(len(text), WINDOW)
        if end < len(text) and self.options.profile.url_length is not None:
            for start, stop in url_spans(text[: end + MAX_URL_LENGTH]):
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
                if measure(self.options.profile, text[:clause_cut]) * 2 >= measure(
                    self.options.profile, text[:word_cut]
                ):
                    return clause_cut
            return word_cut
        return self._cut_token(index, text, ok)

    def _cut_token(self, index: int, text: str, ok: Callable[[int], bool]) -> int:
        """The first word alone is longer than a post: cut inside it, never through a
        URL where a URL counts the same whatever its length (X: 23)."""
        token_end = re.match(r"\S+", text)
        end = token_end.end() if token_end else len(text)
        forbidden: list[tuple[int, int]] = []
        if self.options.profile.url_length is not None:
            forbidden = [(s, e) for s, e in url_spans(text) if s < end]
        # No post holds more grapheme clusters than its limit, so look no further.
        ends = _graphemes_ends(text[:end], self.options.profile.limit + 1)
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


def _pack(
    units: Sequence[_Unit], options: SplitOptions
) -> tuple[list[str], list[str], list[int], list[str]]:
    """Bodies, final texts, their lengths and warnings. Repacks while the numbering
    needs more digits or the last post has no room for its tags (tags_on="last")."""
    profile = options.profile
    limit = profile.limit
    digits, reserve_from, exact = 1, 1 << 62, False
    if options.numbered:
        # A long article starts near the width its numbering needs, sparing a repack per
        # digit (a 4/3 overestimate: at worst one digit too many is reserved). Short ones
        # start at one digit, so they are packed as tightly as possible.
        rough_posts = sum(len(u.text) + 1 for u in units) * 4 // (limit * 3)
        if rough_posts >= 100:
            digits = len(str(rough_posts))
    while True:
        frame = _Frame(options, digits, reserve_from)
        packer = _Packer(options, frame, exact)
        bodies = packer.pack(units)
        total = len(bodies)
        if options.numbered and len(str(total)) > digits:
            digits = len(str(total))
            continue
        last = total - 1
        if (
            options.tags_on == "last"
            and not frame.reserves_tags(last)
            and not fits(profile, frame.render(last, bodies[last], None, True))
        ):
            # Repacking can only add posts, so the new last post reserves room.
            reserve_from = last
            continue
        # Every post is measured whole once, here; if a summed size was ever wrong,
        # pack again measuring every candidate.
        texts = [frame.final(i, body, total) for i, body in enumerate(bodies)]
        lengths = [measure(profile, text) for text in texts]
        within = all(
            length <= limit and (profile.max_bytes is None or utf8_bytes(text) <= profile.max_bytes)
            for text, length in zip(texts, lengths, strict=True)
        )
        if not within and not exact:
            exact = True
            continue
        return bodies, texts, lengths, packer.warnings


def split_article(article: Article, options: SplitOptions) -> SplitResult:
    """Cut the article into posts for one platform."""
    if options.link and not url_spans(options.link):
        raise SplitError(f"invalid link {options.link!r}: give a full URL such as https://...")
    units = article_units(article)
    if not units:
        raise SplitError("the article has no text to post")
    bodies, texts, lengths, warnings = _pack(units, options)
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
    "has_hashtag",
    "normalize_tag",
    "split_article",
]
