"""Hostile input to every command (issue 6, part 5).

Each case is either a clean error (exit 2 for bad input or 1 for a runtime failure,
exactly one line on stderr, no traceback, no "unexpected error", the database exactly as
it was) or a correct result, checked. The table runs on a real SQLite file; a subset
runs again on PostgreSQL. The terminal summary gets one figures line.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from conftest import EXAMPLE, TABLES, Cli, CliResult, snapshot
from sqlalchemy import create_engine, text

MB5 = 5 * 1024 * 1024
# A plain article whose size is known without reading it back.
AT_LIMIT_TEXT = "Short words make a fine post. " * 200
AT_LIMIT_BYTES = len(AT_LIMIT_TEXT.encode())
# The big schedule: 6,000 posts for X, 1 s apart. Splitting costs ~1.3 ms a post, so
# 100,000 posts would take over two minutes; 10,000 took 14 s alone but 24 s with the
# machine's other load, so 6,000 is the largest that stays under ~20 s here.
SCHEDULE_LINES = 36_000
SCHEDULE_POSTS = 6_000
START = "2031-01-01T09:00Z"  # fixed and far enough ahead of the real clock
QUEUE = ("queue", str(EXAMPLE), "-p", "x", "--start", "+1d", "--every", "1h")
FIGURES = {"cases": 0, "clean": 0, "tracebacks": 0}


class Hung(BaseException):
    """Raised by the alarm: not an Exception, so the CLI cannot swallow it."""


# --- the hostile files -----------------------------------------------------------------------


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _symlink_loop(path: Path) -> None:
    path.symlink_to(path.name)


def _unreadable(path: Path) -> None:
    path.write_text("A perfectly good article. It cannot be read.\n")
    path.chmod(0)


def _lines(count: int) -> str:
    return "\n".join(f"Line {i} says something short and true." for i in range(count)) + "\n"


FILES: dict[str, tuple[str, Callable[[Path], object]]] = {
    "over5mb": ("big.txt", lambda p: p.write_bytes(b"Word. " * (MB5 // 6 + 1))),
    "at_limit": ("limit.txt", lambda p: p.write_text(AT_LIMIT_TEXT)),
    "png": ("photo.txt", lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)),
    "strays": (
        "strays.txt",
        lambda p: p.write_bytes(
            "Grüße aus Jerewan, schön ist es hier. ".encode() * 20 + b"Caf\xe9 and \xff.\n"
        ),
    ),
    "overlong": (
        "overlong.txt",
        lambda p: p.write_bytes(b"Plain words \xc0\xaf then \xed\xa0\x80 then more. " * 20),
    ),
    "nul": ("nul.txt", lambda p: p.write_bytes(b"Hello world.\x00 More text here.\n" * 10)),
    "escapes": (
        "escapes.txt",
        lambda p: p.write_text(
            "Hello \x1b[31mred\x1b[0m world.\x07 Back\x08space here. " + "Plain words go. " * 40
        ),
    ),
    "lines10k": ("lines.txt", lambda p: p.write_text(_lines(10_000))),
    "schedule": ("schedule.txt", lambda p: p.write_text(_lines(SCHEDULE_LINES))),
    "punct": ("punct.txt", lambda p: p.write_text("!!! ... ??? ,,, ;;; --- !!! ‽‽ …\n")),
    "hashtags": ("tags.txt", lambda p: p.write_text("#Artsakh #Armenia #peace_now #2026\n")),
    "urls": (
        "urls.txt",
        lambda p: p.write_text(
            "https://example.com/a?q=1&r=2 https://example.org/b#frag\nhttp://x.org/\n"
        ),
    ),
    "zalgo": ("zalgo.txt", lambda p: p.write_text("Start. a" + "\u0301" * 2000 + " end.\n")),
    "nested_md": ("nested.md", lambda p: p.write_text(">" * 10_000 + " Hello world.\n")),
    "longword": ("longword.txt", lambda p: p.write_text("a" * 40_000 + ".\n")),
    "dir": ("dir.txt", lambda p: p.mkdir()),
    "fifo": ("fifo.txt", _fifo),
    "loop": ("loop.txt", _symlink_loop),
    "unreadable": ("locked.txt", _unreadable),
}


# --- the database ------------------------------------------------------------------------------


class Db:
    """`campaign ARGS` against one database, and every row in it."""

    def __init__(self, cli: Cli, url: str) -> None:
        self.cli = cli
        self.url = url

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> CliResult:
        full = {"CAMPAIGN_DATABASE_URL": self.url, "COLUMNS": "200", **(env or {})}
        result: CliResult = self.cli(*args, env=full)
        return result

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.code == 0, result.stderr
        return json.loads(result.stdout)

    def snapshot(self) -> dict[str, list[tuple[object, ...]]]:
        return snapshot(self.url)

    def seed(self) -> None:
        """A campaign on both platforms with one post cancelled: rows in every table but
        workers, and posts in several states."""
        posts = self.json(
            "queue", str(EXAMPLE), "-p", "x", "-p", "bluesky", "--start", START, "--every", "1h",
            "--campaign", "seed",
        )["posts"]  # fmt: skip
        assert self("cancel", str(posts[2]["id"])).code == 0


@pytest.fixture(scope="module")
def seeded_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeded once; each test gets a copy of the file, which is much faster than queueing."""
    from scheduler.cli.app import main
    from scheduler.config import get_settings

    path = tmp_path_factory.mktemp("seed") / "seed.db"
    mp = pytest.MonkeyPatch()
    for name in list(os.environ):
        if name.startswith(("CAMPAIGN_", "X_", "BLUESKY_")):
            mp.delenv(name)
    mp.chdir(path.parent)  # no stray .env
    mp.setenv("CAMPAIGN_DATA_DIR", str(path.parent / "data"))
    mp.setenv("CAMPAIGN_DATABASE_URL", f"sqlite:///{path}")
    mp.setenv("CAMPAIGN_TZ", "UTC")
    get_settings.cache_clear()
    try:
        for argv in (
            ["queue", str(EXAMPLE), "-p", "x", "-p", "bluesky", "--start", START, "--every",
             "1h", "--campaign", "seed", "--json"],
            ["cancel", "3"],
        ):  # fmt: skip
            with pytest.raises(SystemExit) as exit_info:
                main(argv)
            assert exit_info.value.code in (0, None)
    finally:
        mp.undo()
        get_settings.cache_clear()
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    return path


