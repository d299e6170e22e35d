"""scheduler.campaign_file: a campaign as TOML to review and apply, CSV and ICS to look at.

Through the public functions only. A mistake in a file is asserted as the exact sentence,
line number included; the ICS output is read back by the small RFC 5545 reader below.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.campaign_file import (
    CSV_COLUMNS,
    CampaignFile,
    FilePost,
    read_toml,
    write_csv,
    write_ics,
    write_toml,
)
from scheduler.errors import BadInput
from scheduler.model import CampaignSettings, Platform, Status

WHERE = "campaign.toml"
STAMP = datetime(2026, 11, 30, 9, 15, 30, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def op_ed(*posts: FilePost, tz: str = "Asia/Yerevan") -> CampaignFile:
    return CampaignFile(
        name="artsakh-op-ed",
        settings=CampaignSettings(
            tags=("#Artsakh", "#Armenia"),
            link="https://example.am/op-ed",
            thread=True,
            numbering=False,
            tags_on="all",
            tz=tz,
        ),
        source="examples/artsakh-op-ed.txt",
        posts=posts,
    )


def x_post(
    seq: int,
    text: str = "",
    *,
    at: datetime | None = None,
    account: str = "default",
    id: int | None = None,
    status: Status | None = None,
    url: str | None = None,
) -> FilePost:
    """An X post a minute after the one before it, from 10:00 UTC (14:00 in Yerevan)."""
    return FilePost(
        platform=Platform.X,
        seq=seq,
        at=at or utc(2026, 12, 1, 10, seq - 1),
        text=text or f"{seq}/3 post number {seq}",
        account=account,
        id=id,
        status=status,
        url=url,
    )


def read(text: str) -> CampaignFile:
    return read_toml(text, WHERE)


def refusal(text: str) -> str:
    with pytest.raises(BadInput) as err:
        read(text)
    message = str(err.value)
    assert "\n" not in message
    return message


# The file the error table below counts lines in, toml(CAMPAIGN, entry(1), entry(2)):
#  1 [campaign]          6 platform = "x"       11 [[posts]]
#  2 name = "op-ed"      7 seq = 1              12 platform = "x"
#  3 tz = "Asia/Yerevan" 8 at = ...             13 seq = 2
#  4                     9 text = "post 1"      14 at = ...
#  5 [[posts]]          10 (an extra line)      15 text = "post 2"
CAMPAIGN = ("[campaign]", 'name = "op-ed"', 'tz = "Asia/Yerevan"')


def entry(number: int = 1, *extra: str, **values: str | None) -> list[str]:
    """A [[posts]] entry: platform, seq, at and text on the four lines after its header, a
    keyword replacing one's TOML value in place (None leaves it out), then `extra` lines."""
    lines: dict[str, str | None] = {
        "platform": '"x"',
        "seq": str(number),
        "at": f"2026-12-01T14:0{number}:00+04:00",
        "text": f'"post {number}"',
    }
    lines.update(values)
    return ["[[posts]]", *(f"{k} = {v}" for k, v in lines.items() if v is not None), *extra]


def toml(*sections: Sequence[str]) -> str:
    return "\n\n".join("\n".join(section) for section in sections) + "\n"


# --- writing ----------------------------------------------------------------------------------


