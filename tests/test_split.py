"""The splitter: limits, sentence boundaries, faithfulness, tags, numbering, link."""

from __future__ import annotations

import itertools
import re
import unicodedata

import pytest
from conftest import EXAMPLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posts.article import Article, read_article
from posts.breaks import Kind, Piece, word_pieces
from posts.measure import fits, measure
from posts.platform import PROFILES, Platform
from posts.sentences import split_sentences
from posts.split import SplitError, SplitOptions, has_hashtag, normalize_tag, split_article

TAGS = ("#Artsakh", "#Armenia")


def words(text: str) -> list[str]:
    return text.split()


def non_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def op_ed() -> Article:
    return read_article(EXAMPLE)


@pytest.mark.parametrize("platform", list(Platform))
def test_op_ed_posts_fit_keep_every_word_and_carry_the_tags(
    op_ed: Article, platform: Platform
) -> None:
    result = split_article(op_ed, SplitOptions(platform=platform, tags=TAGS))
    posts = result.posts
    assert len(posts) >= 5
    for post in posts:
        assert fits(platform, post.text), post.text
        assert post.length == measure(platform, post.text) <= PROFILES[platform].limit
        for tag in TAGS:
            assert re.search(rf"(?<!\w){tag}(?!\w)", post.text, re.IGNORECASE), post.text
    # Minus numbering and tags, the posts are the article, every word in order.
    source = words(" ".join([*op_ed.lead(), *op_ed.paragraphs]))
    assert words(" ".join(p.body for p in posts)) == source
    assert posts[0].body.startswith(op_ed.lead()[0])
    assert "Comments are closed." not in " ".join(p.text for p in posts)
    assert any("Comments are closed." in w for w in result.warnings)
    assert any("truncated" in w for w in result.warnings)


@pytest.mark.parametrize("platform", list(Platform))
def test_op_ed_never_breaks_after_an_abbreviation_or_initial(
    op_ed: Article, platform: Platform
) -> None:
    posts = split_article(op_ed, SplitOptions(platform=platform, tags=TAGS)).posts
    for post in posts[:-1]:
        assert not post.body.endswith(("U.S.", " S.", "e.g.,", "e.g.")), post.body


def test_a_tag_already_in_the_text_is_not_appended_again(op_ed: Article) -> None:
    posts = split_article(op_ed, SplitOptions(platform=Platform.X, tags=TAGS)).posts
    carrying = [p for p in posts if "against #Artsakh and #Armenia." in p.body]
    assert carrying
    for post in carrying:
        assert post.text.count("#Artsakh") == 1
        assert post.text.count("#Armenia") == 1


def test_numbering_counts_and_is_inside_the_limit(op_ed: Article) -> None:
    posts = split_article(op_ed, SplitOptions(platform=Platform.X, tags=TAGS)).posts
    total = len(posts)
    for post in posts:
        assert post.text.startswith(f"{post.seq}/{total} ")


def test_a_lone_post_is_not_numbered_one_of_one() -> None:
    article = Article(title=None, byline=None, paragraphs=["Just one short post here."])
    [post] = split_article(article, SplitOptions(platform=Platform.X, tags=TAGS)).posts
    assert post.text == "Just one short post here.\n\n#Artsakh #Armenia"


def test_standalone_has_no_numbering_by_default(op_ed: Article) -> None:
    posts = split_article(op_ed, SplitOptions(platform=Platform.X, thread=False)).posts
    assert not any(re.match(r"\d+/\d+ ", p.text) for p in posts)


def test_link_goes_in_the_first_post_and_counts_23_on_x(op_ed: Article) -> None:
    link = "https://anca.org/" + "very-long-path/" * 20
    posts = split_article(op_ed, SplitOptions(platform=Platform.X, tags=TAGS, link=link)).posts
    assert link in posts[0].text
    assert all(link not in p.text for p in posts[1:])
    assert all(p.length <= 280 for p in posts)


@pytest.mark.parametrize("placement", ["first", "last"])
def test_tags_on_first_or_last(op_ed: Article, placement: str) -> None:
    options = SplitOptions(platform=Platform.BLUESKY, tags=("#Peace",), tags_on=placement)  # type: ignore[arg-type]
    posts = split_article(op_ed, options).posts
    tagged = [p.seq for p in posts if "#Peace" in p.text]
    assert tagged == ([1] if placement == "first" else [len(posts)])
    assert all(p.length <= 300 for p in posts)


