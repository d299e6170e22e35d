"""`campaign queue`, `list`, `cancel`, `retry`, `log` and `status`, run in-process against
a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import EXAMPLE, TABLES, Cli, CliResult, snapshot
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from scheduler.model import Failed, Platform
from scheduler.plan import format_local
from scheduler.store import open_store

POST_KEYS = {"id", "platform", "seq", "scheduled_at", "text"}
LIST_KEYS = {
    "id",
    "campaign",
    "platform",
    "seq",
    "status",
    "scheduled_at",
    "attempts",
    "remote_url",
    "last_error",
    "text",
}
LOG_KEYS = {"id", "at", "kind", "post_id", "campaign", "platform", "seq", "worker", "detail"}


def future(days: int = 30) -> datetime:
    """A whole hour some days ahead of the real clock (the CLI reads the real clock)."""
    return (datetime.now(UTC) + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)


def iso_z(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_z(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value.removesuffix("Z") + "+00:00")


class Campaign:
    """`campaign ARGS` against one database, plus a look at every row in it."""

    def __init__(self, cli: Cli, url: str) -> None:
        self.cli = cli
        self.url = url

    def __call__(self, *args: str, **env: str) -> CliResult:
        result: CliResult = self.cli(
            *args, env={"CAMPAIGN_DATABASE_URL": self.url, "COLUMNS": "250", **env}
        )
        return result

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.code == 0, result.stderr
        return json.loads(result.stdout)

    def queue(self, *args: str, article: Path = EXAMPLE) -> dict[str, Any]:
        found: dict[str, Any] = self.json("queue", str(article), *args)
        return found

    def snapshot(self) -> dict[str, list[tuple[object, ...]]]:
        return snapshot(self.url)


@pytest.fixture
def campaign(cli: Cli, reused_db_url: str) -> Campaign:
    return Campaign(cli, reused_db_url)


@pytest.fixture
def on_sqlite(cli: Cli, sqlite_url: str) -> Campaign:
    return Campaign(cli, sqlite_url)


def by_platform(posts: list[dict[str, Any]], platform: str) -> list[dict[str, Any]]:
    return [p for p in posts if p["platform"] == platform]


def gaps(posts: list[dict[str, Any]]) -> set[timedelta]:
    times = [parse_z(p["scheduled_at"]) for p in posts]
    return {b - a for a, b in itertools.pairwise(times)}


def assert_one_line_error(result: CliResult, code: int) -> None:
    assert result.code == code, (result.code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("campaign: "), lines[0]
    assert "unexpected error" not in lines[0], lines[0]


# --- queue ------------------------------------------------------------------------------------


def test_queue_json_shape_and_spacing(campaign: Campaign) -> None:
    start = future()
    out = campaign.queue(
        "--platform", "x", "--platform", "bluesky", "--start", iso_z(start), "--every", "30m"
    )
    assert set(out) == {"campaign", "x_cost_usd", "posts"}
    assert out["campaign"] == "artsakh-op-ed"
    posts = out["posts"]
    # No URL in the op-ed's X posts: each is priced as a plain post (CAMPAIGN_X_PRICE_POST).
    assert out["x_cost_usd"] == pytest.approx(len(by_platform(posts, "x")) * 0.015)
    assert all(set(p) == POST_KEYS for p in posts)
    assert all(p["scheduled_at"].endswith("Z") for p in posts)
    assert len({p["id"] for p in posts}) == len(posts)
    for platform in ("x", "bluesky"):
        mine = by_platform(posts, platform)
        assert len(mine) > 3
        assert [p["seq"] for p in mine] == list(range(1, len(mine) + 1))
        assert parse_z(mine[0]["scheduled_at"]) == start
        assert gaps(mine) == {timedelta(minutes=30)}
        assert all(p["text"].strip() for p in mine)
    # What was printed is what was stored.
    listed = {r["id"]: r for r in campaign.json("list")}
    for p in posts:
        assert listed[p["id"]]["scheduled_at"] == p["scheduled_at"]
        assert listed[p["id"]]["status"] == "queued"
        assert (listed[p["id"]]["platform"], listed[p["id"]]["seq"]) == (p["platform"], p["seq"])
    # The campaign remembers which file, and which version of it, it came from.
    [row] = snapshot(campaign.url)["campaigns"]
    assert str(EXAMPLE.resolve()) in row
    assert hashlib.sha256(EXAMPLE.read_bytes()).hexdigest() in row


def test_queue_table_output(on_sqlite: Campaign) -> None:
    result = on_sqlite(
        "queue", str(EXAMPLE), "-p", "x", "--start", iso_z(future()), "--every", "1h"
    )
    assert result.code == 0, result.stderr
    assert "campaign 'artsakh-op-ed'" in result.stdout
    assert "posts queued" in result.stdout
    assert "scheduled (UTC)" in result.stdout
    assert f"{future():%Y-%m-%d %H:%M}" in result.stdout
    assert not result.stdout.lstrip().startswith("{")


def test_same_name_refused_unless_append(campaign: Campaign) -> None:
    start = iso_z(future())
    first = campaign.queue("-p", "x", "-p", "bluesky", "--start", start, "--every", "30m")
    before = campaign.snapshot()
    again = campaign("queue", str(EXAMPLE), "-p", "x", "--start", start, "--every", "30m")
    assert_one_line_error(again, 2)
    assert "artsakh-op-ed" in again.stderr
    assert campaign.snapshot() == before

    more = campaign.queue("-p", "x", "--start", start, "--every", "30m", "--append")
    assert more["campaign"] == "artsakh-op-ed"
    x_count = len(by_platform(first["posts"], "x"))
    assert [p["seq"] for p in more["posts"]] == list(
        range(x_count + 1, x_count + 1 + len(more["posts"]))
    )
    assert len(campaign.json("list", "--campaign", "artsakh-op-ed")) == len(first["posts"]) + len(
        more["posts"]
    )


def test_campaign_option_names_the_campaign(campaign: Campaign) -> None:
    out = campaign.queue(
        "-p",
        "bluesky",
        "--start",
        iso_z(future()),
        "--every",
        "1h",
        "--campaign",
        "  spring push  ",
    )
    assert out["campaign"] == "spring push"
    assert {r["campaign"] for r in campaign.json("list")} == {"spring push"}


def test_sql_metacharacters_in_a_name_are_just_a_name(campaign: Campaign) -> None:
    name = "x'; DROP TABLE posts; --"
    out = campaign.queue("-p", "x", "--start", iso_z(future()), "--every", "1h", "--campaign", name)
    assert out["campaign"] == name
    rows = campaign.json("list", "--campaign", name)
    assert {r["campaign"] for r in rows} == {name}
    assert len(rows) == len(out["posts"])
    assert campaign("log", "--campaign", name, "-n", "1").code == 0
    assert set(campaign.snapshot()) == set(TABLES)
    cancelled = campaign("cancel", "--campaign", name)
    assert cancelled.code == 0, cancelled.stderr
    assert {r["status"] for r in campaign.json("list", "--campaign", name)} == {"cancelled"}


def test_tz_applies_to_a_naive_start(on_sqlite: Campaign) -> None:
    year = future().year + 1
    out = on_sqlite.queue(
        "-p", "x", "--start", f"{year}-06-01T12:00", "--every", "1h", "--tz", "Asia/Yerevan"
    )
    assert out["posts"][0]["scheduled_at"] == f"{year}-06-01T08:00:00Z"


def test_whole_days_keep_local_time_across_dst(on_sqlite: Campaign) -> None:
    out = on_sqlite.queue(
        "-p",
        "x",
        "--start",
        "2027-03-13T09:00",
        "--every",
        "1d",
        "--tz",
        "America/New_York",
        "--allow-past",
    )
    times = [p["scheduled_at"] for p in out["posts"][:3]]
    assert times == ["2027-03-13T14:00:00Z", "2027-03-14T13:00:00Z", "2027-03-15T13:00:00Z"]


def test_hours_are_elapsed_time_across_dst(on_sqlite: Campaign) -> None:
    out = on_sqlite.queue(
        "-p",
        "x",
        "--start",
        "2027-03-13T21:00",
        "--every",
        "12h",
        "--tz",
        "America/New_York",
        "--allow-past",
    )
    assert out["posts"][0]["scheduled_at"] == "2027-03-14T02:00:00Z"
    assert out["posts"][1]["scheduled_at"] == "2027-03-14T14:00:00Z"  # 10:00 EDT
    assert gaps(out["posts"]) == {timedelta(hours=12)}


def test_spread_until(on_sqlite: Campaign) -> None:
    start = future()
    end = start + timedelta(hours=6)
    out = on_sqlite.queue(
        "-p", "x", "-p", "bluesky", "--start", iso_z(start), "--spread-until", iso_z(end)
    )
    for platform in ("x", "bluesky"):
        mine = by_platform(out["posts"], platform)
        times = [parse_z(p["scheduled_at"]) for p in mine]
        assert times[0] == start
        assert times[-1] == end
        assert times == sorted(times)
        steps = gaps(mine)
        assert max(steps) - min(steps) <= timedelta(seconds=1)


def test_past_start_refused_unless_allowed(on_sqlite: Campaign) -> None:
    on_sqlite.queue("-p", "x", "--start", "+1h", "--every", "1h", "--campaign", "seed")
    before = on_sqlite.snapshot()
    past = iso_z(datetime.now(UTC) - timedelta(days=1))
    refused = on_sqlite("queue", str(EXAMPLE), "-p", "x", "--start", past, "--every", "1h")
    assert_one_line_error(refused, 2)
    assert "--allow-past" in refused.stderr
    assert on_sqlite.snapshot() == before
    allowed = on_sqlite.queue("-p", "x", "--start", past, "--every", "1h", "--allow-past")
    assert allowed["posts"][0]["scheduled_at"] == past


def test_start_now_is_accepted(on_sqlite: Campaign) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    out = on_sqlite.queue("-p", "bluesky", "--start", "now", "--every", "10m")
    first = parse_z(out["posts"][0]["scheduled_at"])
    assert before <= first <= datetime.now(UTC)


def big_article(tmp_path: Path, sentences: int) -> Path:
    filler = "the quick brown fox jumps over the lazy dog again and again " * 3
    body = "\n\n".join(
        f"Paragraph {i} says something distinct, {filler.strip()} until point {i}."
        for i in range(sentences)
    )
    path = tmp_path / "long-read.txt"
    path.write_text(f"A Very Long Read\n\n{body}\n", encoding="utf-8")
    return path


def test_budget_warning_says_when_the_last_post_really_goes_out(
    on_sqlite: Campaign, tmp_path: Path
) -> None:
    article = big_article(tmp_path, 150)
    start = future()
    result = on_sqlite(
        "queue",
        str(article),
        "-p",
        "x",
        "-p",
        "bluesky",
        "--start",
        iso_z(start),
        "--every",
        "1s",
        "--json",
    )
    assert result.code == 0, result.stderr
    x_posts = by_platform(json.loads(result.stdout)["posts"], "x")
    n = len(x_posts)
    assert 100 < n <= 200, n
    warnings = [line for line in result.stderr.splitlines() if "budget" in line]
    assert len(warnings) == 1, result.stderr
    [warning] = warnings
    assert warning.startswith("warning: x:")
    # The first 100 go out a second apart; then each waits for the one 100 earlier + 15 min.
    real_last = start + timedelta(seconds=900 + (n - 1 - 100))
    utc = ZoneInfo("UTC")
    assert f"really go out at {format_local(real_last, utc)}" in warning
    assert f"not {format_local(start + timedelta(seconds=n - 1), utc)}" in warning


def test_no_budget_warning_within_the_budget(on_sqlite: Campaign) -> None:
    result = on_sqlite(
        "queue", str(EXAMPLE), "-p", "x", "--start", iso_z(future()), "--every", "1s"
    )
    assert result.code == 0, result.stderr
    assert "budget" not in result.stderr


def test_standalone_posts(campaign: Campaign) -> None:
    out = campaign.queue("-p", "x", "--start", iso_z(future()), "--every", "1h", "--standalone")
    assert not any(p["text"].startswith("1/") for p in out["posts"])
    engine = create_engine(campaign.url)
    try:
        with engine.connect() as conn:
            parents = conn.execute(text("SELECT parent_id, root_id FROM posts")).all()
    finally:
        engine.dispose()
    assert parents and all(row == (None, None) for row in parents)


# --- list -------------------------------------------------------------------------------------


def test_list_table_json_and_filters(campaign: Campaign) -> None:
    start = iso_z(future())
    a = campaign.queue(
        "-p", "x", "-p", "bluesky", "--start", start, "--every", "1h", "--campaign", "alpha"
    )
    b = campaign.queue("-p", "bluesky", "--start", start, "--every", "1h", "--campaign", "beta")

    rows = campaign.json("list")
    assert len(rows) == len(a["posts"]) + len(b["posts"])
    assert all(set(r) == LIST_KEYS for r in rows)
    assert all(r["scheduled_at"].endswith("Z") and r["attempts"] == 0 for r in rows)
    assert all(r["remote_url"] is None and r["last_error"] is None for r in rows)
    assert [r["scheduled_at"] for r in rows] == sorted(r["scheduled_at"] for r in rows)

    beta = campaign.json("list", "--campaign", "beta")
    assert {r["id"] for r in beta} == {p["id"] for p in b["posts"]}
    x_rows = campaign.json("list", "--platform", "x")
    assert {r["id"] for r in x_rows} == {p["id"] for p in by_platform(a["posts"], "x")}
    assert campaign.json("list", "--status", "published") == []
    both = campaign.json(
        "list", "--campaign", "alpha", "--platform", "bluesky", "--status", "queued"
    )
    assert {r["id"] for r in both} == {p["id"] for p in by_platform(a["posts"], "bluesky")}

    table = campaign("list", "--campaign", "beta")
    assert table.code == 0, table.stderr
    assert f"{len(b['posts'])} posts" in table.stdout
    assert "beta" in table.stdout and "alpha" not in table.stdout
    assert table.stderr == ""  # nothing is overdue


def test_list_warns_about_overdue_posts_without_a_daemon(campaign: Campaign) -> None:
    out = campaign.queue("-p", "x", "--start", "now", "--every", "1h")
    result = campaign("list")
    assert result.code == 0
    assert "no daemon has ever run" in result.stderr
    assert "1 post is overdue" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert str(out["posts"][0]["id"]) in result.stdout

    with open_store(campaign.url) as store:
        store.heartbeat("daemon-1", datetime.now(UTC) - timedelta(minutes=30))
        stale = campaign("list")
        assert "no daemon has been seen for 30 min" in stale.stderr
        store.heartbeat("daemon-1", datetime.now(UTC))
    fresh = campaign("list")
    assert fresh.code == 0
    assert fresh.stderr == ""


# --- cancel and retry -------------------------------------------------------------------------


def test_cancel_one_post_holds_the_rest_of_its_thread(campaign: Campaign) -> None:
    out = campaign.queue("-p", "x", "--start", iso_z(future()), "--every", "1h")
    ids = [p["id"] for p in out["posts"]]
    result = campaign("cancel", str(ids[1]))
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == f"cancelled 1 post: {ids[1]}"
    status = {r["id"]: r["status"] for r in campaign.json("list")}
    assert status[ids[0]] == "queued"
    assert status[ids[1]] == "cancelled"
    assert all(status[i] == "held" for i in ids[2:])
    held = campaign.json("log", "--kind", "held")
    assert sorted(e["post_id"] for e in held) == ids[2:]


def test_cancel_a_whole_campaign(campaign: Campaign) -> None:
    out = campaign.queue("-p", "x", "-p", "bluesky", "--start", iso_z(future()), "--every", "1h")
    campaign.queue("-p", "x", "--start", iso_z(future()), "--every", "1h", "--campaign", "keep")
    result = campaign("cancel", "--campaign", "artsakh-op-ed")
    assert result.code == 0, result.stderr
    assert result.stdout.startswith(f"cancelled {len(out['posts'])} posts: ")
    statuses = {r["status"] for r in campaign.json("list", "--campaign", "artsakh-op-ed")}
    assert statuses == {"cancelled"}
    assert {r["status"] for r in campaign.json("list", "--campaign", "keep")} == {"queued"}
    # Every post got exactly one "cancelled" event.
    cancelled = campaign.json("log", "--campaign", "artsakh-op-ed", "--kind", "cancelled")
    assert sorted(e["post_id"] for e in cancelled) == sorted(p["id"] for p in out["posts"])


def fail_first_post(url: str) -> int:
    """Play the daemon's part: claim the first due post and fail it permanently."""
    now = datetime.now(UTC)
    with open_store(url) as store:
        [job] = store.claim("w1", now, timedelta(minutes=2), 1, list(Platform))
        assert store.record(job, Failed("403 forbidden"), "w1", now)
        return job.post_id