def test_the_file_is_laid_out_for_review() -> None:
    campaign = op_ed(
        x_post(1, "1/2 first line\nsecond line", id=12, status=Status.PUBLISHED, url="https://x.com/i/1"),
        FilePost(Platform.BLUESKY, 1, utc(2026, 12, 1, 10, 30), "one line", account="work"),
    )  # fmt: skip
    assert write_toml(campaign, header="Exported by campaign export\nfrom the queue") == (
        "# Exported by campaign export\n"
        "# from the queue\n"
        "# Edit texts and times, then `campaign apply FILE`; a time without an offset is in tz.\n"
        "# Posts are matched by id, else by platform, account and seq; id, status and url are\n"
        "# read-only.\n"
        "\n"
        "[campaign]\n"
        'name = "artsakh-op-ed"\n'
        'tz = "Asia/Yerevan"\n'
        'source = "examples/artsakh-op-ed.txt"\n'
        'tags = ["#Artsakh", "#Armenia"]\n'
        'link = "https://example.am/op-ed"\n'
        "thread = true\n"
        "numbering = false\n"
        'tags_on = "all"\n'
        "\n"
        "[[posts]]\n"
        'platform = "x"\n'
        "seq = 1\n"
        "at = 2026-12-01T14:00:00+04:00\n"
        "id = 12\n"
        'status = "published"\n'
        'url = "https://x.com/i/1"\n'
        'text = """\n'
        "1/2 first line\n"
        'second line"""\n'
        "\n"
        "[[posts]]\n"
        'platform = "bluesky"\n'
        "seq = 1\n"
        "at = 2026-12-01T14:30:00+04:00\n"
        'account = "work"\n'
        'text = "one line"\n'
    )


def test_link_and_numbering_are_left_out_when_unset() -> None:
    campaign = CampaignFile(name="c", settings=CampaignSettings())
    written = write_toml(campaign)
    assert "link" not in written and "numbering" not in written
    assert read(written) == campaign


def test_an_ordinary_text_stays_readable() -> None:
    text = 'He said "enough" — 🙂\tthen left.\nC:\\path is a path'
    written = write_toml(op_ed(x_post(1, text)))
    assert 'text = """\nHe said "enough" — 🙂\tthen left.\nC:\\\\path is a path"""\n' in written


def test_quotes_that_would_close_the_string_are_escaped() -> None:
    written = write_toml(op_ed(x_post(1, 'a """quoted""" b\nends with "')))
    assert 'text = """\na ""\\"quoted""\\" b\nends with \\""""\n' in written


def test_control_characters_are_escaped_and_a_text_with_only_cr_is_one_line() -> None:
    written = write_toml(op_ed(x_post(1, "bell\x07 esc\x1b cr\r del\x7f")))
    assert 'text = "bell\\u0007 esc\\u001B cr\\r del\\u007F"\n' in written


def test_times_are_written_in_the_campaign_zone_with_that_instants_offset() -> None:
    campaign = op_ed(
        x_post(1, at=utc(2027, 3, 14, 13)),  # EDT
        x_post(2, at=utc(2027, 11, 7, 6, 30)),  # the second 01:30 that night, EST
        tz="America/New_York",
    )
    written = write_toml(campaign)
    assert "at = 2027-03-14T09:00:00-04:00\n" in written
    assert "at = 2027-11-07T01:30:00-05:00\n" in written
    assert read(written) == campaign


def test_a_fraction_of_a_second_is_not_written() -> None:
    written = write_toml(op_ed(x_post(1, at=datetime(2026, 12, 1, 10, 0, 5, 999_999, UTC))))
    assert "at = 2026-12-01T14:00:05+04:00\n" in written


def test_an_offset_toml_cannot_write_falls_back_to_utc() -> None:
    # Monrovia kept local mean time, -00:44:30, until 1972.
    campaign = op_ed(x_post(1, at=utc(1971, 6, 1, 12)), tz="Africa/Monrovia")
    assert "at = 1971-06-01T12:00:00Z\n" in write_toml(campaign)
    assert read(write_toml(campaign)) == campaign


def test_a_header_cannot_break_the_file() -> None:
    written = write_toml(op_ed(), header="line one\r\nline\x00two\n\nend")
    assert written.startswith("# line one\n# line\N{REPLACEMENT CHARACTER}two\n#\n# end\n")
    assert read(written) == op_ed()


# --- the round trip ---------------------------------------------------------------------------


