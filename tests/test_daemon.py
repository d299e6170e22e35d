"""`campaign run` and `campaign demo` as real processes, on a SQLite file.

`run` publishes to the loopback fakes of X and Bluesky (tests/fakes); `run --dry-run`
only rehearses and must leave the database as it was. `run` and `demo` end with
os._exit, so they run as subprocesses; `queue`, `list` and `log` run in-process through
the `cli` fixture against the same database file.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import CAMPAIGN, Cli, run_campaign, snapshot
from fakes.pds import FakePDS
from fakes.x_api import FakeX
from harness import BSKY_PASSWORD, daemon_env

DRY_RUN_LINE = re.compile(r"^\[dry-run (x|bluesky)\] post (\d+)", re.MULTILINE)


@pytest.fixture
def db(sqlite_url: str) -> dict[str, str]:
    return {"CAMPAIGN_DATABASE_URL": sqlite_url}


@pytest.fixture
def fakes() -> Iterator[tuple[FakeX, FakePDS]]:
    with FakeX() as fx, FakePDS(password=BSKY_PASSWORD) as pds:
        yield fx, pds


@pytest.fixture
def env(fakes: tuple[FakeX, FakePDS], sqlite_url: str, tmp_path: Path) -> dict[str, str]:
    """A `campaign run` child's environment: the database and both fakes."""
    fx, pds = fakes
    return daemon_env(fx, pds, sqlite_url, tmp_path / "data")


def received(fakes: tuple[FakeX, FakePDS]) -> list[tuple[str, str]]:
    """Every (platform, text) the fakes were sent, in order per platform (X first)."""
    fx, pds = fakes
    return [("x", t.text) for t in fx.tweets] + [
        ("bluesky", str(r.value["text"])) for r in pds.records.values()
    ]


def sent(posts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(p["platform"], p["text"]) for p in posts]


@pytest.fixture
def article(tmp_path: Path) -> Path:
    """An article that splits into a few posts per platform."""
    path = tmp_path / "short.txt"
    paragraphs = [
        f"Paragraph {i} says something plain about the campaign and its aims. " * 3
        for i in range(1, 7)
    ]
    path.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return path


def queue(cli: Cli, db: dict[str, str], article: Path, *args: str) -> list[dict[str, Any]]:
    result = cli("queue", str(article), *args, "--json", env=db)
    assert result.code == 0, result.stderr
    posts: list[dict[str, Any]] = json.loads(result.stdout)["posts"]
    assert len(posts) >= 3
    return posts


def listed(cli: Cli, db: dict[str, str]) -> list[dict[str, Any]]:
    result = cli("list", "--json", env=db)
    assert result.code == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def logged(cli: Cli, db: dict[str, str], kind: str) -> list[dict[str, Any]]:
    result = cli("log", "--kind", kind, "--json", env=db)
    assert result.code == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_run_once_publishes_what_is_due_and_exits(
    cli: Cli, db: dict[str, str], env: dict[str, str], article: Path, fakes: Any
) -> None:
    queued = queue(cli, db, article, "-p", "x", "-p", "bluesky", "--start", "now", "--every", "1h")
    due = sorted(p["id"] for p in queued if p["seq"] == 1)

    done = run_campaign("run", "--once", env=env, timeout=60)

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(received(fakes)) == sorted(sent([p for p in queued if p["id"] in due]))
    status = {row["id"]: row["status"] for row in listed(cli, db)}
    assert sorted(i for i, s in status.items() if s == "published") == due
    assert all(s == "queued" for i, s in status.items() if i not in due)


def test_run_until_done_publishes_each_post_on_time(
    cli: Cli, db: dict[str, str], env: dict[str, str], article: Path, fakes: Any
) -> None:
    # Starting 3 s out, so the lateness measured is the daemon's, not Python's start-up.
    queued = queue(cli, db, article, "-p", "x", "--start", "+3s", "--every", "1s")

    done = run_campaign("run", "--until-done", "--poll", "0.2", env=env, timeout=60)

    assert done.returncode == 0, done.stderr
    assert received(fakes) == sent(queued)
    rows = listed(cli, db)
    assert {row["status"] for row in rows} == {"published"}
    scheduled = {row["id"]: when(row["scheduled_at"]) for row in rows}
    published = {e["post_id"]: when(e["at"]) for e in logged(cli, db, "published")}
    assert published.keys() == scheduled.keys()
    for post_id, at in published.items():
        late = (at - scheduled[post_id]).total_seconds()
        # Never early, and about on time (a behaviour check, not a benchmark).
        assert 0 <= late < 3.0, (post_id, late)