def test_retry_failed_and_held_posts(campaign: Campaign) -> None:
    out = campaign.queue("-p", "x", "--start", "now", "--every", "1h")
    ids = [p["id"] for p in out["posts"]]
    failed = fail_first_post(campaign.url)
    assert failed == ids[0]
    status = {r["id"]: r for r in campaign.json("list")}
    assert status[ids[0]]["status"] == "failed"
    assert status[ids[0]]["last_error"] == "403 forbidden"
    assert status[ids[0]]["attempts"] == 1
    assert {status[i]["status"] for i in ids[1:]} == {"held"}

    before = campaign.snapshot()
    alone = campaign("retry", str(ids[1]))  # its parent is still failed
    assert_one_line_error(alone, 2)
    assert campaign.snapshot() == before

    result = campaign("retry", str(ids[0]))
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == f"queued again 1 post: {ids[0]}"
    result = campaign("retry", "--campaign", "artsakh-op-ed")
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == f"queued again {len(ids) - 1} posts: " + ", ".join(
        map(str, ids[1:])
    )
    rows = campaign.json("list")
    assert {r["status"] for r in rows} == {"queued"}
    assert {r["attempts"] for r in rows} == {0}
    requeued = campaign.json("log", "--kind", "requeued")
    assert sorted(e["post_id"] for e in requeued) == ids


