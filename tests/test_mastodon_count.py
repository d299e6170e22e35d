"""Mastodon counts a status as its StatusLengthValidator does, and the splitter keeps to it.

Cases derived from mastodon/mastodon app/validators/status_length_validator.rb (URLs with a
protocol count 23, mentions as @user, then grapheme clusters; a blank text counts 0),
app/lib/extractor.rb with Account::MENTION_RE, and config/initializers/twitter_regex.rb (its
URL path, query and protocols).
"""

from __future__ import annotations

import re

import pytest
from conftest import EXAMPLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posts.article import Article, read_article
from posts.breaks import sentence_pieces
from posts.hashtags import normalize_tag
from posts.measure import fits, fixed_url_spans, measure
from posts.pack import Packer, SplitError
from posts.platform import PROFILES, Counting, Platform, Profile
from posts.split import SplitOptions, split_article

MASTODON = Platform.MASTODON
TAGS = ("#Artsakh", "#Armenia")
INSTANCE = Profile(limit=1000, counting=Counting.MASTODON, url_length=30)


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("https://example.com/" + "a" * 200, 23),  # a URL counts 23 whatever its length
        ("http://x.co", 23),  # even when shorter
        ("see example.com now", 19),  # no protocol: counted as written
        ("see www.example.com/path now", 28),
        ("@user@mastodon.social", 5),  # a mention counts as @user
        ("@user", 5),
        ("hi @Gargron@mastodon.social!", 12),
        ("mail@user@example.org", 21),  # preceded by a word character: no mention
        ("a=@user@example.org", 19),  # preceded by "=": no mention
        ("@user@example.org@", 18),  # followed by an at sign: no mention
        ("👨\u200d👩\u200d👧\u200d👦", 1),  # a ZWJ sequence is one cluster
        ("🇦🇲", 1),
        ("日本語の文章", 6),  # CJK: one each
        ("Արցախ", 5),
        ("e\u0301", 1),  # a letter and its combining mark
        ("   \n ", 0),  # blank: countable_text is ''
        ("", 0),
    ],
)
def test_mastodon_counts_as_its_status_length_validator(text: str, length: int) -> None:
    assert measure(MASTODON, text) == length


def test_a_url_counts_as_its_placeholder_inside_prose() -> None:
    text = "Read https://hy.wikipedia.org/wiki/Արցախ today, @anca@mastodon.social says."
    # "Read " 5 + 23 + " today, " 8 + "@anca" 5 + " says." 6
    assert measure(MASTODON, text) == 47


def test_mastodon_urls_are_its_own_not_twitter_texts() -> None:
    # Its path takes any character but spaces and <>()? ...
    assert fixed_url_spans(MASTODON, "https://hy.wikipedia.org/wiki/Արցախ") == [(0, 35)]
    # ... but may not end in "=", which twitter-text allows: "==" counts as written.
    assert measure(MASTODON, "https://example.com/abc==") == 25
    assert measure(Platform.X, "https://example.com/abc==") == 23
    # More protocols than http(s)
    assert measure(MASTODON, "gemini://example.com/page") == 23


def test_a_mark_after_a_url_joins_the_placeholder() -> None:
    # The rewritten text is counted: "…x" and a following mark are one cluster.
    assert measure(MASTODON, "https://example.com/a" + " \u0301") == 24


def test_a_url_inside_a_mention_or_a_mention_inside_a_url_counts_once() -> None:
    # remove_overlapping_entities keeps the one that starts first.
    assert measure(MASTODON, "https://example.com/a,@user@example.org") == 23


def test_an_instance_profile_with_other_figures_is_honoured() -> None:
    text = "x" * 950 + " https://example.com/" + "a" * 100
    assert measure(INSTANCE, text) == 950 + 1 + 30
    assert fits(INSTANCE, text)
    assert not fits(MASTODON, text)


def test_the_profile_carries_mastodons_media_facts() -> None:
    profile = PROFILES[MASTODON]
    assert (profile.limit, profile.url_length, profile.max_bytes) == (500, 23, None)
    assert profile.max_images == 4
    assert profile.max_image_bytes == 16 * 1024 * 1024
    assert profile.link_cards is False


