"""Where a post may end, and how good a place each one is.

A person cutting a thread breaks between paragraphs, then between sentences, then before an
enumerated item or after a colon, then at a clause, and only then between two words; and never
right after "and", "the" or "of", nor right before a closing bracket. This module names those
places (`Kind`) and flags the awkward ones (`Piece.dangling`); `posts.pack` weighs them.

A sentence is cut into pieces only where it may break: at whitespace, and in Chinese and
Japanese (written without spaces) between characters. Joining the pieces with their separators
gives the sentence back.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

import regex

from posts.sentences import split_sentences

if TYPE_CHECKING:
    from posts.article import Article

PARAGRAPH_BREAK = "\n\n"


class Kind(IntEnum):
    """What a break is, best first."""

    PARAGRAPH = 0
    SENTENCE = 1
    LIST = 2  # before an enumeration marker ("2)", "3.", "(b)") or after a colon
    CLAUSE = 3  # after , ; (Chinese and Japanese 、，；) or before a dash
    WORD = 4
    INSIDE = 5  # inside a word longer than a post


@dataclass(frozen=True, slots=True)
class Piece:
    """Text a post never breaks inside, with what a break just before it would be."""

    separator: str  # what joins it to the previous piece within one post
    text: str
    kind: Kind
    # A break just before this piece would end a post on a dangling word ("and", "the", "2)")
    # or open the next one on a closing mark.
    dangling: bool = False


# Function words that announce what follows: conjunctions, articles and prepositions of the
# languages our articles are written in (English, Armenian, Russian, French). Armenian puts
# most relations in postpositions (համար, մասին, հետ), which may end a post; the prepositions
# here (առանց, դեպի, մինչև...) and the conjunctions (և, ու, կամ, բայց, իսկ, որ, թե) may not.
DANGLING_WORDS = frozenset(
    {"and", "or", "but", "nor", "the", "a", "an", "of", "to", "in", "on", "at", "by", "for"}
    | {"with", "from", "into", "onto", "upon", "as", "than", "via", "per", "about", "against"}
    | {"between", "among", "through", "without", "within", "toward", "towards", "&"}
    | {"և", "եւ", "եվ", "ու", "կամ", "բայց", "իսկ", "որ", "թե", "եթե", "սակայն", "ինչպես"}
    | {"առանց", "դեպի", "մինչև", "մինչեւ", "ըստ", "հանուն", "ընդդեմ", "ի"}
    | {"и", "а", "но", "или", "в", "во", "на", "с", "со", "к", "ко", "о", "об", "от", "до"}
    | {"по", "за", "из", "у", "для", "без", "при", "через", "про", "над", "под"}
    | {"et", "ou", "mais", "le", "la", "les", "un", "une", "des", "du", "de", "à", "au"}
    | {"aux", "en", "dans", "par", "pour", "sur", "avec", "sans", "sous", "vers", "chez"}
)
# "2)", "(b)", "3.", "(iv)": an item marker of an inline enumeration, as a whole word.
ENUM_MARKER = regex.compile(r"\(?\d{1,2}\)|\d{1,2}\.|\(?\p{Ll}\)|\([ivxlc]{1,5}\)")
_OPENERS = "([{«‹“‘„「『（【〔〈《"
# Marks that close what came before; a post never opens on one. For Chinese and Japanese these
# are the characters JIS X 4051 (kinsoku shori) keeps from starting a line, small kana included.
_CLOSERS = (
    ")]}»›”’,.;:!?…"
    "、。，．：；！？）」』】〕〉》・ー"
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶ"
)
_DASHES = ("–", "—")
_CLAUSE_ENDS = (",", ";", "、", "，", "；")
_COLONS = (":", "：")
# Chinese and Japanese characters: their punctuation and full-width forms, kana, ideographs.
_CJK_PUNCT = r"\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
_KANA = r"\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
_CJK = _CJK_PUNCT + _KANA + _HAN
# A character that starts a grapheme cluster of its own: no space, mark or joiner.
_STARTS = r"[^\s\p{M}\p{Cf}]"
# Where a long sentence may break: a run of whitespace, and where Chinese or Japanese meets
# other text. Chinese may also break between any two characters; Japanese, written with kana,
# after punctuation and where kana give way to another script ("国際社会は|今こそ|行動すべきだ"),
# which keeps its words whole. Never before a mark or joiner (that would split a character
# from its accents) and never after a joiner.
_GAP_CHINESE = regex.compile(
    rf"\s+|(?<=[{_CJK}])(?<!\s)(?={_STARTS})|(?<=[^\s\p{{Cf}}])(?=[{_CJK}])(?![\s\p{{M}}])"
)
_GAP_JAPANESE = regex.compile(
    rf"\s+"
    rf"|(?<=[{_CJK_PUNCT}])(?<=\p{{P}})(?={_STARTS})"
    rf"|(?<=\p{{Hiragana}})(?=[^\s\p{{M}}\p{{Cf}}\p{{Hiragana}}ー{_CJK_PUNCT}])"
    rf"|(?<=[{_CJK}])(?=[^\s\p{{M}}\p{{Cf}}{_CJK}])"
    rf"|(?<=[^\s\p{{Cf}}{_CJK}])(?=[{_CJK}])(?![\s\p{{M}}])"
)
_KANA_RE = regex.compile(rf"[{_KANA}]")


def sentence_pieces(article: Article) -> list[Piece]:
    """Title, byline and body as sentences, each with the separator and kind of break before it."""
    pieces: list[Piece] = []
    for paragraph in [*article.lead(), *article.paragraphs]:
        for position, (separator, sentence) in enumerate(split_sentences(paragraph)):
            if position == 0:
                pieces.append(Piece(PARAGRAPH_BREAK, sentence, Kind.PARAGRAPH))
            else:
                pieces.append(Piece(separator, sentence, Kind.SENTENCE))
    return pieces


def word_pieces(sentence: Piece) -> list[Piece]:
    """A sentence too long for a post, cut at every place it may break. The first piece keeps
    the sentence's own separator and kind."""
    text = sentence.text
    words: list[tuple[str, str]] = []  # (separator, text)
    start = 0
    separator = sentence.separator
    gaps = _GAP_JAPANESE if _KANA_RE.search(text) else _GAP_CHINESE
    for gap in gaps.finditer(text):
        if gap.start() <= start or gap.end() == len(text):
            continue  # no empty piece: a gap at an edge, or right after another, is no break
        words.append((separator, text[start : gap.start()]))
        separator, start = gap.group(), gap.end()
    words.append((separator, text[start:]))
    pieces = [Piece(words[0][0], words[0][1], sentence.kind, sentence.dangling)]
    for (_, before), (separator, after) in itertools.pairwise(words):
        pieces.append(
            Piece(separator, after, _kind(before, separator, after), _dangles(before, after))
        )
    return pieces


def _kind(before: str, separator: str, after: str) -> Kind:
    """What a break between `before` and `after` would be."""
    if before.endswith(_COLONS):
        return Kind.LIST
    if ENUM_MARKER.fullmatch(after):
        # "1)" glued to Japanese text is no list of its own
        return Kind.LIST if separator else Kind.WORD
    if before.endswith(_CLAUSE_ENDS) or after.startswith(_DASHES):
        return Kind.CLAUSE
    return Kind.WORD


def _dangles(before: str, after: str) -> bool:
    """Would a post ending in `before`, followed by one starting with `after`, read badly?"""
    word = before.lstrip(_OPENERS).lower()
    return (
        word in DANGLING_WORDS
        or ENUM_MARKER.fullmatch(before) is not None
        or before[-1] in _OPENERS
        or before in _DASHES
        or after[0] in _CLOSERS
    )


__all__ = [
    "DANGLING_WORDS",
    "ENUM_MARKER",
    "PARAGRAPH_BREAK",
    "Kind",
    "Piece",
    "sentence_pieces",
    "word_pieces",
]