def test_everything_written_reads_back_equal_read_only_fields_included() -> None:
    campaign = op_ed(
        x_post(1, id=12, status=Status.PUBLISHED, url="https://x.com/i/status/1"),
        x_post(2, id=13, status=Status.CANCELLED),
        x_post(3, id=14, status=Status.QUEUED, account="second"),
        FilePost(Platform.BLUESKY, 1, utc(2026, 12, 1, 11), "sky", id=15, status=Status.FAILED),
    )
    assert read(write_toml(campaign)) == campaign
    assert [post.line for post in read(write_toml(campaign)).posts] == [15, 24, 32, 41]


# Pieces that tempt an emitter to get strings wrong, mixed into arbitrary unicode.
TRICKY = st.sampled_from(
    ['"', '""', '"""', "'''", "\\", "\\n", "\r", "\r\n", "\n", "\t", "\x00", "\x1b", "\x7f",
     "\x85", "\u2028", "\ufeff", "😀", "👨‍👩‍👧", "#", "[[posts]]\nseq = 1", "text = \"x\""]
)  # fmt: skip
TEXTS = (
    st.lists(st.one_of(st.text(), TRICKY), min_size=1, max_size=12)
    .map("".join)
    .filter(lambda text: bool(text.strip()))
)


@given(texts=st.lists(TEXTS, min_size=1, max_size=4))
def test_any_text_comes_back_exactly(texts: list[str]) -> None:
    campaign = op_ed(*(x_post(seq, text) for seq, text in enumerate(texts, start=1)))
    written = write_toml(campaign)
    parsed = tomllib.loads(written)  # what any TOML reader sees, not only ours
    assert [entry["text"] for entry in parsed["posts"]] == texts
    back = read(written)
    assert back == campaign
    # Each header found where it is, whatever the texts before it look like.
    headers, line = [], 15
    for text in texts:
        headers.append(line)
        line += 4 + (text.count("\n") + 2 if "\n" in text else 1) + 1
    assert [post.line for post in back.posts] == headers


@given(texts=st.lists(TEXTS, min_size=1, max_size=4), data=st.data())
def test_a_key_added_to_any_entry_is_found_on_its_line(
    texts: list[str], data: st.DataObject
) -> None:
    campaign = op_ed(*(x_post(seq, text) for seq, text in enumerate(texts, start=1)))
    lines = write_toml(campaign).split("\n")
    header = read("\n".join(lines)).posts[data.draw(st.integers(0, len(texts) - 1))].line
    assert lines[header - 1] == "[[posts]]"
    lines.insert(header, "bogus = 1")  # becomes line header + 1
    message = f"{WHERE} line {header + 1}: unknown key 'bogus' in [[posts]] {KNOWN_POST}"
    assert refusal("\n".join(lines)) == message


ZONES = st.sampled_from(
    # Kathmandu +05:45; Lord Howe moves by 30 min; Monrovia was -00:44:30 until 1972.
    ["UTC", "Asia/Yerevan", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe",
     "Africa/Monrovia"]
)  # fmt: skip
INSTANTS = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30), timezones=st.just(UTC)
).map(lambda at: at.replace(microsecond=0))
NAMES = (
    st.text(min_size=1, max_size=200).map(str.strip).filter(lambda n: n != "" and n.isprintable())
)


@given(
    name=NAMES,
    zone=ZONES,
    strings=st.lists(st.text(), min_size=4, max_size=4),
    numbering=st.sampled_from([None, True, False]),
    instants=st.lists(INSTANTS, min_size=1, max_size=3),
)
def test_any_campaign_comes_back_equal(
    name: str, zone: str, strings: list[str], numbering: bool | None, instants: list[datetime]
) -> None:
    source, link, url, tag = strings
    campaign = CampaignFile(
        name=name,
        settings=CampaignSettings(
            tags=(tag, "#two"), link=link, thread=False, numbering=numbering, tags_on="last",
            tz=zone,
        ),
        source=source,
        posts=tuple(
            FilePost(Platform.BLUESKY, seq, at, "text", account=f"{tag}!", id=seq, url=url)
            for seq, at in enumerate(instants, start=1)
        ),
    )  # fmt: skip
    assert read(write_toml(campaign)) == campaign


