"""A repeated text on X: refused as duplicate content, never taken as proof that *this*
post went out. Queued through the CLI, published by a real Dispatcher with the real X
adapter (tweepy) against the loopback X fake, read back through the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE, Cli
from fakes.x_api import FakeX
from harness import X_SECRET, X_TOKEN_SECRET

from scheduler.config import XCredentials
from scheduler.dispatch import Dispatcher, DispatchSettings
from scheduler.model import Platform
from scheduler.platforms.x import XPublisher
from scheduler.store import open_store


@pytest.fixture
def fx() -> Iterator[FakeX]:
    with FakeX() as fake:
        yield fake


@pytest.fixture
def env(reused_db_url: str) -> dict[str, str]:
    return {"CAMPAIGN_DATABASE_URL": reused_db_url, "CAMPAIGN_HASHTAGS": "#Artsakh #Armenia"}


def publish_due(fx: FakeX, url: str) -> None:
    """A daemon's tick over everything due now."""
    credentials = XCredentials(fx.api_key, X_SECRET, fx.access_token, X_TOKEN_SECRET, fx.base_url)
    x = XPublisher(credentials, timeout=2.0)
    try:
        with open_store(url) as store:
            later = lambda: datetime.now(UTC) + timedelta(minutes=1)  # noqa: E731  # all due
            Dispatcher(store, {Platform.X: x}, "dup-worker", DispatchSettings(), clock=later).tick()
    finally:
        x.close()


def listed(cli: Cli, env: dict[str, str], campaign: str) -> list[dict[str, Any]]:
    result = cli("list", "--campaign", campaign, "--json", env=env)
    assert result.code == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_the_same_article_queued_again_fails_on_x_naming_the_earlier_campaign(
    cli: Cli, env: dict[str, str], fx: FakeX
) -> None:
    first = cli("queue", str(EXAMPLE), "-p", "x", "--start", "now", "--every", "1s",
                "--campaign", "live", env=env)  # fmt: skip
    assert first.code == 0, first.stderr
    publish_due(fx, env["CAMPAIGN_DATABASE_URL"])
    live = listed(cli, env, "live")
    assert {r["status"] for r in live} == {"published"}
    tweets = len(fx.tweets)

    again = cli("queue", str(EXAMPLE), "-p", "x", "--start", "now", "--every", "1s",
                "--campaign", "live-again", env=env)  # fmt: skip
    assert again.code == 0, again.stderr
    # Told at queue time, per platform, with the campaign it repeats.
    assert (
        f"warning: x: {len(live)} posts repeat the text of campaign 'live' (post " in again.stderr
    )
    assert "X refuses a repeated text as duplicate content" in again.stderr

    publish_due(fx, env["CAMPAIGN_DATABASE_URL"])

    assert len(fx.tweets) == tweets  # X holds nothing new
    rows = listed(cli, env, "live-again")
    first_post, *replies = rows
    assert first_post["status"] == "failed"
    assert first_post["remote_url"] is None  # not the old campaign's URL
    assert f"it went out as post {live[0]['id']} of campaign 'live'" in first_post["last_error"]
    assert live[0]["remote_url"] in first_post["last_error"]
    assert first_post["last_error"].endswith(
        f"change the text, then `campaign retry {first_post['id']}`"
    )
    assert {r["status"] for r in replies} == {"held"}
    assert not {r["remote_url"] for r in rows} & {r["remote_url"] for r in live}


def test_standalone_posts_that_repeat_a_text_go_out_once_and_the_rest_fail(
    cli: Cli, env: dict[str, str], fx: FakeX, tmp_path: Path
) -> None:
    article = tmp_path / "repeats.txt"
    line = (
        "Recognize Artsakh now, before it is too late for the people who still live there "
        "and for the churches, schools and villages that have stood there for centuries "
        "under every kind of threat."
    )  # one post each: two never fit together
    article.write_text("\n\n".join([line] * 6) + "\n", encoding="utf-8")
    queued = cli("queue", str(article), "-p", "x", "--standalone", "--start", "now",
                 "--every", "1s", "--json", env=env)  # fmt: skip
    assert queued.code == 0, queued.stderr
    assert "x: 5 posts (seq 2, 3, 4, 5, 6) repeat the text of an earlier post" in queued.stderr

    publish_due(fx, env["CAMPAIGN_DATABASE_URL"])

    assert len(fx.tweets) == 1
    first, *rest = listed(cli, env, "repeats")
    assert first["status"] == "published" and first["remote_url"]
    assert [r["status"] for r in rest] == ["failed"] * 5
    assert all(r["remote_url"] is None for r in rest)
    assert all(
        f"it went out as post {first['id']} of campaign 'repeats'" in r["last_error"] for r in rest
    )
