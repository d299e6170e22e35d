"""Changes made while a real `campaign run` daemon publishes: an edit racing the daemon
ends with one text or the other on X, never a mix, and the log says which; a pause stops
posts going out and `resume` keeps the spacing. SQLite and PostgreSQL; the daemon is a
subprocess publishing to the loopback fakes, the changes go through the CLI in-process.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import Cli
from fakes.pds import FakePDS
from fakes.x_api import FakeX
from harness import BSKY_PASSWORD, daemon_env, daemons, stop_daemons, wait_drained, wait_for
from plans import every, planned, queue

from scheduler.store import Store

POLL = 0.2
# How long before its time each racing edit starts (an in-process edit takes ~50 ms).
RACE_OFFSETS = (
    timedelta(seconds=0.3),
    timedelta(seconds=0.12),
    timedelta(seconds=0.05),
    timedelta(0),
)


@pytest.fixture
def fx() -> Iterator[FakeX]:
    with FakeX() as fake:
        yield fake


@pytest.fixture
def env(fx: FakeX, reused_db_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    with FakePDS(password=BSKY_PASSWORD) as pds:
        yield daemon_env(fx, pds, reused_db_url, tmp_path / "data")


def wait_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def test_an_edit_racing_the_daemon_publishes_one_text_whole_and_the_log_says_which(
    cli: Cli, store: Store, fx: FakeX, env: dict[str, str], tmp_path: Path
) -> None:
    start = datetime.now(UTC) + timedelta(seconds=3)
    posts = queue(store, planned("x", every(start, 12, timedelta(seconds=0.4))), "race")
    db = {"CAMPAIGN_DATABASE_URL": store.url}
    new_text = {p.id: f"edited text of post {p.id}" for p in posts}
    answered: dict[int, int] = {}

    with daemons(1, env, tmp_path, poll=POLL) as started:
        # The first four well before they are due; the rest just before or as they
        # fall due, racing the claim.
        for i, post in enumerate(posts):
            if i >= 4:
                wait_until(post.scheduled_at - RACE_OFFSETS[i % len(RACE_OFFSETS)])
            result = cli("edit", str(post.id), "--exact", "--text", new_text[post.id], env=db)
            assert result.code in (0, 2), result.stderr
            if result.code == 2:
                assert "is publishing" in result.stderr or "is published" in result.stderr
            answered[post.id] = result.code
        wait_drained(store, started, timeout=60)
        assert stop_daemons(started) == [0]

    sent = Counter(t.text for t in fx.tweets)
    revisions = {e.post_id: e.detail.get("revision", 1) for e in store.log(kinds=["published"])}
    for post in posts:
        edited = answered[post.id] == 0
        expected = new_text[post.id] if edited else post.text
        assert sent[expected] == 1, (post.id, edited)
        assert sent[new_text[post.id] if not edited else post.text] == 0
        assert store.post(post.id).text == expected
        assert revisions[post.id] == (2 if edited else 1)
    assert all(answered[p.id] == 0 for p in posts[:4])
    assert len(fx.tweets) == len(posts)
    print("edits accepted, refused:", Counter(answered.values()))


def test_a_pause_stops_posts_going_out_and_resume_keeps_their_spacing(
    cli: Cli, store: Store, fx: FakeX, env: dict[str, str], tmp_path: Path
) -> None:
    step = timedelta(seconds=0.5)
    # Late enough that a daemon slow to start (a loaded machine) finds none overdue.
    start = datetime.now(UTC) + timedelta(seconds=6)
    posts = queue(store, planned("x", every(start, 10, step)), "calm")
    db = {"CAMPAIGN_DATABASE_URL": store.url}

    with daemons(1, env, tmp_path, poll=POLL) as started:
        wait_until(posts[1].scheduled_at + timedelta(seconds=0.3))
        assert wait_for(lambda: len(fx.tweets) >= 2, 10), started[0].stderr()
        assert cli("pause", "calm", env=db).code == 0
        time.sleep(0.5)  # a post already publishing finishes
        out_at_pause = len(fx.tweets)
        time.sleep(2.5)  # five more would have fallen due
        out_while_paused = len(fx.tweets)
        waiting = [p for p in posts if str(store.post(p.id).status) == "queued"]
        before = {p.id: store.post(p.id).scheduled_at for p in waiting}
        assert cli("resume", "calm", env=db).code == 0
        wait_drained(store, started, timeout=60)
        assert stop_daemons(started) == [0]

    assert 2 <= out_at_pause < len(posts)
    assert out_while_paused == out_at_pause
    after = [store.post(p.id).scheduled_at for p in waiting]
    moved = {after[i] - before[p.id] for i, p in enumerate(waiting)}
    assert len(moved) == 1 and moved.pop() >= timedelta(seconds=2.5)  # all by the same span
    assert all(b - a == step for a, b in itertools.pairwise(after))
    assert sorted(t.text for t in fx.tweets) == sorted(p.text for p in posts)  # each once