def test_tags_on_last_still_fits_when_the_last_post_was_full() -> None:
    sentence = "word " * 54 + "end."  # 274 characters: no room for a tag after it
    article = Article(title=None, byline=None, paragraphs=[sentence.strip()])
    options = SplitOptions(
        platform=Platform.X, tags=("#Artsakh", "#Armenia"), tags_on="last", numbering=False
    )
    posts = split_article(article, options).posts
    assert posts[-1].text.endswith("#Artsakh #Armenia")
    assert all(fits(Platform.X, p.text) for p in posts)
    assert words(" ".join(p.body for p in posts)) == words(sentence)


def test_a_long_sentence_breaks_at_a_clause_boundary() -> None:
    sentence = (
        "The delegation met ministers in Yerevan, Stepanakert and Goris over three days, "
        + "and they discussed the blockade at length with every official who would listen, " * 3
        + "before returning home."
    )
    article = Article(title=None, byline=None, paragraphs=[sentence])
    posts = split_article(article, SplitOptions(platform=Platform.X, numbering=False)).posts
    assert len(posts) > 1
    assert posts[0].body.endswith(",")


def test_a_giant_word_is_cut_without_breaking_a_limit() -> None:
    giant = "a" * 1000
    article = Article(title=None, byline=None, paragraphs=[f"Before {giant} after."])
    for platform in Platform:
        result = split_article(article, SplitOptions(platform=platform, tags=TAGS))
        assert all(fits(platform, p.text) for p in result.posts)
        assert non_space("".join(p.body for p in result.posts)) == non_space(
            f"Before {giant} after."
        )
        assert any("longer than a post" in w for w in result.warnings)


def test_a_long_url_is_never_cut_on_x() -> None:
    url = "https://example.org/" + "x" * 600
    article = Article(title=None, byline=None, paragraphs=[f"Read {url} today."])
    posts = split_article(article, SplitOptions(platform=Platform.X, tags=TAGS)).posts
    assert any(url in p.text for p in posts)
    assert all(p.length <= 280 for p in posts)


def test_armenian_and_japanese_sentence_ends() -> None:
    armenian = "Արցախը հայկական է։ Մենք պետք է պաշտպանենք այն։"
    assert [s for _, s in split_sentences(armenian)] == [
        "Արցախը հայկական է։",
        "Մենք պետք է պաշտպանենք այն։",
    ]
    japanese = "今日は晴れです。明日は雨です。"
    assert split_sentences(japanese) == [("", "今日は晴れです。"), ("", "明日は雨です。")]


@pytest.mark.parametrize(
    "text",
    [
        "Dr. Smith spoke at 3 p.m. on Monday about the U.S. Senate.",
        "Aram S. Hamparian wrote it, e.g. in the op-ed.",
        "He said 1) no and 2) never.",
    ],
)
def test_abbreviations_and_initials_do_not_end_sentences(text: str) -> None:
    pieces = [s for _, s in split_sentences(text)]
    assert all(not p.endswith(("Dr.", "p.m.", "S.", "e.g.", "U.S.")) for p in pieces[:-1])
    assert " ".join(pieces) == text


def test_an_inline_enumeration_stays_in_its_sentence_and_its_items_are_break_points() -> None:
    text = "Require 1) guarantees; 2) peacekeepers; 3) aid."
    assert [s for _, s in split_sentences(text)] == [text]
    pieces = word_pieces(Piece("", text, Kind.PARAGRAPH))
    kinds = {p.text: p.kind for p in pieces}
    assert kinds["1)"] == kinds["2)"] == kinds["3)"] == Kind.LIST
    assert {p.text for p in pieces if p.dangling} == {"guarantees;", "peacekeepers;", "aid."}


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("2. Share this thread", ["2. Share this thread"]),
        (
            "Steps: 1. Stop the waiver. 2. Sanction them.",
            ["Steps: 1. Stop the waiver.", "2. Sanction them."],
        ),
        ("He read chapter 3. Then he slept.", ["He read chapter 3.", "Then he slept."]),
    ],
)
def test_a_list_marker_is_never_a_sentence_of_its_own(text: str, sentences: list[str]) -> None:
    assert [s for _, s in split_sentences(text)] == sentences