def words(text: str) -> list[str]:
    return text.split()


@pytest.fixture(scope="module")
def op_ed() -> Article:
    return read_article(EXAMPLE)


def test_the_op_ed_splits_for_mastodon_within_500_with_the_tags(op_ed: Article) -> None:
    posts = split_article(op_ed, SplitOptions(platform=MASTODON, tags=TAGS)).posts
    assert len(posts) >= 3
    for post in posts:
        assert post.length == measure(MASTODON, post.text) <= 500
        for tag in TAGS:
            assert re.search(rf"(?<!\w){tag}(?!\w)", post.text, re.IGNORECASE), post.text
    source = words(" ".join([*op_ed.lead(), *op_ed.paragraphs]))
    assert words(" ".join(p.body for p in posts)) == source


def test_the_op_ed_fills_an_instances_longer_posts(op_ed: Article) -> None:
    usual = split_article(op_ed, SplitOptions(platform=MASTODON, tags=TAGS)).posts
    options = SplitOptions(platform=MASTODON, tags=TAGS, counted_as=INSTANCE)
    posts = split_article(op_ed, options).posts
    assert len(posts) < len(usual)
    assert max(p.length for p in posts) > 500
    for post in posts:
        assert post.limit == 1000
        assert post.length == measure(INSTANCE, post.text) <= 1000


def test_a_long_url_counts_the_instances_url_length_and_is_never_cut() -> None:
    url = "https://example.com/" + "long-path/" * 150  # 1520 characters
    article = Article(title=None, byline=None, paragraphs=[f"Read {url} now."])
    options = SplitOptions(platform=MASTODON, counted_as=INSTANCE, numbering=False)
    [post] = split_article(article, options).posts
    assert post.length == len("Read ") + 30 + len(" now.")


def test_a_link_mastodon_would_cut_short_is_refused() -> None:
    article = Article(title=None, byline=None, paragraphs=["Text."])
    with pytest.raises(SplitError, match="Mastodon would link only"):
        split_article(article, SplitOptions(MASTODON, link="https://example.com/abc=="))


@pytest.mark.parametrize("raw", ["#a\u05beb", "#a\u301cb", "#1\u0301"])
def test_a_tag_mastodon_would_not_link_whole_is_refused(raw: str) -> None:
    with pytest.raises(SplitError, match="Mastodon"):
        normalize_tag(raw)


@pytest.mark.parametrize("raw", ["#Artsakh", "#Արցախ", "#東京2020", "#a·b", "#ゲーム"])
def test_tags_mastodon_links_are_accepted(raw: str) -> None:
    assert normalize_tag(raw) == raw


_word = st.one_of(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10),
    st.text(alphabet="աբգդեզէըթժիլխ", min_size=1, max_size=8),
    st.sampled_from(["@user@mastodon.social", "@anca", "https://example.org/a/b?c=d", "x.org"]),
    st.sampled_from(["gemini://example.com/a", "https://hy.wikipedia.org/wiki/Արցախ", "👍🏽"]),
    st.text(alphabet="xyz", min_size=400, max_size=1200),  # longer than a post
)
_paragraph = st.builds(
    " ".join,
    st.lists(st.builds(lambda ws: " ".join(ws) + ".", st.lists(_word, min_size=1, max_size=60))),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    paragraphs=st.lists(_paragraph.filter(str.strip), min_size=1, max_size=3),
    profile=st.sampled_from([PROFILES[MASTODON], INSTANCE]),
)
def test_property_summed_mastodon_sizes_choose_what_measuring_every_post_would(
    paragraphs: list[str], profile: Profile
) -> None:
    def render(first: bool, last: bool, body: str) -> str:
        return f"99/99 {body}\n\n{' '.join(TAGS)}"

    sentences = sentence_pieces(Article(None, None, paragraphs))
    summed = Packer(profile, render, "mastodon").pack(sentences)
    measured = Packer(profile, render, "mastodon", exact=True).pack(sentences)
    assert summed.bodies == measured.bodies
    for body in summed.bodies:
        assert fits(profile, render(False, False, body))
