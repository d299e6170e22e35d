"""Turn the CLI's --start/--every/--spread-until/--tz into UTC instants.

Pure apart from parse_zone(None), which must look at the host to find the system zone.
The clock is never read here: callers pass `now`.

Conventions:
- Every datetime returned is aware and in UTC (tzinfo=timezone.utc).
- A naive local time inside a DST gap does not exist: parse_when rejects it, because the
  user typed it and silently moving it would surprise them. schedule() instead shifts such a
  post forward by the length of the gap (02:30 on spring-forward day -> 03:30), because a
  recurring post must not fail on the one day a year its wall time is skipped; so does
  local_to_utc(), which reads the times in campaign files (the same rule as the queue).
- A naive local time that occurs twice (fall-back fold) means the first occurrence (fold=0),
  in parse_when, schedule() and local_to_utc().
- Instants are limited to the years 1970..9998 (UTC) so that converting them to any zone
  for display can never overflow datetime's year 9999.
"""

from __future__ import annotations

import io
import os
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scheduler.errors import BadInput

__all__ = [
    "Duration",
    "PlanError",
    "describe_span",
    "format_local",
    "local_to_utc",
    "parse_duration",
    "parse_shift",
    "parse_when",
    "parse_zone",
    "repeated_time",
    "schedule",
    "shifted",
    "system_zone",
]

MIN_YEAR = 1970
MAX_YEAR = 9998

_UTC = UTC
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_DAY_SECONDS = 86_400
# Longer than any schedule that can stay inside MAX_YEAR; also keeps int() and timedelta sane.
_MAX_DURATION_SECONDS = (MAX_YEAR - MIN_YEAR + 1) * 366 * _DAY_SECONDS

_WHEN_HINT = "use ISO 8601 (2027-03-14T09:00), now, or +30m/+2h/+1d"
_DURATION_HINT = "use a positive amount such as 90s, 30m, 2h, 1d, 1h30m or 1w"


class PlanError(BadInput):
    """A time, duration, zone or schedule the user gave is wrong; one sentence."""


# --- zones -----------------------------------------------------------------------------------


def parse_zone(name: str | None) -> ZoneInfo:
    """An IANA zone by name; None or blank means the system zone."""
    key = (name or "").strip()
    if not key:
        return system_zone()[0]
    zone = _load_zone(key)
    if zone is None:
        raise PlanError(f"unknown time zone '{key}': use an IANA name such as Asia/Yerevan")
    return zone


