"""Mastodon end to end: the op-ed queued for all three platforms, the real daemon in a
subprocess, the three loopback fakes; and a daemon killed while Mastodon stalls after
storing a status, then started again: each post once."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import EXAMPLE, Cli, run_campaign
from fakes.mastodon import POST_STATUS, FakeMastodon
from fakes.pds import FakePDS
from fakes.x_api import FakeX
from harness import BSKY_PASSWORD, daemon_env, daemons, fake_settings, mastodon_settings, wait_for

from posts.measure import measure
from posts.platform import Platform


@pytest.fixture
def fakes() -> Iterator[tuple[FakeX, FakePDS, FakeMastodon]]:
    with FakeX() as fx, FakePDS(password=BSKY_PASSWORD) as pds, FakeMastodon() as fm:
        yield fx, pds, fm


def test_the_op_ed_as_a_mastodon_thread_beside_x_and_bluesky(
    cli: Cli, tmp_path: Path, fakes: tuple[FakeX, FakePDS, FakeMastodon]
) -> None:
    fx, pds, fm = fakes
    env = fake_settings(fx, pds, f"sqlite:///{tmp_path / 'e2e.db'}", tmp_path / "data",
                        **mastodon_settings(fm))  # fmt: skip
    queued = cli("queue", str(EXAMPLE), "-p", "x", "-p", "bluesky", "-p", "mastodon",
                 "--start", "now", "--spread-until", "+3s", "-t", "Artsakh", "-t", "Armenia",
                 "--lang", "en", "--json", env=env)  # fmt: skip
    assert queued.code == 0, queued.stderr
    # The instance was asked how it counts, and the user told.
    assert "mastodon: counted as the instance counts: 500 characters, a link 23" in queued.stderr
    posts = json.loads(queued.stdout)["posts"]
    toots = [p for p in posts if p["platform"] == "mastodon"]
    assert len(toots) >= 5

    daemon = run_campaign("run", "--until-done", "--poll", "0.2",
                          env={**os.environ, **env}, cwd=tmp_path)  # fmt: skip
    assert daemon.returncode == 0, daemon.stderr

    statuses = fm.statuses
    assert [s.text for s in statuses] == [p["text"] for p in toots]  # each once, in order
    for status in statuses:
        assert measure(Platform.MASTODON, status.text) <= 500
        assert "#Artsakh" in status.text and "#Armenia" in status.text
        assert status.visibility == "public" and status.language == "en"
    assert statuses[0].in_reply_to_id is None
    assert all(b.in_reply_to_id == a.id for a, b in itertools.pairwise(statuses))
    assert len(fx.tweets) == sum(p["platform"] == "x" for p in posts)
    assert len(pds.records) == sum(p["platform"] == "bluesky" for p in posts)
    listed = json.loads(cli("list", "--json", "--platform", "mastodon", env=env).stdout)
    assert {r["status"] for r in listed} == {"published"}
    assert all(r["remote_url"].startswith(fm.base_url) for r in listed)
    checked = cli("accounts", "check", "-p", "mastodon", env=env)
    assert checked.code == 0, checked.stderr
    assert "mastodon: ok, @" in checked.stdout
    assert "mastodon: counted as the instance counts: 500 characters, a link 23" in checked.stdout
    # The access token never reaches the database or any output.
    everything = queued.stdout + queued.stderr + daemon.stdout + daemon.stderr + checked.stdout
    assert fm.access_token not in everything
    assert fm.access_token.encode() not in (tmp_path / "e2e.db").read_bytes()


@pytest.mark.parametrize("stall", ["after storing the status", "answer lost"])
def test_a_killed_daemon_publishes_each_mastodon_post_once(
    cli: Cli, tmp_path: Path, fakes: tuple[FakeX, FakePDS, FakeMastodon], stall: str
) -> None:
    fx, pds, fm = fakes
    env = daemon_env(fx, pds, f"sqlite:///{tmp_path / 'crash.db'}", tmp_path / "data",
                     CAMPAIGN_LEASE_SECONDS="2", **mastodon_settings(fm))  # fmt: skip
    queued = cli("queue", str(EXAMPLE), "-p", "mastodon", "--start", "now", "--every", "1s",
                 "-t", "Artsakh", env=env)  # fmt: skip
    assert queued.code == 0, queued.stderr
    if stall == "after storing the status":
        fm.delay_next(60, endpoint=POST_STATUS)  # stored, the answer held back
        with daemons(1, env, tmp_path, poll=0.2) as started:
            assert wait_for(lambda: len(fm.statuses) == 1, 30), started[0].stderr()
            started[0].proc.kill()  # SIGKILL while the answer is outstanding
            started[0].proc.wait(timeout=10)
    else:
        fm.drop_after_store_next(2, endpoint=POST_STATUS)  # stored twice, never answered
    done = run_campaign("run", "--until-done", "--poll", "0.2", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    posts = json.loads(cli("list", "--json", env=env).stdout)
    assert {p["status"] for p in posts} == {"published"}
    texts = [s.text for s in fm.statuses]
    assert sorted(texts) == sorted(p["text"] for p in posts)  # each exactly once
    assert len(texts) == len(set(texts))


def test_queue_counts_as_the_instance_says_and_edits_count_the_same(
    cli: Cli, tmp_path: Path
) -> None:
    with FakeMastodon(max_characters=1000, characters_reserved_per_url=30) as big:
        env = {"CAMPAIGN_DATABASE_URL": f"sqlite:///{tmp_path / 'big.db'}",
               **mastodon_settings(big)}  # fmt: skip
        queued = cli("queue", str(EXAMPLE), "-p", "mastodon", "--start", "+1h", "--every", "1h",
                     "-t", "Artsakh", "--json", env=env)  # fmt: skip
        assert queued.code == 0, queued.stderr
        assert (
            "mastodon: counted as the instance counts: 1000 characters, a link 30 "
            "(the settings say 500 characters, a link 23)"
        ) in queued.stderr
        posts = json.loads(queued.stdout)["posts"]
        assert max(measure(Platform.MASTODON, p["text"]) for p in posts) > 500
        previewed = cli("split", str(EXAMPLE), "-p", "mastodon", "-t", "Artsakh", env=env)
        assert previewed.code == 0, previewed.stderr
        assert "counted as the instance counts: 1000 characters, a link 30" in previewed.stderr
        assert "/1000 │" in previewed.stdout
        first = posts[0]["id"]
        shown = json.loads(cli("show", str(first), "--json", env=env).stdout)
        assert shown["limit"] == 1000
    # The instance is gone: an edit still counts as the campaign was counted.
    long_body = "A longer first post, as this instance allows. " * 15
    edited = cli("edit", str(first), "--text", long_body, env=env)
    assert edited.code == 0, edited.stderr
    assert "of 1000" in edited.stdout


def test_an_instance_that_cannot_be_asked_leaves_the_settings(cli: Cli, tmp_path: Path) -> None:
    with FakeMastodon() as gone:
        env = {"CAMPAIGN_DATABASE_URL": f"sqlite:///{tmp_path / 'gone.db'}",
               **mastodon_settings(gone), "CAMPAIGN_MASTODON_MAX_CHARACTERS": "400"}  # fmt: skip
    queued = cli("queue", str(EXAMPLE), "-p", "mastodon", "--start", "+1h", "--every", "1h",
                 "--json", env=env)  # fmt: skip
    assert queued.code == 0, queued.stderr
    assert "mastodon: the instance could not be asked" in queued.stderr
    assert "counted with the settings: 400 characters, a link 23" in queued.stderr
    posts = json.loads(queued.stdout)["posts"]
    assert all(measure(Platform.MASTODON, p["text"]) <= 400 for p in posts)


def test_a_planned_file_applies_as_the_instance_counts(cli: Cli, tmp_path: Path) -> None:
    with FakeMastodon(max_characters=1000) as big:
        env = {"CAMPAIGN_DATABASE_URL": f"sqlite:///{tmp_path / 'plan.db'}",
               **mastodon_settings(big)}  # fmt: skip
        path = tmp_path / "big.toml"
        planned = cli("plan", str(EXAMPLE), "-p", "mastodon", "--start", "+1h", "--every", "1h",
                      "-o", str(path), env=env)  # fmt: skip
        assert planned.code == 0, planned.stderr
        applied = cli("apply", str(path), "--yes", env=env)
        assert applied.code == 0, applied.stderr
        assert "counted as the instance counts: 1000 characters" in applied.stderr
    listed = json.loads(cli("list", "--json", env=env).stdout)
    assert max(measure(Platform.MASTODON, r["text"]) for r in listed) > 500
    assert json.loads(cli("show", str(listed[0]["id"]), "--json", env=env).stdout)["limit"] == 1000
