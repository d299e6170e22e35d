"""Sentence and clause boundaries, for packing posts between sentences.

A boundary is an offset into the paragraph; the text between two boundaries is a
segment. Nothing is added or removed: joining the segments with the whitespace that
separated them gives the paragraph back.
"""

from __future__ import annotations

import re

# Words that end with a period without ending the sentence. Lower-case, no final dot.
ABBREVIATIONS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "mx",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "mt",
        "ft",
        "sen",
        "rep",
        "gov",
        "gen",
        "col",
        "lt",
        "capt",
        "sgt",
        "adm",
        "pres",
        "hon",
        "rev",
        "fr",
        "vs",
        "v",
        "no",
        "nos",
        "vol",
        "pp",
        "fig",
        "figs",
        "approx",
        "cf",
        "al",
        "ca",
        "inc",
        "ltd",
        "co",
        "corp",
        "bros",
        "dept",
        "est",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
        "u.s",
        "u.k",
        "u.n",
        "e.u",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
        "u.s.a",
        "d.c",
        "ph.d",
        "b.a",
        "m.a",
    }
)

# Sentence-final punctuation: Latin, Armenian full stop (։), CJK full-width forms.
_SPACED_END = ".!?…։"
_CJK_END = "。！？"
_CLOSERS = "\"'”’»)]}」』"
_END_RE = re.compile(
    rf"(?:[{re.escape(_SPACED_END)}]+[{re.escape(_CLOSERS)}]*(?=\s|$)"
    rf"|[{re.escape(_CJK_END)}]+[{re.escape(_CLOSERS)}]*)"
)
# An ordered-list marker ("2." "iv." "b)"): never a sentence of its own, even when a capital
# follows, as in "2. Share this thread".
_LIST_MARKER_RE = re.compile(r"\(?(?:\d{1,3}|[ivxlc]{1,5}|[a-z])[.)]", re.IGNORECASE)
_WORD_BEFORE_RE = re.compile(r"(\S+)$")


def _is_abbreviation(text: str, dot_at: int) -> bool:
    """Is the single '.' at `dot_at` part of an abbreviation or initial?"""
    # Only the word just before the dot matters; searching from the paragraph's start
    # would make every candidate cost the paragraph's length.
    match = _WORD_BEFORE_RE.search(text, max(0, dot_at - 64), dot_at)
    if match is None:
        return False
    word = match.group(1).lstrip("\"'“‘([{«").lower()
    if not word:
        return False
    if len(word) == 1 and word.isalpha():  # a middle initial: "Aram S. Hamparian"
        return True
    # "U.S", "e.g", "p.m": internal dots mark an abbreviation.
    return word in ABBREVIATIONS or (
        "." in word and all(part.isalpha() for part in word.split("."))
    )


def _is_list_marker(text: str, start: int, end: int) -> bool:
    """Is the punctuation at text[start:end] the end of an item marker ("2." opening a
    paragraph, or "1." after "Steps:")? A marker opens a paragraph or follows punctuation;
    "chapter 3." does not."""
    match = _WORD_BEFORE_RE.search(text, max(0, start - 8), end)
    if match is None or not _LIST_MARKER_RE.fullmatch(match.group(1)):
        return False
    before = text[: match.start()].rstrip()
    return not before or before[-1] in ":;,.!?…։"


def _next_starts_lowercase(text: str, at: int) -> bool:
    for ch in text[at:]:
        if ch.isspace() or ch in "\"'“‘([{«":
            continue
        return ch.islower()
    return False


def sentence_ends(paragraph: str) -> list[int]:
    """Offsets just after each sentence end."""
    ends: list[int] = []
    for match in _END_RE.finditer(paragraph):
        end = match.end()
        if end >= len(paragraph.rstrip()):
            continue
        punct = match.group().rstrip(_CLOSERS)
        if punct == "." and _is_abbreviation(paragraph, match.start()):
            continue
        if punct[-1] in _SPACED_END and _next_starts_lowercase(paragraph, end):
            continue
        if _is_list_marker(paragraph, match.start(), match.end()):
            continue
        ends.append(end)
    return [e for e in ends if 0 < e < len(paragraph)]


def split_sentences(paragraph: str) -> list[tuple[str, str]]:
    """The paragraph's sentences as (separator, sentence) pairs, sentences stripped.

    The separator is what stood between this sentence and the previous one, folded
    to " " or "" (Japanese and Chinese run sentences together without a space).
    """
    pieces: list[tuple[str, str]] = []
    start = 0
    spaced = False  # did whitespace stand since the last sentence?
    for end in [*sentence_ends(paragraph), len(paragraph)]:
        raw = paragraph[start:end]
        piece = raw.strip()
        spaced = spaced or raw[:1].isspace()
        if piece:
            pieces.append((" " if pieces and spaced else "", piece))
            spaced = raw[-1:].isspace()
        start = end
    return pieces
