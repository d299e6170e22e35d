"""posts.article: files -> Article (title, byline, paragraphs, warnings)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posts.article import Article, ArticleError, parse_text, read_article

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "artsakh-op-ed.txt"
DATA = Path(__file__).resolve().parent / "data" / "articles"


def squash(s: str) -> str:
    """Text without whitespace: what must survive parsing, character for character."""
    return re.sub(r"\s+", "", s)


# --------------------------------------------------------------------------- the real example


@pytest.fixture(scope="module")
def op_ed() -> Article:
    return read_article(EXAMPLE)


def test_example_lead(op_ed: Article) -> None:
    title = "It’s Not Too Late for Joe Biden to Stop Azerbaijan’s Genocide Against Artsakh"
    byline = "By Aram S. Hamparian, ANCA Executive Director"
    assert op_ed.title == title
    assert op_ed.byline == byline
    assert op_ed.lead() == [title, byline]


def test_example_paragraphs(op_ed: Article) -> None:
    paras = op_ed.paragraphs
    assert len(paras) == 9
    assert paras[0].startswith("As the global champion for human rights")
    assert paras[4].endswith("prevent an Azerbaijani genocide against Artsakh:")
    assert paras[5].startswith("1) The U.S. should set a hard deadline")
    assert paras[6].startswith("2) The U.S. should impose Global Magnitsky")
    assert paras[7].startswith("3) The U.S. should immediately undertake")
    # The inline "1) United Nations ...; 2) ..." inside item 3 is not a list of its own.
    assert "requiring 1) United Nations security guarantees; 2) a sustained" in paras[7]
    assert paras[8].startswith("The U.S. has recognized and applied the principle")
    assert paras[8].endswith("existential threats, to")
    assert all(p == " ".join(p.split()) for p in paras)


def test_example_warnings(op_ed: Article) -> None:
    assert op_ed.warnings == [
        'dropped page boilerplate "Comments are closed."',
        'the article seems truncated: its last sentence "…strive, against extreme violence'
        ' and existential threats, to" has no closing punctuation',
    ]


def test_example_keeps_every_word_in_order(op_ed: Article) -> None:
    source = EXAMPLE.read_text(encoding="utf-8")
    body = source.split("ANCA Executive Director", 1)[1]
    assert body.split() == " ".join([*op_ed.paragraphs, "Comments are closed."]).split()


# --------------------------------------------------------------------------- file errors


def message(excinfo: pytest.ExceptionInfo[ArticleError]) -> str:
    text = str(excinfo.value)
    assert "\n" not in text
    return text


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.txt"
    with pytest.raises(ArticleError) as e:
        read_article(path)
    assert message(e) == f"article not found: {path}"


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ArticleError) as e:
        read_article(tmp_path)
    assert message(e) == f"{tmp_path} is a directory, not an article file"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(ArticleError) as e:
        read_article(path)
    assert message(e) == f"{path} is empty"


@pytest.mark.parametrize(
    "content", [b"  \n\t\n\r\n  ", b"\xef\xbb\xbf\n\n", "\u00a0\u3000\n".encode()]
)
def test_blank_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "blank.md"
    path.write_bytes(content)
    with pytest.raises(ArticleError) as e:
        read_article(path)
    assert message(e) == f"{path} is blank: it contains only whitespace"


def test_blank_after_html_extraction(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><script>var a = 1;</script></head><body><footer></footer></body></html>"
    )
    with pytest.raises(ArticleError) as e:
        read_article(path)
    assert message(e) == f"{path} has no article text"


def test_byline_only() -> None:
    with pytest.raises(ArticleError, match=r"^the article text has a byline but no article text$"):
        parse_text("By Someone Important\n")


def test_title_without_body(tmp_path: Path) -> None:
    path = tmp_path / "title.txt"
    path.write_text("Just a title\n\nBy Someone Important\n")
    with pytest.raises(ArticleError) as e:
        read_article(path)
    assert message(e) == f"{path} has a title and byline but no article text"


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00",
        b"Some text\x00 with a NUL byte in it.",
        bytes(range(1, 9)) * 20 + b"a few letters",
    ],
    ids=["png", "nul", "control-chars"],
)
def test_binary_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "article.txt"
    path.write_bytes(content)
    with pytest.raises(ArticleError) as e:
        read_article(path)
    assert message(e) == f"{path} looks like binary data, not an article"


def test_too_big_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 20)

    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was opened although it is over the limit")

    monkeypatch.setattr(Path, "open", no_open)
    with pytest.raises(ArticleError) as e:
        read_article(path, max_bytes=50)
    assert message(e) == f"{path} is too big for an article: 100 bytes, the limit is 50 bytes"


def test_too_big_default_limit_wording(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"a" * (5 * 1024 * 1024 + 1))
    with pytest.raises(ArticleError) as e:
        read_article(path)
    assert message(e) == (
        f"{path} is too big for an article: 5,242,881 bytes (5.0 MiB),"
        " the limit is 5,242,880 bytes (5.0 MiB)"
    )


def test_at_the_limit_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "ok.txt"
    path.write_text("Title\n\nBody text.\n")
    assert read_article(path, max_bytes=path.stat().st_size).paragraphs == ["Body text."]


def test_undecodable_bytes(tmp_path: Path) -> None:
    path = tmp_path / "garbage.txt"
    path.write_bytes(bytes(range(0x80, 0x100)) * 8)
    with pytest.raises(ArticleError) as e:
        read_article(path)
    assert message(e) == f"{path} is not UTF-8 and its text encoding could not be detected"


def test_unknown_kind_for_parse_text() -> None:
    with pytest.raises(ArticleError, match="unknown article kind 'pdf'"):
        parse_text("Hello.", kind="pdf")


# --------------------------------------------------------------------------- decoding

WESTERN = (
    "Café society\n\n"
    "The committee met on Tuesday – “it’s urgent,” said the chair.\n\n"
    "Naïve hopes of a résumé of talks were dashed; the déjà vu was complete.\n"
)


def test_cp1252_is_detected_and_warned(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes(WESTERN.encode("cp1252"))
    art = read_article(path)
    assert art.title == "Café society"
    assert art.paragraphs == [
        "The committee met on Tuesday – “it’s urgent,” said the chair.",
        "Naïve hopes of a résumé of talks were dashed; the déjà vu was complete.",
    ]
    assert art.warnings == [
        f"{path} is not UTF-8; decoded it as cp1252 (a guess: check accented letters)"
    ]


def test_latin1_is_read_like_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes("Très bien\n\nÇa va, naïve Zoë? Très bien.\n".encode("latin-1"))
    art = read_article(path)
    assert art.paragraphs == ["Ça va, naïve Zoë? Très bien."]
    assert len(art.warnings) == 1
    assert "is not UTF-8; decoded it as cp1252" in art.warnings[0]


def test_utf8_with_a_few_stray_bytes(tmp_path: Path) -> None:
    path = tmp_path / "pasted.txt"
    path.write_bytes("Արցախ\n\nԱրցախը ապրում է, and the caf".encode() + b"\xe9 is open.\n")
    art = read_article(path)
    assert art.paragraphs == ["Արցախը ապրում է, and the café is open."]
    assert art.warnings == [f"{path} is UTF-8 except for 1 stray byte; read it as cp1252"]


def test_html_declared_charset_is_used(tmp_path: Path) -> None:
    path = tmp_path / "page.htm"
    page = (
        '<html><head><meta charset="windows-1251"><title>Новости</title></head><body>'
        "<article><h1>Новости дня</h1><p>Сегодня в Ереване прошёл большой митинг в поддержку"
        " жителей Арцаха, и тысячи людей вышли на улицы города.</p></article></body></html>"
    )
    path.write_bytes(page.encode("cp1251"))
    art = read_article(path)
    assert art.title == "Новости дня"
    assert art.paragraphs[0].startswith("Сегодня в Ереване прошёл большой митинг")
    assert art.warnings == [
        f"{path} is not UTF-8; decoded it as windows-1251, the charset the page declares"
    ]


def test_utf8_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "win.txt"
    path.write_bytes(b"\xef\xbb\xbfTitle\r\n\r\nFirst line\r\ncontinues here.\rSecond one.\r\n")
    art = read_article(path)
    assert art.title == "Title"
    assert art.paragraphs == ["First line continues here.", "Second one."]
    assert art.warnings == []


@pytest.mark.parametrize("codec", ["utf-16", "utf-32"])
def test_utf16_and_utf32_with_bom(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "notepad.txt"
    path.write_bytes("Заголовок\n\nТекст статьи.\n".encode(codec))  # Python writes a BOM
    art = read_article(path)
    assert (art.title, art.paragraphs, art.warnings) == ("Заголовок", ["Текст статьи."], [])


@pytest.mark.parametrize("name", ["article", "article.rst", "article.TXT", "notes.text"])
def test_unknown_or_missing_extension_reads_as_text(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("# Not a heading here\n\nPlain *text* stays as it is.\n")
    art = read_article(path)
    assert art.title == "# Not a heading here"
    assert art.paragraphs == ["Plain *text* stays as it is."]


def test_suffix_is_case_insensitive(tmp_path: Path) -> None:
    path = tmp_path / "ARTICLE.MD"
    path.write_text("# Heading\n\nSome *emphasis* here.\n")
    art = read_article(path)
    assert (art.title, art.paragraphs) == ("Heading", ["Some emphasis here."])


# --------------------------------------------------------------------------- plain text rules


def test_wrapped_lines_join_and_sentence_lines_split() -> None:
    art = parse_text(
        "Title\n\n"
        "This line wraps in the middle of a\n"
        "sentence and goes on.\n"
        "This is a new paragraph on the next line.\n"
        "- a dash item\n"
        "* a star item\n"
        "2. a numbered item\n"
    )
    assert art.paragraphs == [
        "This line wraps in the middle of a sentence and goes on.",
        "This is a new paragraph on the next line.",
        "- a dash item",
        "* a star item",
        "2. a numbered item",
    ]


def test_hand_wrapped_paragraphs() -> None:
    text = (
        "A Title\n\n"
        "The committee met on Tuesday to discuss the blockade of the only road\n"
        "into the region. Members agreed that the situation was grave. They also\n"
        "Agreed, after a long debate, to send a letter.\n\n"
        "A second paragraph that is also wrapped by hand at about seventy\n"
        "characters, like an email.\n"
    )
    assert parse_text(text).paragraphs == [
        "The committee met on Tuesday to discuss the blockade of the only road into the region."
        " Members agreed that the situation was grave. They also Agreed, after a long debate,"
        " to send a letter.",
        "A second paragraph that is also wrapped by hand at about seventy characters, like an"
        " email.",
    ]


def test_short_heading_line_in_a_block_stays_apart() -> None:
    art = parse_text("Title\n\nBackground\nThe war began long ago and it has not ended yet.\n")
    assert art.paragraphs == ["Background", "The war began long ago and it has not ended yet."]


def test_sentence_starting_with_by_is_not_a_byline() -> None:
    art = parse_text("Title\n\nBy then, it was far too late.\nNobody came.\n")
    assert art.byline is None
    assert art.paragraphs == ["By then, it was far too late.", "Nobody came."]


def test_several_byline_lines() -> None:
    art = parse_text("Title\nBy Ani Hovhannisyan,\nBy Davit Sargsyan\n\nBody text here.\n")
    assert art.byline == "By Ani Hovhannisyan, By Davit Sargsyan"
    assert art.paragraphs == ["Body text here."]


def test_byline_role_line_needs_to_look_like_one() -> None:
    # The line after "By ..." starts a wrapped sentence, so it is body, not a job title.
    art = parse_text("Title\nBy Ani Hovhannisyan\nThe war began in 1991\nand lasted for years.\n")
    assert art.byline == "By Ani Hovhannisyan"
    assert art.paragraphs == ["The war began in 1991 and lasted for years."]


def test_no_title_when_first_line_is_half_a_sentence() -> None:
    art = parse_text("It was a dark and stormy\nnight, and the rain fell.\n")
    assert art.title is None
    assert art.paragraphs == ["It was a dark and stormy night, and the rain fell."]


def test_no_title_when_text_starts_with_byline() -> None:
    art = parse_text("By Ani Hovhannisyan\n\nThe road is closed.\n")
    assert (art.title, art.byline, art.paragraphs) == (
        None,
        "By Ani Hovhannisyan",
        ["The road is closed."],
    )


def test_separator_lines_are_not_paragraphs() -> None:
    art = parse_text("Title\n\nOne.\n\n* * *\n\nTwo.\n\n---\n")
    assert art.paragraphs == ["One.", "Two."]


def test_whitespace_is_normalised() -> None:
    art = parse_text("  Title \t here \n\n Body\u00a0 with\t\ttabs   and  spaces. \n")
    assert art.title == "Title here"
    assert art.paragraphs == ["Body with tabs and spaces."]


# --------------------------------------------------------------------------- boilerplate


def test_trailing_wordpress_boilerplate_is_dropped_in_order() -> None:
    art = parse_text(
        "Title\n\nComments are closed. That is what the sign said.\n\n"
        "Share this:\nTwitter\nFacebook\nLike this:\nLike Loading...\n\nPosted in News, Opinion\n"
    )
    # The first paragraph merely starts like boilerplate and is body text.
    assert art.paragraphs == ["Comments are closed. That is what the sign said."]
    assert art.warnings == [
        'dropped page boilerplate "Share this:"',
        'dropped page boilerplate "Twitter"',
        'dropped page boilerplate "Facebook"',
        'dropped page boilerplate "Like this:"',
        'dropped page boilerplate "Like Loading..."',
        'dropped page boilerplate "Posted in News, Opinion"',
    ]


def test_boilerplate_in_the_middle_is_kept() -> None:
    art = parse_text("Title\n\nLeave a comment\n\nThe end.\n")
    assert art.paragraphs == ["Leave a comment", "The end."]
    assert art.warnings == []


@pytest.mark.parametrize(
    "last",
    [
        "It ended.",
        "Did it end?",
        "It ended!",
        "It ended…",
        "He said “it ended.”",
        "(It ended.)",
        "Read it at https://anca.org/blockade",
        "Stand with #Artsakh",
    ],
)
def test_closed_endings_are_not_truncated(last: str) -> None:
    assert parse_text(f"Title\n\n{last}\n").warnings == []


def test_short_truncated_paragraph_is_quoted_whole() -> None:
    art = parse_text("Title\n\nThe talks will resume on\n")
    assert art.warnings == [
        'the article seems truncated: its last sentence "The talks will resume on"'
        " has no closing punctuation"
    ]


# --------------------------------------------------------------------------- scripts


def test_armenian() -> None:
    art = read_article(DATA / "armenian.txt")
    assert art.title == "Արցախը պետք է ապրի"
    assert art.byline == "By Արամ Համբարյան"
    assert art.paragraphs == [
        "Արցախի ժողովուրդը դարեր շարունակ ապրել է իր հայրենիքում։",
        "Շրջափակումը պետք է անհապաղ վերացվի, և միջազգային հանրությունը պետք է գործի:",
        "Մենք չենք մոռանա։",
    ]
    # Both the Armenian full stop "։" and a typed ":" close an Armenian sentence.
    assert art.warnings == []


def test_armenian_truncated() -> None:
    art = parse_text("Վերնագիր\n\nՄենք պետք է շարունակենք պայքարել մինչև\n")
    assert art.warnings == [
        'the article seems truncated: its last sentence "Մենք պետք է շարունակենք պայքարել մինչև"'
        " has no closing punctuation"
    ]


def test_japanese() -> None:
    art = read_article(DATA / "japanese.txt")
    assert art.title == "アルツァフの人々を守れ"
    assert art.byline is None
    assert art.paragraphs == [
        # A line break inside Japanese text is a wrap and leaves no space behind.
        "九か月にわたり、アルツァフとアルメニアを結ぶ唯一の道路が封鎖されている。"
        "店の棚は一つずつ空になっていった。",
        "国際社会は今こそ行動すべきだ。",
        "日本もその一員である。",
    ]
    assert art.warnings == []


def test_japanese_truncated_quotes_the_tail_by_characters() -> None:
    body = "国際社会は今こそ行動すべきだ。" * 6 + "しかし世界は"
    art = parse_text(f"題名\n\n{body}\n")
    assert art.warnings == [
        f'the article seems truncated: its last sentence "…{body[-60:]}" has no closing punctuation'
    ]


# --------------------------------------------------------------------------- Markdown


@pytest.fixture(scope="module")
def md_article() -> Article:
    return read_article(DATA / "op-ed.md")


def test_markdown_lead(md_article: Article) -> None:
    assert md_article.title == "Sanctions Are Not Enough"  # emphasis markers dropped
    assert md_article.byline == "By Nairi Petrosyan, Caucasus Watch contributor"


def test_markdown_paragraphs(md_article: Article) -> None:
    assert md_article.paragraphs == [
        "For nine months the only road linking Artsakh to Armenia has been closed, and the"
        " 120,000 people who live there have watched their shelves empty.",
        # Image dropped; links keep their absolute URL; code span keeps its text; a relative
        # link keeps only its text.
        "Congress already has the tools: Section 907 of the FREEDOM Support Act"
        " (https://www.congress.gov/bill/102nd-congress/senate-bill/2532) bars most aid to Baku,"
        " and the waiver is the loophole. See https://anca.org and our earlier piece.",
        "What Washington can do now",
        "1) Stop the waiver.",
        "2) Sanction the officials who ordered the blockade.",
        "Freeze their assets.",
        "Ban their travel.",
        '"The world is watching," said one resident of Stepanakert.',
    ]
    assert md_article.warnings == ['dropped page boilerplate "Share this:"']


def test_markdown_front_matter_and_numbering() -> None:
    art = parse_text(
        '---\ntitle: "From the front matter"\nauthor: Ani Hovhannisyan\n---\n\n'
        "Intro text.\n\n1. First.\n2. Second, with `code`.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
        kind="md",
    )
    assert art.title == "From the front matter"
    assert art.byline == "By Ani Hovhannisyan"
    # A table row reads as a line, each cell named by its column's heading.
    assert art.paragraphs == ["Intro text.", "1. First.", "2. Second, with code.", "a: 1; b: 2"]


def test_markdown_nested_lists_and_html() -> None:
    art = parse_text(
        "# T\n\n3) Third item\n   - nested *point*\n4) Fourth item.\n\n"
        "<div>Raw <b>html</b>.</div>\n",
        kind="md",
    )
    assert art.paragraphs == ["3) Third item", "nested point", "4) Fourth item.", "Raw html."]


def test_markdown_script_and_style_never_reach_a_post() -> None:
    art = parse_text(
        "# T\n\nRead this <script>alert(1)</script>now, <style>p {}</style>please.\n\n"
        "<script>\nalert(2)\n</script>\n\nAnd <script>never closed\n",
        kind="md",
    )
    assert art.paragraphs == ["Read this now, please.", "And"]
    assert "alert" not in " ".join(art.paragraphs)


def test_markdown_other_inline_html_is_rendered_as_text() -> None:
    art = parse_text(
        "# T\n\nA <span class='x'>styled</span> word, a <b>bold</b> one,<br>a new line,"
        ' <a href="https://anca.org/act">a link</a> and <img src="m.png" alt="a map">.\n',
        kind="md",
    )
    assert art.paragraphs == [
        "A styled word, a bold one, a new line, a link (https://anca.org/act) and [a map]."
    ]


def test_markdown_images_leave_their_alt_text_or_nothing_but_never_a_hole() -> None:
    art = parse_text(
        "# T\n\nSee the map ![Map of the corridor](map.png) and ![](empty.png).\n\n"
        "Before ![](a.png) after, (![](b.png)) and ![ ](c.png): done.\n\n"
        "![A figure on its own](figure.png)\n\nThe end.\n",
        kind="md",
    )
    assert art.paragraphs == [
        "See the map [Map of the corridor] and.",
        "Before after, and: done.",
        "The end.",
    ]


def test_markdown_footnotes_read_as_numbered_notes_after_the_body() -> None:
    art = parse_text(
        "# T\n\nA claim[^src] and another[^1], the first again[^src].\n\n"
        "[^1]: Second source,\n    continued on an indented line.\n"
        "[^src]: The *first* source, at [the archive](https://example.org/a).\n"
        "[^unused]: Nobody refers to this.\n\n"
        "A dangling one[^missing].\n\nShare this:\n",
        kind="md",
    )
    assert art.paragraphs == [
        "A claim[1] and another[2], the first again[1].",
        "A dangling one.",
        "[1] The first source, at the archive (https://example.org/a).",
        "[2] Second source, continued on an indented line.",
    ]
    assert art.warnings == [
        "dropped footnote reference [^missing], which has no definition",
        "dropped footnote [^unused], which the text never refers to",
        'dropped page boilerplate "Share this:"',
    ]


def test_markdown_footnote_lookalikes_inside_code_are_not_footnotes() -> None:
    art = parse_text("# T\n\nText.\n\n```\n[^1]: not a note\n```\n\nMore.\n", kind="md")
    assert art.paragraphs == ["Text.", "More."]


def test_markdown_table_rows_read_as_lines() -> None:
    art = parse_text(
        "# T\n\n| Year | Event |\n|------|-------|\n| 1991 | Independence *declared* |\n"
        "| 2023 |  |\n\n| Only | Headings |\n|---|---|\n",
        kind="md",
    )
    assert art.paragraphs == [
        "Year: 1991; Event: Independence declared",
        "Year: 2023",
        "Only; Headings",
    ]


def test_markdown_code_blocks_are_dropped_with_a_warning() -> None:
    art = parse_text(
        '# T\n\nBefore.\n\n```python\nprint("hello")\nx = 1\n```\n\n    indented code\n\nAfter.\n',
        kind="md",
    )
    assert art.paragraphs == ["Before.", "After."]
    assert art.warnings == [
        "dropped a code block of 2 lines starting 'print(\"hello\")': code is not posted",
        "dropped a code block of 1 line starting 'indented code': code is not posted",
    ]


# --------------------------------------------------------------------------- HTML

CHROME = (
    "News",
    "Opinion",
    "About us",
    "Donate",
    "Share on",
    "Great piece",
    "Congress never listens",
    "thoughts on",
    "Comments are closed",
    "Related posts",
    "Another article",
    "All rights reserved",
    "Privacy policy",
    "window.dataLayer",
    "font-family",
)


def assert_no_chrome(art: Article) -> None:
    text = "\n".join(art.paragraphs)
    for chrome in CHROME:
        assert chrome not in text, chrome


EXPECTED_HTML_BODY = [
    "For nine months the only road linking Artsakh to Armenia has been closed, and the 120,000"
    " people who live there have watched their shelves empty one by one.",
    "Congress has already written the tools it needs into law. Section 907 of the FREEDOM"
    " Support Act (https://www.congress.gov/bill/102nd-congress/senate-bill/2532) bars most"
    " direct aid to Baku until the blockade ends, yet every administration since 2002 has"
    " waived it.",
    "What Washington can do now",
    "The first step is simple: stop the waiver. The second is to name the officials who ordered"
    " the blockade and freeze their assets under the Global Magnitsky Act.",
    "Neither step costs the American taxpayer a single dollar, and both would tell Baku that"
    " the world is watching.",
]


def test_html_page() -> None:
    art = read_article(DATA / "op-ed.html")
    assert art.title == "Sanctions Are Not Enough"
    assert art.byline == "By Nairi Petrosyan"
    assert art.paragraphs == EXPECTED_HTML_BODY
    assert art.warnings == []
    assert_no_chrome(art)


@pytest.mark.parametrize("failure", ["none", "raises"])
def test_html_fallback_when_extractor_finds_nothing(
    monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    import trafilatura

    def extract(*args: object, **kwargs: object) -> str | None:
        if failure == "raises":
            raise RuntimeError("parser crashed")
        return None

    monkeypatch.setattr(trafilatura, "extract", extract)
    art = read_article(DATA / "op-ed.html")
    assert art.title == "Sanctions Are Not Enough"
    assert art.byline == "By Nairi Petrosyan"
    assert art.paragraphs == EXPECTED_HTML_BODY
    assert art.warnings == [
        "the article extractor found no article body, so a simple text extraction was used"
        " (it may include page clutter)"
    ]
    assert_no_chrome(art)


def test_html_via_parse_text() -> None:
    html = (DATA / "op-ed.html").read_text(encoding="utf-8")
    assert parse_text(html, kind="html").paragraphs == EXPECTED_HTML_BODY


JS_ONLY = (
    "<!doctype html><html><head><title>App</title><script src='/app.js'></script></head>"
    "<body><noscript>You need to enable JavaScript to run this app.</noscript>"
    "<div id='root'></div></body></html>"
)


def test_a_javascript_only_page_is_no_article(tmp_path: Path) -> None:
    path = tmp_path / "app.html"
    path.write_text(JS_ONLY)
    with pytest.raises(ArticleError) as e:
        read_article(path)
    assert message(e) == f"no article text found in {path}: the page needs JavaScript to show it"


SHORT_PAGE = """<!doctype html><html><head><title>Short Piece | Site</title>{head}</head>
<body><article>
<h1>A Short Piece</h1>
<div class="byline">By Ani Hovhannisyan</div>
<p>The road has been closed for nine months, as <a href="report.html">the report</a> shows.</p>
<p>Read <a href="/about">more about us</a> and <a href="#top">go up</a>, please.</p>
</article></body></html>"""


@pytest.mark.parametrize(
    ("head", "report"),
    [
        (
            '<meta property="og:url" content="https://site.example/2023/short-piece">',
            "https://site.example/2023/report.html",
        ),
        (
            '<link rel="canonical" href="https://site.example/2023/short-piece">',
            "https://site.example/2023/report.html",
        ),
        (
            '<base href="/news/"><meta property="og:url" content="https://site.example/a/b">',
            "https://site.example/news/report.html",
        ),
    ],
    ids=["og-url", "canonical", "relative-base"],
)
def test_a_short_page_keeps_its_structure_and_its_links(head: str, report: str) -> None:
    art = parse_text(SHORT_PAGE.format(head=head), kind="html")
    assert (art.title, art.byline) == ("A Short Piece", "By Ani Hovhannisyan")
    assert art.paragraphs == [
        f"The road has been closed for nine months, as the report ({report}) shows.",
        "Read more about us (https://site.example/about) and go up, please.",
    ]
    assert art.warnings == []


def test_links_in_the_extracted_body_resolve_against_base() -> None:
    page = (
        "<html><head><base href='https://example.org/news/'></head><body>"
        "<h1>A Short Piece</h1><p>By Ani Hovhannisyan</p>"
        "<p>The road has been closed for nine months, as <a href='report.html'>the report</a>"
        " shows.</p><p>Read <a href='/about'>more about us</a>.</p></body></html>"
    )
    art = parse_text(page, kind="html")
    assert art.byline == "By Ani Hovhannisyan"
    assert art.paragraphs == [
        "The road has been closed for nine months, as the report"
        " (https://example.org/news/report.html) shows.",
        "Read more about us (https://example.org/about).",
    ]


DATED_PAGE = """<!doctype html><html><head><title>The Road | Caucasus Watch</title></head><body>
<header><nav><a href="/">Home</a> <a href="/news">News</a></nav></header>
<main><article><header>
<h1>The Road Must Open</h1>
<p class="date">March 3, 2024</p>
<p>By Lilit Sargsyan, Yerevan correspondent</p></header>
<p>For nine months the only road linking Artsakh to Armenia has been closed, and the 120,000
people who live there have watched their shelves empty one by one, while the world looked
away from them.</p>
<p>Congress has already written the tools it needs into law. Section 907 bars most direct aid
to Baku until the blockade ends, yet every administration since 2002 has waived it.</p>
</article></main><footer>© 2024</footer></body></html>"""


@pytest.mark.parametrize("path", ["extractor", "fallback"])
def test_a_visible_by_line_is_the_byline_whichever_path(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    # No <meta name="author">, and the "By" line is not the first line under the title.
    if path == "fallback":
        import trafilatura

        monkeypatch.setattr(trafilatura, "extract", lambda *a, **k: None)
    art = parse_text(DATED_PAGE, kind="html")
    assert art.title == "The Road Must Open"
    assert art.byline == "By Lilit Sargsyan, Yerevan correspondent"
    assert art.paragraphs[0] == "March 3, 2024"
    assert all("Lilit" not in p for p in art.paragraphs)
    assert art.paragraphs[1].startswith("For nine months")


MOSTLY_ASCII_PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"4 0 obj << /Length 44 >> stream\nBT /F1 24 Tf 100 700 Td (Hello World) Tj ET\n"
    b"endstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (MOSTLY_ASCII_PDF, "a PDF document"),
        (b"junk before the header\n" + MOSTLY_ASCII_PDF, "a PDF document"),
        (b"%!PS-Adobe-3.0\n%%Title: flyer\n/Times-Roman findfont\n", "a PostScript document"),
        (b"{\\rtf1\\ansi\\deff0 {\\fonttbl {\\f0 Times;}} Hello.}", "an RTF document"),
        (b"PK\x03\x04\x14\x00\x06\x00word/document.xml", "a ZIP archive"),
    ],
    ids=["pdf", "pdf-after-junk", "postscript", "rtf", "docx"],
)
def test_a_document_renamed_txt_is_refused(tmp_path: Path, content: bytes, what: str) -> None:
    path = tmp_path / "article.txt"
    path.write_bytes(content)
    with pytest.raises(ArticleError) as e:
        read_article(path)
    assert message(e).startswith(f"{path} is {what}")
    assert message(e).endswith(", not an article: save its text first")


# --------------------------------------------------------------------------- invariants


def test_heavy_libraries_are_not_imported_at_module_import() -> None:
    code = (
        "import sys, posts.article\n"
        "print(sorted(m for m in ('trafilatura', 'markdown_it', 'charset_normalizer', 'lxml')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


WORDS = st.sampled_from(
    ["alpha", "Beta", "gamma.", "Delta,", "epsilon!", "Zeta:", "(eta)", "“Theta”", "42", "語",
     "日本語。", "Արցախ։", "ապրի"]
)  # fmt: skip
LINE = st.tuples(
    st.sampled_from(["", "- ", "1) ", "By ", "  "]),
    st.lists(WORDS, min_size=1, max_size=12).map(" ".join),
).map("".join)
TEXT = st.lists(st.one_of(LINE, st.just("")), min_size=1, max_size=30).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_plain_text_keeps_every_character_in_order(text: str) -> None:
    try:
        art = parse_text(text)
    except ArticleError as e:
        assert "no article text" in str(e) or "blank" in str(e)
        return
    out = "".join([*art.lead(), *art.paragraphs])
    # Byline lines are joined with ", " and lose their own trailing commas.
    assert squash(out).replace(",", "") == squash(text).replace(",", "")
    assert all(p and p == p.strip() and "  " not in p and "\n" not in p for p in art.paragraphs)


MD_LINE = st.tuples(
    st.sampled_from(["", "1) ", "2. ", "By ", "  "]),
    st.lists(WORDS, min_size=1, max_size=12).map(" ".join),
).map("".join)
MD_TEXT = st.lists(st.one_of(MD_LINE, st.just("")), min_size=1, max_size=30).map("\n".join)


@settings(max_examples=200, deadline=None)
@given(MD_TEXT)
def test_markdown_without_markup_keeps_every_character(text: str) -> None:
    try:
        art = parse_text(text, kind="md")
    except ArticleError as e:
        assert "no article text" in str(e) or "blank" in str(e)
        return
    out = "".join([*art.lead(), *art.paragraphs])
    assert squash(out).replace(",", "") == squash(text).replace(",", "")


# --------------------------------------------------------------------------- more edge cases


def test_fifo_is_not_read(tmp_path: Path) -> None:
    import os

    path = tmp_path / "pipe.txt"
    os.mkfifo(path)
    with pytest.raises(ArticleError) as e:
        read_article(path)
    assert message(e) == f"{path} is not a regular file"


def test_html_fallback_without_article_element(monkeypatch: pytest.MonkeyPatch) -> None:
    import trafilatura

    monkeypatch.setattr(trafilatura, "extract", lambda *a, **k: None)
    html = (
        '<html><head><title>Page title</title></head><body class="has-sidebar">'
        '<nav><a href="/">Home</a></nav><div class="menu-main">Menu</div>'
        "<h2>A heading</h2><p>The body text, with <a href='https://example.org/x'>a link</a>."
        "<br>After a break.</p><ul><li>One item.</li></ul>"
        '<div id="comments"><p>Nice post!</p></div><footer>Footer</footer></body></html>'
    )
    art = parse_text(html, kind="html")
    assert art.title == "Page title"
    assert art.paragraphs == [
        "A heading",
        "The body text, with a link (https://example.org/x).",
        "After a break.",
        "One item.",
    ]


def test_markdown_heading_is_never_a_byline_and_images_leave_nothing() -> None:
    art = parse_text("![banner](b.png)\n\n# Real Title\n\n## By The Numbers\n\nText.\n", kind="md")
    assert (art.title, art.byline, art.paragraphs) == (
        "Real Title",
        None,
        ["By The Numbers", "Text."],
    )


@pytest.mark.parametrize(
    ("text", "kind"), [("One line only.\n", "txt"), ("# One line only.\n", "md")]
)
def test_a_lone_line_is_body_not_title(text: str, kind: str) -> None:
    art = parse_text(text, kind=kind)
    assert (art.title, art.byline, art.paragraphs, art.warnings) == (
        None,
        None,
        ["One line only."],
        [],
    )


def test_read_article_fingerprints_the_bytes_it_read(tmp_path: Path) -> None:
    import hashlib

    cp1252 = tmp_path / "cafe.txt"
    cp1252.write_bytes("Le café est très bon. Le garçon arrive.\n".encode("cp1252"))
    for path in (EXAMPLE, cp1252):
        assert read_article(path).source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert parse_text("Some text.").source_sha256 == ""