@pytest.mark.parametrize("raw", ["Artsakh", "#Artsakh", " #Artsakh "])
def test_tags_are_normalised(raw: str) -> None:
    assert normalize_tag(raw) == "#Artsakh"


@pytest.mark.parametrize("raw", ["", "#", "two words", "#123", "bad-tag", "#" + "a" * 101])
def test_invalid_tags_are_refused(raw: str) -> None:
    with pytest.raises(SplitError):
        normalize_tag(raw)


# Hashtags with combining marks, and the NFD form of "é": X and Bluesky both link them.
MARKED_TAGS = ["भारत", "नमस्ते", "สวัสดี", "தமிழ்", "שָׁלוֹם", "مَرحَبا", "e\u0301"]


@pytest.mark.parametrize("raw", MARKED_TAGS)
def test_a_tag_with_combining_marks_is_accepted_in_nfc(raw: str) -> None:
    assert normalize_tag(raw) == "#" + unicodedata.normalize("NFC", raw)
    assert normalize_tag("#" + raw) == normalize_tag(raw)


@pytest.mark.parametrize("raw", [*MARKED_TAGS, "Artsakh", "peace_now", "Հայաստան", "東京2026"])
def test_an_accepted_tag_is_linked_whole_by_bluesky(raw: str) -> None:
    from atproto import client_utils  # the detection our Bluesky adapter publishes with

    tag = normalize_tag(raw)
    facets = client_utils.detect_facets(f"Stand with {tag} today")
    assert [f.tag for facet in facets for f in facet.features] == [tag[1:]]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("می\u200cخواهم", "Bluesky ends a hashtag at a zero-width joiner (U+200C), so it would"
         " link only '#می'"),
        ("peace_", "Bluesky leaves a final '_' out of a hashtag"),
    ],
)  # fmt: skip
def test_a_tag_bluesky_would_cut_short_is_refused(raw: str, reason: str) -> None:
    with pytest.raises(SplitError) as e:
        normalize_tag(raw)
    assert str(e.value) == f"invalid tag {raw!r}: {reason}"


@pytest.mark.parametrize(
    ("text", "tag", "carried"),
    [
        ("against #Artsakh and #Armenia.", "#Artsakh", True),
        ("#artsakh's people", "#Artsakh", True),
        ("#भारतीय लोग", "#भारत", False),  # a vowel sign continues the hashtag
        ("#भारत.", "#भारत", True),
        ("caf #cafe\u0301", "#café", True),  # the text's NFD is the tag's NFC
        ("#Artsakh#Armenia", "#Artsakh", False),
        ("AT&#Artsakh", "#Artsakh", False),
        ("#Artsakh_2026", "#Artsakh", False),
    ],
)
def test_has_hashtag_finds_hashtags_as_the_platforms_do(text: str, tag: str, carried: bool) -> None:
    assert has_hashtag(text, tag) is carried


NOT_ONE_URL = "a link is one URL, without spaces or control characters"


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        ("https://exa mple.com", NOT_ONE_URL),
        ("https://example.com/\x07", NOT_ONE_URL),
        ("https://example.com/\u202eevil", NOT_ONE_URL),  # a right-to-left override
        ("ftp://example.com/file", "give a full URL starting with https:// or http://"),
        ("anca.org/act", "give a full URL starting with https:// or http://"),
        ("javascript:alert(1)", "give a full URL starting with https:// or http://"),
        ("https://", "the URL names no host"),
        ("https://[::1/", "its host or port is malformed"),
        ("https://example.com:99999/", "its host or port is malformed"),
        ("http://localhost/act", "X would not recognise it as a link"),
        ("https://example.com/act.", "X would link only 'https://example.com/act' of it"),
    ],
)  # fmt: skip
def test_a_link_that_would_not_work_is_refused_in_one_sentence(link: str, reason: str) -> None:
    article = Article(title=None, byline=None, paragraphs=["Hello there."])
    with pytest.raises(SplitError) as e:
        split_article(article, SplitOptions(platform=Platform.X, link=link))
    assert str(e.value) == f"invalid link {link!r}: {reason}"


