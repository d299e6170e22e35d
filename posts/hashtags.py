"""What a hashtag is: one that both X and Bluesky link whole.

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

So a tag is twitter-text's characters without the two joiners (Bluesky would link only what
comes before one), not ending in punctuation such as "_" or "·" (Bluesky would leave it
out), at most 64 graphemes, NFC-normalised as X normalises the post it counts.
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
