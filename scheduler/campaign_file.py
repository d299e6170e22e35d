"""A campaign as a file people review: TOML to edit and apply, CSV and ICS to look at.

Pure: no database, no network, no clock of its own (the ICS stamp comes in).

What the TOML format promises:
- read_toml(write_toml(c)) == c for any campaign whose times are whole seconds: every text
  comes back character for character (stdlib tomllib reads what we write), in file order.
- Times are written in the campaign's zone (tz) with that instant's offset, so each is exact
  and reads as local time; one written without an offset is in tz, and a repeated or skipped
  hour is placed as `queue` places it (plan.local_to_utc). Fractions of a second are dropped.
- Any mistake in a file is one BadInput sentence naming the file and, when known, the line.
- id, status and url are written for the reader: whoever applies the file must not take
  them as edits.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import io
import re
import tomllib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from posts.platform import UnknownPlatform, parse_platform
from posts.split import TAG_PLACEMENTS
from scheduler.campaigns import check_campaign_name
from scheduler.errors import BadInput
from scheduler.model import CampaignSettings, Platform, Status
from scheduler.plan import MAX_YEAR, MIN_YEAR, PlanError, local_to_utc, parse_zone

__all__ = [
    "CAMPAIGN_KEYS",
    "CSV_COLUMNS",
    "POST_KEYS",
    "CampaignFile",
    "CampaignFileError",
    "FileImage",
    "FilePost",
    "read_toml",
    "write_csv",
    "write_ics",
    "write_toml",
]

CAMPAIGN_KEYS = (
    "name", "tz", "source", "tags", "link", "thread", "numbering", "tags_on",
    "langs", "labels", "card", "content_warning",
)  # fmt: skip
POST_KEYS = ("platform", "seq", "at", "text", "account", "id", "status", "url", "images")
IMAGE_KEYS = ("path", "sha256", "alt")
_REQUIRED_POST_KEYS = ("platform", "seq", "at", "text")
CSV_COLUMNS = ("id", "platform", "account", "seq", "at", "status", "url", "text")

_AT_HINT = "at must be a date and time such as 2026-12-01T14:00:00+04:00"
_FORMAT_NOTE = (
    "# Edit texts and times, then `campaign apply FILE`; a time without an offset is in tz.",
    "# Posts are matched by id, else by platform, account and seq; id, status and url are",
    "# read-only.",
)


class CampaignFileError(BadInput):
    """A campaign file that cannot be read; one sentence naming the file and the line."""


@dataclass(frozen=True)
class FileImage:
    """An image of a post as a file names it: a file to read (`path`, as `plan` writes and
    people add), or one already in the data directory (`sha256`, as `export` writes).
    `alt` "" publishes it without a description, on purpose."""

    alt: str
    path: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class FilePost:
    """One post as a campaign file holds it."""

    platform: Platform
    seq: int  # thread order within a platform and account, >= 1
    at: datetime  # aware, UTC
    text: str  # exactly what will be published
    account: str = "default"
    # Read-only: written by export so that people see them, matched on by apply.
    id: int | None = None
    status: Status | None = None
    url: str | None = None
    images: tuple[FileImage, ...] = ()
    # Where the post's [[posts]] header was in the file read (0: built in code). Not part
    # of the value: a post moved in the file is the same post.
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class CampaignFile:
    name: str
    settings: CampaignSettings  # settings.tz is the zone times are written in
    source: str = ""  # the article's path ("-" for standard input, "" unknown)
    posts: tuple[FilePost, ...] = ()


def _who(post: FilePost) -> str:
    """'x', or 'x (work)' for a post on another account than the default."""
    if post.account == "default":
        return post.platform.value
    return f"{post.platform.value} ({post.account})"


# --- TOML out ---------------------------------------------------------------------------------


def write_toml(campaign: CampaignFile, header: str | None = None) -> str:
    """The campaign as TOML: `header` as comment lines, then [campaign], then one [[posts]]
    entry a post with its text last. Every string is written so that tomllib reads it back
    exactly, escaping only what TOML requires, so ordinary texts stay readable."""
    zone = _zone(campaign.settings.tz)
    settings = campaign.settings
    lines = [*_comment_lines(header), *_FORMAT_NOTE, "", "[campaign]"]
    lines.append(f"name = {_basic(campaign.name)}")
    lines.append(f"tz = {_basic(settings.tz)}")
    lines.append(f"source = {_basic(campaign.source)}")
    lines.append(f"tags = [{', '.join(_basic(tag) for tag in settings.tags)}]")
    if settings.link is not None:
        lines.append(f"link = {_basic(settings.link)}")
    lines.append(f"thread = {_bool(settings.thread)}")
    if settings.numbering is not None:
        lines.append(f"numbering = {_bool(settings.numbering)}")
    lines.append(f"tags_on = {_basic(settings.tags_on)}")
    if settings.langs:
        lines.append(f"langs = [{', '.join(_basic(lang) for lang in settings.langs)}]")
    if settings.labels:
        lines.append(f"labels = [{', '.join(_basic(label) for label in settings.labels)}]")
    if not settings.card:
        lines.append("card = false")
    if settings.content_warning:
        lines.append(f"content_warning = {_basic(settings.content_warning)}")
    for post in campaign.posts:
        lines += ["", "[[posts]]", f"platform = {_basic(post.platform.value)}"]
        lines.append(f"seq = {post.seq}")
        lines.append(f"at = {_local_time(post.at, zone)}")
        if post.account != "default":
            lines.append(f"account = {_basic(post.account)}")
        if post.id is not None:
            lines.append(f"id = {post.id}")
        if post.status is not None:
            lines.append(f"status = {_basic(post.status.value)}")
        if post.url is not None:
            lines.append(f"url = {_basic(post.url)}")
        if post.images:
            lines.append(f"images = [{', '.join(_image(image) for image in post.images)}]")
        lines.append(f"text = {_text(post.text)}")
    return "\n".join(lines) + "\n"


def _image(image: FileImage) -> str:
    where = (
        f"path = {_basic(image.path)}" if image.path is not None else
        f"sha256 = {_basic(image.sha256 or '')}"
    )  # fmt: skip
    return f"{{{where}, alt = {_basic(image.alt)}}}"


def _comment_lines(header: str | None) -> list[str]:
    if header is None:
        return []
    # A comment may hold no control character but tab (TOML 1.0): others would not parse.
    return [f"# {_CONTROL.sub(_REPLACEMENT, line)}".rstrip() for line in header.splitlines()]


def _bool(value: bool) -> str:
    return "true" if value else "false"


# Control characters TOML strings may not hold as they are (TOML 1.0: all but tab).
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
_MUST_ESCAPE = re.compile('[\\\\"\x00-\x08\x0a-\x1f\x7f]')  # in a one-line basic string
_REPLACEMENT = "\N{REPLACEMENT CHARACTER}"
_SHORT_ESCAPES = {"\b": "\\b", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def _escape(ch: str) -> str:
    return _SHORT_ESCAPES.get(ch) or f"\\u{ord(ch):04X}"


def _basic(value: str) -> str:
    """A one-line basic string: backslash, quote and control characters escaped."""
    return '"' + _MUST_ESCAPE.sub(lambda m: _escape(m[0]), value) + '"'


def _text(value: str) -> str:
    """A post's text: a basic string when it is one line, else a multi-line basic string
    whose lines are the text's own. TOML drops the newline right after the opening quotes,
    and the closing quotes follow the text, so nothing is added at either end."""
    if "\n" not in value:
        return _basic(value)
    out = []
    run = 0  # quotes in a row so far, as written unescaped
    for index, ch in enumerate(value):
        if ch == '"':
            # Three unescaped quotes would end the string; one at the very end would run
            # into the closing quotes.
            last = index == len(value) - 1
            if run == 2 or last:
                out.append('\\"')
                run = 0
            else:
                out.append('"')
                run += 1
            continue
        run = 0
        if ch == "\\" or (ch != "\n" and _CONTROL.match(ch)):
            out.append(_escape(ch))
        else:
            out.append(ch)
    return '"""\n' + "".join(out) + '"""'


def _local_time(at: datetime, zone: ZoneInfo) -> str:
    """A TOML offset date-time in `zone`, whole seconds. TOML offsets are hours and minutes:
    for the rare instant whose offset has seconds (local mean time) UTC is written instead."""
    local = _aware(at, "a post's time").astimezone(zone).replace(microsecond=0)
    offset = local.utcoffset() or timedelta(0)
    if offset % timedelta(minutes=1):
        return f"{local.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"
    minutes = int(abs(offset).total_seconds()) // 60
    sign = "-" if offset < timedelta(0) else "+"
    return f"{local:%Y-%m-%dT%H:%M:%S}{sign}{minutes // 60:02}:{minutes % 60:02}"


def _aware(at: datetime, what: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return at


def _zone(name: str) -> ZoneInfo:
    # parse_zone takes a blank name for the host's zone: a file must not depend on the host.
    if not name.strip():
        raise PlanError("the campaign's time zone (tz) is empty: use an IANA name such as UTC")
    return parse_zone(name)


# --- TOML in ----------------------------------------------------------------------------------


def read_toml(text: str, where: str) -> CampaignFile:
    """A campaign file's text -> CampaignFile; `where` names the file in error messages.
    Raises CampaignFileError (a BadInput) at the first mistake."""
    text = text.removeprefix("\ufeff")  # some editors on Windows save one
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise _syntax_error(str(err), where) from None
    return _Reader(where, _Locator(text)).campaign(data)


_DECODE_AT = re.compile(r"(?P<msg>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)", re.S)
_DECODE_END = " (at end of document)"


def _syntax_error(message: str, where: str) -> CampaignFileError:
    """tomllib's 'Invalid value (at line 3, column 7)' in the shape of all the others."""
    match = _DECODE_AT.fullmatch(message)
    if match:
        what = match["msg"][:1].lower() + match["msg"][1:]
        return CampaignFileError(
            f"{where} line {match['line']}: {what} at column {match['column']}"
        )
    if message.endswith(_DECODE_END):
        what = message[: -len(_DECODE_END)]
        return CampaignFileError(f"{where}: {what[:1].lower()}{what[1:]} at the end of the file")
    return CampaignFileError(f"{where}: {message}")