# --- log --------------------------------------------------------------------------------------


def test_log_formats_and_filters(campaign: Campaign) -> None:
    out = campaign.queue("-p", "x", "-p", "bluesky", "--start", iso_z(future()), "--every", "1h")
    ids = [p["id"] for p in out["posts"]]
    assert campaign("cancel", str(ids[-1])).code == 0

    events = campaign.json("log")
    assert len(events) == len(ids) + 1
    assert all(set(e) == LOG_KEYS for e in events)
    assert all(e["at"].endswith("Z") and e["campaign"] == "artsakh-op-ed" for e in events)
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert events[-1]["kind"] == "cancelled" and events[-1]["post_id"] == ids[-1]
    assert events[0]["detail"] == {"campaign": "artsakh-op-ed"}

    assert [e["kind"] for e in campaign.json("log", "--post", str(ids[-1]))] == [
        "queued",
        "cancelled",
    ]
    assert len(campaign.json("log", "--kind", "queued")) == len(ids)
    newest = campaign.json("log", "-n", "2")
    assert [e["id"] for e in newest] == [e["id"] for e in events[-2:]]
    assert len(campaign.json("log", "--since", "-1h")) == len(events)
    assert campaign.json("log", "--since", "+1h") == []
    assert len(campaign.json("log", "--platform", "bluesky")) == len(
        by_platform(out["posts"], "bluesky")
    ) + (1 if out["posts"][-1]["platform"] == "bluesky" else 0)

    table = campaign("log", "--post", str(ids[-1]))
    assert table.code == 0, table.stderr
    assert "post log (2 events)" in table.stdout
    assert "cancelled" in table.stdout

    as_csv = campaign("log", "--csv")
    assert as_csv.code == 0, as_csv.stderr
    rows = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert rows[0] == [
        "id",
        "at",
        "kind",
        "post_id",
        "campaign",
        "platform",
        "seq",
        "worker",
        "detail",
    ]
    assert len(rows) == len(events) + 1
    assert [int(r[0]) for r in rows[1:]] == [e["id"] for e in events]
    assert json.loads(rows[1][8]) == events[0]["detail"]