def _load_zone(key: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(key)
    # NotFound for unknown keys, ValueError for absolute/".." keys or non-TZif files,
    # OSError for directories such as "America".
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _key_from_path(path: str) -> str | None:
    """'/usr/share/zoneinfo/posix/Asia/Yerevan' -> 'Asia/Yerevan'; also macOS layouts."""
    match = re.search(r"/zoneinfo[^/]*/(?:posix/)?(.+)$", os.path.normpath(path))
    return match.group(1) if match else None


def _zone_from_path(path: str) -> ZoneInfo | None:
    # A link names the zone the admin chose (readlink, not realpath: US/Eastern stays so).
    named = path
    if os.path.islink(path):
        named = os.path.join(os.path.dirname(path), os.readlink(path))
    key = _key_from_path(named)
    zone = _load_zone(key) if key else None
    if zone is not None:
        return zone
    # A zone file outside any zoneinfo tree still has the right rules, just no key.
    try:
        with open(path, "rb") as fh:
            return ZoneInfo.from_file(fh)
    except (ValueError, OSError):
        return None


def system_zone(
    environ: Mapping[str, str] | None = None, localtime: str = "/etc/localtime"
) -> tuple[ZoneInfo, str | None]:
    """The zone the C library would use, and a warning when none could be resolved.

    $TZ first, as the C library reads it: an optional ':', then a zone key
    (Asia/Kathmandu), a TZif file path (/etc/localtime), or a POSIX rule
    ('<+0330>-3:30', 'EST5EDT,M3.2.0,M11.1.0'). A $TZ that is none of these is UTC, as
    the C library has it. Without $TZ, /etc/localtime (a link names its zone); else UTC.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get("TZ", "")
    tz_env = raw.strip().removeprefix(":")
    if tz_env:
        if tz_env.startswith("/"):
            zone = _zone_from_path(tz_env)
        else:
            zone = _load_zone(tz_env) or _posix_zone(tz_env)
        if zone is not None:
            return zone, None
        return ZoneInfo("UTC"), (
            f"TZ={raw!r} is neither a zone name, a zone file nor a POSIX rule: times are "
            "in UTC (set CAMPAIGN_TZ, e.g. Asia/Yerevan, to choose)"
        )
    if os.path.exists(localtime):
        zone = _zone_from_path(localtime)
        if zone is not None:
            return zone, None
        return ZoneInfo("UTC"), (
            f"the system zone ({localtime}) cannot be read: times are in UTC (set "
            "CAMPAIGN_TZ, e.g. Asia/Yerevan, to choose)"
        )
    return ZoneInfo("UTC"), None


def _posix_zone(rule: str) -> ZoneInfo | None:
    """A zone that follows a POSIX TZ rule: zoneinfo reads one as the footer of a TZif
    file (RFC 8536 section 3.3), so it gets one with no transitions before it."""

    def block() -> bytes:  # one local time type (UTC), no transitions
        header = b"TZif2" + b"\0" * 15 + struct.pack(">6l", 0, 0, 0, 0, 1, 4)
        return header + struct.pack(">lBB", 0, 0, 0) + b"UTC\0"

    try:
        data = block() + block() + b"\n" + rule.encode("ascii") + b"\n"
        return ZoneInfo.from_file(io.BytesIO(data), key=rule)
    except (ValueError, UnicodeEncodeError):
        return None


def _zone_name(tz: ZoneInfo) -> str:
    return tz.key if tz.key else str(tz)


# --- local wall time <-> instant --------------------------------------------------------------


def _resolve_local(wall: datetime, tz: ZoneInfo) -> tuple[datetime, bool]:
    """Naive wall time in tz -> (UTC instant, whether that wall time exists).

    PEP 495 fold=0 gives exactly the documented policy: in a fold it is the first occurrence;
    in a gap it applies the pre-transition offset, i.e. the wall time pushed forward by the gap.
    """
    instant = wall.replace(tzinfo=tz, fold=0).astimezone(_UTC)
    return instant, instant.astimezone(tz).replace(tzinfo=None, fold=0) == wall


def local_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """Naive wall time in tz -> UTC instant, as schedule() places one: a repeated time means
    the first occurrence, a skipped one is pushed forward by the gap. For times people wrote
    down without an offset that must not fail (campaign files); parse_when rejects the gap."""
    return _resolve_local(wall, tz)[0]


def _check_range(instant: datetime) -> bool:
    return MIN_YEAR <= instant.year <= MAX_YEAR


# --- durations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Duration:
    """A step between posts: calendar days, then elapsed seconds.

    "1d" steps the local date (09:00 stays 09:00 across DST); "24h" is exactly 86,400 s;
    "1d12h" is one calendar day plus twelve elapsed hours.
    """

    days: int
    seconds: int

    def __post_init__(self) -> None:
        if self.days < 0 or self.seconds < 0 or self.days == self.seconds == 0:
            raise PlanError("a duration must be positive")

    def is_calendar(self) -> bool:
        return self.seconds == 0 and self.days > 0

    def total_seconds(self) -> int:
        """Nominal length, counting a calendar day as 86,400 s."""
        return self.days * _DAY_SECONDS + self.seconds

    def __str__(self) -> str:
        parts = []
        hours, rest = divmod(self.seconds, 3600)
        minutes, secs = divmod(rest, 60)
        for amount, unit in ((self.days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")):
            if amount:
                parts.append(f"{amount}{unit}")
        return "".join(parts)


_DURATION_RE = re.compile(
    r"""
    (?=[0-9])                     # at least one component
    (?:(?P<w>[0-9]{1,12})\s*w\s*)?
    (?:(?P<d>[0-9]{1,12})\s*d\s*)?
    (?:(?P<h>[0-9]{1,12})\s*h\s*)?
    (?:(?P<m>[0-9]{1,12})\s*m\s*)?
    (?:(?P<s>[0-9]{1,12})\s*s)?
    """,
    re.VERBOSE | re.ASCII,
)


def parse_duration(text: str) -> Duration:
    """'90s', '30m', '2h', '1d', '1h30m', '1d12h', '2w' (= 14 calendar days)."""
    stripped = text.strip()
    match = _DURATION_RE.fullmatch(stripped)
    if match is None:
        raise PlanError(f"invalid duration '{text}': {_DURATION_HINT}")
    n = {unit: int(value) if value else 0 for unit, value in match.groupdict().items()}
    days = n["w"] * 7 + n["d"]
    seconds = n["h"] * 3600 + n["m"] * 60 + n["s"]
    if days == 0 and seconds == 0:
        raise PlanError(f"invalid duration '{text}': it must be longer than zero")
    if days * _DAY_SECONDS + seconds > _MAX_DURATION_SECONDS:
        raise PlanError(f"invalid duration '{text}': it is longer than the calendar allows")
    return Duration(days=days, seconds=seconds)


# --- points in time --------------------------------------------------------------------------

_WHEN_RE = re.compile(
    r"""
    (?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})
    (?:
        [Tt\ ]
        (?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})
        (?::(?P<second>[0-9]{2})(?:[.,][0-9]+)?)?    # fraction accepted, then dropped
        (?P<zone>[Zz]|(?P<sign>[+-])(?P<oh>[0-9]{2})(?::?(?P<om>[0-9]{2}))?)?
    )?
    """,
    re.VERBOSE | re.ASCII,
)


def parse_when(text: str, now: datetime, tz: ZoneInfo) -> datetime:
    """--start / --spread-until text -> aware UTC datetime, truncated to whole seconds.

    Accepts ISO 8601 with an offset or Z; without one (local to tz); a bare date (local
    midnight); "now"; or "+" and a duration, which is elapsed time (+1d = 24 h) from now.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    stripped = text.strip()
    if stripped.lower() == "now":
        return _in_range(text, now.astimezone(_UTC).replace(microsecond=0))
    if stripped.startswith("+"):
        try:
            step = parse_duration(stripped[1:])
        except PlanError:
            raise PlanError(f"invalid time '{text}': {_WHEN_HINT}") from None
        try:
            instant = now.astimezone(_UTC) + timedelta(days=step.days, seconds=step.seconds)
        except OverflowError:
            raise _range_error(text) from None
        return _in_range(text, instant.replace(microsecond=0))

    match = _WHEN_RE.fullmatch(stripped)
    if match is None:
        raise PlanError(f"invalid time '{text}': {_WHEN_HINT}")
    g = match.groupdict()
    year = int(g["year"])
    # Before building anything: year 0001 in a zone west of UTC would overflow on conversion.
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise _range_error(text)
    try:
        wall = datetime(
            year,
            int(g["month"]),
            int(g["day"]),
            int(g["hour"] or 0),
            int(g["minute"] or 0),
            int(g["second"] or 0),
        )
    except ValueError:
        raise PlanError(f"invalid time '{text}': {_WHEN_HINT}") from None

    if g["zone"] is None:
        instant, existed = _resolve_local(wall, tz)
        if not existed:
            raise PlanError(
                f"local time {wall:%Y-%m-%d %H:%M:%S} does not exist in {_zone_name(tz)} "
                "because the clocks skip it; pick another time or give an offset such as +01:00"
            )
        return _in_range(text, instant)

    offset = timedelta(0)
    if g["sign"] is not None:
        hours, minutes = int(g["oh"]), int(g["om"] or 0)
        if hours > 23 or minutes > 59:
            raise PlanError(f"invalid time '{text}': the UTC offset is out of range")
        offset = timedelta(hours=hours, minutes=minutes)
        if g["sign"] == "-":
            offset = -offset
    return _in_range(text, (wall - offset).replace(tzinfo=_UTC))


