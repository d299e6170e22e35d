"""scheduler.plan: time parsing and schedule arithmetic (pure; no clock, no DB)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import tzdata  # type: ignore[import-untyped]
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scheduler.plan import (
    Duration,
    PlanError,
    format_local,
    local_to_utc,
    parse_duration,
    parse_when,
    parse_zone,
    schedule,
    system_zone,
)

YEREVAN = ZoneInfo("Asia/Yerevan")
NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2027, 3, 1, 12, 0, 0, 750_000, tzinfo=UTC)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- parse_zone --------------------------------------------------------------------------------


def test_parse_zone_known_name() -> None:
    assert parse_zone("Asia/Yerevan") == YEREVAN
    assert parse_zone("  Europe/London ") == LONDON


@pytest.mark.parametrize("name", ["Mars/Base", "America", "../etc/passwd", "/etc/localtime", "utc"])
def test_parse_zone_unknown(name: str) -> None:
    with pytest.raises(PlanError) as err:
        parse_zone(name)
    assert str(err.value) == f"unknown time zone '{name}': use an IANA name such as Asia/Yerevan"


def test_parse_zone_none_means_system(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Yerevan")
    assert parse_zone(None) == YEREVAN
    assert parse_zone("") == YEREVAN


def _fake_tree(tmp_path: Path) -> Path:
    """A zoneinfo tree with real TZif bytes, so the key can be recovered from a link path."""
    zone_dir = tmp_path / "usr/share/zoneinfo/America"
    zone_dir.mkdir(parents=True)
    # tzdata is a project dependency: real TZif bytes without relying on /usr/share/zoneinfo.
    data = Path(tzdata.__file__).parent / "zoneinfo/America/New_York"
    (zone_dir / "New_York").write_bytes(data.read_bytes())
    return zone_dir / "New_York"


def test_system_zone_tz_env_wins(tmp_path: Path) -> None:
    link = tmp_path / "localtime"
    os.symlink(_fake_tree(tmp_path), link)
    assert system_zone({"TZ": ":Asia/Yerevan"}, str(link)) == (YEREVAN, None)


def test_system_zone_from_symlink_key(tmp_path: Path) -> None:
    link = tmp_path / "etc/localtime"
    link.parent.mkdir()
    os.symlink("../usr/share/zoneinfo/America/New_York", link)  # relative, like most distros
    _fake_tree(tmp_path)
    zone, note = system_zone({}, str(link))
    assert (zone.key, note) == ("America/New_York", None)
    # TZ=:/etc/localtime, the standard spelling, names the same zone.
    assert system_zone({"TZ": f":{link}"}, str(tmp_path / "missing"))[0].key == "America/New_York"


def test_system_zone_honours_posix_tz_rules_as_the_c_library_does(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    zone, note = system_zone({"TZ": "EST+5EDT,M3.2.0/2,M11.1.0/2"}, missing)
    assert note is None
    assert datetime(2027, 1, 15, 12, tzinfo=zone).utcoffset() == timedelta(hours=-5)
    assert datetime(2027, 7, 15, 12, tzinfo=zone).utcoffset() == timedelta(hours=-4)
    tehran, _ = system_zone({"TZ": "<+0330>-3:30"}, missing)
    assert datetime(2027, 7, 15, 12, tzinfo=tehran).utcoffset() == timedelta(hours=3, minutes=30)
    assert tehran.key == "<+0330>-3:30"


def test_system_zone_copied_file(tmp_path: Path) -> None:
    copied = tmp_path / "localtime"
    copied.write_bytes(_fake_tree(tmp_path).read_bytes())
    zone, note = system_zone({}, str(copied))
    # No key, but the rules are New York's.
    assert note is None
    assert datetime(2027, 7, 1, 12, tzinfo=zone).utcoffset() == timedelta(hours=-4)


def test_system_zone_defaults_to_utc_and_says_why(tmp_path: Path) -> None:
    assert system_zone({}, str(tmp_path / "missing")) == (ZoneInfo("UTC"), None)
    zone, note = system_zone({"TZ": "garbage"}, str(tmp_path / "missing"))
    assert zone.key == "UTC"
    assert note is not None and "TZ='garbage'" in note and "CAMPAIGN_TZ" in note
    unreadable = tmp_path / "localtime"
    unreadable.write_bytes(b"not a zone file")
    zone, note = system_zone({}, str(unreadable))
    assert zone.key == "UTC" and note is not None and "cannot be read" in note


# --- parse_when --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2027-03-14T09:00",
        "2027-03-14T09:00:00",
        "2027-03-14 09:00",
        "2027-03-14t09:00:00.999",  # fraction dropped
        "2027-03-14T09:00:00+04:00",
        "2027-03-14T09:00+0400",
        "2027-03-14T09:00+04",
        "2027-03-14T05:00:00Z",
        "2027-03-14T05:00z",
        "2027-03-14T00:00-05:00",
        "  2027-03-14T09:00  ",
    ],
)
def test_parse_when_yerevan_naive_and_offset(text: str) -> None:
    got = parse_when(text, NOW, YEREVAN)
    assert got == utc(2027, 3, 14, 5, 0)
    assert got.tzinfo is UTC


def test_parse_when_offset_ignores_tz() -> None:
    assert parse_when("2027-03-14T09:00+04:00", NOW, NEW_YORK) == utc(2027, 3, 14, 5)


def test_parse_when_date_only_is_local_midnight() -> None:
    assert parse_when("2027-03-14", NOW, YEREVAN) == utc(2027, 3, 13, 20)
    assert parse_when("2027-07-04", NOW, NEW_YORK) == utc(2027, 7, 4, 4)


def test_parse_when_new_york_dst_sides() -> None:
    assert parse_when("2027-03-13T09:00", NOW, NEW_YORK) == utc(2027, 3, 13, 14)
    assert parse_when("2027-03-14T09:00", NOW, NEW_YORK) == utc(2027, 3, 14, 13)


@pytest.mark.parametrize("text", ["now", "NOW", " Now "])
def test_parse_when_now(text: str) -> None:
    assert parse_when(text, NOW, YEREVAN) == utc(2027, 3, 1, 12)  # whole seconds


def test_parse_when_now_converted_to_utc() -> None:
    now = datetime(2027, 3, 1, 16, 0, tzinfo=timezone(timedelta(hours=4)))
    got = parse_when("now", now, NEW_YORK)
    assert got == utc(2027, 3, 1, 12) and got.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("+90s", timedelta(seconds=90)),
        ("+30m", timedelta(minutes=30)),
        ("+2h", timedelta(hours=2)),
        ("+1d", timedelta(hours=24)),
        ("+1h30m", timedelta(minutes=90)),
        ("+1w", timedelta(days=7)),
    ],
)
def test_parse_when_relative(text: str, delta: timedelta) -> None:
    assert parse_when(text, NOW, YEREVAN) == utc(2027, 3, 1, 12) + delta


def test_parse_when_relative_day_is_elapsed_even_across_dst() -> None:
    now = utc(2027, 3, 13, 14)  # 09:00 EST
    assert parse_when("+1d", now, NEW_YORK) == utc(2027, 3, 14, 14)  # 10:00 EDT


def test_parse_when_gap_rejected() -> None:
    # Europe/London springs forward 2027-03-28 01:00 -> 02:00.
    with pytest.raises(PlanError) as err:
        parse_when("2027-03-28T01:30", NOW, LONDON)
    msg = str(err.value)
    assert "2027-03-28 01:30:00 does not exist in Europe/London" in msg
    assert "\n" not in msg


def test_parse_when_gap_with_offset_is_fine() -> None:
    assert parse_when("2027-03-28T01:30+00:00", NOW, LONDON) == utc(2027, 3, 28, 1, 30)


def test_parse_when_fold_takes_first_occurrence() -> None:
    # New York falls back 2027-11-07 02:00 EDT -> 01:00 EST; 01:30 happens twice.
    got = parse_when("2027-11-07T01:30", NOW, NEW_YORK)
    assert got == utc(2027, 11, 7, 5, 30)  # 01:30 EDT, not 06:30Z (01:30 EST)
    assert format_local(got, NEW_YORK) == "2027-11-07 01:30:00 EDT"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "tomorrow",
        "2027-13-01",
        "2027-02-30",
        "2027-3-14",
        "27-03-14",
        "2027/03/14",
        "2027-03-14T9:00",
        "2027-03-14T09",
        "2027-03-14T25:00",
        "2027-03-14T09:60",
        "2027-03-14T09:00:61",
        "2027-03-14X09:00",
        "2027-03-14T09:00 +04:00",
        "2027-03-14T09:00+24:00",
        "2027-03-14T09:00+04:60",
        "2027-03-14+04:00",
        "2027-03-14T09:00EST",
        "١٩٧٠-٠١-٠١",
        "+",
        "+0m",
        "+-5m",
        "-30m",
        "+30",
        "+30x",
        "+2h30",
        "+30m2h",
        "in 30m",
        "now+1h",
    ],
)
def test_parse_when_garbage(text: str) -> None:
    with pytest.raises(PlanError) as err:
        parse_when(text, NOW, YEREVAN)
    msg = str(err.value)
    assert msg.startswith(f"invalid time '{text}': ")
    assert "\n" not in msg


def test_parse_when_invalid_message_exact() -> None:
    with pytest.raises(PlanError) as err:
        parse_when("2027-13-01", NOW, YEREVAN)
    assert str(err.value) == (
        "invalid time '2027-13-01': use ISO 8601 (2027-03-14T09:00), now, or +30m/+2h/+1d"
    )


@pytest.mark.parametrize(
    "text",
    ["1969-07-20", "0001-01-01", "1970-01-01T00:00+04:00", "9999-01-01", "9998-12-31T23:00-05:00"],
)
def test_parse_when_year_range(text: str) -> None:
    with pytest.raises(PlanError, match="between the years 1970 and 9998"):
        parse_when(text, NOW, NEW_YORK)


def test_parse_when_year_range_edges_ok() -> None:
    assert parse_when("1970-01-01T00:00Z", NOW, YEREVAN) == utc(1970, 1, 1)
    assert parse_when("9998-12-31T23:59:59Z", NOW, YEREVAN) == utc(9998, 12, 31, 23, 59, 59)


def test_parse_when_relative_past_range() -> None:
    with pytest.raises(PlanError, match="between the years"):
        parse_when("+2930000d", NOW, YEREVAN)


def test_parse_when_naive_now_is_a_bug() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_when("now", datetime(2027, 1, 1), YEREVAN)


# --- parse_duration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "days", "seconds"),
    [
        ("90s", 0, 90),
        ("30m", 0, 1800),
        ("2h", 0, 7200),
        ("1d", 1, 0),
        ("1h30m", 0, 5400),
        ("1d12h", 1, 43200),
        ("36h", 0, 129600),
        ("24h", 0, 86400),
        ("2w", 14, 0),
        ("1w2d", 9, 0),
        ("1d2h3m4s", 1, 7384),
        (" 1h 30m ", 0, 5400),
        ("0h5m", 0, 300),
    ],
)
def test_parse_duration(text: str, days: int, seconds: int) -> None:
    assert parse_duration(text) == Duration(days=days, seconds=seconds)


def test_duration_methods() -> None:
    assert Duration(1, 0).is_calendar()
    assert not Duration(1, 60).is_calendar()
    assert not Duration(0, 86400).is_calendar()
    assert Duration(1, 43200).total_seconds() == 129600
    assert str(parse_duration("1d2h3m4s")) == "1d2h3m4s"
    assert str(parse_duration("2w")) == "14d"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0",
        "0s",
        "0d0h",
        "-5m",
        "+5m",
        "5",
        "m",
        "5x",
        "5M",
        "1.5h",
        "30m1h",
        "1h1h",
        "1y",
        "abc",
        "٥m",
        "9" * 5000 + "s",
        "999999999999d",
    ],
)
def test_parse_duration_garbage(text: str) -> None:
    with pytest.raises(PlanError) as err:
        parse_duration(text)
    assert str(err.value).startswith(f"invalid duration '{text}': ")


@pytest.mark.parametrize(("days", "seconds"), [(0, 0), (-1, 0), (0, -1), (1, -1)])
def test_duration_rejects_non_positive(days: int, seconds: int) -> None:
    with pytest.raises(PlanError):
        Duration(days=days, seconds=seconds)


# --- schedule: every ---------------------------------------------------------------------------


def test_every_day_keeps_nine_am_across_spring_forward() -> None:
    start = parse_when("2027-03-12T09:00", NOW, NEW_YORK)
    got = schedule(4, start, NEW_YORK, every=parse_duration("1d"))
    assert got == [
        utc(2027, 3, 12, 14),
        utc(2027, 3, 13, 14),
        utc(2027, 3, 14, 13),  # DST began at 02:00 local
        utc(2027, 3, 15, 13),
    ]
    assert all(t.tzinfo is UTC for t in got)
    assert [format_local(t, NEW_YORK)[11:] for t in got] == [
        "09:00:00 EST",
        "09:00:00 EST",
        "09:00:00 EDT",
        "09:00:00 EDT",
    ]


def test_every_twelve_hours_is_elapsed_across_spring_forward() -> None:
    start = parse_when("2027-03-13T09:00", NOW, NEW_YORK)
    got = schedule(4, start, NEW_YORK, every=parse_duration("12h"))
    assert got == [
        utc(2027, 3, 13, 14),
        utc(2027, 3, 14, 2),
        utc(2027, 3, 14, 14),  # 10:00 EDT: elapsed time, not wall time
        utc(2027, 3, 15, 2),
    ]


def test_every_day_across_fall_back() -> None:
    start = parse_when("2027-11-06T09:00", NOW, NEW_YORK)
    got = schedule(3, start, NEW_YORK, every=parse_duration("1d"))
    assert got == [utc(2027, 11, 6, 13), utc(2027, 11, 7, 14), utc(2027, 11, 8, 14)]
    elapsed = schedule(3, start, NEW_YORK, every=parse_duration("24h"))
    assert elapsed == [utc(2027, 11, 6, 13), utc(2027, 11, 7, 13), utc(2027, 11, 8, 13)]


def test_every_day_in_fold_takes_first_occurrence() -> None:
    start = parse_when("2027-11-06T01:30", NOW, NEW_YORK)  # 01:30 EDT
    got = schedule(3, start, NEW_YORK, every=parse_duration("1d"))
    # 2027-11-07 01:30 happens at 05:30Z (EDT) and 06:30Z (EST): the first is used.
    assert got == [utc(2027, 11, 6, 5, 30), utc(2027, 11, 7, 5, 30), utc(2027, 11, 8, 6, 30)]


def test_every_keeps_start_even_if_second_fold_reading() -> None:
    start = utc(2027, 11, 7, 6, 30)  # 01:30 EST, the second 01:30 that night
    got = schedule(2, start, NEW_YORK, every=parse_duration("1d"))
    assert got == [start, utc(2027, 11, 8, 6, 30)]
    # 364 days later is the 2028 fall-back night: its first 01:30 (EDT) is used, not the fold
    # that start happened to have.
    assert schedule(2, start, NEW_YORK, every=parse_duration("364d")) == [
        start,
        utc(2028, 11, 5, 5, 30),
    ]


def test_every_day_in_gap_is_pushed_forward_by_the_gap() -> None:
    start = parse_when("2027-03-27T01:30", NOW, LONDON)  # GMT
    got = schedule(3, start, LONDON, every=parse_duration("1d"))
    # 01:30 does not exist on 2027-03-28: 02:30 BST (= 01:30Z) is used instead.
    assert got == [utc(2027, 3, 27, 1, 30), utc(2027, 3, 28, 1, 30), utc(2027, 3, 29, 0, 30)]
    assert format_local(got[1], LONDON) == "2027-03-28 02:30:00 BST"


def test_local_to_utc_places_wall_times_as_schedule_does() -> None:
    # Fold: the first 01:30 (EDT); gap: 01:30 on London's spring-forward day is 02:30 BST.
    assert local_to_utc(datetime(2027, 11, 7, 1, 30), NEW_YORK) == utc(2027, 11, 7, 5, 30)
    assert local_to_utc(datetime(2027, 3, 28, 1, 30), LONDON) == utc(2027, 3, 28, 1, 30)
    days = schedule(2, utc(2027, 3, 27, 1, 30), LONDON, every=parse_duration("1d"))
    assert days[1] == local_to_utc(datetime(2027, 3, 28, 1, 30), LONDON)


def test_every_mixed_calendar_then_elapsed() -> None:
    start = parse_when("2027-03-13T09:00", NOW, NEW_YORK)
    got = schedule(3, start, NEW_YORK, every=parse_duration("1d12h"))
    # post 1: local date +1 at 09:00 EDT (13:00Z) + 12 h; post 2: date +2 09:00 EDT + 24 h.
    assert got == [utc(2027, 3, 13, 14), utc(2027, 3, 15, 1), utc(2027, 3, 16, 13)]


def test_every_yerevan_no_dst() -> None:
    start = parse_when("2027-03-14T09:00:00+04:00", NOW, YEREVAN)
    day = schedule(3, start, YEREVAN, every=parse_duration("1d"))
    hours = schedule(3, start, YEREVAN, every=parse_duration("24h"))
    assert day == hours == [utc(2027, 3, 14, 5), utc(2027, 3, 15, 5), utc(2027, 3, 16, 5)]


def test_every_converts_aware_non_utc_start() -> None:
    start = datetime(2027, 3, 14, 9, tzinfo=YEREVAN)
    got = schedule(2, start, YEREVAN, every=parse_duration("1h"))
    assert got == [utc(2027, 3, 14, 5), utc(2027, 3, 14, 6)]
    assert all(t.tzinfo is UTC for t in got)


def test_every_past_year_range() -> None:
    start = utc(9998, 12, 1)
    with pytest.raises(PlanError, match="past the year 9998"):
        schedule(100, start, NEW_YORK, every=parse_duration("1d"))
    with pytest.raises(PlanError, match="past the year 9998"):
        schedule(10**9, start, NEW_YORK, every=parse_duration("1w"))
    with pytest.raises(PlanError, match="past the year 9998"):
        schedule(10**12, start, NEW_YORK, every=parse_duration("1h"))
    assert len(schedule(31, start, NEW_YORK, every=parse_duration("1d"))) == 31
    # Hand-built Durations bigger than timedelta allows are a range error, not OverflowError.
    with pytest.raises(PlanError, match="past the year 9998"):
        schedule(2, start, NEW_YORK, every=Duration(days=10**12, seconds=0))
    with pytest.raises(PlanError, match="past the year 9998"):
        schedule(2, start, NEW_YORK, every=Duration(days=0, seconds=10**18))


# --- schedule: spread and argument rules ------------------------------------------------------


def test_spread_until_evenly() -> None:
    start, until = utc(2027, 3, 14, 9), utc(2027, 3, 14, 17)
    got = schedule(5, start, YEREVAN, until=until)
    assert got == [utc(2027, 3, 14, h) for h in (9, 11, 13, 15, 17)]


def test_spread_until_rounds_to_whole_seconds() -> None:
    start, until = utc(2027, 3, 14, 9), utc(2027, 3, 14, 9, 0, 10)
    got = schedule(4, start, YEREVAN, until=until)  # 3.333 s apart
    assert got == [start, utc(2027, 3, 14, 9, 0, 3), utc(2027, 3, 14, 9, 0, 7), until]
    assert all(t.microsecond == 0 and t.tzinfo is UTC for t in got)


def test_spread_until_across_dst_is_even_in_elapsed_time() -> None:
    start = parse_when("2027-03-13T09:00", NOW, NEW_YORK)
    until = parse_when("2027-03-15T09:00", NOW, NEW_YORK)  # 47 elapsed hours later
    got = schedule(3, start, NEW_YORK, until=until)
    assert got[1] - got[0] == got[2] - got[1] == timedelta(hours=23, minutes=30)


@given(
    count=st.integers(min_value=2, max_value=500),
    span=st.integers(min_value=1, max_value=400 * 86400),
    start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
)
def test_spread_property(count: int, span: int, start: datetime) -> None:
    first = start.replace(microsecond=0, tzinfo=UTC)
    last = first + timedelta(seconds=span)
    got = schedule(count, first, NEW_YORK, until=last)
    assert len(got) == count and got[0] == first and got[-1] == last
    exact = span / (count - 1)
    for i, t in enumerate(got):
        assert t.microsecond == 0
        assert abs((t - first).total_seconds() - i * exact) <= 0.5 + 1e-6
    assert all(a <= b for a, b in pairwise(got))


def test_count_edge_cases() -> None:
    start = utc(2027, 3, 14, 9)
    assert schedule(0, start, YEREVAN) == []
    assert schedule(0, start, YEREVAN, every=parse_duration("1h")) == []
    assert schedule(1, start, YEREVAN) == [start]
    assert schedule(1, start, YEREVAN, every=parse_duration("1h")) == [start]
    assert schedule(1, start, YEREVAN, until=start + timedelta(hours=1)) == [start]


def test_argument_errors() -> None:
    start = utc(2027, 3, 14, 9)
    with pytest.raises(PlanError) as err:
        schedule(3, start, YEREVAN)
    assert str(err.value) == "give --every or --spread-until to space the posts"
    with pytest.raises(PlanError) as err:
        schedule(3, start, YEREVAN, every=parse_duration("1h"), until=start + timedelta(hours=5))
    assert str(err.value) == "--every and --spread-until cannot be used together"
    for until in (start, start - timedelta(seconds=1)):
        with pytest.raises(PlanError, match="--spread-until must be later"):
            schedule(3, start, YEREVAN, until=until)
    with pytest.raises(PlanError, match="negative"):
        schedule(-1, start, YEREVAN, every=parse_duration("1h"))
    with pytest.raises(ValueError, match="aware"):
        schedule(2, datetime(2027, 1, 1), YEREVAN, every=parse_duration("1h"))


def test_large_counts_are_fast() -> None:
    start = parse_when("2027-03-14T09:00", NOW, NEW_YORK)
    t0 = time.perf_counter()
    daily = schedule(100_000, start, NEW_YORK, every=parse_duration("1d"))
    hourly = schedule(100_000, start, NEW_YORK, every=parse_duration("1h"))
    spread = schedule(100_000, start, NEW_YORK, until=start + timedelta(days=365))
    elapsed = time.perf_counter() - t0
    assert len(daily) == len(hourly) == len(spread) == 100_000
    assert hourly[-1] - hourly[0] == timedelta(hours=99_999)
    assert spread[-1] == start + timedelta(days=365)
    assert {t.astimezone(NEW_YORK).strftime("%H:%M") for t in daily} == {"09:00"}
    assert elapsed < 10, elapsed  # ~1 s locally; generous for slow CI


# --- format_local -----------------------------------------------------------------------------


def test_format_local() -> None:
    assert format_local(utc(2027, 3, 14, 13), NEW_YORK) == "2027-03-14 09:00:00 EDT"
    assert format_local(utc(2027, 3, 14, 5), YEREVAN) == "2027-03-14 09:00:00 +04"
    with pytest.raises(ValueError, match="aware"):
        format_local(datetime(2027, 3, 14), YEREVAN)


# --- properties -------------------------------------------------------------------------------

ZONES = [
    ZoneInfo(k)
    for k in (
        "America/New_York",
        "Europe/London",
        "Australia/Lord_Howe",  # 30-minute DST shift
        "America/Santiago",  # transitions at local midnight
        "Asia/Yerevan",
        "UTC",
    )
]
starts = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))


@settings(max_examples=300, deadline=None)
@given(
    start=starts,
    zone=st.sampled_from(ZONES),
    seconds=st.one_of(
        st.integers(min_value=1, max_value=3600),
        st.integers(min_value=1, max_value=48 * 60).map(lambda m: m * 60),
        st.integers(min_value=1, max_value=72).map(lambda h: h * 3600),
    ),
    count=st.integers(min_value=2, max_value=60),
)
def test_elapsed_every_property(start: datetime, zone: ZoneInfo, seconds: int, count: int) -> None:
    got = schedule(count, start, zone, every=Duration(days=0, seconds=seconds))
    assert got[0] == start
    assert all(b - a == timedelta(seconds=seconds) for a, b in pairwise(got))
    assert all(t.tzinfo is UTC for t in got)


@settings(max_examples=300, deadline=None)
@given(
    start=starts,
    zone=st.sampled_from(ZONES),
    days=st.integers(min_value=1, max_value=14),
    count=st.integers(min_value=2, max_value=60),
)
def test_calendar_every_property(start: datetime, zone: ZoneInfo, days: int, count: int) -> None:
    got = schedule(count, start, zone, every=Duration(days=days, seconds=0))
    wall0 = start.astimezone(zone).replace(tzinfo=None)
    assert got[0] == start
    for i, t in enumerate(got[1:], start=1):
        expected = wall0 + timedelta(days=i * days)
        local = t.astimezone(zone)
        first_reading = expected.replace(tzinfo=zone, fold=0)
        second_reading = expected.replace(tzinfo=zone, fold=1)
        exists = any(
            r.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == expected
            for r in (first_reading, second_reading)
        )
        if exists:
            # Same wall-clock time, first occurrence if it happens twice.
            assert local.replace(tzinfo=None) == expected
            assert local.fold == 0
        else:
            # In a gap: pushed forward by exactly the gap's length.
            gap = abs(second_reading.utcoffset() - first_reading.utcoffset())  # type: ignore[operator]
            assert local.replace(tzinfo=None) == expected + gap
    assert all(a < b for a, b in pairwise(got))


@settings(max_examples=200, deadline=None)
@given(
    d=st.integers(min_value=0, max_value=30),
    h=st.integers(min_value=0, max_value=100),
    m=st.integers(min_value=0, max_value=100),
    s=st.integers(min_value=0, max_value=100),
)
def test_parse_duration_property(d: int, h: int, m: int, s: int) -> None:
    text = "".join(f"{n}{u}" for n, u in ((d, "d"), (h, "h"), (m, "m"), (s, "s")) if n)
    assume(text)
    dur = parse_duration(text)
    assert dur == Duration(days=d, seconds=h * 3600 + m * 60 + s)
    assert parse_duration(str(dur)) == dur