# --- reading what people wrote ----------------------------------------------------------------


def test_a_hand_edited_file_reads() -> None:
    edited = (
        "# reviewed by ani\r\n"
        "[campaign]\r\n"
        "tz = 'Asia/Yerevan'   # literal string\r\n"
        "name = 'op-ed'\r\n"
        "tags = [\r\n"
        "  '#Artsakh',  # one a line\r\n"
        '  "#Armenia",\r\n'
        "]\r\n"
        "\r\n"
        "[[posts]]\r\n"
        "text = '''\r\n"
        'a literal "text"\r\n'
        "with C:\\no\\escapes'''\r\n"
        "at = 2026-12-01T14:00:00  # local: in tz\r\n"
        '"seq" = 2\r\n'
        "platform = 'Bluesky'\r\n"
        "\r\n"
        "[[posts]]\r\n"
        'platform = "x"\r\n'
        "seq = 1\r\n"
        "at = 2026-12-01 10:00:00Z\r\n"
        'text = "plain"\r\n'
    )
    campaign = read(edited)
    assert campaign.name == "op-ed"
    assert campaign.settings == CampaignSettings(tags=("#Artsakh", "#Armenia"), tz="Asia/Yerevan")
    assert campaign.source == ""
    first, second = campaign.posts  # in file order, not by seq
    assert first == FilePost(
        Platform.BLUESKY, 2, utc(2026, 12, 1, 10), 'a literal "text"\nwith C:\\no\\escapes'
    )
    assert (first.line, second.line) == (10, 18)
    assert second == FilePost(Platform.X, 1, utc(2026, 12, 1, 10), "plain")


def test_a_campaign_without_posts_or_tz_is_in_utc() -> None:
    assert read('[campaign]\nname = "c"\n') == CampaignFile("c", CampaignSettings(tz="UTC"))


def test_a_local_time_in_a_repeated_hour_means_the_first() -> None:
    # New York falls back 2027-11-07 02:00 EDT -> 01:00 EST: 01:30 happens twice.
    text = toml(
        ["[campaign]", 'name = "c"', 'tz = "America/New_York"'], entry(1, at="2027-11-07T01:30:00")
    )
    assert read(text).posts[0].at == utc(2027, 11, 7, 5, 30)  # 01:30 EDT


def test_a_local_time_in_a_skipped_hour_is_pushed_forward_as_queue_does() -> None:
    # London springs forward 2027-03-28 01:00 -> 02:00: 01:30 is 02:30 BST.
    text = toml(
        ["[campaign]", 'name = "c"', 'tz = "Europe/London"'], entry(1, at="2027-03-28T01:30:00")
    )
    assert read(text).posts[0].at == utc(2027, 3, 28, 1, 30)


def test_a_fraction_of_a_second_is_dropped_on_reading() -> None:
    text = toml(CAMPAIGN, entry(1, at="2026-12-01T14:00:00.999+04:00"))
    assert read(text).posts[0].at == utc(2026, 12, 1, 10)
    local = toml(CAMPAIGN, entry(1, at="2026-12-01T14:00:00.999"))
    assert read(local).posts[0].at == utc(2026, 12, 1, 10)


def test_the_same_seq_on_another_account_is_another_post() -> None:
    text = toml(CAMPAIGN, entry(1), entry(1, 'account = "work"'))
    assert [post.account for post in read(text).posts] == ["default", "work"]


