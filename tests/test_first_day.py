"""What broke when `campaign` was used for a day as a new user would (issue 10): each case
a reproduction that failed before its fix. The dry run and X's duplicate refusal have
their own files (test_daemon.py, test_duplicates.py)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import EXAMPLE, Cli, CliResult, snapshot
from publishers import FakePlatformPublisher
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from scheduler.dispatch import Dispatcher, DispatchSettings
from scheduler.model import Platform
from scheduler.store import open_store

QUEUE = ["queue", str(EXAMPLE), "-p", "x", "--start", "+1h", "--every", "1h"]


def one_line_error(result: CliResult, code: int) -> str:
    assert result.code == code, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""
    return lines[0]


# -- 3: an in-memory database accepted a campaign and lost it ---------------------------------


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file::memory:?cache=shared&uri=true"]
)
def test_an_in_memory_database_is_refused(cli: Cli, url: str) -> None:
    for args in (QUEUE, ["list"], ["status"]):
        line = one_line_error(cli(*args, env={"CAMPAIGN_DATABASE_URL": url}), 2)
        assert "in-memory SQLite database" in line and "give a file" in line


# -- 5: a password given as a query parameter was printed ---------------------------------------


def test_every_credential_a_url_carries_is_masked(cli: Cli, pg_url: str) -> None:
    parsed = make_url(pg_url)
    secret_url = parsed.set(query={"password": "s3cr3t-q", "sslpassword": "k3y-pw"})
    url = secret_url.render_as_string(hide_password=False)
    env = {"CAMPAIGN_DATABASE_URL": url}
    unreachable = parsed.set(port=1, query={"password": "s3cr3t-q"}).render_as_string(False)
    outputs = [
        cli("db", "upgrade", env=env),
        cli("status", env=env),
        cli("status", "--json", env=env),
        cli("list", env={"CAMPAIGN_DATABASE_URL": unreachable}),
    ]
    for result in outputs:
        shown = result.stdout + result.stderr
        assert "s3cr3t-q" not in shown and "k3y-pw" not in shown, shown
    assert [r.code for r in outputs] == [0, 0, 0, 1]
    assert "password=***" in outputs[1].stdout and "sslpassword=***" in outputs[1].stdout
    assert "password=***" in json.loads(outputs[2].stdout)["database"]
    assert "password=***" in outputs[3].stderr


# -- 14: a database that already had an unrelated `posts` table ----------------------------------


def test_a_database_with_tables_that_are_not_ours_is_refused(cli: Cli, db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE posts (id INTEGER PRIMARY KEY, body TEXT)"))
            conn.execute(text("INSERT INTO posts (id, body) VALUES (1, 'a blog post')"))
    finally:
        engine.dispose()
    before = snapshot_of_posts(db_url)
    line = one_line_error(cli(*QUEUE, env={"CAMPAIGN_DATABASE_URL": db_url}), 2)
    assert "already has a table named 'posts' that campaign did not create" in line
    assert "CREATE TABLE" not in line
    assert snapshot_of_posts(db_url) == before


def snapshot_of_posts(url: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text("SELECT * FROM posts ORDER BY id"))]
    finally:
        engine.dispose()


# -- 7: --allow-past, then retry, sent a whole thread within a tenth of a second -------------


def test_retrying_missed_posts_replans_them_from_now_keeping_their_spacing(
    cli: Cli, sqlite_url: str
) -> None:
    env = {"CAMPAIGN_DATABASE_URL": sqlite_url}
    start = (datetime.now(UTC) - timedelta(hours=26)).strftime("%Y-%m-%dT%H:%M:%SZ")
    queued = cli("queue", str(EXAMPLE), "-p", "x", "--start", start, "--every", "1h",
                 "--allow-past", "--json", env=env)  # fmt: skip
    assert queued.code == 0, queued.stderr
    ids = [p["id"] for p in json.loads(queued.stdout)["posts"]]
    x = FakePlatformPublisher("x")
    with open_store(sqlite_url) as store:
        Dispatcher(store, {Platform.X: x}, "w", DispatchSettings()).tick()
    states = {r["id"]: r for r in json.loads(cli("list", "--json", env=env).stdout)}
    assert states[ids[0]]["status"] == "failed" and "missed" in states[ids[0]]["last_error"]
    assert {states[i]["status"] for i in ids[1:]} == {"held"}

    before = datetime.now(UTC)
    result = cli("retry", "--campaign", "artsakh-op-ed", env=env)
    assert result.code == 0, result.stderr
    assert f"queued again {len(ids)} posts" in result.stdout
    assert f"{len(ids)} posts re-planned from now, keeping their spacing" in result.stdout

    rows = {r["id"]: r for r in json.loads(cli("list", "--json", env=env).stdout)}
    times = [datetime.fromisoformat(rows[i]["scheduled_at"].replace("Z", "+00:00")) for i in ids]
    assert before - timedelta(seconds=1) <= times[0] <= datetime.now(UTC)
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(times))
    # The daemon now sends the first one only; the rest wait for their new times.
    with open_store(sqlite_url) as store:
        Dispatcher(store, {Platform.X: x}, "w", DispatchSettings()).tick()
    assert x.published_ids() == [ids[0]]
    log = json.loads(cli("log", "--kind", "requeued", "--json", env=env).stdout)
    assert all("re-planned from now" in e["detail"]["note"] for e in log)


# -- 8: the repeated hour was taken silently ------------------------------------------------


def test_a_time_that_happens_twice_says_which_and_how_to_pick_the_other(
    cli: Cli, sqlite_url: str
) -> None:
    env = {"CAMPAIGN_DATABASE_URL": sqlite_url}
    args = ["queue", str(EXAMPLE), "-p", "x", "--every", "1h", "--tz", "America/New_York"]
    first = cli(*args, "--start", "2027-11-07T01:30", "--json", env=env)
    assert first.code == 0, first.stderr
    assert (
        "warning: 2027-11-07 01:30 happens twice in America/New_York (the clocks go back): "
        "taking the first, 01:30 EDT (05:30 UTC); for the second (01:30 EST) write "
        "2027-11-07T01:30-05:00"
    ) in first.stderr
    assert json.loads(first.stdout)["posts"][0]["scheduled_at"] == "2027-11-07T05:30:00Z"
    second = cli(*args, "--start", "2027-11-07T01:30-05:00", "--campaign", "second", "--json",
                 env=env)  # fmt: skip
    assert second.code == 0 and "happens twice" not in second.stderr
    assert json.loads(second.stdout)["posts"][0]["scheduled_at"] == "2027-11-07T06:30:00Z"


# -- 9: the POSIX TZ variable was read as if it were CAMPAIGN_TZ ----------------------------------


@pytest.mark.parametrize(
    ("tz", "header"),
    [
        (":Asia/Kathmandu", "Asia/Kathmandu"),
        ("<+0330>-3:30", "<+0330>-3:30"),
        ("garbage", "UTC"),
    ],
)
def test_the_system_zone_follows_tz_as_the_c_library_does(
    cli: Cli, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tz: str, header: str
) -> None:
    monkeypatch.delenv("CAMPAIGN_TZ")
    monkeypatch.setenv("TZ", tz)
    result = cli("list", env={"CAMPAIGN_DATABASE_URL": sqlite_url, "COLUMNS": "200"})
    assert result.code == 0, result.stderr
    assert f"0 posts, times in {header}" in result.stdout
    assert ("TZ='garbage' is neither a zone name" in result.stderr) == (tz == "garbage")


# -- 13: a .env that is not UTF-8, has a bad line, or an unterminated quote ----------------------


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"CAMPAIGN_HASHTAGS=#Artsakh\nCAMPAIGN_TZ=Europe/Z\xfcrich\n", "is not UTF-8 text"),
        (b"CAMPAIGN_TZ=UTC\nthis line is not a setting\n", "line 2: cannot read"),
        (b'CAMPAIGN_HASHTAGS="#Artsakh #Armenia\nCAMPAIGN_TZ=UTC\n', "an unterminated quote?"),
    ],
)
def test_a_bad_env_file_is_one_sentence_naming_the_file(
    cli: Cli, tmp_path: Path, content: bytes, said: str
) -> None:
    (tmp_path / ".env").write_bytes(content)  # the tests run in tmp_path
    for args in (["status"], QUEUE):
        line = one_line_error(cli(*args), 2)
        assert str(tmp_path / ".env") in line and said in line


def test_env_files_are_read_from_the_config_dir_then_here_and_status_says_so(
    cli: Cli, tmp_path: Path
) -> None:
    config = tmp_path / "config" / "campaign"
    config.mkdir(parents=True)
    (config / ".env").write_text("CAMPAIGN_TZ=Asia/Yerevan\nCAMPAIGN_HASHTAGS=#FromConfig\n")
    status = cli("status")
    assert status.code == 0, status.stderr
    assert f"settings: {config / '.env'} (the environment wins over them)" in status.stdout
    (tmp_path / ".env").write_text("CAMPAIGN_TZ=Asia/Tokyo\n")
    both = cli("status", "--json")
    assert json.loads(both.stdout)["settings_files"] == [
        str(config / ".env"),
        str(tmp_path / ".env"),
    ]
    split = cli("split", str(EXAMPLE), "-p", "x", "--json")
    assert "#FromConfig" in json.loads(split.stdout)[0]["text"]  # the config dir's tags


# -- 15: Ctrl-C during queue exited 130 without a word --------------------------------------------


def test_ctrl_c_during_queue_says_nothing_was_written(
    cli: Cli, sqlite_url: str, tmp_path: Path
) -> None:
    article = tmp_path / "long.txt"
    sentence = "A sentence of a long article about the blockade and what it does. "
    article.write_text((sentence * 8 + "\n\n") * 4000, encoding="utf-8")  # seconds to split
    env = {"CAMPAIGN_DATABASE_URL": sqlite_url, "CAMPAIGN_MAX_ARTICLE_BYTES": str(10**8)}
    assert cli("status", env=env).code == 0  # the database exists, empty
    before = snapshot(sqlite_url)
    ctrl_c = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    ctrl_c.start()
    try:
        result = cli("queue", str(article), "-p", "x", "--start", "+1h", "--every", "1m", env=env)
    finally:
        ctrl_c.cancel()
    assert result.code == 130, result.stderr
    assert result.stderr == (
        "campaign: interrupted; nothing was changed in the database "
        "(every change is written whole or not at all)\n"
    )
    assert snapshot(sqlite_url) == before


# -- papercuts --------------------------------------------------------------------------------


def test_cancel_takes_ranges_and_refuses_what_is_not_an_id(cli: Cli, sqlite_url: str) -> None:
    env = {"CAMPAIGN_DATABASE_URL": sqlite_url}
    queued = cli(*QUEUE, "--json", env=env)
    ids = [p["id"] for p in json.loads(queued.stdout)["posts"]]
    assert len(ids) >= 6
    line = one_line_error(cli("cancel", "8_0", env=env), 2)
    assert line == (
        "campaign: '8_0' is not a post id: give numbers such as 12, or ranges such as 4-15"
    )
    assert "runs backwards" in one_line_error(cli("cancel", "5-2", env=env), 2)
    done = cli("cancel", f"{ids[3]}-{ids[-1]}", env=env)
    assert done.code == 0, done.stderr
    assert done.stdout == f"cancelled {len(ids) - 3} posts: {', '.join(map(str, ids[3:]))}\n"


def test_log_kinds_combine(cli: Cli, sqlite_url: str) -> None:
    env = {"CAMPAIGN_DATABASE_URL": sqlite_url}
    queued = json.loads(cli(*QUEUE, "--json", env=env).stdout)["posts"]
    assert cli("cancel", str(queued[0]["id"]), env=env).code == 0
    both = cli("log", "--kind", "cancelled", "--kind", "held", "--json", env=env)
    kinds = {e["kind"] for e in json.loads(both.stdout)}
    assert kinds == {"cancelled", "held"}


def test_a_lone_post_and_one_event_are_not_plural(
    cli: Cli, sqlite_url: str, tmp_path: Path
) -> None:
    env = {"CAMPAIGN_DATABASE_URL": sqlite_url, "COLUMNS": "200"}
    short = tmp_path / "short.txt"
    short.write_text("One short post, and that is all.\n", encoding="utf-8")
    queued = cli("queue", str(short), "-p", "x", "--start", "+1h", env=env)
    assert queued.code == 0, queued.stderr
    assert "campaign 'short': 1 post queued" in queued.stdout
    assert "1/1" not in queued.stdout
    assert "post log (1 event), times in UTC" in cli("log", env=env).stdout
    assert cli("list", env=env).stdout.splitlines()[0].strip() == "1 post, times in UTC"


def test_at_80_columns_statuses_ids_and_times_never_wrap(cli: Cli, sqlite_url: str) -> None:
    env = {"CAMPAIGN_DATABASE_URL": sqlite_url, "COLUMNS": "80"}
    queued = cli(*QUEUE, "--campaign", "a-rather-long-campaign-name", "--json", env=env)
    ids = [p["id"] for p in json.loads(queued.stdout)["posts"]]
    assert cli("cancel", str(ids[2]), env=env).code == 0
    listed = cli("list", env=env).stdout.splitlines()
    logged = cli("log", "--post", str(ids[3]), env=env).stdout.splitlines()
    for line in listed + logged:
        assert len(line) <= 80, line
    assert any("│ cancelled │" in line for line in listed)
    assert any("│ a-r… │" in line for line in listed)  # the free text gives way
    assert any("│ held " in line and f"│ post {ids[2]}" in line for line in listed)
    assert any("scheduled (UTC)" in line for line in listed)


def test_postgres_urls_are_taken_as_most_tools_write_them(cli: Cli, pg_url: str) -> None:
    bare = make_url(pg_url).set(drivername="postgres").render_as_string(hide_password=False)
    assert bare.startswith("postgres://")
    result = cli("status", env={"CAMPAIGN_DATABASE_URL": bare})
    assert result.code == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X_API_BASE_URL", "htp://gateway"),
        ("BLUESKY_PDS_URL", "https://exa mple.com"),
        ("BLUESKY_PDS_URL", "https://pds.example:99999"),
    ],
)
def test_a_bad_server_url_setting_is_named(cli: Cli, name: str, value: str) -> None:
    line = one_line_error(cli("status", env={name: value}), 2)
    assert line.startswith(f"campaign: invalid setting {name}: ")
    assert "Value error" not in line


def test_log_times_in_the_detail_are_in_the_display_zone(cli: Cli, sqlite_url: str) -> None:
    env = {"CAMPAIGN_DATABASE_URL": sqlite_url, "CAMPAIGN_TZ": "Asia/Yerevan", "COLUMNS": "250"}
    queued = json.loads(cli(*QUEUE, "--json", env=env).stdout)["posts"]
    assert cli("cancel", str(queued[0]["id"]), env=env).code == 0
    assert cli("retry", str(queued[0]["id"]), env=env).code == 0
    shown = cli("log", "--kind", "requeued", env=env).stdout
    assert "next_attempt_at=20" in shown and "+04" in shown and "+00:00" not in shown


def test_no_color_means_no_styling_at_all(cli: Cli) -> None:
    styled = cli("split", str(EXAMPLE), "-p", "x", env={"FORCE_COLOR": "1"})
    plain = cli("split", str(EXAMPLE), "-p", "x", env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[" in styled.stdout  # the title is italic on a terminal
    assert "\x1b[" not in plain.stdout