KeyPath = tuple[str | int, ...]  # ("campaign", "tz"), ("posts", 3, "seq"): where a value sits


class _Reader:
    """Checks the parsed document and builds the CampaignFile, naming the line of each
    mistake through the locator."""

    def __init__(self, where: str, locator: _Locator) -> None:
        self.where = where
        self.locator = locator

    def error(self, path: KeyPath, message: str) -> CampaignFileError:
        line = self.locator.line(path)
        place = f"{self.where} line {line}" if line else self.where
        return CampaignFileError(f"{place}: {message}")

    def campaign(self, data: dict[str, Any]) -> CampaignFile:
        for key, value in data.items():
            if key not in ("campaign", "posts"):
                raise self.error(
                    (key,), f"unknown {_describe(key, value)} (known: [campaign], [[posts]])"
                )
        table = data.get("campaign")
        if table is None:
            raise CampaignFileError(f"{self.where}: there is no [campaign] table")
        if not isinstance(table, dict):
            raise self.error(("campaign",), "campaign must be a table: [campaign]")
        self.unknown_keys(table, ("campaign",), CAMPAIGN_KEYS, "[campaign]")
        if "name" not in table:
            raise self.error(("campaign",), "the [campaign] table has no name")
        name = self.string(table, ("campaign", "name"))
        try:
            name = check_campaign_name(name)
        except BadInput as err:
            raise self.error(("campaign", "name"), str(err)) from None
        zone_name = self.string(table, ("campaign", "tz"), "UTC")
        try:
            zone = _zone(zone_name)
        except PlanError as err:
            raise self.error(("campaign", "tz"), str(err)) from None
        settings = CampaignSettings(
            tags=self.tags(table),
            link=self.optional_string(table, ("campaign", "link")),
            thread=self.boolean(table, ("campaign", "thread"), default=True),
            numbering=self.optional_boolean(table, ("campaign", "numbering")),
            tags_on=self.tags_on(table),
            tz=zone_name.strip(),
            langs=self.strings(table, ("campaign", "langs"), '["hy", "en"]'),
            labels=self.strings(table, ("campaign", "labels"), '["graphic-media"]'),
            card=self.boolean(table, ("campaign", "card"), default=True),
            content_warning=self.string(table, ("campaign", "content_warning"), ""),
        )
        source = self.string(table, ("campaign", "source"), "")
        return CampaignFile(
            name=name, settings=settings, source=source, posts=self.posts(data, zone)
        )

    def posts(self, data: dict[str, Any], zone: ZoneInfo) -> tuple[FilePost, ...]:
        entries = data.get("posts", [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise self.error(("posts",), "posts must be [[posts]] tables, one for each post")
        posts = []
        seqs: dict[tuple[Platform, str, int], int] = {}
        ids: dict[int, int] = {}
        for index, entry in enumerate(entries):
            post = self.post(entry, ("posts", index), zone)
            key = (post.platform, post.account, post.seq)
            if key in seqs:
                raise self.error(
                    ("posts", index, "seq"),
                    f"two {_who(post)} posts have seq {post.seq}{_first_at(seqs[key])}",
                )
            seqs[key] = post.line
            if post.id is not None:
                if post.id in ids:
                    raise self.error(
                        ("posts", index, "id"),
                        f"two posts have id {post.id}{_first_at(ids[post.id])}",
                    )
                ids[post.id] = post.line
            posts.append(post)
        return tuple(posts)

    def post(self, entry: dict[str, Any], path: KeyPath, zone: ZoneInfo) -> FilePost:
        self.unknown_keys(entry, path, POST_KEYS, "[[posts]]")
        missing = [key for key in _REQUIRED_POST_KEYS if key not in entry]
        if missing:
            raise self.error(path, f"this [[posts]] entry has no {_either(missing)}")
        try:
            platform = parse_platform(self.string(entry, (*path, "platform")))
        except UnknownPlatform as err:
            raise self.error((*path, "platform"), str(err)) from None
        seq = self.whole_number(entry, (*path, "seq"))
        text = self.string(entry, (*path, "text"))
        if not text.strip():
            raise self.error((*path, "text"), "the text is empty")
        account = self.string(entry, (*path, "account"), "default")
        if not account.strip():
            raise self.error((*path, "account"), "the account is empty (leave it out for default)")
        post_id = self.whole_number(entry, (*path, "id")) if "id" in entry else None
        return FilePost(
            platform=platform,
            seq=seq,
            at=self.instant(entry, (*path, "at"), zone),
            text=text,
            account=account,
            id=post_id,
            status=self.status(entry, (*path, "status")),
            url=self.optional_string(entry, (*path, "url")),
            images=self.images(entry, (*path, "images")),
            line=self.locator.line(path),
        )

    # -- one value each ------------------------------------------------------------------------

    def unknown_keys(
        self, table: Mapping[str, Any], path: KeyPath, known: Sequence[str], name: str
    ) -> None:
        for key in table:
            if key not in known:
                raise self.error(
                    (*path, key), f"unknown key {key!r} in {name} (known: {', '.join(known)})"
                )

    def string(self, table: Mapping[str, Any], path: KeyPath, default: str | None = None) -> str:
        key = str(path[-1])
        value = table.get(key, default)
        if not isinstance(value, str):
            raise self.error(path, f"{key} must be a string in quotes")
        return value

    def optional_string(self, table: Mapping[str, Any], path: KeyPath) -> str | None:
        return self.string(table, path) if path[-1] in table else None

    def whole_number(self, table: Mapping[str, Any], path: KeyPath) -> int:
        key = str(path[-1])
        value = table[key]
        # bool is an int to Python, not to TOML's readers.
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(path, f"{key} must be a whole number")
        if value < 1:
            raise self.error(path, f"{key} must be 1 or more")
        return value

    def boolean(self, table: Mapping[str, Any], path: KeyPath, default: bool) -> bool:
        key = str(path[-1])
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.error(path, f"{key} must be true or false")
        return value

    def optional_boolean(self, table: Mapping[str, Any], path: KeyPath) -> bool | None:
        return self.boolean(table, path, default=False) if path[-1] in table else None

    def strings(self, table: Mapping[str, Any], path: KeyPath, example: str) -> tuple[str, ...]:
        key = str(path[-1])
        values = table.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise self.error(path, f"{key} must be a list of strings such as {example}")
        return tuple(values)

    def images(self, entry: Mapping[str, Any], path: KeyPath) -> tuple[FileImage, ...]:
        values = entry.get("images", [])
        hint = 'images must be a list such as [{path = "photo.jpg", alt = "What it shows"}]'
        if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
            raise self.error(path, hint)
        images = []
        for index, value in enumerate(values):
            self.unknown_keys(value, (*path, index), IMAGE_KEYS, "an image")
            where = [key for key in ("path", "sha256") if key in value]
            if len(where) != 1:
                raise self.error(path, f"image {index + 1} needs a path (or an export's sha256)")
            if "alt" not in value:
                raise self.error(
                    path,
                    f'image {index + 1} has no alt: describe it, or give alt = "" to '
                    "publish it without a description",
                )
            images.append(
                FileImage(
                    alt=self.string(value, (*path, index, "alt")),
                    path=self.optional_string(value, (*path, index, "path")),
                    sha256=self.optional_string(value, (*path, index, "sha256")),
                )
            )
        return tuple(images)

    def tags(self, table: Mapping[str, Any]) -> tuple[str, ...]:
        tags = table.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise self.error(
                ("campaign", "tags"), 'tags must be a list of strings such as ["#Artsakh"]'
            )
        return tuple(tags)

    def tags_on(self, table: Mapping[str, Any]) -> str:
        value = table.get("tags_on", "all")
        if value not in TAG_PLACEMENTS:
            raise self.error(("campaign", "tags_on"), f"tags_on must be {_either(TAG_PLACEMENTS)}")
        return str(value)

    def status(self, table: Mapping[str, Any], path: KeyPath) -> Status | None:
        if "status" not in table:
            return None
        value = table["status"]
        try:
            return Status(value)
        except ValueError:
            known = ", ".join(status.value for status in Status)
            raise self.error(path, f"unknown status {value!r} (known: {known})") from None

    def instant(self, table: Mapping[str, Any], path: KeyPath, zone: ZoneInfo) -> datetime:
        value = table["at"]
        # tomllib reads a date as `date`, a time of day as `time`: neither is an instant.
        if not isinstance(value, datetime):
            raise self.error(path, _AT_HINT)
        years = f"at must fall between the years {MIN_YEAR} and {MAX_YEAR}"
        # Checked on the wall time first: year 1 west of UTC overflows when converted.
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            raise self.error(path, years)
        value = value.replace(microsecond=0)
        instant = local_to_utc(value, zone) if value.tzinfo is None else value.astimezone(UTC)
        if not MIN_YEAR <= instant.year <= MAX_YEAR:
            raise self.error(path, years)
        return instant


def _describe(key: str, value: object) -> str:
    if isinstance(value, dict):
        return f"table [{key}]"
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return f"table [[{key}]]"
    return f"key {key!r}"


def _either(words: Sequence[str]) -> str:
    *most, last = words
    return f"{', '.join(most)} or {last}" if most else last


def _first_at(line: int) -> str:
    return f" (the first at line {line})" if line else ""


# -- where things are in the source --------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SPACE = " \t"


class _Locator:
    """The line of each table header and key, which tomllib does not give.

    One walk over the source, tracking the current table ([campaign], the k-th [[posts]])
    and stepping over whole values (strings of every kind, arrays, inline tables), so that a
    line of a text which reads `seq = 3` is never taken for a key. The source has already
    parsed, so the walk can trust its syntax; should it stumble, lines found so far remain.
    """

    def __init__(self, source: str) -> None:
        self.lines: dict[KeyPath, int] = {}
        self._source = source
        self._newlines = [i for i, ch in enumerate(source) if ch == "\n"]
        self._arrays: dict[KeyPath, int] = {}  # array of tables -> index of its last entry
        with contextlib.suppress(ValueError, IndexError, tomllib.TOMLDecodeError):
            self._walk()

    def line(self, path: KeyPath) -> int:
        """The line of `path`, else of the nearest table or key holding it; 0: unknown."""
        for end in range(len(path), 0, -1):
            found = self.lines.get(path[:end])
            if found:
                return found
        return 0

    def _mark(self, path: KeyPath, pos: int) -> None:
        self.lines.setdefault(path, bisect.bisect_left(self._newlines, pos) + 1)

    def _walk(self) -> None:
        src = self._source
        table: KeyPath = ()
        pos = 0
        while pos < len(src):
            ch = src[pos]
            if ch in " \t\r\n":
                pos += 1
            elif ch == "#":
                pos = _line_end(src, pos)
            elif ch == "[":
                array = src.startswith("[[", pos)
                start = pos
                parts, pos = _key(src, pos + (2 if array else 1))
                pos = src.index("]]" if array else "]", pos) + (2 if array else 1)
                table = (*self._resolve(parts[:-1]), parts[-1])
                if array:
                    self._mark(table, start)
                    index = self._arrays.get(table, -1) + 1
                    self._arrays[table] = index
                    table = (*table, index)
                self._mark(table, start)
            else:
                start = pos
                parts, pos = _key(src, pos)
                for end in range(1, len(parts) + 1):
                    self._mark(table + tuple(parts[:end]), start)
                pos = _skip_value(src, src.index("=", pos) + 1)

    def _resolve(self, parts: Sequence[str]) -> KeyPath:
        """[posts.extra] inside the k-th [[posts]] is ("posts", k, "extra")."""
        path: KeyPath = ()
        for part in parts:
            path = (*path, part)
            if path in self._arrays:
                path = (*path, self._arrays[path])
        return path


def _line_end(src: str, pos: int) -> int:
    end = src.find("\n", pos)
    return len(src) if end < 0 else end


def _key(src: str, pos: int) -> tuple[list[str], int]:
    """A dotted key's parts (bare, "basic" or 'literal') and the position after it."""
    parts = []
    while True:
        while src[pos] in _SPACE:
            pos += 1
        if src[pos] == '"':
            end = _skip_string(src, pos)
            # The one sure reading of its escapes is TOML's own.
            parts.append(str(tomllib.loads(f"k = {src[pos:end]}")["k"]))
        elif src[pos] == "'":
            end = src.index("'", pos + 1) + 1
            parts.append(src[pos + 1 : end - 1])
        else:
            match = _BARE_KEY.match(src, pos)
            if match is None:
                raise ValueError("not a key")
            end = match.end()
            parts.append(match[0])
        pos = end
        while pos < len(src) and src[pos] in _SPACE:
            pos += 1
        if pos < len(src) and src[pos] == ".":
            pos += 1
            continue
        return parts, pos


def _skip_value(src: str, pos: int) -> int:
    """The end of the line a value ends on, after any strings, arrays and inline tables
    it spans."""
    depth = 0
    while pos < len(src):
        ch = src[pos]
        if ch in "\"'":
            pos = _skip_string(src, pos)
            continue
        if ch == "#":
            pos = _line_end(src, pos)
            continue
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "\n" and depth <= 0:
            return pos
        pos += 1
    return pos


def _skip_string(src: str, pos: int) -> int:
    """The position just after the string starting at `pos`, of any of TOML's four kinds."""
    quote = src[pos]
    delim = quote * 3 if src.startswith(quote * 3, pos) else quote
    escapes = quote == '"'
    i = pos + len(delim)
    while i < len(src):
        if escapes and src[i] == "\\":
            i += 2
        elif src.startswith(delim, i):
            i += len(delim)
            # Up to two more quotes just inside the closing ones belong to the string.
            extra = 0
            while len(delim) == 3 and extra < 2 and i < len(src) and src[i] == quote:
                i += 1
                extra += 1
            return i
        else:
            i += 1
    return i


# --- CSV --------------------------------------------------------------------------------------


def write_csv(campaign: CampaignFile) -> str:
    """One row a post under a header row (CSV_COLUMNS), times in ISO 8601 in the campaign's
    zone, a text with line breaks in one quoted field. Rows end in CRLF, as the csv module
    and spreadsheets have it: write the result to a file opened with newline=""."""
    zone = _zone(campaign.settings.tz)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for post in campaign.posts:
        local = _aware(post.at, "a post's time").astimezone(zone).replace(microsecond=0)
        writer.writerow(
            (
                "" if post.id is None else post.id,
                post.platform.value,
                post.account,
                post.seq,
                local.isoformat(),
                "" if post.status is None else post.status.value,
                post.url or "",
                post.text,
            )
        )
    return out.getvalue()


# --- ICS --------------------------------------------------------------------------------------

# RFC 5545 §3.1: lines end in CRLF and are folded to at most 75 octets, a continuation line
# starting with one space.
_FOLD_OCTETS = 75
_EVENT_MINUTES = 5


def write_ics(campaign: CampaignFile, stamp: datetime) -> str:
    """An iCalendar (RFC 5545) calendar with one five-minute event a post, at its time in
    UTC; `stamp` (when the file was made) is every event's DTSTAMP."""
    made = _ics_utc(_aware(stamp, "the stamp"))
    totals = Counter((post.platform, post.account) for post in campaign.posts)
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//campaign//EN", "CALSCALE:GREGORIAN"]
    for post in campaign.posts:
        summary = f"{_who(post)} {post.seq}/{totals[post.platform, post.account]} · {campaign.name}"
        start = _ics_utc(_aware(post.at, "a post's time"))
        lines += [
            "BEGIN:VEVENT",
            f"UID:{_uid(campaign.name, post)}",
            f"DTSTAMP:{made}",
            f"DTSTART:{start}",
            f"DURATION:PT{_EVENT_MINUTES}M",
            f"SUMMARY:{_ics_text(summary)}",
            f"DESCRIPTION:{_ics_text(post.text)}",
        ]
        if post.url:
            lines.append(f"URL:{_ics_uri(post.url)}")
        cancelled = post.status is Status.CANCELLED
        lines += [f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(f"{folded}\r\n" for line in lines for folded in _fold(line))


def _ics_utc(at: datetime) -> str:
    """RFC 5545 §3.3.5 DATE-TIME, form #2 (UTC)."""
    return f"{at.astimezone(UTC):%Y%m%dT%H%M%S}Z"


def _uid(name: str, post: FilePost) -> str:
    """Stable across exports, so a calendar that imports the file again updates its events."""
    if post.id is not None:
        return f"post-{post.id}@campaign"
    return f"{_slug(name)}-{post.platform.value}-{_slug(post.account)}-{post.seq}@campaign"


def _slug(value: str) -> str:
    return re.sub(r"[^\w.]+", "-", value).strip("-") or "campaign"


def _ics_text(value: str) -> str:
    """RFC 5545 §3.3.11 TEXT: backslash, semicolon and comma escaped, a line break as \\n.
    TEXT can carry no other control character but tab (TSAFE-CHAR; CONTROL is the same set
    as TOML's): those are left out."""
    out = []
    for ch in value.replace("\r\n", "\n").replace("\r", "\n"):
        if ch in "\\;,":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t" or not _CONTROL.match(ch):
            out.append(ch)
    return "".join(out)


def _ics_uri(value: str) -> str:
    # A URI value is not escaped (§3.3.13), so a space or control character in a stored
    # URL is percent-encoded rather than let it break the line.
    return re.sub("[\x00-\x20\x7f]", lambda m: f"%{ord(m[0]):02X}", value)


def _fold(line: str) -> Iterator[str]:
    """RFC 5545 §3.1 folding: pieces of at most 75 octets of UTF-8, continuations behind one
    space; cut between characters, never inside one, nor inside a backslash escape."""
    piece: list[str] = []
    size = 0
    limit = _FOLD_OCTETS
    for unit in re.findall(r"\\.|.", line, re.S):
        octets = len(unit.encode("utf-8"))
        if size + octets > limit:
            yield "".join(piece)
            piece, size, limit = [" "], 1, _FOLD_OCTETS
        piece.append(unit)
        size += octets
    yield "".join(piece)