KNOWN_POST = "(known: platform, seq, at, text, account, id, status, url, images)"
KNOWN_CAMPAIGN = (
    "(known: name, tz, source, tags, link, thread, numbering, tags_on, langs, labels, card, "
    "content_warning)"
)
AT_HINT = "at must be a date and time such as 2026-12-01T14:00:00+04:00"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            toml(CAMPAIGN, entry(1, 'texts = "x"')),
            f"campaign.toml line 10: unknown key 'texts' in [[posts]] {KNOWN_POST}",
            id="unknown post key",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1), entry(2, "'texts' = 1")),
            f"campaign.toml line 16: unknown key 'texts' in [[posts]] {KNOWN_POST}",
            id="unknown literal-quoted key in the second entry",
        ),
        pytest.param(
            toml([*CAMPAIGN, "hashtags = []"]),
            f"campaign.toml line 4: unknown key 'hashtags' in [campaign] {KNOWN_CAMPAIGN}",
            id="unknown campaign key",
        ),
        pytest.param(
            toml(CAMPAIGN, ["[campaign.extra]", "a = 1"]),
            f"campaign.toml line 5: unknown key 'extra' in [campaign] {KNOWN_CAMPAIGN}",
            id="a table inside [campaign]",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, "[posts.meta]", "a = 1")),
            f"campaign.toml line 10: unknown key 'meta' in [[posts]] {KNOWN_POST}",
            id="a table inside a post",
        ),
        pytest.param(
            toml(CAMPAIGN, ["[post]", "seq = 1"]),
            "campaign.toml line 5: unknown table [post] (known: [campaign], [[posts]])",
            id="unknown table",
        ),
        pytest.param(
            toml(['name = "op-ed"'], CAMPAIGN),
            "campaign.toml line 1: unknown key 'name' (known: [campaign], [[posts]])",
            id="a key outside any table",
        ),
        pytest.param(
            toml(["posts = 3"], CAMPAIGN),
            "campaign.toml line 1: posts must be [[posts]] tables, one for each post",
            id="posts not an array of tables",
        ),
        pytest.param(
            toml(["[[campaign]]", 'name = "c"']),
            "campaign.toml line 1: campaign must be a table: [campaign]",
            id="campaign an array",
        ),
        pytest.param(
            toml(entry(1)), "campaign.toml: there is no [campaign] table", id="no campaign table"
        ),
        pytest.param(
            toml(["[campaign]", 'tz = "UTC"']),
            "campaign.toml line 1: the [campaign] table has no name",
            id="no name",
        ),
        pytest.param(
            toml(["[campaign]", 'name = "  "']),
            "campaign.toml line 2: the campaign name is empty",
            id="blank name",
        ),
        pytest.param(
            toml(["[campaign]", "name = 7"]),
            "campaign.toml line 2: name must be a string in quotes",
            id="name",
        ),
        pytest.param(
            toml(["[campaign]", 'name = "c"', 'tz = "Mars/Base"']),
            "campaign.toml line 3: unknown time zone 'Mars/Base': use an IANA name such as "
            "Asia/Yerevan",
            id="unknown zone",
        ),
        pytest.param(
            toml(["[campaign]", 'name = "c"', 'tz = ""']),
            "campaign.toml line 3: the campaign's time zone (tz) is empty: use an IANA name "
            "such as UTC",
            id="blank zone",
        ),
        pytest.param(
            toml([*CAMPAIGN, 'tags = "#Artsakh"']),
            'campaign.toml line 4: tags must be a list of strings such as ["#Artsakh"]',
            id="tags a string",
        ),
        pytest.param(
            toml([*CAMPAIGN, "tags = [", '  "#a",', "  1,", "]"]),
            'campaign.toml line 4: tags must be a list of strings such as ["#Artsakh"]',
            id="tags with a number",
        ),
        pytest.param(
            toml([*CAMPAIGN, 'tags_on = "middle"']),
            "campaign.toml line 4: tags_on must be all, first or last",
            id="tags_on",
        ),
        pytest.param(
            toml([*CAMPAIGN, 'thread = "yes"']),
            "campaign.toml line 4: thread must be true or false",
            id="thread",
        ),
        pytest.param(
            toml([*CAMPAIGN, "numbering = 1"]),
            "campaign.toml line 4: numbering must be true or false",
            id="numbering",
        ),
        pytest.param(
            toml([*CAMPAIGN, "link = false"]),
            "campaign.toml line 4: link must be a string in quotes",
            id="link",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, text=None)),
            "campaign.toml line 5: this [[posts]] entry has no text",
            id="no text",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1), entry(2, platform=None, seq=None, at=None)),
            "campaign.toml line 11: this [[posts]] entry has no platform, seq or at",
            id="no platform, seq or at",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, seq='"1"')),
            "campaign.toml line 7: seq must be a whole number",
            id="seq a string",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(0)), "campaign.toml line 7: seq must be 1 or more", id="seq zero"
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, seq="true")),
            "campaign.toml line 7: seq must be a whole number",
            id="seq a boolean",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, platform='"threads"')),
            "campaign.toml line 6: unknown platform 'threads': choose x, bluesky or mastodon",
            id="unknown platform",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1), entry(1)),
            "campaign.toml line 13: two x posts have seq 1 (the first at line 5)",
            id="duplicate seq",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, 'account = "w"'), entry(1, 'account = "w"')),
            "campaign.toml line 14: two x (w) posts have seq 1 (the first at line 5)",
            id="duplicate seq on an account",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, "id = 7"), entry(2, "id = 7")),
            "campaign.toml line 17: two posts have id 7 (the first at line 5)",
            id="duplicate id",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, "id = -7")),
            "campaign.toml line 10: id must be 1 or more",
            id="id",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, text='"""\n \t\n"""')),
            "campaign.toml line 9: the text is empty",
            id="blank text",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, text="5")),
            "campaign.toml line 9: text must be a string in quotes",
            id="text a number",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, 'account = ""')),
            "campaign.toml line 10: the account is empty (leave it out for default)",
            id="blank account",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, 'status = "sent"')),
            "campaign.toml line 10: unknown status 'sent' (known: queued, publishing, published, "
            "failed, cancelled, held)",
            id="unknown status",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, "url = 1")),
            "campaign.toml line 10: url must be a string in quotes",
            id="url",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, at="2026-12-01")),
            f"campaign.toml line 8: {AT_HINT}",
            id="a date only",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, at="14:00:00")),
            f"campaign.toml line 8: {AT_HINT}",
            id="a time only",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, at='"2026-12-01T14:00:00+04:00"')),
            f"campaign.toml line 8: {AT_HINT}",
            id="a string",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, at="0001-01-01T00:00:00")),
            "campaign.toml line 8: at must fall between the years 1970 and 9998",
            id="year 1",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, at="1970-01-01T02:00:00")),
            "campaign.toml line 8: at must fall between the years 1970 and 9998",
            id="1969 in UTC",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, seq="")),
            "campaign.toml line 7: invalid value at column 7",
            id="not TOML",
        ),
        pytest.param(
            toml(CAMPAIGN, entry(1, "seq = 2")),
            "campaign.toml line 10: cannot overwrite a value at column 8",
            id="a key twice",
        ),
        pytest.param(
            toml(CAMPAIGN, ["[[posts]]", 'text = """never closed']),
            "campaign.toml: unterminated string at the end of the file",
            id="unterminated string",
        ),
    ],
)
def test_a_mistake_is_one_sentence_with_its_line(text: str, message: str) -> None:
    assert refusal(text) == message