def test_sigterm_stops_cleanly_and_a_restart_publishes_the_rest_once(
    cli: Cli, db: dict[str, str], env: dict[str, str], article: Path, fakes: Any
) -> None:
    # Spaced so that a daemon slow to start (a loaded machine) does not find them all
    # overdue and publish them in one burst before the SIGTERM.
    queued = queue(cli, db, article, "-p", "x", "-p", "bluesky", "--start", "+4s", "--every", "2s")
    daemon = subprocess.Popen(
        [*CAMPAIGN, "run", "--poll", "0.2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not received(fakes) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert received(fakes), "the daemon published nothing"
        time.sleep(0.5)
        daemon.send_signal(signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert daemon.returncode == 0, stderr
    assert "Traceback" not in stderr

    status = Counter(row["status"] for row in listed(cli, db))
    assert "publishing" not in status
    assert set(status) <= {"published", "queued"}  # nothing lost
    assert status["queued"] > 0, "stopped too late to test a restart"

    rest = run_campaign("run", "--until-done", "--poll", "0.2", env=env, timeout=60)
    assert rest.returncode == 0, rest.stderr

    copies = Counter(received(fakes))
    assert sorted(copies) == sorted(sent(queued))
    assert set(copies.values()) == {1}, copies  # each post went out exactly once
    rows = listed(cli, db)
    assert [row["status"] for row in rows].count("published") == len(queued)
    assert sorted(e["post_id"] for e in logged(cli, db, "published")) == sorted(
        p["id"] for p in queued
    )


@pytest.mark.parametrize("mode", ["--once", "--until-done", "stopped by SIGTERM"])
def test_a_dry_run_shows_what_would_go_out_and_changes_nothing(
    cli: Cli, db: dict[str, str], env: dict[str, str], article: Path, fakes: Any, mode: str
) -> None:
    queued = queue(cli, db, article, "-p", "x", "-p", "bluesky", "--start", "now", "--every", "1h")
    due_now = sorted(p["id"] for p in queued if p["seq"] == 1)
    before = snapshot(db["CAMPAIGN_DATABASE_URL"])

    if mode == "stopped by SIGTERM":
        daemon = subprocess.Popen(
            [*CAMPAIGN, "run", "--dry-run", "--poll", "0.2"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(3)
        daemon.send_signal(signal.SIGTERM)
        stdout, stderr = daemon.communicate(timeout=30)
        code = daemon.returncode
    else:
        done = run_campaign("run", "--dry-run", mode, env=env, timeout=60)
        stdout, stderr, code = done.stdout, done.stderr, done.returncode

    assert code == 0, stderr
    shown = sorted(int(i) for _, i in DRY_RUN_LINE.findall(stdout))
    everything = sorted(p["id"] for p in queued)
    assert shown == (everything if mode == "--until-done" else due_now)
    assert "nothing was claimed, published or changed" in stderr
    if mode != "--until-done":
        assert f"({len(everything) - len(due_now)} more queued for later)" in stderr
    assert snapshot(db["CAMPAIGN_DATABASE_URL"]) == before
    assert received(fakes) == []
    # The real run that follows finds the whole queue.
    done = run_campaign("run", "--once", env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(received(fakes)) == len(due_now)


def test_demo_runs_the_whole_path(tmp_path: Path) -> None:
    env = dict(os.environ, COLUMNS="200")
    done = run_campaign("demo", env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    for platform in ("x", "bluesky", "mastodon"):
        assert re.search(rf"│\s*{platform}\s*│\s*published\s*│", done.stdout), platform


def test_run_with_no_platform_configured_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAMPAIGN_", "X_", "BLUESKY_"))}
    env["CAMPAIGN_DATA_DIR"] = str(tmp_path / "data")
    result = run_campaign("run", env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no platform can publish" in lines[0]
    assert "X_API_KEY" in lines[0] and "BLUESKY_APP_PASSWORD" in lines[0]
    assert "--dry-run" in lines[0]
