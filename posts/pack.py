"""Choosing where posts break: all the breaks of an article at once.

The article is a run of pieces (`posts.breaks`): whole sentences, and the words of a sentence
too long for a post. A post is a run of consecutive pieces. `Packer.pack` chooses every break
together by dynamic programming over the places between pieces, in the spirit of Knuth and
Plass's line breaking ("Breaking Paragraphs into Lines", 1981). A thread costs the sum of its
posts' costs; a post costs

- its empty room, squared, so that posts come out even: a long sentence splits into balanced
  halves and leaves no stub;
- the kind of break that ends it: nothing between paragraphs, then more for a break between
  sentences, before a list item or after a colon, at a clause, between words;
- a surcharge when it is short (under 40% of the limit) and the article's structure does not
  explain it: it is not whole paragraphs (a title, a one-line paragraph), nor the last sentences;
- a dangling break (a post ending on "and" or "2)", the next opening on ")"), which outweighs
  all the rest together, so it is only taken where the text leaves no other way.

The thread uses the fewest posts the pieces allow (what filling each post greedily gives), or
one more if that removes a dangling break. Each place between pieces remembers the cheapest
thread that ends a post there with the fewest posts so far, and, when the cheapest such thread
still has a dangling break, a second search also remembers the cheapest with one post more
(once a thread is a post over the fewest it stays so). A post spans only the pieces that fit in
it, which bounds how far back each place looks, so the search is linear in the article.

Sizes are added up from each piece's measured size. Pieces join at whitespace, or next to a
Chinese or Japanese character (never before a mark or after a joiner), where no URL, emoji
sequence or NFC composition runs across, so the sums are what X counts; for Bluesky they can
only overcount (a space before a combining mark makes one cluster with it). Mastodon's URLs
and mentions never cross whitespace either, so at whitespace its sums are Bluesky's; but its
URL paths and mention domains may hold Chinese or Japanese characters, and a mention glued to
a preceding one is none, so at a join without a space its sums can be wrong either way.
The greedy packer this replaces also measured candidates whole within a character of the limit;
here that cost half the time on Japanese text, where most post-sized runs of pieces end there.
`posts.split` measures every final post and packs again with `exact=True` (everything measured)
if a sum was ever wrong.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from posts.breaks import Kind, Piece, word_pieces
from posts.measure import MAX_URL_LENGTH, fits, fixed_url_spans, piece_length, utf8_bytes
from posts.platform import Profile

# No post holds more code points than this (see Packer._window); X URLs may be longer.
WINDOW = 4096
# (first post, last post, body) -> the post as packing must reserve room for it.
Render = Callable[[bool, bool, str], str]

# The costs. Units: a post with no text at all costs EMPTY for its empty room.
EMPTY = 100.0
# What ending a post at each kind of place adds. A break between sentences costs about what
# evening out two posts by a fifth of a post gains, so a paragraph stays whole unless keeping it
# so leaves the posts badly uneven; a clause boundary at a third of a long sentence still beats
# a word at its middle.
BREAK_COST = {
    Kind.PARAGRAPH: 0.0,
    Kind.SENTENCE: 15.0,
    Kind.LIST: 25.0,
    Kind.CLAUSE: 35.0,
    Kind.WORD: 60.0,
    Kind.INSIDE: 60.0,
}
SHORT = 0.4  # of the limit: below this a post looks like a stub unless the article explains it
SHORT_COST = 30.0  # plus EMPTY times the share of the limit it falls short by
# More than all other costs of any article together (a 5 MB article makes under 40,000
# posts, each costing a few hundred at most), so dangling breaks are counted first.
DANGLING_COST = 1e9


class SplitError(ValueError):
    """The options cannot produce valid posts; str() is one sentence for stderr."""


@dataclass(frozen=True)
class Packing:
    """The posts' bodies (the article's own words, without numbering, link or tags)."""

    bodies: list[str]
    warnings: list[str]


class Packer:
    """Packs pieces into posts for one platform profile and one frame (numbering, link, tags)."""

    def __init__(
        self,
        profile: Profile,
        render: Render,
        platform: str,
        exact: bool = False,
        most_posts: int | None = None,
        fast: bool = True,
    ) -> None:
        self.profile = profile
        self.render = render
        self.platform = platform
        # exact=True: measure every candidate post whole instead of adding up sizes.
        self.exact = exact
        # fast=False: the general search (cheapest(states=1)) instead of its fast path.
        self.fast = fast
        # The numbering reserved room for this many posts; past it the caller repacks, so
        # there is no point choosing breaks carefully.
        self.most_posts = most_posts
        self.warnings: list[str] = []
        self._sizes: dict[str, tuple[int, int]] = {}
        # What numbering, link and tags add around a body, by (first post, last post).
        self._overheads = {
            (first, last): self._overhead(first, last)
            for first, last in itertools.product((False, True), repeat=2)
        }

    def pack(self, sentences: Sequence[Piece], balanced: bool = True) -> Packing:
        """The bodies of the posts. balanced=False fills each post greedily instead: the simple
        version, kept as the yardstick of the fewest posts the pieces allow."""
        pieces = self._pieces(sentences)
        starts = self._balanced(pieces) if balanced else self._greedy(pieces)
        ends = [*starts[1:], len(pieces)]
        bodies = [self._body(pieces, i, j) for i, j in zip(starts, ends, strict=True)]
        return Packing(bodies, self.warnings)

    # -- sizes ---------------------------------------------------------------------------

    def size(self, text: str) -> tuple[int, int]:
        """(platform length, UTF-8 bytes) of a piece of text."""
        found = self._sizes.get(text)
        if found is None:
            found = self._sizes[text] = (piece_length(self.profile, text), utf8_bytes(text))
        return found

    def _overhead(self, first: bool, last: bool) -> tuple[int, int]:
        length, nbytes = self.size(self.render(first, last, "a"))
        return length - 1, nbytes - 1

    def _fits_summed(
        self, first: bool, last: bool, length: int, nbytes: int, body: Callable[[], str]
    ) -> bool:
        """Does a body of this summed size fit (measured whole when packing `exact`ly)?"""
        if self.exact:
            return fits(self.profile, self.render(first, last, body()))
        extra_length, extra_bytes = self._overheads[first, last]
        max_bytes = self.profile.max_bytes
        return length + extra_length <= self.profile.limit and (
            max_bytes is None or nbytes + extra_bytes <= max_bytes
        )

    def _fits_alone(self, first: bool, last: bool, text: str) -> bool:
        return self._fits_summed(first, last, *self.size(text), lambda: text)

    # -- pieces ----------------------------------------------------------------------------

    def _pieces(self, sentences: Sequence[Piece]) -> list[Piece]:
        """Sentences that fit a post stay whole; longer ones fall into words, and a word longer
        than a post into post-sized chunks. Each piece fits alone in any post it can open or
        close (the first post carries the link, the last may carry the tags), so every piece
        can be a post of its own and packing always succeeds."""
        pieces: list[Piece] = []
        last_sentence = len(sentences) - 1
        for index, sentence in enumerate(sentences):
            first, last = index == 0, index == last_sentence
            if self._fits_alone(first, last, sentence.text):
                pieces.append(sentence)
                continue
            words = word_pieces(sentence)
            for k, word in enumerate(words):
                word_first, word_last = first and k == 0, last and k == len(words) - 1
                if self._fits_alone(word_first, word_last, word.text):
                    pieces.append(word)
                else:
                    pieces.extend(self._chunks(word, word_first, word_last))
        return pieces

    def _chunks(self, word: Piece, first: bool, last: bool) -> list[Piece]:
        """A word longer than a post, cut into pieces that each fill a post. Only a window of
        the rest is ever measured, so a huge word costs time in proportion to its length, not
        to its length squared."""
        chunks: list[Piece] = []
        rest, separator, kind, dangling = word.text, word.separator, word.kind, word.dangling
        while len(rest) > len(window := self._window(rest)) or not self._fits_alone(
            first, last, rest
        ):
            cut = self._cut_inside(first, window, whole=len(window) == len(rest))
            chunks.append(Piece(separator, rest[:cut], kind, dangling))
            rest, separator, kind, dangling, first = rest[cut:], "", Kind.INSIDE, False, False
        chunks.append(Piece(separator, rest, kind, dangling))
        token = word.text
        shown = token if len(token) <= 40 else token[:37] + "..."
        warning = f"a word longer than a post was cut across posts: {shown!r}"
        if warning not in self.warnings:  # once per word, not once per piece
            self.warnings.append(warning)
        return chunks

    def _window(self, text: str) -> str:
        """The longest prefix that could matter for one post: more code points than WINDOW
        never fit (Bluesky: 3,000 bytes; X: 280 weighted, emoji sequences aside; Mastodon: 500
        clusters), except through a long URL where a URL counts the same whatever its length,
        which the window then takes whole. An instance that allows more clusters than WINDOW
        gets a window of its limit."""
        end = min(len(text), max(WINDOW, self.profile.limit))
        if end < len(text):
            for start, stop in fixed_url_spans(self.profile, text[: end + MAX_URL_LENGTH]):
                if start < end < stop:
                    end = stop
        return text[:end]

    def _cut_inside(self, first: bool, text: str, whole: bool) -> int:
        """Where to cut a word that is longer than a post (and not the last piece of its post):
        after the most grapheme clusters that fit, never through a URL where a URL counts the
        same whatever its length (X and Mastodon: 23). When `text` is `whole`, it would fit a
        post, just not the last one with the tags: then it is cut in half rather than into a
        full post and a crumb."""

        def ok(cut: int) -> bool:
            return fits(self.profile, self.render(first, False, text[:cut]))

        forbidden = fixed_url_spans(self.profile, text)
        # No post holds more grapheme clusters than its limit, so look no further.
        ends = _grapheme_ends(text, self.profile.limit + 1)
        cuts = [c for c in ends if not any(s < c < e for s, e in forbidden)]
        # A long URL counts 23 on X: the cut just after it may lie far beyond `ends`.
        cuts = sorted({*cuts, *(e for _, e in forbidden)})
        if whole:
            cuts = [c for c in cuts if c <= len(text) // 2] or cuts[:1]
        cut = _last_fitting(cuts, ok)
        if cut is None or cut == 0:
            if cuts and fits(self.profile, self.render(first, False, "x")):
                raise SplitError(
                    f"a single character with its combining marks is longer than a "
                    f"{self.platform} post"
                )
            raise SplitError(
                f"the numbering, link and tags leave no room for text in a {self.platform} post"
            )
        return cut

    @staticmethod
    def _body(pieces: Sequence[Piece], start: int, end: int) -> str:
        return pieces[start].text + "".join(p.separator + p.text for p in pieces[start + 1 : end])

    # -- choosing the breaks -----------------------------------------------------------------

    def _greedy(self, pieces: Sequence[Piece]) -> list[int]:
        """Where each post starts when every post takes as many pieces as fit."""
        reach = self._reach(pieces, _Sums(self, pieces))
        starts = [0]
        for end in range(2, len(pieces) + 1):
            if reach[end] > starts[-1]:  # pieces[starts[-1]:end] is no post
                starts.append(end - 1)
        return starts

    def _reach(self, pieces: Sequence[Piece], sums: _Sums) -> list[int]:
        """reach[end]: the earliest piece a post ending just before `end` can start at.

        It never moves back as `end` grows (a run that fits has sub-runs that fit), so one
        pointer walks the pieces once: linear."""
        opens = _opening(pieces)
        n = len(pieces)
        reach = [0] * (n + 1)
        start = 0
        for end in range(1, n + 1):
            if opens[end - 1]:
                start = end - 1
            while not self._fits_summed(
                start == 0,
                end == n,
                *sums.body(start, end),
                partial(self._body, pieces, start, end),
            ):
                start += 1
            reach[end] = start
        return reach

    def _balanced(self, pieces: Sequence[Piece]) -> list[int]:
        """Where each post starts in the cheapest thread (see the module docstring)."""
        sums = _Sums(self, pieces)
        reach = self._reach(pieces, sums)
        # fewest[k]: the fewest posts that hold the pieces before k; through the earliest
        # start, as fewest[] never decreases.
        fewest = [0] * len(reach)
        for end in range(1, len(reach)):
            fewest[end] = fewest[reach[end]] + 1
        if self.most_posts is not None and fewest[-1] > self.most_posts:
            return self._greedy(pieces)  # the caller must reserve a wider numbering anyway
        search = _Search(self, pieces, sums, reach, fewest)
        starts = search.cheapest_in_fewest() if self.fast else search.cheapest(states=1)
        if search.dangling_breaks(starts):  # perhaps one more post can avoid them
            starts = search.cheapest(states=2)
        return starts


def _opening(pieces: Sequence[Piece]) -> list[bool]:
    """Which pieces must open a post: the first words of a sentence too long for one post.
    A person starts such a sentence on a fresh post rather than squeezing its first words
    after the previous sentence (and the old greedy packer did so too, so the fewest posts
    stay what they were)."""
    n = len(pieces)
    return [
        k + 1 < n and pieces[k].kind <= Kind.SENTENCE and pieces[k + 1].kind >= Kind.LIST
        for k in range(n)
    ]


class _Search:
    """The cheapest thread: for each place between pieces, the cheapest way to end a post
    there, in the state "fewest posts so far" (0) and, when asked, "one more" (1)."""

    def __init__(
        self,
        packer: Packer,
        pieces: Sequence[Piece],
        sums: _Sums,
        reach: list[int],
        fewest: list[int],
    ) -> None:
        n = len(pieces)
        self.n = n
        self.reach = reach
        self.fewest = fewest
        limit = packer.profile.limit
        # A post's summed length is base[end] - less[start], plus the frame's overhead.
        self.less = [sums.upto_length[k] + sums.sep_length[k] for k in range(n)]
        self.base = sums.upto_length
        self.overheads = {key: length for key, (length, _) in packer._overheads.items()}
        self.limit = limit
        # What ending a post just before piece k costs; nothing at the end of the article.
        self.ending = [0.0] * (n + 1)
        self.dangling = [False] * (n + 1)
        for k in range(1, n):
            piece = pieces[k]
            self.dangling[k] = piece.dangling
            self.ending[k] = BREAK_COST[piece.kind] + (DANGLING_COST if piece.dangling else 0.0)
        # A short post is natural when it is whole paragraphs, or whole sentences that end the
        # article: it opens at the start or at a sentence, and closes a paragraph or the end.
        self.opens_whole = [k == 0 or pieces[k].kind <= Kind.SENTENCE for k in range(n)]
        self.closes_whole = [k == n or pieces[k].kind == Kind.PARAGRAPH for k in range(n + 1)]

    def cheapest(self, states: int) -> list[int]:
        """Where each post starts in the cheapest thread of at most fewest + states - 1 posts."""
        n, limit, less = self.n, self.limit, self.less
        reach, fewest, ending = self.reach, self.fewest, self.ending
        opens_whole, closes_whole = self.opens_whole, self.closes_whole
        over_middle = self.overheads[False, False], self.overheads[False, True]
        over_first = self.overheads[True, False], self.overheads[True, True]
        scale = EMPTY / (limit * limit)  # cost of each unit of room, squared
        stub_room = limit - SHORT * limit  # more room than this: a stub
        inf = float("inf")
        cost = [[inf] * (n + 1) for _ in range(states)]
        back = [[0] * (n + 1) for _ in range(states)]  # last post's start * 2 + state there
        cost[0][0] = 0.0
        first_at = self._first_at()
        for end in range(1, n + 1):
            last = end == n
            # room = limit - (base[end] + overhead - less[start]) = spare + less[start]
            spare = limit - self.base[end] - over_middle[last]
            natural_end = closes_whole[end]
            after = ending[end]
            earliest = reach[end]
            goal = fewest[end]
            # A start past first_at[goal + states - 1] would put the thread more than
            # states - 1 posts over the fewest.
            for start in range(earliest, min(end, first_at[goal + states - 1])):
                room = spare + less[start]
                if start == 0:
                    room -= over_first[last] - over_middle[last]
                if room < 0:
                    room = 0
                post = scale * room * room + after
                if room > stub_room and not (natural_end and opens_whole[start]):
                    if start > earliest and not natural_end:
                        break  # shorter still, and unnatural: never worth a stub
                    post += SHORT_COST + EMPTY * (room - stub_room) / limit
                extra = fewest[start] + 1 - goal
                for state in range(states - extra):
                    before = cost[state][start] + post
                    now = state + extra
                    if before < cost[now][end]:
                        cost[now][end] = before
                        back[now][end] = start * 2 + state
        state = 0
        # One more post only if it removes a dangling break.
        if states == 2 and cost[1][n] < inf and _dangling(cost[1][n]) < _dangling(cost[0][n]):
            state = 1
        starts: list[int] = []
        end = n
        while end > 0:
            start, state = divmod(back[state][end], 2)
            starts.append(start)
            end = start
        return starts[::-1]

    def cheapest_in_fewest(self) -> list[int]:
        """cheapest(states=1), written out because it is the hot loop: with one state every
        start in range keeps the thread at the fewest posts, so the state bookkeeping goes.
        Same result, same arithmetic, half the time (0.83 s against 1.75 s for a 1 MB
        sentence of short words on Bluesky)."""
        n, limit, less = self.n, self.limit, self.less
        reach, fewest, ending = self.reach, self.fewest, self.ending
        opens_whole, closes_whole = self.opens_whole, self.closes_whole
        over_middle = self.overheads[False, False], self.overheads[False, True]
        over_first = self.overheads[True, False], self.overheads[True, True]
        scale = EMPTY / (limit * limit)  # cost of each unit of room, squared
        stub_room = limit - SHORT * limit  # more room than this: a stub
        inf = float("inf")
        cost = [inf] * (n + 1)
        back = [0] * (n + 1)
        cost[0] = 0.0
        first_at = self._first_at()
        for end in range(1, n + 1):
            last = end == n
            # room = limit - (base[end] + overhead - less[start]) = spare + less[start]
            spare = limit - self.base[end] - over_middle[last]
            natural_end = closes_whole[end]
            after = ending[end]
            earliest = reach[end]
            best, best_start = inf, 0
            for start in range(earliest, min(end, first_at[fewest[end]])):
                room = spare + less[start]
                if start == 0:
                    room -= over_first[last] - over_middle[last]
                if room < 0:
                    room = 0
                post = scale * room * room + after
                if room > stub_room and not (natural_end and opens_whole[start]):
                    if start > earliest and not natural_end:
                        break  # shorter still, and unnatural: never worth a stub
                    post += SHORT_COST + EMPTY * (room - stub_room) / limit
                total = cost[start] + post
                if total < best:
                    best, best_start = total, start
            cost[end], back[end] = best, best_start
        starts: list[int] = []
        end = n
        while end > 0:
            end = back[end]
            starts.append(end)
        return starts[::-1]

    def dangling_breaks(self, starts: list[int]) -> int:
        return sum(self.dangling[k] for k in starts[1:])

    def _first_at(self) -> list[int]:
        """first_at[f]: the first place before which f posts are the fewest (fewest[] never
        decreases); past the end for counts no place reaches."""
        first_at = [self.n + 1] * (self.fewest[self.n] + 3)
        for k in range(self.n, -1, -1):
            first_at[self.fewest[k]] = k
        return first_at


def _dangling(cost: float) -> int:
    return int(cost // DANGLING_COST)


class _Sums:
    """Prefix sums of the pieces' sizes, separators included: a post's summed size in O(1)."""

    def __init__(self, packer: Packer, pieces: Sequence[Piece]) -> None:
        n = len(pieces)
        self.sep_length = [0] * n
        self.sep_bytes = [0] * n
        self.upto_length = [0] * (n + 1)
        self.upto_bytes = [0] * (n + 1)
        for k, piece in enumerate(pieces):
            length, nbytes = packer.size(piece.text)
            if k:
                self.sep_length[k], self.sep_bytes[k] = packer.size(piece.separator)
            self.upto_length[k + 1] = self.upto_length[k] + self.sep_length[k] + length
            self.upto_bytes[k + 1] = self.upto_bytes[k] + self.sep_bytes[k] + nbytes

    def body(self, start: int, end: int) -> tuple[int, int]:
        """Summed (length, bytes) of pieces[start:end] joined; a post drops its first separator."""
        length = self.upto_length[end] - self.upto_length[start] - self.sep_length[start]
        nbytes = self.upto_bytes[end] - self.upto_bytes[start] - self.sep_bytes[start]
        return length, nbytes


def _grapheme_ends(text: str, limit: int) -> list[int]:
    """Where the first `limit` grapheme clusters end."""
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


__all__ = ["Packer", "Packing", "SplitError"]