def repeated_time(text: str, tz: ZoneInfo) -> str | None:
    """When a time the user wrote without an offset occurs twice in `tz` (the clocks go
    back): which of the two parse_when takes, and how to write the other. None otherwise."""
    match = _WHEN_RE.fullmatch(text.strip())
    if match is None or match["zone"] is not None or match["hour"] is None:
        return None
    g = match.groupdict()
    try:
        wall = datetime(
            int(g["year"]), int(g["month"]), int(g["day"]),
            int(g["hour"]), int(g["minute"]), int(g["second"] or 0),
        )  # fmt: skip
        first, second = wall.replace(tzinfo=tz, fold=0), wall.replace(tzinfo=tz, fold=1)
        if first.utcoffset() == second.utcoffset():
            return None
    except (ValueError, OverflowError):
        return None
    offset = second.strftime("%z")
    return (
        f"{wall:%Y-%m-%d %H:%M} happens twice in {_zone_name(tz)} (the clocks go back): "
        f"taking the first, {first:%H:%M %Z} ({first.astimezone(_UTC):%H:%M} UTC); for the "
        f"second ({second:%H:%M %Z}) write {wall:%Y-%m-%dT%H:%M}{offset[:3]}:{offset[3:]}"
    )


def _range_error(text: str) -> PlanError:
    return PlanError(
        f"invalid time '{text}': it must fall between the years {MIN_YEAR} and {MAX_YEAR}"
    )


def _in_range(text: str, instant: datetime) -> datetime:
    if not _check_range(instant):
        raise _range_error(text)
    return instant


# --- schedules -------------------------------------------------------------------------------