def test_lines_inside_a_text_are_not_taken_for_keys() -> None:
    # The text's own lines look like a table and keys; the real mistake comes after it.
    text = toml(
        CAMPAIGN,
        entry(1, "x = 1", text='"""\n[[posts]]\nseq = "x"\ntexts = """'),
    )
    assert refusal(text) == f"{WHERE} line 13: unknown key 'x' in [[posts]] {KNOWN_POST}"


def test_an_array_across_lines_is_stepped_over() -> None:
    tags = ["tags = [", '  "[[posts]]",  # a comment', '  """', "texts = 1", '""",', "]"]
    text = toml([*CAMPAIGN, *tags, "hashtag = 1"])
    assert refusal(text) == f"{WHERE} line 10: unknown key 'hashtag' in [campaign] {KNOWN_CAMPAIGN}"


def test_a_quoted_key_with_escapes_is_found() -> None:
    text = toml(CAMPAIGN, entry(1, '"t\\u0065xts" = 1'))
    assert refusal(text) == f"{WHERE} line 10: unknown key 'texts' in [[posts]] {KNOWN_POST}"


def test_a_dotted_key_is_found() -> None:
    text = toml(CAMPAIGN, entry(1, "text2.part = 1"))
    assert refusal(text) == f"{WHERE} line 10: unknown key 'text2' in [[posts]] {KNOWN_POST}"