@pytest.fixture
def on_sqlite(cli: Cli, tmp_path: Path, seeded_sqlite: Path) -> Db:
    db = tmp_path / "campaign.db"
    shutil.copy(seeded_sqlite, db)
    return Db(cli, f"sqlite:///{db}")


@pytest.fixture
def on_pg(cli: Cli, shared_pg_url: str) -> Db:
    db = Db(cli, shared_pg_url)
    assert db("status").code == 0  # migrates on first use
    engine = create_engine(shared_pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()
    db.seed()
    return db


@pytest.fixture(scope="module", autouse=True)
def _figures(request: pytest.FixtureRequest) -> Iterator[None]:
    """After the module: the figures line, shown even when output is captured."""
    yield
    line = (
        f"hostile inputs: {FIGURES['cases']} cases, {FIGURES['clean']} clean, "
        f"{FIGURES['tracebacks']} tracebacks"
    )
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        print(f"\n{line}")


# --- checks for the cases that must succeed ----------------------------------------------------

Check = Callable[[CliResult, Db], None]


def posts_within_limits(minimum: int = 1) -> Check:
    def check(result: CliResult, db: Db) -> None:
        posts = json.loads(result.stdout)
        assert len(posts) >= minimum, len(posts)
        assert [p["seq"] for p in posts] == list(range(1, len(posts) + 1))
        for p in posts:
            assert 0 < p["length"] <= p["limit"], p
            assert p["text"].strip()
            if p["platform"] == "bluesky":
                assert len(p["text"].encode()) <= 3000

    return check


def all_of(*checks: Check) -> Check:
    def check(result: CliResult, db: Db) -> None:
        for one in checks:
            one(result, db)

    return check


def texts_contain(*needles: str) -> Check:
    def check(result: CliResult, db: Db) -> None:
        data = json.loads(result.stdout)
        posts = data["posts"] if isinstance(data, dict) else data
        joined = "\n".join(p["text"] for p in posts)
        for needle in needles:
            assert needle in joined, (needle, joined[:500])

    return check


def warns(fragment: str) -> Check:
    def check(result: CliResult, db: Db) -> None:
        assert any(
            line.startswith("warning: ") and fragment in line for line in result.stderr.splitlines()
        ), result.stderr

    return check


def no_control_characters(result: CliResult, db: Db) -> None:
    for p in json.loads(result.stdout):
        assert not any((ord(c) < 32 and c not in "\n\t") or 127 <= ord(c) < 160 for c in p["text"])
    assert "\x1b" not in result.stdout + result.stderr


def queued_and_stored(count: int | None = None, gap: timedelta | None = None) -> Check:
    """The printed posts are exactly the new rows, one queued event each."""

    def check(result: CliResult, db: Db) -> None:
        out = json.loads(result.stdout)
        posts = out["posts"]
        if count is not None:
            assert len(posts) == count
        stored = {r["id"]: r for r in db.json("list", "--campaign", out["campaign"])}
        assert set(stored) == {p["id"] for p in posts}
        assert all(r["status"] == "queued" for r in stored.values())
        if gap is not None:
            times = [
                datetime.fromisoformat(p["scheduled_at"].replace("Z", "+00:00")) for p in posts
            ]
            assert {b - a for a, b in itertools.pairwise(times)} == {gap}
        logged = db.json("log", "--campaign", out["campaign"], "--kind", "queued")
        assert sorted(e["post_id"] for e in logged) == sorted(stored)

    return check


def name_is_just_a_name(name: str) -> Check:
    """The campaign exists under exactly this name and filters match it alone."""

    def check(result: CliResult, db: Db) -> None:
        out = json.loads(result.stdout)
        assert out["campaign"] == name
        rows = db.json("list", "--campaign", name)
        assert {r["campaign"] for r in rows} == {name}
        assert len(rows) == len(out["posts"])
        assert {r["campaign"] for r in db.json("list")} == {name, "seed"}
        assert len(db.json("log", "--campaign", name)) == len(rows)
        seed_before = db.json("list", "--campaign", "seed")
        cancelled = db("cancel", "--campaign", name)
        assert cancelled.code == 0, cancelled.stderr
        assert {r["status"] for r in db.json("list", "--campaign", name)} == {"cancelled"}
        assert db.json("list", "--campaign", "seed") == seed_before

    return check


def every_event(result: CliResult, db: Db) -> None:
    assert json.loads(result.stdout) == db.json("log")


def utc_start(result: CliResult, db: Db) -> None:
    first = json.loads(result.stdout)["posts"][0]
    assert first["scheduled_at"] == "2031-01-01T09:00:00Z"


# --- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]  # "{name}" is replaced by the path of FILES[name]
    code: int  # expected exit code
    says: str = ""  # for errors: a fragment of the one stderr line
    env: dict[str, str] = field(default_factory=dict)
    check: Check | None = None  # for successes: what a correct result is
    timeout: float = 20.0


def queue(*extra: str, article: str = str(EXAMPLE)) -> tuple[str, ...]:
    return ("queue", article, "-p", "x", "--start", "+1d", "--every", "1h", *extra)


def q_json(*extra: str, article: str = str(EXAMPLE)) -> tuple[str, ...]:
    return (*queue(*extra, article=article), "--json")


QUOTES_NAME = "a\\b \"c\" 'd' `e`"
EMOJI_NAME = "👨\u200d👩\u200d👧 ❤️ 🇦🇲"
LIKE_NAME = "100%_off\\"

CASES: dict[str, Case] = {
    # -- files ----------------------------------------------------------------------------
    "file-over-5MB": Case(("split", "{over5mb}", "-p", "x"), 2, "too big"),
    "file-exactly-at-limit": Case(
        ("split", "{at_limit}", "-p", "x", "--json"),
        0,
        env={"CAMPAIGN_MAX_ARTICLE_BYTES": str(AT_LIMIT_BYTES)},
        check=posts_within_limits(minimum=2),
    ),
    "file-one-byte-over-limit": Case(
        ("queue", "{at_limit}", "-p", "x", "--start", "+1d", "--every", "1h"),
        2,
        "too big",
        env={"CAMPAIGN_MAX_ARTICLE_BYTES": str(AT_LIMIT_BYTES - 1)},
    ),
    "binary-png": Case(queue(article="{png}"), 2, "binary"),
    "invalid-utf8-stray-bytes": Case(
        ("split", "{strays}", "-p", "bluesky", "--json"),
        0,
        check=all_of(posts_within_limits(), warns("stray bytes"), texts_contain("Grüße", "Café")),
    ),
    "invalid-utf8-overlong-and-surrogate": Case(
        ("split", "{overlong}", "-p", "x", "--json"),
        0,
        check=all_of(posts_within_limits(), warns("UTF-8"), texts_contain("Plain words")),
    ),
    "nul-bytes": Case(queue(article="{nul}"), 2, "binary"),
    "control-characters-in-text": Case(
        ("split", "{escapes}", "-p", "x", "--json"),
        0,
        check=all_of(
            posts_within_limits(),
            no_control_characters,
            warns("control character"),
            texts_contain("red", "world.", "space here."),
        ),
    ),
    "10000-line-article-split": Case(
        ("split", "{lines10k}", "-p", "x", "--json"),
        0,
        check=all_of(posts_within_limits(minimum=1000), texts_contain("Line 0 ", "Line 9999 ")),
    ),
    "10000-line-article-queue": Case(
        ("queue", "{lines10k}", "-p", "bluesky", "--start", "+1d", "--every", "1s", "--json"),
        0,
        check=queued_and_stored(gap=timedelta(seconds=1)),
    ),
    "only-punctuation": Case(
        ("split", "{punct}", "-p", "x", "--json"),
        0,
        check=all_of(posts_within_limits(), texts_contain("!!! ... ??? ,,, ;;; --- !!! ‽‽ …")),
    ),
    "only-hashtags": Case(
        (
            "queue",
            "{hashtags}",
            "-p",
            "x",
            "-p",
            "bluesky",
            "--start",
            "+1d",
            "--every",
            "1h",
            "--json",
        ),
        0,
        check=all_of(queued_and_stored(count=2), texts_contain("#Artsakh #Armenia #peace_now")),
    ),
    "only-urls": Case(
        ("split", "{urls}", "-p", "bluesky", "--json"),
        0,
        check=all_of(
            posts_within_limits(),
            texts_contain("https://example.com/a?q=1&r=2", "https://example.org/b#frag"),
        ),
    ),
    # One grapheme of 4,001 UTF-8 bytes fits no Bluesky post (3,000 bytes at most). The
    # message blames "numbering, link and tags", which is misleading but clean.
    "grapheme-bigger-than-a-post": Case(
        ("split", "{zalgo}", "-p", "bluesky"), 2, "single character"
    ),
    "markdown-nested-10000-deep": Case(("split", "{nested_md}", "-p", "x"), 2, "no article text"),
    "directory-named-like-article": Case(queue(article="{dir}"), 2, "directory"),
    "fifo-as-article": Case(queue(article="{fifo}"), 2, "not a regular file", timeout=5),
    "symlink-loop": Case(("split", "{loop}", "-p", "x"), 2, "symbolic links"),
    "unreadable-file": Case(("split", "{unreadable}", "-p", "x"), 2, "cannot read"),
    # -- times and durations ------------------------------------------------------------
    "start-year-9999": Case(queue("--start", "9999-06-01T09:00Z"), 2, "between the years"),
    "start-year-1900": Case(
        queue("--start", "1900-06-01T09:00", "--allow-past"), 2, "between the years"
    ),
    "start-2027-02-30": Case(queue("--start", "2027-02-30"), 2, "2027-02-30"),
    "every-0s": Case(queue("--every", "0s"), 2, "0s"),
    "every-minus-1h": Case(queue("--every", "-1h"), 2, "-1h"),
    "every-1x": Case(queue("--every", "1x"), 2, "1x"),
    "every-20-digit-days": Case(queue("--every", "99999999999999999999d"), 2, "duration"),
    "spread-until-before-start": Case(
        ("queue", str(EXAMPLE), "-p", "x", "--start", "+2d", "--spread-until", "+1d"),
        2,
        "--spread-until",
    ),
    "6000-post-schedule-every-1s": Case(
        ("queue", "{schedule}", "-p", "x", "--start", START, "--every", "1s", "--json"),
        0,
        check=all_of(
            queued_and_stored(count=SCHEDULE_POSTS, gap=timedelta(seconds=1)),
            warns("exceed the posting budget"),
        ),
        timeout=90,
    ),
    "tz-Mars/Base": Case(queue("--tz", "Mars/Base"), 2, "Mars/Base"),
    "tz-path-traversal": Case(queue("--tz", "../../etc/passwd"), 2, "unknown time zone"),
    "tz-empty-means-the-default": Case(
        q_json("--tz", "", "--start", "2031-01-01T09:00", "--campaign", "tz"),
        0,
        check=all_of(utc_start, queued_and_stored()),
    ),
    "CAMPAIGN_TZ-garbage": Case(
        ("list",), 2, "unknown time zone", env={"CAMPAIGN_TZ": "Mars/Base"}
    ),
    "log-since-garbage-duration": Case(("log", "--since", "-fortnight"), 2, "fortnight"),
    "log-since-year-9999": Case(("log", "--since", "9999-12-31"), 2, "between the years"),
    # -- names and tags -----------------------------------------------------------------
    "name-sql-and-like-wildcards": Case(
        q_json("--campaign", LIKE_NAME), 0, check=name_is_just_a_name(LIKE_NAME)
    ),
    "name-quotes-and-backslash": Case(
        q_json("--campaign", QUOTES_NAME), 0, check=name_is_just_a_name(QUOTES_NAME)
    ),
    "name-emoji-zwj-sequence": Case(
        q_json("--campaign", EMOJI_NAME), 0, check=name_is_just_a_name(EMOJI_NAME)
    ),
    "filter-underscores-are-not-wildcards": Case(
        ("list", "--campaign", "s__d"), 2, "no campaign named"
    ),
    "filter-percent-is-not-a-wildcard": Case(("cancel", "--campaign", "se%"), 2, "no campaign"),
    "filter-sql-injection": Case(
        ("retry", "--campaign", "seed' OR '1'='1"), 2, "no campaign named"
    ),
    "name-10000-chars": Case(queue("--campaign", "n" * 10_000), 2, "10000 characters"),
    "name-newline": Case(queue("--campaign", "two\nlines"), 2, "control characters"),
    "name-bell-and-escape": Case(queue("--campaign", "ding\x07\x1b[2J"), 2, "control characters"),
    "name-rtl-override": Case(queue("--campaign", "abc\u202etxt.exe"), 2, "control characters"),
    "tag-sql-injection": Case(queue("--tag", "'; DROP TABLE posts; --"), 2, "invalid tag"),
    "tag-percent": Case(queue("--tag", "%"), 2, "invalid tag"),
    "tag-backslash": Case(queue("--tag", "a\\b"), 2, "invalid tag"),
    "tag-10000-chars": Case(queue("--tag", "t" * 10_000), 2, "invalid tag"),
    "1000-tags": Case(
        queue(*(arg for i in range(1000) for arg in ("--tag", f"tag{i}"))), 2, "no room"
    ),
    "link-javascript": Case(queue("--link", "javascript:alert(1)"), 2, "invalid link"),
    "link-10000-chars": Case(
        queue("--link", "https://example.com/" + "a" * 10_000), 2, "invalid link"
    ),
    # -- ids, counts, filters -----------------------------------------------------------
    "cancel-0": Case(("cancel", "0"), 2, "no post with id 0"),
    "cancel-minus-1": Case(("cancel", "--", "-1"), 2, "is not a post id"),
    "cancel-20-digits": Case(("cancel", "99999999999999999999"), 2, "no post with id"),
    "cancel-max-int64": Case(("cancel", str(2**63 - 1)), 2, "no post with id"),
    "retry-0": Case(("retry", "0"), 2, "no post with id 0"),
    "retry-20-digits": Case(("retry", "5", "99999999999999999999"), 2, "no post with id"),
    "log-post-0": Case(("log", "--post", "0"), 2, "no post with id 0"),
    "log-post-minus-1": Case(("log", "--post", "-1"), 2, "no post with id -1"),
    "log-post-20-digits": Case(("log", "--post", "99999999999999999999"), 2, "no post with id"),
    "log-n-minus-5": Case(("log", "-n", "-5"), 2, "-n"),
    "log-n-20-digits-means-all": Case(
        ("log", "-n", "99999999999999999999", "--json"), 0, check=every_event
    ),
    "list-status-sql": Case(("list", "--status", "queued' OR '1'='1"), 2, "unknown status"),
    "list-platform-empty": Case(("list", "--platform", ""), 2, "unknown platform"),
    "list-platform-fullwidth-x": Case(("list", "--platform", "Ｘ"), 2, "unknown platform"),
    "accounts-platform-cyrillic-x": Case(
        ("accounts", "check", "--platform", "х"), 2, "unknown platform"
    ),
    # -- settings and database URLs -----------------------------------------------------
    "db-url-not-a-url": Case(
        ("list",), 2, "database URL", env={"CAMPAIGN_DATABASE_URL": "not-a-url"}
    ),
    "db-url-mysql-without-driver": Case(
        ("status",), 2, "mysql://x", env={"CAMPAIGN_DATABASE_URL": "mysql://x"}
    ),
    "db-url-sqlite-dir-uncreatable": Case(
        QUEUE, 1, "/proc/nope/x.db", env={"CAMPAIGN_DATABASE_URL": "sqlite:////proc/nope/x.db"}
    ),
    "db-url-sqlite-file-uncreatable": Case(
        ("cancel", "1"), 1, "/proc/x.db", env={"CAMPAIGN_DATABASE_URL": "sqlite:////proc/x.db"}
    ),
    "db-upgrade-unknown-revision": Case(("db", "upgrade", "'; DROP TABLE x"), 2, "DROP TABLE"),
    "db-upgrade-empty-revision": Case(("db", "upgrade", ""), 2, "revision"),
    "setting-max-bytes-garbage": Case(
        ("split", str(EXAMPLE), "-p", "x"),
        2,
        "CAMPAIGN_MAX_ARTICLE_BYTES",
        env={"CAMPAIGN_MAX_ARTICLE_BYTES": "lots"},
    ),
    # -- performance as a hostile input -------------------------------------------------
    "one-40000-char-word": Case(
        ("split", "{longword}", "-p", "x", "--json"),
        0,
        check=posts_within_limits(minimum=100),
        timeout=3,
    ),
}

MARKS: dict[str, list[pytest.MarkDecorator]] = {
    "unreadable-file": [
        pytest.mark.skipif(
            os.geteuid() == 0, reason="running as root: chmod 000 does not stop root reading"
        )
    ],
}

# The subset that also runs on PostgreSQL: everything that reaches SQL with hostile values.
ON_POSTGRES = (
    "name-sql-and-like-wildcards",
    "name-quotes-and-backslash",
    "name-emoji-zwj-sequence",
    "filter-underscores-are-not-wildcards",
    "filter-percent-is-not-a-wildcard",
    "filter-sql-injection",
    "cancel-0",
    "cancel-20-digits",
    "cancel-max-int64",
    "retry-20-digits",
    "log-post-20-digits",
    "log-n-20-digits-means-all",
    "list-status-sql",
    "start-2027-02-30",
    "only-hashtags",
)


def _params(names: Any) -> list[Any]:
    return [pytest.param(name, id=name, marks=MARKS.get(name, [])) for name in names]


def _materialise(args: tuple[str, ...], tmp_path: Path) -> list[str]:
    out = []
    for arg in args:
        if arg.startswith("{") and arg.endswith("}") and arg[1:-1] in FILES:
            filename, make = FILES[arg[1:-1]]
            path = tmp_path / "in" / filename
            path.parent.mkdir(exist_ok=True)
            if not os.path.lexists(path):
                make(path)
            arg = str(path)
        out.append(arg)
    return out


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise Hung("the command did not finish in time")


def run_case(name: str, db: Db, tmp_path: Path) -> None:
    case = CASES[name]
    argv = _materialise(case.args, tmp_path)
    before = db.snapshot()
    FIGURES["cases"] += 1
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, case.timeout)
    try:
        result = db(*argv, env=case.env)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if "Traceback" in result.stdout + result.stderr:
        FIGURES["tracebacks"] += 1
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert "unexpected error" not in result.stderr, result.stderr
    assert result.code == case.code, (result.code, result.stderr[:2000])
    if case.code != 0:
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("campaign: "), lines[0]
        assert case.says in lines[0], lines[0][:2000]
        assert db.snapshot() == before, "the database changed on an error"
    else:
        assert case.check is not None
        case.check(result, db)
    FIGURES["clean"] += 1


@pytest.mark.parametrize("name", _params(CASES))
def test_hostile_input_on_sqlite(name: str, on_sqlite: Db, tmp_path: Path) -> None:
    run_case(name, on_sqlite, tmp_path)


@pytest.mark.parametrize("name", _params(ON_POSTGRES))
def test_hostile_input_on_postgresql(name: str, on_pg: Db, tmp_path: Path) -> None:
    run_case(name, on_pg, tmp_path)


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 30
    assert set(ON_POSTGRES) <= set(CASES)
    commands = {c.args[0] for c in CASES.values()}
    assert commands >= {"split", "queue", "list", "log", "cancel", "retry", "status", "db"}
    assert "accounts" in commands
    # START must stay in the future, or every case using it fails for the wrong reason.
    assert datetime.fromisoformat(START.replace("Z", "+00:00")) > datetime.now(UTC)