def schedule(
    count: int,
    start: datetime,
    tz: ZoneInfo,
    every: Duration | None = None,
    until: datetime | None = None,
) -> list[datetime]:
    """UTC instants for `count` posts, the first at `start`.

    every: post i = start stepped i*every.days local calendar days (same wall time; gap ->
    pushed forward by the gap; fold -> first occurrence), then i*every.seconds elapsed.
    until: posts spread evenly from start to until inclusive, each rounded to the nearest
    whole second (so a start with microseconds is rounded too).
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    if until is not None and (until.tzinfo is None or until.utcoffset() is None):
        raise ValueError("until must be timezone-aware")
    if count < 0:
        raise PlanError("the number of posts cannot be negative")
    if every is not None and until is not None:
        raise PlanError("--every and --spread-until cannot be used together")
    first = start.astimezone(_UTC)
    if not _check_range(first):
        raise PlanError(f"the start time must fall between the years {MIN_YEAR} and {MAX_YEAR}")
    if until is not None:
        last = until.astimezone(_UTC)
        if last <= first:
            raise PlanError("--spread-until must be later than the start time")
        if not _check_range(last):
            raise PlanError(f"--spread-until must fall between the years {MIN_YEAR} and {MAX_YEAR}")
    if count == 0:
        return []
    if count == 1:
        return [first]
    if until is not None:
        return _spread(count, first, until.astimezone(_UTC))
    if every is None:
        raise PlanError("give --every or --spread-until to space the posts")
    return _every(count, first, tz, every)


def _spread(count: int, first: datetime, last: datetime) -> list[datetime]:
    # Exact integer arithmetic in microseconds: no float drift over 100,000 posts, and each
    # post is rounded (half up) independently so the error never accumulates.
    base_us = (first - _EPOCH) // timedelta(microseconds=1)
    span_us = (last - first) // timedelta(microseconds=1)
    steps = count - 1
    denom = steps * 1_000_000
    out = []
    for i in range(count):
        numer = base_us * steps + i * span_us
        out.append(_EPOCH + timedelta(seconds=(2 * numer + denom) // (2 * denom)))
    return out


def _every(count: int, first: datetime, tz: ZoneInfo, every: Duration) -> list[datetime]:
    steps = count - 1
    # fold=0: later days use the first occurrence even if start was the second one.
    wall0 = first.astimezone(tz).replace(tzinfo=None, fold=0)
    try:
        # A Duration built by hand (not parsed) can be too big even for timedelta.
        day = timedelta(days=every.days)
        elapsed = timedelta(seconds=every.seconds)
        # Check the far end first so an absurd schedule fails fast, not after building a list.
        far = _resolve_local(wall0 + steps * day, tz)[0] if every.days else first
        far += steps * elapsed
    except OverflowError:
        far = datetime.max.replace(tzinfo=_UTC)
    if not _check_range(far):
        raise PlanError(
            f"the schedule runs past the year {MAX_YEAR}; use fewer posts or a shorter --every"
        )

    if not every.days:
        # Pure elapsed steps: plain UTC arithmetic, DST is irrelevant.
        return [first + i * elapsed for i in range(count)]

    out = [first]  # post 0 is start itself, even when start is the second reading of a fold
    for i in range(1, count):
        # Same as _resolve_local()[0], minus the round trip it needs only for the existence check.
        out.append((wall0 + i * day).replace(tzinfo=tz).astimezone(_UTC) + i * elapsed)
    return out


def parse_shift(text: str) -> tuple[int, Duration]:
    """'+30m', '30m' (later) or '-30m' (earlier): the direction and the duration."""
    stripped = text.strip()
    sign = -1 if stripped.startswith("-") else 1
    return sign, parse_duration(stripped.lstrip("+-"))


def shifted(instant: datetime, sign: int, by: Duration, tz: ZoneInfo) -> datetime:
    """`instant` moved by `by`, later (sign 1) or earlier (-1): whole days on the local
    calendar of tz (09:00 stays 09:00 across DST, gaps and folds as in `schedule`), then
    the elapsed seconds."""
    moved = instant.astimezone(_UTC)
    try:
        if by.days:
            wall = moved.astimezone(tz).replace(tzinfo=None, fold=0)
            moved = _resolve_local(wall + sign * timedelta(days=by.days), tz)[0]
        moved += sign * timedelta(seconds=by.seconds)
    except OverflowError:
        raise _range_error(str(by)) from None
    if not _check_range(moved):
        raise _range_error(str(by))
    return moved


def describe_span(seconds: float) -> str:
    """'42 s', '5 min', '3 h 20 min', '2 d 1 h': a span of time for people."""
    if seconds < 60:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def format_local(dt: datetime, tz: ZoneInfo) -> str:
    """'2027-03-14 09:00:00 EDT'; zones without abbreviations show the offset ('+04')."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("dt must be timezone-aware")
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")
