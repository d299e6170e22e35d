"""How long a post is on each platform.

X counts like twitter-text 3.1.0 with its "v3" config: NFC first, every URL 23, every emoji 2,
code points in a few light ranges (Latin, Armenian, general punctuation, ...) 1, the rest 2.
Bluesky counts extended grapheme clusters of the text as given, and also caps UTF-8 bytes.
Mastodon counts extended grapheme clusters after rewriting: every URL with a protocol becomes
23 characters and every mention @user@domain becomes @user (`mastodon_length`).

Pure: no I/O, no clock. Regexes compile on first use so importing this stays cheap.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import regex

from posts.platform import PROFILES, Counting, Platform, Profile

# twitter-text config v3 uses scale 100 with weights 100/200; we count in units of 100.
_URL_UNITS = PROFILES[Platform.X].url_length or 23  # transformedURLLength
_EMOJI_UNITS = 2  # defaultWeight: a whole emoji sequence costs one default-weight character
# Code points outside config v3's weight-100 ranges weigh 200 (2 units).
_HEAVY = re.compile(r"[^\u0000-\u10ff\u2000-\u200d\u2010-\u201f\u2032-\u2037]")


def profile_of(platform: Platform | Profile) -> Profile:
    return platform if isinstance(platform, Profile) else PROFILES[platform]


def utf8_bytes(text: str) -> int:
    # surrogatepass: a stray surrogate must not crash measuring; it would cost 3 bytes.
    return len(text.encode("utf-8", "surrogatepass"))


def bluesky_graphemes(text: str) -> int:
    # Most text has no character that joins a cluster (combining marks, ZWJ, variation
    # selectors, regional indicators, Hangul jamo...) and no CR LF: then one character is
    # one cluster, and a character-class scan is far cheaper than matching every \X.
    if "\r\n" not in text and not _joining_re().search(text):
        return len(text)
    return len(_grapheme_re().findall(text))


def measure(platform: Platform | Profile, text: str) -> int:
    """The length the platform counts for `text` (its `Profile`'s rule)."""
    profile = profile_of(platform)
    if profile.counting in _BLANK_COUNTS_NOTHING and _blank_re().match(text):
        return 0
    return _COUNTERS[profile.counting](text, profile)


def piece_length(platform: Platform | Profile, text: str) -> int:
    """What `text` adds to a longer post it is part of: `measure`, except that blank text
    (a separator) counts as written, where Mastodon counts a post that is all blank as 0."""
    profile = profile_of(platform)
    return _COUNTERS[profile.counting](text, profile)


def fixed_url_spans(platform: Platform | Profile, text: str) -> list[tuple[int, int]]:
    """[start, end) offsets of the URLs that count `url_length` whatever their length on this
    platform (its own URL extraction); none where URLs count as written."""
    rules = _URL_RULES[profile_of(platform).counting]
    return [] if rules is None else [(u.start, u.end) for u in _extract_urls(text, rules)]


def fits(platform: Platform | Profile, text: str) -> bool:
    profile = profile_of(platform)
    if measure(profile, text) > profile.limit:
        return False
    return profile.max_bytes is None or utf8_bytes(text) <= profile.max_bytes


def x_weighted_length(text: str, url_units: int = _URL_UNITS) -> int:
    """Weighted length as twitter-text's parseTweet computes it (config v3, emoji parsing on)."""
    # ASCII is its own NFC, holds no emoji and weighs 1 a character: only URLs differ.
    ascii_only = text.isascii()
    if not ascii_only:
        text = unicodedata.normalize("NFC", text)
    # Like parseTweet: entities are found over the whole text first, then a left-to-right walk
    # takes a URL or emoji starting at the cursor (URL first) and skips what it covers.
    urls = _extract_urls(text)
    emojis = [] if ascii_only else [m.span() for m in _emoji_re().finditer(text)]
    total = pos = ui = ei = 0
    while True:
        while ui < len(urls) and urls[ui].start < pos:
            ui += 1
        while ei < len(emojis) and emojis[ei][0] < pos:
            ei += 1
        url_at = urls[ui].start if ui < len(urls) else len(text)
        emoji_at = emojis[ei][0] if ei < len(emojis) else len(text)
        nxt = min(url_at, emoji_at)
        total += _plain_units(text[pos:nxt])
        if nxt >= len(text):
            return total
        if url_at == nxt:
            total += url_units
            pos = nxt + urls[ui].skip
        else:
            total += _EMOJI_UNITS
            pos = emojis[ei][1]


# countable_text: "return '' if str.blank?"
_BLANK_COUNTS_NOTHING = frozenset({Counting.MASTODON})
# How each counting rule measures a text.
_COUNTERS: dict[Counting, Callable[[str, Profile], int]] = {
    Counting.WEIGHTED: lambda text, p: x_weighted_length(text, p.url_length or _URL_UNITS),
    Counting.GRAPHEMES: lambda text, _: bluesky_graphemes(text),
    Counting.MASTODON: lambda text, p: mastodon_length(text, p.url_length or _URL_UNITS),
}


def _plain_units(segment: str) -> int:
    if segment.isascii():
        return len(segment)
    return len(segment) + len(_HEAVY.findall(segment))


def url_spans(text: str) -> list[tuple[int, int]]:
    """[start, end) offsets (code points of `text` as given) of the URLs twitter-text extracts."""
    return [(u.start, u.end) for u in _extract_urls(text)]


# --- Mastodon ----------------------------------------------------------------------------------
#
# mastodon/mastodon app/validators/status_length_validator.rb:
#   countable_length(str) = str.each_grapheme_cluster.size
#   combined_text = [status.spoiler_text, countable_text(status.text)].join  (we post no spoiler)
#   countable_text(str): '' if str.blank?; else
#     entities = Extractor.remove_overlapping_entities(
#       Extractor.extract_urls_with_indices(str, extract_url_without_protocol: false) +
#       Extractor.extract_mentions_or_lists_with_indices(str))
#     and each URL is rewritten to 'x' * URL_PLACEHOLDER_CHARS (23), each mention to
#     "@#{screen_name.split('@').first}".
# app/lib/extractor.rb takes mentions with Account::MENTION_RE (app/models/account.rb) and drops
# one followed by Twitter::TwitterText::Regex[:end_mention_match] or whose domain is longer
# than MAX_DOMAIN_LENGTH (253). URLs are twitter-text 3.1.0's (Gemfile: '~> 3.1.0') with
# Mastodon's regexes (`_MASTODON_URLS`), matched over code points, as Ruby does.

# Onigmo's [[:word:]] on a UTF-8 string: Letter, Mark, Decimal_Number, Connector_Punctuation.
_RUBY_WORD = r"\p{L}\p{M}\p{Nd}\p{Pc}"
# USERNAME_RE = /[a-z0-9_]+([.-]+[a-z0-9_]+)*/i
# MENTION_RE = %r{(?<![=/[:word:]])@((#{USERNAME_RE})(?:@[[:word:]]+([.-]+[[:word:]]+)*)?)}
_MENTION = (
    rf"(?<![=/{_RUBY_WORD}])@"
    rf"((?i:[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@[{_RUBY_WORD}]+(?:[.-]+[{_RUBY_WORD}]+)*)?)"
)
_MAX_MENTION_DOMAIN = 253  # Extractor::MAX_DOMAIN_LENGTH
# Rails' String#blank?: /\A[[:space:]]*\z/
_BLANK = r"\A[\t-\r\x85\p{Zs}\p{Zl}\p{Zp}]*\Z"


@cache
def _mention_re() -> regex.Pattern[str]:
    return regex.compile(_MENTION)


@cache
def _end_mention_re() -> regex.Pattern[str]:
    # twitter-text regex.rb: end_mention_match = /\A(?:#{at_signs}|#{latin_accents}|:\/\/)/io
    return regex.compile(rf"[@＠{_LATIN_ACCENTS}]|://")


@cache
def _blank_re() -> regex.Pattern[str]:
    return regex.compile(_BLANK)


def mastodon_length(text: str, url_length: int = 23) -> int:
    """The length Mastodon's StatusLengthValidator counts for a part of a status (the whole
    status: `measure`, which also counts a blank one as 0). No spoiler text."""
    # (start, end, what it is rewritten to): URLs first, then mentions, as the Ruby adds them.
    placeholder = "x" * url_length
    entities = [(u.start, u.end, placeholder) for u in _extract_urls(text, _MASTODON_URLS)]
    if "@" in text or "＠" in text:  # Twitter::TwitterText::Regex[:at_signs]
        for m in _mention_re().finditer(text):
            _, _, domain = m[1].partition("@")
            if _end_mention_re().match(text, m.end()) or len(domain) > _MAX_MENTION_DOMAIN:
                continue
            entities.append((m.start(), m.end(), "@" + m[1].split("@")[0]))
    if not entities:
        return bluesky_graphemes(text)
    # remove_overlapping_entities sorts by start and drops any that begins before the last
    # kept one ends; rewrite_entities splices the rest. Clusters are counted on the result,
    # where a mark after a URL joins the placeholder's last "x".
    parts: list[str] = []
    pos = 0
    for start, end, replacement in sorted(entities):
        if start < pos:
            continue
        parts += (text[pos:start], replacement)
        pos = end
    parts.append(text[pos:])
    return bluesky_graphemes("".join(parts))


# --- Emoji -------------------------------------------------------------------------------------
#
# twitter-text 3.1.0 finds emoji with twemoji-parser 11, a list frozen at Emoji 11. We use
# Unicode properties instead and reproduce its weights, with one deliberate difference: every
# well-formed emoji sequence counts 2, also those newer than that list or not on it, which it
# counts piecewise: ZWJ sequences such as U+2764 U+FE0F U+200D U+1F525 (it says 2 + 1 + 2 = 5, a
# mixed-skin-tone couple 11), newer skin-tone bases such as U+1FAF1 U+1F3FB (4), U+267E U+FE0F
# (4), and regional-indicator pairs that name no region (4).
# Kept on purpose because they change the count: a text-default pictograph without U+FE0F is not
# an emoji unit (so bare (c) U+00A9 and (R) U+00AE count 1, like twitter-text; every other such
# pictograph weighs 2 anyway), and U+FE0F after an emoji-presentation character is not absorbed,
# so twitter-text's 2 + 2 for e.g. U+1F600 U+FE0F stands.
_TEXT_PICT = r"[\p{Extended_Pictographic}--\p{Emoji_Presentation}]"
_PRES_PICT = r"[\p{Extended_Pictographic}&&\p{Emoji_Presentation}]"
_MODIFIED = (
    r"[\p{Emoji_Modifier_Base}&&\p{Emoji_Presentation}]\p{Emoji_Modifier}"
    r"|[\p{Emoji_Modifier_Base}--\p{Emoji_Presentation}]\uFE0F?\p{Emoji_Modifier}"
)
_UNIT = rf"{_MODIFIED}|{_TEXT_PICT}\uFE0F|{_PRES_PICT}"
# Only the three subdivision flags that are RGI (and on twemoji's list): England, Scotland, Wales.
_TAG_FLAG = (
    r"\U0001F3F4\U000E0067\U000E0062"
    r"(?:\U000E0065\U000E006E\U000E0067|\U000E0073\U000E0063\U000E0074|\U000E0077\U000E006C\U000E0073)"
    r"\U000E007F"
)
_ZWJ_ELEMENT = rf"(?:{_TAG_FLAG}|{_UNIT}|{_TEXT_PICT})"
_EMOJI = (
    r"(?V1)[#*0-9]\uFE0F?\u20E3"  # keycap, with or without VS16 as twemoji accepts
    rf"|{_TAG_FLAG}"
    r"|\p{Regional_Indicator}{2}"
    rf"|{_ZWJ_ELEMENT}(?:\u200D{_ZWJ_ELEMENT})+"
    rf"|{_UNIT}"
)


@cache
def _emoji_re() -> regex.Pattern[str]:
    return regex.compile(_EMOJI)


@cache
def _grapheme_re() -> regex.Pattern[str]:
    return regex.compile(r"\X")


@cache
def _joining_re() -> regex.Pattern[str]:
    """A character whose Grapheme_Cluster_Break lets it join a neighbour's cluster."""
    return regex.compile(r"[^\p{GCB=Other}\p{GCB=Control}\p{GCB=LF}\p{GCB=CR}]")


# --- URLs --------------------------------------------------------------------------------------
#
# A transcription of twitter-text 3.1.0's extractUrl regex and extractUrlsWithIndices, checked
# against it on the conformance suite and on randomised texts. Offsets handed out are code points,
# not UTF-16 units. JS's /i is spelled out as [a-zA-Z] so that Python's Unicode case folding does
# not let U+212A KELVIN SIGN or U+017F LONG S pass for k and s.

_LATIN_ACCENTS = (
    r"\xC0-\xD6\xD8-\xF6\xF8-\xFF\u0100-\u024F\u0253\u0254\u0256\u0257\u0259\u025B\u0263"
    r"\u0268\u026F\u0272\u0289\u028B\u02BB\u0300-\u036F\u1E00-\u1EFF"
)
_SPACES = r"\t-\r \x85\xA0\u1680\u180E\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
_INVALID = r"\uFFFE\uFEFF\uFFFF"
_DIRECTIONAL = r"\u202A-\u202E\u061C\u200E\u200F\u2066-\u2069"
# twitter-text's punct omits " and ` , so those are domain characters there too.
_DOMAIN_CHAR = rf"[^!'#%&()*+,\-./:;<=>?@\[\\\]^_{{|}}~${_SPACES}{_INVALID}{_DIRECTIONAL}]"
# Atomic: a label can only end at the next dot, so there is never another split to backtrack to.
_SUBDOMAIN = rf"(?>(?:{_DOMAIN_CHAR}(?:[_-]|{_DOMAIN_CHAR})*)?{_DOMAIN_CHAR}\.)"
_DOMAIN_NAME = rf"(?>(?:{_DOMAIN_CHAR}(?:-|{_DOMAIN_CHAR})*)?{_DOMAIN_CHAR}\.)"
# A host never crosses these (the characters that are neither domain characters nor . _ -).
_NOT_HOST = rf"[!'#%&()*+,/:;<=>?@\[\\\]^{{|}}~${_SPACES}{_INVALID}{_DIRECTIONAL}]"
_PUNYCODE = r"[xX][nN]--[\-0-9a-zA-Z]+"
_PATH_CHAR = rf"[a-zA-Z\u0400-\u04FF0-9!*';:=+,.$/%#\[\]\-\u2013_~@|&{_LATIN_ACCENTS}]"
# Up to two levels of balanced parentheses: /wiki/Primer_(film), /track/We_Up_(Album_(Edited))
_BALANCED_PARENS = rf"\((?:{_PATH_CHAR}+|(?:{_PATH_CHAR}*\({_PATH_CHAR}+\){_PATH_CHAR}*))\)"
# A path may not end in . , ! etc. so "see http://x.com/a." keeps its full stop.
_PATH_END = rf"[+\-a-zA-Z\u0400-\u04FF0-9=_#/{_LATIN_ACCENTS}]|(?:{_BALANCED_PARENS})"
_PATH = (
    rf"(?:(?:{_PATH_CHAR}*(?:{_BALANCED_PARENS}{_PATH_CHAR}*)*{_PATH_END})"
    rf"|(?:@{_PATH_CHAR}+/))"
)
_QUERY = r"\?[a-zA-Z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]*[a-zA-Z0-9\-_&=#/]"
_TCO = re.compile(rf"https?://t\.co/([a-z0-9]+)(?:{_QUERY})?", re.IGNORECASE | re.ASCII)
MAX_URL_LENGTH = 4096  # UTF-16 units, scheme included
_MAX_TCO_SLUG_LENGTH = 40
_MAX_LABEL_LENGTH = 63  # after punycode
_IDNA_SEPARATORS = re.compile("[.\u3002\uff0e\uff61]")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")


class _Url(NamedTuple):
    start: int
    end: int
    # How far parseTweet jumps: the length of the entity's URL string, which for a scheme-less
    # URL whose host ends in non-ASCII labels is shorter than end - start.
    skip: int


def _tld(names: frozenset[str]) -> str:
    # Longest first so that a TLD which is a prefix of another (嘉里 / 嘉里大酒店) loses, and
    # grouped by first letter, which keeps the order that matters and makes matching much faster.
    # (?i:) matches like JS's /i except that Python also folds U+212A, U+017F, U+0130 and U+0131
    # onto k, s and i: "x.İnfo" is a link here but not in twitter-text. Spelling out JS's exact
    # case rule made the pattern many times slower to compile and match, so that rare case stays.
    groups: dict[str, list[str]] = {}
    for name in sorted(names, key=lambda n: (-len(n), n)):
        groups.setdefault(name[0], []).append(re.escape(name[1:]))
    alternatives = "|".join(f"{re.escape(c)}(?:{'|'.join(rest)})" for c, rest in groups.items())
    # The lookahead stays outside (?i:), where U+017F after "la" must not count as a letter.
    return rf"(?i:{alternatives})(?=[^0-9a-zA-Z@+-]|\Z)"


def _tlds() -> str:
    return rf"{_tld(_GTLDS)}|{_tld(_CCTLDS)}|{_PUNYCODE}"


@cache
def _tld_re() -> regex.Pattern[str]:
    return regex.compile(_tlds())


def _tld_dots(view: str) -> list[int]:
    """Offsets of the dots followed by a TLD. The TLD pattern (over 1,500 names) is
    tried only after a dot and a letter, where every TLD starts: scanning all of the text
    with it cost more than the rest of measuring a post."""
    tld = _tld_re()
    return [m.start() for m in _DOT_LETTER.finditer(view) if tld.match(view, m.start() + 1)]


@cache
def _non_host_re(reverse: bool) -> regex.Pattern[str]:
    return regex.compile(("(?r)" if reverse else "") + _NOT_HOST)


@dataclass(frozen=True)
class _UrlRules:
    """Which URLs an extractor finds: twitter-text's regexes as they are, or as a server that
    builds on them changes them. The domain, TLDs and checks stay twitter-text's."""

    protocol: str
    path: str
    query: str
    # The longest `protocol` can match: a match starts at most this far (plus the preceding
    # character) before its host.
    longest_protocol: int
    # Only URLs written with a protocol (Ruby: extract_url_without_protocol: false).
    protocol_required: bool = False
    # Match on JS's UTF-16 view (twitter-text's JS, which X counts by); else code points.
    utf16: bool = True


_TWITTER_URLS = _UrlRules(
    protocol=r"[hH][tT][tT][pP][sS]?://",
    path=_PATH,
    query=_QUERY,
    longest_protocol=len("https://"),
)

# Mastodon's config/initializers/twitter_regex.rb replaces twitter-text's path and query
# regexes and its protocols (valid_url). Its path ending still holds twitter-text's own
# balanced parentheses: the override of those comes after it.
_M_PATH_CHAR = r"[^\p{White_Space}<>()?]"  # valid_general_url_path_chars
_M_PATH_END = (  # valid_url_path_ending_chars
    rf"[^\p{{White_Space}}()?!*\"'「」<>;:=,.$%\[\]~&|@]|(?:{_BALANCED_PARENS})"
)
_M_BALANCED_PARENS = (
    rf"\((?:{_M_PATH_CHAR}+|(?:{_M_PATH_CHAR}*\({_M_PATH_CHAR}+\){_M_PATH_CHAR}*))\)"
)
_M_PATH = (
    rf"(?:(?:{_M_PATH_CHAR}*(?:{_M_BALANCED_PARENS}{_M_PATH_CHAR}*)*{_M_PATH_END})"
    rf"|(?:{_M_PATH_CHAR}+/))"
)
_UCHARS = (
    "\xa0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef\U00010000-\U0001fffd\U00020000-\U0002fffd"
    "\U00030000-\U0003fffd\U00040000-\U0004fffd\U00050000-\U0005fffd\U00060000-\U0006fffd"
    "\U00070000-\U0007fffd\U00080000-\U0008fffd\U00090000-\U0009fffd\U000a0000-\U000afffd"
    "\U000b0000-\U000bfffd\U000c0000-\U000cfffd\U000d0000-\U000dfffd\U000e1000-\U000efffd"
    "\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"
)
_M_QUERY = (  # valid_url_query_chars, valid_url_query_ending_chars
    rf"\?[a-zA-Z0-9!?*'();:&=+$/%#\[\]\-_.,~|@^{_UCHARS}]*[a-zA-Z0-9_&=#/\-{_UCHARS}]"
)
_MASTODON_URLS = _UrlRules(
    protocol=r"(?i:https?|dat|dweb|ipfs|ipns|ssb|gopher|gemini)://",
    path=_M_PATH,
    query=_M_QUERY,
    longest_protocol=len("gopher://"),
    protocol_required=True,
    utf16=False,
)
# Which URLs count a fixed length under each counting rule (None: URLs count as written).
_URL_RULES: dict[Counting, _UrlRules | None] = {
    Counting.WEIGHTED: _TWITTER_URLS,
    Counting.GRAPHEMES: None,
    Counting.MASTODON: _MASTODON_URLS,
}


@cache
def _url_re(rules: _UrlRules) -> regex.Pattern[str]:
    tlds = _tlds()
    return regex.compile(
        rf"(?P<before>[^A-Za-z0-9@＠$#＃{_INVALID}]|[{_DIRECTIONAL}]|^)"
        r"(?P<url>"
        rf"(?P<protocol>{rules.protocol})?"
        rf"(?P<domain>{_SUBDOMAIN}*{_DOMAIN_NAME}(?:{tlds}))"
        r"(?::[0-9]+)?"
        rf"(?P<path>/{rules.path}*)?"
        rf"(?:{rules.query})?"
        r")"
    )


@cache
def _ascii_domain_re() -> regex.Pattern[str]:
    return regex.compile(rf"(?:[\-a-zA-Z0-9{_LATIN_ACCENTS}]+\.)+(?:{_tlds()})")


def _punycode_label_ok(label: str) -> bool:
    if _PRINTABLE_ASCII.fullmatch(label):
        return 1 <= len(label) <= _MAX_LABEL_LENGTH
    # punycode.js toASCII: re-splits at IDNA dots, encodes parts with any non-printable-ASCII.
    # Surrogate pairs of the UTF-16 view are joined again first, as punycode.js decodes them.
    label = label.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    parts = [
        p if _PRINTABLE_ASCII.fullmatch(p) else "xn--" + p.encode("punycode").decode("ascii")
        for p in _IDNA_SEPARATORS.split(label)
    ]
    return 1 <= len(".".join(parts)) <= _MAX_LABEL_LENGTH


def _valid_url(url: str, protocol: str, domain: str) -> bool:
    if domain.startswith("xn--") and not _ascii_domain_re().search(domain):
        return False
    if not all(_punycode_label_ok(label) for label in domain.split(".")):
        return False
    # idna.toAscii hands back the domain unchanged, so no punycode length adjustment here.
    return len(protocol or "https://") + len(url) <= MAX_URL_LENGTH  # url is a UTF-16 view


# Every host ends in a dot and a TLD, and every TLD starts with a letter: prose whose dots
# all end sentences ("done. Then") has no URL, and is spared the big TLD pattern.
_DOT_LETTER = re.compile(r"\.[^\W\d_]")


def _extract_urls(text: str, rules: _UrlRules = _TWITTER_URLS) -> list[_Url]:
    if "." not in text or not _DOT_LETTER.search(text):
        return []
    if rules.protocol_required and ":" not in text:
        return []
    # twitter-text's regexes run without /u, so an astral character is two surrogates: its high
    # half can be the "preceding character" and its low half start a host ("🔥.example.com").
    # Match on the same UTF-16 view and map offsets back to code points.
    view = _ASTRAL.sub(_as_surrogates, text) if rules.utf16 else text
    urls: list[_Url] = []
    for m in _url_matches(view, rules):
        url, protocol, domain, path = m["url"], m["protocol"] or "", m["domain"], m["path"]
        start, end = m.start("url"), m.end("url")
        if not _valid_url(url, protocol, domain):
            continue
        if protocol:
            tco = _TCO.match(url)
            if tco:
                if len(tco[1]) > _MAX_TCO_SLUG_LENGTH:
                    continue
                end = start + len(tco[0])  # t.co links end at the slug (and query)
            urls.append(_Url(start, end, end - start))
            continue
        if rules.protocol_required:  # Ruby's scan still went past the match
            continue
        if m["before"] in ("-", "_", ".", "/"):  # so "foo_bar.com" and "/x.com" are not links
            continue
        # A scheme-less host counts only for its ASCII parts: "日本example.com" links example.com.
        found: list[_Url] = []
        ascii_end = 0
        for a in _ascii_domain_re().finditer(domain):
            ascii_start = domain.find(a[0], ascii_end)
            ascii_end = ascii_start + len(a[0])
            found.append(_Url(start + ascii_start, start + ascii_end, len(a[0])))
        if found and path:
            last = found[-1]
            found[-1] = _Url(last.start, end, last.skip + len(url) - len(domain))
        urls.extend(found)
    if len(view) == len(text):
        return urls
    lows = [i for i, c in enumerate(view) if "\udc00" <= c <= "\udfff"]

    def to_cp(i: int) -> int:
        # Entity edges never split a surrogate pair; a skip could, and then rounds down to the
        # pair, which weighs the same as the lone low surrogate twitter-text would count.
        return i - bisect_right(lows, i)

    return [
        _Url(to_cp(u.start), to_cp(u.end), to_cp(u.start + u.skip) - to_cp(u.start)) for u in urls
    ]


def _url_matches(view: str, rules: _UrlRules) -> Iterator[regex.Match[str]]:
    """The matches finditer would give, trying only where a match can start.

    Scanning every offset costs quadratic time in long runs of host characters (CJK prose has no
    spaces), so anchored matches are tried only from a little before a run that holds a dot plus
    TLD, up to its last such dot: every host has one and lies inside a single run."""
    dots = _tld_dots(view)
    pos = i = 0  # like finditer, the next match starts where the last one ended
    while i < len(dots):
        behind = _non_host_re(reverse=True).search(view, 0, dots[i])
        ahead = _non_host_re(reverse=False).search(view, dots[i])
        run_start = behind.end() if behind else 0
        j = bisect_left(dots, ahead.start() if ahead else len(view))  # dots[i:j] share a run
        # Room for the preceding character and the protocol before the host. A match's first
        # character is the one before the URL, which may not be one of _NOT_BEFORE (the
        # pattern's `before` group): skipping those positions spares most regex calls.
        for p in range(max(pos, run_start - rules.longest_protocol - 1), dots[j - 1]):
            if p >= pos and (p == 0 or view[p] not in _NOT_BEFORE):
                m = _url_re(rules).match(view, p)
                if m:
                    yield m
                    pos = m.end()
        i = j


# What `before` in _url_re refuses (ASCII letters and digits, @ $ # and their fullwidth
# forms, the invalid characters); directional marks are allowed, and are not in here.
_NOT_BEFORE = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@＠$#＃" + "\ufffe\ufeff\uffff"
)

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _as_surrogates(m: re.Match[str]) -> str:
    cp = ord(m[0]) - 0x10000
    return chr(0xD800 + (cp >> 10)) + chr(0xDC00 + (cp & 0x3FF))