@pytest.mark.parametrize(
    "link",
    ["https://anca.org/", "http://example.org/a?b=c#d", "HTTPS://EXAMPLE.com:8080/x"],
)
def test_a_full_web_link_is_accepted(link: str) -> None:
    article = Article(title=None, byline=None, paragraphs=["Hello there."])
    posts = split_article(article, SplitOptions(platform=Platform.X, link=link)).posts
    assert link in posts[0].text


def test_tags_that_leave_no_room_are_refused() -> None:
    tags = tuple(f"#{'t' * 99}{i}" for i in range(3))
    article = Article(title=None, byline=None, paragraphs=["Hello there."])
    with pytest.raises(SplitError):
        split_article(article, SplitOptions(platform=Platform.X, tags=tags))


# ---------------------------------------------------------------------------- properties

_word = st.one_of(
    st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12
    ),
    st.text(alphabet="աբգդեզէըթժիլխծկհձղճմյնշոչպջռսվտրցւփքօֆԱԲԳԴ", min_size=1, max_size=10),
    st.text(alphabet="日本語文章東京", min_size=1, max_size=6),
    st.sampled_from(
        ["U.S.", "e.g.", "Dr.", "p.m.", "S.", "1)", "2)", "—", "–", "😀", "👍🏽", "🇦🇲"]
    ),
    st.sampled_from(["https://example.org/a/b?c=d", "anca.org", "#Artsakh", "#armenia"]),
    st.text(alphabet="xyz", min_size=250, max_size=700),  # longer than a post
)
_sentence = st.builds(
    lambda ws, end: " ".join(ws) + end,
    st.lists(_word, min_size=1, max_size=40),
    st.sampled_from([".", "!", "?", "։", "。", "", ";", ","]),
)
_paragraph = st.builds(" ".join, st.lists(_sentence, min_size=1, max_size=8))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    paragraphs=st.lists(_paragraph, min_size=1, max_size=6),
    platform=st.sampled_from(list(Platform)),
    tags=st.sampled_from([(), TAGS, ("#Peace",)]),
    placement=st.sampled_from(["all", "first", "last"]),
    thread=st.booleans(),
)
def test_property_every_post_fits_and_no_character_is_lost_duplicated_or_reordered(
    paragraphs: list[str], platform: Platform, tags: tuple[str, ...], placement: str, thread: bool
) -> None:
    article = Article(title=None, byline=None, paragraphs=paragraphs)
    options = SplitOptions(platform=platform, tags=tags, tags_on=placement, thread=thread)  # type: ignore[arg-type]
    posts = split_article(article, options).posts
    for post in posts:
        assert fits(platform, post.text)
        assert post.length == measure(platform, post.text)
    assert non_space("".join(p.body for p in posts)) == non_space("".join(paragraphs))


@settings(max_examples=100, deadline=None)
@given(
    paragraphs=st.lists(
        st.builds(
            " ".join,
            st.lists(
                st.builds(
                    lambda ws: " ".join(ws) + ".",
                    st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=9), min_size=1),
                ),
                min_size=1,
                max_size=6,
            ),
        ),
        min_size=1,
        max_size=5,
    ),
    platform=st.sampled_from(list(Platform)),
)
def test_property_words_survive_whole_when_every_word_fits(
    paragraphs: list[str], platform: Platform
) -> None:
    article = Article(title=None, byline=None, paragraphs=paragraphs)
    posts = split_article(article, SplitOptions(platform=platform, tags=TAGS)).posts
    assert words(" ".join(p.body for p in posts)) == words(" ".join(paragraphs))
    # Whole sentences whenever a sentence fits: no post ends mid-sentence unless the
    # sentence alone, numbered and tagged, is longer than a post.
    sentences = [s for paragraph in paragraphs for _, s in split_sentences(paragraph)]
    sentence_ends = list(itertools.accumulate(len(non_space(s)) for s in sentences))
    at = 0
    for post in posts[:-1]:
        at += len(non_space(post.body))
        if at in sentence_ends:
            continue
        cut = next(s for s, end in zip(sentences, sentence_ends, strict=True) if end > at)
        assert not fits(platform, f"{post.seq}/{len(posts)} {cut}\n\n{' '.join(TAGS)}"), cut