# --- CSV --------------------------------------------------------------------------------------


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_csv_has_a_header_row_and_a_row_a_post() -> None:
    campaign = op_ed(
        x_post(1, "one\nline two, with a comma", id=12, status=Status.PUBLISHED, url="https://x.com/1"),
        x_post(2, 'say "hi"', account="work"),
    )  # fmt: skip
    written = write_csv(campaign)
    assert written.endswith("\r\n")
    assert csv_rows(written) == [
        list(CSV_COLUMNS),
        ["12", "x", "default", "1", "2026-12-01T14:00:00+04:00", "published", "https://x.com/1",
         "one\nline two, with a comma"],
        ["", "x", "work", "2", "2026-12-01T14:01:00+04:00", "", "", 'say "hi"'],
    ]  # fmt: skip


@given(texts=st.lists(TEXTS, min_size=1, max_size=4))
def test_csv_gives_back_every_text(texts: list[str]) -> None:
    campaign = op_ed(*(x_post(seq, text) for seq, text in enumerate(texts, start=1)))
    assert [row[-1] for row in csv_rows(write_csv(campaign))[1:]] == texts


# --- ICS --------------------------------------------------------------------------------------


def physical_lines(ics: str) -> list[str]:
    """The lines as written: each ends in CRLF and is at most 75 octets (RFC 5545 §3.1)."""
    assert ics.endswith("\r\n")
    lines = ics[:-2].split("\r\n")
    assert all("\n" not in line and "\r" not in line for line in lines)
    assert all(len(line.encode("utf-8")) <= 75 for line in lines)
    return lines


def unfold(ics: str) -> list[str]:
    """Content lines: a line starting with a space or tab continues the previous one."""
    unfolded: list[str] = []
    for line in physical_lines(ics):
        if line[:1] in (" ", "\t"):
            unfolded[-1] += line[1:]
        else:
            unfolded.append(line)
    return unfolded


TEXT_ESCAPES = {"\\\\": "\\", "\\;": ";", "\\,": ",", "\\n": "\n", "\\N": "\n"}


def unescape(value: str) -> str:
    """RFC 5545 §3.3.11 TEXT back to the text, refusing what TEXT cannot hold."""
    out = []
    for unit in re.findall(r"\\.?|.", value, re.S):
        if unit.startswith("\\"):
            assert unit in TEXT_ESCAPES, f"invalid escape {unit!r}"
            out.append(TEXT_ESCAPES[unit])
        else:
            assert unit not in ";,", "a ; or , in TEXT must be escaped"
            out.append(unit)
    return "".join(out)


def events(ics: str) -> list[dict[str, str]]:
    """Each VEVENT's properties (no parameters are written, so NAME:VALUE)."""
    found: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in unfold(ics):
        name, _, value = line.partition(":")
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT":
            assert current is not None
            found.append(current)
            current = None
        elif current is not None:
            assert name not in current
            current[name] = value
    return found