# --- status -----------------------------------------------------------------------------------


def test_status_never_shows_the_password(cli: Cli, pg_url: str) -> None:
    url = make_url(pg_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    assert "s3cret-pw" in url
    campaign = Campaign(cli, url)
    outputs = [
        campaign("db", "upgrade"),
        campaign("queue", str(EXAMPLE), "-p", "x", "--start", "now", "--every", "1h"),
        campaign("list"),
        campaign("status"),
        campaign("status", "--json"),
        campaign("log", "-n", "3"),
        campaign("cancel", "--campaign", "artsakh-op-ed"),
        campaign("list", "--campaign", "no-such-campaign"),
    ]
    for result in outputs:
        assert "s3cret-pw" not in result.stdout + result.stderr
    assert [r.code for r in outputs] == [0, 0, 0, 0, 0, 0, 0, 2]
    status = outputs[3].stdout
    database = make_url(pg_url).database
    assert f"database: postgresql+psycopg://postgres:***@127.0.0.1:5432/{database}" in status
    assert "queued" in status and "next due" in status and "none has run yet" in status
    shown = json.loads(outputs[4].stdout)
    assert set(shown) == {
        "database",
        "settings_files",
        "counts",
        "paused_campaigns",
        "waiting_for_credits",
        "next_due",
        "daemons",
    }
    assert shown["database"].endswith(f"/{database}") and "***" in shown["database"]
    assert set(shown["counts"]) == {"queued"}
    assert shown["daemons"] == []


def test_status_on_sqlite(on_sqlite: Campaign) -> None:
    on_sqlite.queue("-p", "bluesky", "--start", iso_z(future()), "--every", "1h")
    result = on_sqlite("status")
    assert result.code == 0, result.stderr
    assert f"database: {on_sqlite.url}" in result.stdout
    assert "next due: post" in result.stdout


# --- bad input --------------------------------------------------------------------------------

QUEUE = ["queue", "{article}", "-p", "x"]
SPACED = [*QUEUE, "--start", "+1h", "--every", "1h"]
BAD_INPUT: list[tuple[list[str], int, str]] = [
    (["list", "--campaign", "nope"], 2, "nope"),
    (["list", "--status", "bogus"], 2, "bogus"),
    (["list", "--platform", "myspace"], 2, "myspace"),
    (["cancel", "9999"], 2, "9999"),
    (["cancel", "--campaign", "nope"], 2, "nope"),
    (["cancel"], 2, "post ids"),
    (["retry", "9999"], 2, "9999"),
    (["retry", "--campaign", "nope"], 2, "nope"),
    (["log", "--campaign", "nope"], 2, "nope"),
    (["log", "--post", "9999"], 2, "9999"),
    (["log", "--kind", "bogus"], 2, "bogus"),
    (["log", "-n", "0"], 2, "-n"),
    (["log", "--since", "yesterdayish"], 2, "yesterdayish"),
    (["log", "--json", "--csv"], 2, "--csv"),
    ([*QUEUE, "--start", "tomorrowish", "--every", "1h"], 2, "tomorrowish"),
    ([*QUEUE, "--start", "+1h", "--every", "0m"], 2, "0m"),
    ([*QUEUE, "--start", "+1h", "--every", "-5m"], 2, "-5m"),
    ([*QUEUE, "--start", "+1h", "--every", "5x"], 2, "5x"),
    ([*SPACED, "--tz", "Mars/Olympus_Mons"], 2, "Mars/Olympus_Mons"),
    ([*SPACED, "--spread-until", "+5h"], 2, "--spread-until"),
    ([*SPACED, "--platform", "myspace"], 2, "myspace"),
    ([*SPACED, "--tag", "not a tag!"], 2, "not a tag!"),
    ([*SPACED, "--campaign", "n" * 201], 2, "201"),
    ([*SPACED, "--campaign", "existing"], 2, "existing"),
    ([*QUEUE, "--start", "+1h"], 2, "--every"),
    (["queue", "{missing}", "-p", "x", "--start", "+1h", "--every", "1h"], 2, "not found"),
]


def test_bad_input_is_one_line_exit_code_and_no_change(campaign: Campaign, tmp_path: Path) -> None:
    campaign.queue(
        "-p", "x", "-p", "bluesky", "--start", "+1h", "--every", "1h", "--campaign", "existing"
    )
    before = campaign.snapshot()
    problems = []
    for args, code, mentioned in BAD_INPUT:
        argv = [a.format(article=EXAMPLE, missing=tmp_path / "no-such-article.txt") for a in args]
        result = campaign(*argv)
        try:
            assert_one_line_error(result, code)
            assert mentioned in result.stderr, result.stderr
            assert campaign.snapshot() == before, "the database changed"
        except AssertionError:
            problems.append(f"{' '.join(a[:40] for a in argv)}: {result}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["status"],
        ["log"],
        ["cancel", "1"],
        ["queue", str(EXAMPLE), "-p", "x", "--start", "+1h", "--every", "1h"],
    ],
)
def test_unreachable_database_is_a_runtime_error(cli: Cli, args: list[str]) -> None:
    url = "postgresql+psycopg://postgres:pw123@127.0.0.1:1/x"
    result: CliResult = cli(*args, env={"CAMPAIGN_DATABASE_URL": url})
    assert_one_line_error(result, 1)
    assert "127.0.0.1:1/x" in result.stderr
    assert "pw123" not in result.stderr + result.stdout


def test_invalid_database_url_is_bad_input(cli: Cli) -> None:
    result: CliResult = cli("list", env={"CAMPAIGN_DATABASE_URL": "nosuchdb://whatever"})
    assert_one_line_error(result, 2)
    assert "database URL" in result.stderr


def test_retry_brings_back_a_cancelled_thread(campaign: Campaign) -> None:
    out = campaign.queue("-p", "bluesky", "--start", iso_z(future()), "--every", "1h")
    ids = [p["id"] for p in out["posts"]]
    assert campaign("cancel", str(ids[0])).code == 0
    result = campaign("retry", str(ids[0]))
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == f"queued again 1 post: {ids[0]}"
    result = campaign("retry", "--campaign", "artsakh-op-ed")
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == f"queued again {len(ids) - 1} posts: " + ", ".join(
        map(str, ids[1:])
    )
    assert {r["status"] for r in campaign.json("list")} == {"queued"}
    assert [e["kind"] for e in campaign.json("log", "--post", str(ids[1]))] == [
        "queued",
        "held",
        "requeued",
    ]
