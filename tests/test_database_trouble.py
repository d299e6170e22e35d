"""Database trouble while a real `campaign run` daemon publishes to the loopback fakes.

(a) SQLite: another process holds the write lock for 4 s (twice) while the daemon runs
    with a 1 s busy timeout: the daemon hits "database is locked", logs a warning, keeps
    running and catches up.
(b) PostgreSQL: the daemon's connections are killed with pg_terminate_backend several
    times over a few seconds: it logs it, reconnects and catches up.
Either way each post reaches its platform exactly once (counted on the fakes) and the
daemon exits 0 on SIGTERM. Figures are printed; run with `-s` to see them.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fakes.pds import FakePDS
from fakes.x_api import FakeX
from harness import (
    BSKY_PASSWORD,
    Outcome,
    check_exactly_once,
    daemon_env,
    daemons,
    queue_load,
    stop_daemons,
    wait_drained,
    wait_for_workers,
    warning_lines,
)
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from scheduler.store import open_store

POSTS = 200
SPREAD = timedelta(seconds=10)
DRAIN_TIMEOUT = 90.0


def _assert_exactly_once(outcome: Outcome, codes: list[int | None], stderr: str) -> None:
    assert codes == [0], stderr[-3000:]
    assert outcome.duplicates == 0
    assert outcome.lost == 0
    assert outcome.unexpected == 0
    assert outcome.published_remote == POSTS
    assert outcome.db_published == POSTS, outcome.db_not_published
    assert outcome.db_without_id == 0
    assert outcome.thread_errors == []


def test_sqlite_locked_by_another_writer(sqlite_url: str, tmp_path: Path) -> None:
    store = open_store(sqlite_url)
    path = make_url(sqlite_url).database
    assert path
    holds: list[float] = []
    try:
        with FakeX() as fx, FakePDS(password=BSKY_PASSWORD) as pds:
            env = daemon_env(
                fx, pds, sqlite_url, tmp_path / "data", CAMPAIGN_SQLITE_BUSY_TIMEOUT_MS="1000"
            )
            with daemons(1, env, tmp_path, poll=0.5) as started:
                wait_for_workers(store, 1, started)
                load = queue_load(
                    store, POSTS, datetime.now(UTC) + timedelta(seconds=1), SPREAD, campaigns=4
                )
                t0 = time.monotonic()
                for pause in (2.0, 1.5):
                    time.sleep(pause)
                    # Another writer: a raw connection takes the write lock and sits on it.
                    raw = sqlite3.connect(path, timeout=30, isolation_level=None)
                    try:
                        raw.execute("BEGIN IMMEDIATE")
                        held = time.monotonic()
                        time.sleep(4.0)
                        raw.execute("COMMIT")
                        holds.append(time.monotonic() - held)
                    finally:
                        raw.close()
                wait_drained(store, started, DRAIN_TIMEOUT)
                elapsed = time.monotonic() - t0
                codes = stop_daemons(started)
                stderr = started[0].stderr()
                warnings = warning_lines(started, "locked")
            outcome = check_exactly_once(store, fx, pds, load)
    finally:
        store.close()

    print(
        f"\ndatabase trouble sqlite: lock held {len(holds)}x "
        f"({', '.join(f'{h:.1f}' for h in holds)} s) with a 1000 ms busy timeout; "
        f"{outcome.expected} posts, {outcome.published_remote} published, duplicates "
        f"{outcome.duplicates}, lost {outcome.lost}, 'database is locked' warnings "
        f"{len(warnings)}, done in {elapsed:.1f} s, lateness p50 {outcome.percentile(0.5):.1f} s "
        f"max {outcome.percentile(1.0):.1f} s, exit code {codes[0]}"
    )
    for line in warnings[:3]:
        print("  ", line[:240])
    assert warnings, "the daemon never reported the locked database:\n" + stderr[-3000:]
    _assert_exactly_once(outcome, codes, stderr)


def test_postgresql_connections_killed(pg_url: str, tmp_path: Path) -> None:
    store = open_store(pg_url)
    killer = create_engine(pg_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    killed: list[int] = []
    stop = threading.Event()

    def kill_connections() -> None:
        # Every 0.7 s for about 5 s: terminate every other session on this database
        # (the daemon's, and this test's own idle pool connections).
        for _ in range(7):
            if stop.wait(0.7):
                return
            with killer.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).all()
            killed.append(sum(1 for (ok,) in rows if ok))

    try:
        with FakeX() as fx, FakePDS(password=BSKY_PASSWORD) as pds:
            # A short lease: a claim whose commit was cut off may have committed, and its
            # posts then wait for the lease to expire before they are checked and sent.
            env = daemon_env(fx, pds, pg_url, tmp_path / "data", CAMPAIGN_LEASE_SECONDS="15")
            with daemons(1, env, tmp_path, poll=0.5) as started:
                wait_for_workers(store, 1, started)
                load = queue_load(
                    store, POSTS, datetime.now(UTC) + timedelta(seconds=1), SPREAD, campaigns=4
                )
                t0 = time.monotonic()
                thread = threading.Thread(target=kill_connections, name="pg-killer")
                thread.start()
                try:
                    time.sleep(1.5)
                    thread.join(timeout=30)
                    wait_drained(store, started, DRAIN_TIMEOUT, tolerate_errors=True)
                finally:
                    stop.set()
                    thread.join(timeout=30)
                elapsed = time.monotonic() - t0
                codes = stop_daemons(started)
                stderr = started[0].stderr()
                warnings = warning_lines(started, "")
            outcome = check_exactly_once(store, fx, pds, load)
    finally:
        killer.dispose()
        store.close()

    daemon_warnings = [w for w in warnings if "apscheduler" not in w]
    print(
        f"\ndatabase trouble postgresql: {len(killed)} kill rounds, {sum(killed)} sessions "
        f"terminated; {outcome.expected} posts, {outcome.published_remote} published, "
        f"duplicates {outcome.duplicates}, lost {outcome.lost}, warnings "
        f"{len(daemon_warnings)}, done in {elapsed:.1f} s, lateness p50 "
        f"{outcome.percentile(0.5):.1f} s max {outcome.percentile(1.0):.1f} s, "
        f"exit code {codes[0]}"
    )
    for line in daemon_warnings[:5]:
        print("  ", line[:240])
    assert sum(killed) > 0
    _assert_exactly_once(outcome, codes, stderr)