# TLDs as listed by twitter-text 3.1.0 (its snapshot of the IANA root zone).
_GTLD_NAMES = """
aaa aarp abarth abb abbott abbvie abc able abogado abudhabi academy accenture accountant
accountants aco active actor adac ads adult aeg aero aetna afamilycompany afl africa agakhan
agency aig aigo airbus airforce airtel akdn alfaromeo alibaba alipay allfinanz allstate ally
alsace alstom americanexpress americanfamily amex amfam amica amsterdam analytics android
anquan anz aol apartments app apple aquarelle arab aramco archi army arpa art arte asda asia
associates athleta attorney auction audi audible audio auspost author auto autos avianca aws
axa azure baby baidu banamex bananarepublic band bank bar barcelona barclaycard barclays
barefoot bargains baseball basketball bauhaus bayern bbc bbt bbva bcg bcn beats beauty beer
bentley berlin best bestbuy bet bharti bible bid bike bing bingo bio biz black blackfriday
blanco blockbuster blog bloomberg blue bms bmw bnl bnpparibas boats boehringer bofa bom bond
boo book booking boots bosch bostik boston bot boutique box bradesco bridgestone broadway
broker brother brussels budapest bugatti build builders business buy buzz bzh cab cafe cal
call calvinklein cam camera camp cancerresearch canon capetown capital capitalone car
caravan cards care career careers cars cartier casa case caseih cash casino cat catering
catholic cba cbn cbre cbs ceb center ceo cern cfa cfd chanel channel charity chase chat
cheap chintai chloe christmas chrome chrysler church cipriani circle cisco citadel citi
citic city cityeats claims cleaning click clinic clinique clothing cloud club clubmed coach
codes coffee college cologne com comcast commbank community company compare computer comsec
condos construction consulting contact contractors cooking cookingchannel cool coop corsica
country coupon coupons courses cpa credit creditcard creditunion cricket crown crs cruise
cruises csc cuisinella cymru cyou dabur dad dance data date dating datsun day dclk dds deal
dealer deals degree delivery dell deloitte delta democrat dental dentist desi design dev dhl
diamonds diet digital direct directory discount discover dish diy dnp docs doctor dodge dog
doha domains doosan dot download drive dtv dubai duck dunlop duns dupont durban dvag dvr
earth eat eco edeka edu education email emerck energy engineer engineering enterprises epost
epson equipment ericsson erni esq estate esurance etisalat eurovision eus events everbank
exchange expert exposed express extraspace fage fail fairwinds faith family fan fans farm
farmers fashion fast fedex feedback ferrari ferrero fiat fidelity fido film final finance
financial fire firestone firmdale fish fishing fit fitness flickr flights flir florist
flowers flsmidth fly foo food foodnetwork football ford forex forsale forum foundation fox
free fresenius frl frogans frontdoor frontier ftr fujitsu fujixerox fun fund furniture
futbol fyi gal gallery gallo gallup game games gap garden gay gbiz gdn gea gent genting
george ggee gift gifts gives giving glade glass gle global globo gmail gmbh gmo gmx godaddy
gold goldpoint golf goo goodhands goodyear goog google gop got gov grainger graphics gratis
green gripe grocery group guardian gucci guge guide guitars guru hair hamburg hangout haus
hbo hdfc hdfcbank health healthcare help helsinki here hermes hgtv hiphop hisamitsu hitachi
hiv hkt hockey holdings holiday homedepot homegoods homes homesense honda honeywell horse
hospital host hosting hot hoteles hotels hotmail house how hsbc htc hughes hyatt hyundai ibm
icbc ice icu ieee ifm iinet ikano imamat imdb immo immobilien inc industries infiniti info
ing ink institute insurance insure int intel international intuit investments ipiranga irish
iselect ismaili ist istanbul itau itv iveco iwc jaguar java jcb jcp jeep jetzt jewelry jio
jlc jll jmp jnj jobs joburg jot joy jpmorgan jprs juegos juniper kaufen kddi kerryhotels
kerrylogistics kerryproperties kfh kia kim kinder kindle kitchen kiwi koeln komatsu kosher
kpmg kpn krd kred kuokgroup kyoto lacaixa ladbrokes lamborghini lamer lancaster lancia
lancome land landrover lanxess lasalle lat latino latrobe law lawyer lds lease leclerc
lefrak legal lego lexus lgbt liaison lidl life lifeinsurance lifestyle lighting like lilly
limited limo lincoln linde link lipsy live living lixil llc llp loan loans locker locus loft
lol london lotte lotto love lpl lplfinancial ltd ltda lundbeck lupin luxe luxury macys
madrid maif maison makeup man management mango map market marketing markets marriott
marshalls maserati mattel mba mcd mcdonalds mckinsey med media meet melbourne meme memorial
men menu meo merckmsd metlife miami microsoft mil mini mint mit mitsubishi mlb mls mma mobi
mobile mobily moda moe moi mom monash money monster montblanc mopar mormon mortgage moscow
moto motorcycles mov movie movistar msd mtn mtpc mtr museum mutual mutuelle nab nadex nagoya
name nationwide natura navy nba nec net netbank netflix network neustar new newholland news
next nextdirect nexus nfl ngo nhk nico nike nikon ninja nissan nissay nokia
northwesternmutual norton now nowruz nowtv nra nrw ntt nyc obi observer off office okinawa
olayan olayangroup oldnavy ollo omega one ong onion onl online onyourside ooo open oracle
orange org organic orientexpress origins osaka otsuka ott ovh page pamperedchef panasonic
panerai paris pars partners parts party passagens pay pccw pet pfizer pharmacy phd philips
phone photo photography photos physio piaget pics pictet pictures pid pin ping pink pioneer
pizza place play playstation plumbing plus pnc pohl poker politie porn post pramerica praxi
press prime pro prod productions prof progressive promo properties property protection pru
prudential pub pwc qpon quebec quest qvc racing radio raid read realestate realtor realty
recipes red redstone redumbrella rehab reise reisen reit reliance ren rent rentals repair
report republican rest restaurant review reviews rexroth rich richardli ricoh rightathome
ril rio rip rmit rocher rocks rodeo rogers room rsvp rugby ruhr run rwe ryukyu saarland safe
safety sakura sale salon samsclub samsung sandvik sandvikcoromant sanofi sap sapo sarl sas
save saxo sbi sbs sca scb schaeffler schmidt scholarships school schule schwarz science
scjohnson scor scot search seat secure security seek select sener services ses seven sew sex
sexy sfr shangrila sharp shaw shell shia shiksha shoes shop shopping shouji show showtime
shriram silk sina singles site ski skin sky skype sling smart smile sncf soccer social
softbank software sohu solar solutions song sony soy space spiegel sport spot spreadbetting
srl srt stada staples star starhub statebank statefarm statoil stc stcgroup stockholm
storage store stream studio study style sucks supplies supply support surf surgery suzuki
swatch swiftcover swiss sydney symantec systems tab taipei talk taobao target tatamotors
tatar tattoo tax taxi tci tdk team tech technology tel telecity telefonica temasek tennis
teva thd theater theatre tiaa tickets tienda tiffany tips tires tirol tjmaxx tjx tkmaxx
tmall today tokyo tools top toray toshiba total tours town toyota toys trade trading
training travel travelchannel travelers travelersinsurance trust trv tube tui tunes tushu
tvs ubank ubs uconnect unicom university uno uol ups vacations vana vanguard vegas ventures
verisign versicherung vet viajes video vig viking villas vin vip virgin visa vision vista
vistaprint viva vivo vlaanderen vodka volkswagen volvo vote voting voto voyage vuelos wales
walmart walter wang wanggou warman watch watches weather weatherchannel webcam weber website
wed wedding weibo weir whoswho wien wiki williamhill win windows wine winners wme
wolterskluwer woodside work works world wow wtc wtf xbox xerox xfinity xihuan xin xperia xxx
xyz yachts yahoo yamaxun yandex yodobashi yoga yokohama you youtube yun zappos zara zero zip
zippo zone zuerich
vermögensberater vermögensberatung дети католик ком москва
онлайн орг рус сайт קום ابوظبي اتصالات ارامكو العليان بازار
بيتك شبكة عرب كاثوليك كوم موبايلي موقع همراه कॉम नेट संगठन
คอม みんな クラウド グーグル コム ストア セール ファッション
ポイント 世界 中信 中文网 企业 佛山 信息 健康 八卦 公司 公益
商城 商店 商标 嘉里 嘉里大酒店 在线 大众汽车 大拿 天主教
娱乐 家電 工行 广东 微博 慈善 我爱你 手机 手表 招聘 政务
政府 新闻 时尚 書籍 机构 淡马锡 游戏 点看 珠宝 移动 组织机构
网址 网店 网站 网络 联通 诺基亚 谷歌 购物 通販 集团 電訊盈科
飞利浦 食品 餐厅 香格里拉 닷넷 닷컴 삼성
"""
_CCTLD_NAMES = """
ac ad ae af ag ai al am an ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn bo
bq br bs bt bv bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm
do dz ec ee eg eh er es et eu fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs
gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp ke kg kh ki km kn kp
kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg mh mk ml mm mn mo mp mq mr ms
mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps
pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st su sv sx sy sz
tc td tf tg th tj tk tl tm tn to tp tr tt tv tw tz ua ug uk um us uy uz va vc ve vg vi vn vu
wf ws ye yt za zm zw
ελ ευ бг бел ею мкд мон рф срб укр қаз հայ الاردن البحرين
الجزائر السعودية المغرب امارات ایران بارت بھارت تونس سودان
سورية عراق عمان فلسطين قطر مصر مليسيا موريتانيا پاکستان ڀارت
भारत भारतम् भारोत বাংলা ভারত ভাৰত ਭਾਰਤ ભારત ଭାରତ இந்தியா
இலங்கை சிங்கப்பூர் భారత్ ಭಾರತ ഭാരതം ලංකා ไทย ລາວ გე 中国
中國 台湾 台灣 新加坡 澳門 香港 한국
"""
_GTLDS = frozenset(_GTLD_NAMES.split())
_CCTLDS = frozenset(_CCTLD_NAMES.split())