def test_a_calendar_with_an_event_a_post() -> None:
    campaign = op_ed(
        x_post(1, "first; then, second\nline \\ end", id=12, status=Status.PUBLISHED, url="https://x.com/1"),
        x_post(2, status=Status.CANCELLED),
        FilePost(Platform.BLUESKY, 1, utc(2026, 12, 1, 11), "sky", account="work"),
    )  # fmt: skip
    ics = write_ics(campaign, STAMP)
    lines = unfold(ics)
    assert lines[:4] == [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//campaign//EN",
        "CALSCALE:GREGORIAN",
    ]
    assert lines[-1] == "END:VCALENDAR"
    first, second, sky = events(ics)
    assert first == {
        "UID": "post-12@campaign",
        "DTSTAMP": "20261130T091530Z",
        "DTSTART": "20261201T100000Z",
        "DURATION": "PT5M",
        "SUMMARY": "x 1/2 · artsakh-op-ed",
        "DESCRIPTION": "first\\; then\\, second\\nline \\\\ end",
        "URL": "https://x.com/1",
        "STATUS": "CONFIRMED",
    }
    assert unescape(first["DESCRIPTION"]) == "first; then, second\nline \\ end"
    assert second["UID"] == "artsakh-op-ed-x-default-2@campaign"
    assert second["STATUS"] == "CANCELLED"
    assert "URL" not in second
    assert sky["UID"] == "artsakh-op-ed-bluesky-work-1@campaign"
    assert sky["SUMMARY"] == "bluesky (work) 1/1 · artsakh-op-ed"


def test_the_uid_of_a_post_without_id_is_stable_and_safe() -> None:
    campaign = CampaignFile("Op-ed, 2026; draft", CampaignSettings(), posts=(x_post(3),))
    uids = {events(write_ics(campaign, STAMP))[0]["UID"] for _ in range(2)}
    assert uids == {"Op-ed-2026-draft-x-default-3@campaign"}


def test_long_lines_fold_at_75_octets() -> None:
    ics = write_ics(op_ed(x_post(1, "a" * 200)), STAMP)
    description = [line for line in physical_lines(ics) if line.startswith(("DESCRIPTION", " "))]
    assert [len(line) for line in description] == [75, 75, 64]
    assert description[1] == " " + "a" * 74


def test_folding_never_splits_a_character_or_an_escape() -> None:
    text = "Ա" * 40 + "😀" * 20 + "\n" * 40
    ics = write_ics(op_ed(x_post(1, text)), STAMP)
    lines = physical_lines(ics)
    # Each line's octets decode alone (cut between characters), near the limit, and end in
    # an even run of backslashes (no escape cut in two).
    for raw in ics.encode("utf-8").split(b"\r\n")[:-1]:
        raw.decode("utf-8")
    assert max(len(line.encode("utf-8")) for line in lines) >= 72
    assert all((len(line) - len(line.rstrip("\\"))) % 2 == 0 for line in lines)
    assert unescape(events(ics)[0]["DESCRIPTION"]) == text


def ics_text(text: str) -> str:
    """What TEXT can carry of a text: line breaks as LF, no control characters but tab."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub("[\x00-\x08\x0b-\x1f\x7f]", "", text)


@given(texts=st.lists(TEXTS, min_size=1, max_size=3), name=NAMES)
def test_any_text_survives_escaping_and_folding(texts: list[str], name: str) -> None:
    campaign = CampaignFile(
        name,
        CampaignSettings(),
        posts=tuple(x_post(seq, text) for seq, text in enumerate(texts, start=1)),
    )
    found = events(write_ics(campaign, STAMP))
    assert [unescape(event["DESCRIPTION"]) for event in found] == [ics_text(t) for t in texts]
    assert unescape(found[0]["SUMMARY"]) == f"x 1/{len(texts)} · {ics_text(name)}"
