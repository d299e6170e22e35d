"""Scale-out: four `campaign run` daemons share one database and publish 2,000 posts.

Real daemons (the CLI in subprocesses) publish through the real SDKs to the loopback
fakes of X, a Bluesky PDS and a Mastodon instance, once on PostgreSQL and once on one
SQLite file. Every post must reach its platform exactly once, threads must stay chained
in order, and every daemon must exit 0 on SIGTERM. The figures line (throughput,
lateness) is printed; run with `-s` to see it. Nothing here asserts on speed: the claim
lets only one daemon at a time publish for one account (so that an account's posts go
out in order), so three accounts mean at most three daemons publishing at once, by design.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes import mastodon as mastodon_fake
from fakes import x_api
from fakes.mastodon import FakeMastodon
from fakes.pds import FakePDS
from fakes.x_api import FakeX
from harness import (
    ALL_PLATFORMS,
    BSKY_PASSWORD,
    check_exactly_once,
    daemon_env,
    daemons,
    mastodon_settings,
    queue_load,
    stop_daemons,
    wait_drained,
    wait_for_workers,
    warning_lines,
)

from scheduler.store import open_store

DAEMONS = 4
POSTS = 2000
SPREAD = timedelta(seconds=20)
CAMPAIGNS = 8
# Queue-to-drained bound. Generous for a 2-core CI machine shared with other jobs.
DRAIN_TIMEOUT = 150.0
# Access tokens that are due for refresh ~10 s after they are issued (the adapter
# refreshes 16 min before expiry), so the daemons rotate the shared session during the run.
SHORT_ACCESS_TTL = 16 * 60 + 10


@pytest.mark.timeout(280)
@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_four_daemons_publish_every_post_exactly_once(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = str(request.getfixturevalue("pg_url" if backend == "postgresql" else "sqlite_url"))
    # The fake's per-user limits stand for X's; this test is about us, not about them.
    monkeypatch.setitem(x_api.WINDOW_LIMITS, x_api.CREATE_TWEET, 1_000_000)
    monkeypatch.setattr(mastodon_fake, "RATE_LIMIT", 1_000_000)
    store = open_store(url)  # create the schema once, before the daemons race for it
    try:
        with (
            FakeX(daily_post_limit=1_000_000) as fx,
            FakePDS(password=BSKY_PASSWORD, access_ttl=SHORT_ACCESS_TTL) as pds,
            FakeMastodon() as fm,
        ):
            env = daemon_env(fx, pds, url, tmp_path / "data", **mastodon_settings(fm))
            with daemons(DAEMONS, env, tmp_path, poll=0.5) as started:
                startup = wait_for_workers(store, DAEMONS, started)
                start = datetime.now(UTC) + timedelta(seconds=1)
                load = queue_load(
                    store, POSTS, start, SPREAD, campaigns=CAMPAIGNS, platforms=ALL_PLATFORMS
                )
                t0 = time.monotonic()
                wait_drained(store, started, DRAIN_TIMEOUT)
                elapsed = time.monotonic() - t0
                codes = stop_daemons(started)
                stderr = [d.stderr() for d in started]
                warnings = [w for w in warning_lines(started, "") if "apscheduler" not in w]
                # APScheduler warns each time a poll finds the previous tick still running.
                skipped = len(warning_lines(started, "maximum number of running instances"))
            outcome = check_exactly_once(store, fx, pds, load, fm)
            logins, refreshes = pds.logins, pds.refreshes
    finally:
        store.close()

    print(
        f"\nscale-out {backend}: {DAEMONS} daemons, {outcome.expected} posts over "
        f"{SPREAD.total_seconds():.0f} s, {outcome.published_remote} published, "
        f"duplicates {outcome.duplicates}, lost {outcome.lost}, "
        f"queue-to-done {elapsed:.1f} s ({outcome.expected / elapsed:.0f} posts/s), "
        f"lateness p50 {outcome.percentile(0.5):.1f} s p99 {outcome.percentile(0.99):.1f} s "
        f"max {outcome.percentile(1.0):.1f} s, thread replies {outcome.thread_replies}, "
        f"bluesky logins {logins} refreshes {refreshes}, warnings {len(warnings)} "
        f"(+{skipped} APScheduler 'skipped'), "
        f"daemon startup {startup:.1f} s, exit codes {codes}"
    )
    for line in warnings[:10]:
        print("  ", line)

    assert codes == [0] * DAEMONS, "\n---\n".join(s[-2000:] for s in stderr)
    assert outcome.duplicates == 0
    assert outcome.lost == 0
    assert outcome.unexpected == 0
    assert outcome.published_remote == POSTS
    assert outcome.db_published == POSTS, outcome.db_not_published
    assert outcome.db_without_id == 0
    assert outcome.thread_replies > 0
    assert outcome.thread_errors == []
    # One shared session file: each daemon resumes it or logs in. Refresh tokens rotate,
    # so a daemon whose resumed refresh token another daemon already spent is refused and
    # logs in again: a few logins, never one per post or per refresh.
    assert refreshes >= 1
    assert logins <= 2 * DAEMONS
