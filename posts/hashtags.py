"""What a hashtag is: one that X, Bluesky and Mastodon all link whole.

- X (twitter-text 3, js/src/regexp/hashtagAlphaNumeric.js, hashtagAlpha.js,
  hashtagSpecialChars.js): letters and marks (\\p{L}, \\p{M}), decimal digits (\\p{Nd}), "_",
  a few joining marks (U+00B7, U+05BE, U+05F3, U+05F4, U+0F0B, U+0F0C, U+3003, U+301C,
  U+309B, U+309C, U+30A0, U+30FB, U+A67E, U+FF5E) and the zero-width (non-)joiner; at least
  one letter or mark; not U+FE0F or U+20E3 right after the "#" (that is a keycap emoji).
  Before the "#" stands no hashtag character and no "&"; after it, no "#" and no "://".
- Bluesky (@atproto/api rich-text TAG_REGEX, ported as atproto_client.utils.detect_facets,
  which our Bluesky adapter uses): anything but spaces and zero-width characters, the
  zero-width joiner and non-joiner among them; at least one character that is no ASCII digit
  and no punctuation; punctuation at the end is not part of the tag; 64 graphemes at most
  (the app.bsky.richtext.facet#tag lexicon).

- Mastodon (app/models/tag.rb, Tag::Naming in newer releases: HASHTAG_NAME_PAT, found by
  HASHTAG_RE through app/lib/extractor.rb): Onigmo's [[:word:]] (letters, marks, decimal
  digits, connector punctuation), with "_", U+00B7, U+30FB and U+200C also inside a tag but
  not at its end, and at least one [[:alpha:]] (Alphabetic) character.

So a tag is twitter-text's characters without the two joiners (Bluesky would link only what
comes before one), not ending in punctuation such as "_" or "·" (Bluesky would leave it
out), without twitter-text's other joining marks such as U+05BE or U+301C (Mastodon would end
the tag there), with an alphabetic character (Mastodon links no tag of marks and digits
alone), at most 64 graphemes, NFC-normalised as X normalises the post it counts.

Not covered: Mastodon's newest HASHTAG_RE finds a tag only after whitespace or at the start,
so a tag the body carries as "(#Artsakh)" counts as carried (`has_hashtag`, as X and Bluesky
find it) although Mastodon does not link it there.
"""

from __future__ import annotations

import unicodedata

import regex

from posts.pack import SplitError

# twitter-text's hashtag characters (hashtagAlphaNumeric), joiners included.
_CHARS = (
    r"\p{L}\p{M}\p{Nd}_\u200c\u200d"
    r"\u00b7\u05be\u05f3\u05f4\u0f0b\u0f0c\u3003\u301c\u309b\u309c\u30a0\u30fb\ua67e\uff5e"
)
_JOINERS = "\u200c\u200d"
_MAX_GRAPHEMES = 64
_HASH_SIGNS = "#＃"
# A hashtag as twitter-text finds it in a text (possessive, so that "#a#b" is no "#a").
_IN_TEXT = regex.compile(rf"(?<![{_CHARS}&])[#＃](?![\ufe0f\u20e3])([{_CHARS}]++)(?![#＃]|://)")
_TAG = regex.compile(rf"[{_CHARS}]+")
_LETTER = regex.compile(r"[\p{L}\p{M}]")
_PUNCTUATION = regex.compile(r"\p{P}")
_GRAPHEME = regex.compile(r"\X")
# Mastodon's HASHTAG_NAME_PAT; [[:word:]] as Onigmo has it, [[:alpha:]] as Alphabetic.
_M_WORD = r"\p{L}\p{M}\p{Nd}\p{Pc}"
_M_SEPARATORS = "_\u00b7\u30fb\u200c"
_MASTODON_NAME = regex.compile(
    rf"[{_M_WORD}_][{_M_WORD}{_M_SEPARATORS}]*[\p{{Alphabetic}}{_M_SEPARATORS}]"
    rf"[{_M_WORD}{_M_SEPARATORS}]*[{_M_WORD}_]"
    rf"|[{_M_WORD}_]*\p{{Alphabetic}}[{_M_WORD}_]*"
)


def normalize_tag(raw: str) -> str:
    """`Artsakh`, `#Artsakh` or `＃Artsakh` -> `#Artsakh` (NFC); anything else is refused."""
    body = unicodedata.normalize("NFC", raw.strip())
    if body[:1] in _HASH_SIGNS:
        body = body[1:]
    joiner = next((c for c in body if c in _JOINERS), None)
    if joiner is not None and _TAG.fullmatch(body):
        linked = body[: body.index(joiner)]
        raise SplitError(
            f"invalid tag {raw!r}: Bluesky ends a hashtag at a zero-width joiner"
            f" (U+{ord(joiner):04X}), so it would link only '#{linked}'"
        )
    if body and _TAG.fullmatch(body) and _PUNCTUATION.fullmatch(body[-1]):
        raise SplitError(
            f"invalid tag {raw!r}: Bluesky leaves a final {body[-1]!r} out of a hashtag"
        )
    if _TAG.fullmatch(body) and _LETTER.search(body) and not _MASTODON_NAME.fullmatch(body):
        linked = regex.match(rf"[{_M_WORD}_]*", body)
        raise SplitError(
            f"invalid tag {raw!r}: Mastodon links a hashtag of letters, marks, digits and"
            f" '_' with at least one letter, so it would link"
            + (
                f" only '#{linked[0]}'"
                if linked and _MASTODON_NAME.fullmatch(linked[0])
                else " none of it"
            )
        )
    if (
        not _TAG.fullmatch(body)
        or body[0] in "\ufe0f\u20e3"
        or not _LETTER.search(body)
        or len(_GRAPHEME.findall(body)) > _MAX_GRAPHEMES
    ):
        raise SplitError(
            f"invalid tag {raw!r}: a hashtag is letters (with their marks), digits and"
            f" underscores, at least one letter and at most {_MAX_GRAPHEMES} characters,"
            " with or without a leading #"
        )
    return "#" + body


def has_hashtag(text: str, tag: str) -> bool:
    """Does `text` already carry `tag` as a whole hashtag (case-insensitive), as X and
    Bluesky find hashtags: "#Artsakh's" does, "#Artsakhtsi" and "#ArtsakhՄ" do not."""
    wanted = unicodedata.normalize("NFC", tag.lstrip(_HASH_SIGNS)).casefold()
    return any(
        found.group(1).casefold() == wanted
        for found in _IN_TEXT.finditer(unicodedata.normalize("NFC", text))
    )


__all__ = ["has_hashtag", "normalize_tag"]
