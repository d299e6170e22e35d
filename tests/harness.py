"""Helpers for tests that run real `campaign run` daemons against the loopback fakes.

The daemons are subprocesses of the real CLI; the fakes (FakeX, FakePDS) run in the test
process; the posts are queued straight into the database with the store's own `queue`,
so thousands go in a few transactions. Afterwards `check_exactly_once` compares what the
fakes received with what the database says.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from conftest import stored_posts
from fakes.mastodon import FakeMastodon
from fakes.pds import FakePDS
from fakes.x_api import FakeX
from plans import queue

from scheduler.model import PENDING, PlannedPost, Platform, Status
from scheduler.store import Store

X_SECRET = "x-consumer-secret-harness"
X_TOKEN_SECRET = "x-token-secret-harness"
BSKY_PASSWORD = "bsky-app-pw-harness-1234"
PLATFORMS = ("x", "bluesky")
ALL_PLATFORMS = (*PLATFORMS, "mastodon")


def fake_settings(
    fx: FakeX, pds: FakePDS, database_url: str, data_dir: Path, **extra: str
) -> dict[str, str]:
    """The settings that point `campaign` at the fakes (credentials from this module)."""
    return {
        "CAMPAIGN_DATABASE_URL": database_url,
        "CAMPAIGN_DATA_DIR": str(data_dir),
        "CAMPAIGN_TZ": "UTC",
        "X_API_KEY": fx.api_key,
        "X_API_SECRET": X_SECRET,
        "X_ACCESS_TOKEN": fx.access_token,
        "X_ACCESS_TOKEN_SECRET": X_TOKEN_SECRET,
        "X_API_BASE_URL": fx.base_url,
        "BLUESKY_HANDLE": pds.handle,
        "BLUESKY_APP_PASSWORD": BSKY_PASSWORD,
        "BLUESKY_PDS_URL": pds.base_url,
        **extra,
    }


def wait_for(condition: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def mastodon_settings(fake: FakeMastodon) -> dict[str, str]:
    """The settings that point `campaign` at a FakeMastodon too (extra to fake_settings)."""
    return {"MASTODON_API_BASE_URL": fake.base_url, "MASTODON_ACCESS_TOKEN": fake.access_token}


def daemon_env(
    fx: FakeX, pds: FakePDS, database_url: str, data_dir: Path, **extra: str
) -> dict[str, str]:
    """The environment a `campaign run` subprocess needs to publish to the fakes."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CAMPAIGN_", "X_", "BLUESKY_")) or k == "CAMPAIGN_TEST_PG_URL"
    }
    env.update(fake_settings(fx, pds, database_url, data_dir, **extra))
    return env


@dataclass
class Daemon:
    proc: subprocess.Popen[bytes]
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def daemons(
    n: int, env: dict[str, str], workdir: Path, poll: float = 0.5
) -> Iterator[list[Daemon]]:
    """Start `n` daemons; whatever happens, none outlives the block (SIGKILL at the end
    for any still running; a clean stop is `stop_daemons`)."""
    started: list[Daemon] = []
    try:
        for i in range(n):
            err = workdir / f"daemon-{i}.stderr"
            with err.open("wb") as stderr:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "scheduler.cli.app", "run", "--poll", str(poll)],
                    env=env,
                    cwd=workdir,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                )
            started.append(Daemon(proc, err))
        yield started
    finally:
        for daemon in started:
            if daemon.proc.poll() is None:
                daemon.proc.kill()
        for daemon in started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                daemon.proc.wait(timeout=10)


def stop_daemons(started: list[Daemon], timeout: float = 40.0) -> list[int | None]:
    """SIGTERM each daemon and wait for it; returns the exit codes (None: did not exit)."""
    for daemon in started:
        if daemon.proc.poll() is None:
            daemon.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    codes: list[int | None] = []
    for daemon in started:
        try:
            codes.append(daemon.proc.wait(timeout=max(0.1, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            codes.append(None)
    return codes


def wait_for_workers(store: Store, n: int, started: list[Daemon], timeout: float = 60.0) -> float:
    """Wait until `n` daemons have written their first heartbeat; returns the seconds."""
    t0 = time.monotonic()
    while True:
        for daemon in started:
            code = daemon.proc.poll()
            if code is not None:
                raise AssertionError(f"a daemon exited with {code}:\n{daemon.stderr()[-3000:]}")
        live = sum(1 for w in store.overview(datetime.now(UTC)).workers if w.stopped_at is None)
        if live >= n:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"only {live} of {n} daemons started within {timeout:.0f} s")
        time.sleep(0.2)


def pending(store: Store) -> int:
    counts = store.overview(datetime.now(UTC)).counts
    return sum(counts.get(status, 0) for status in PENDING)


def wait_drained(
    store: Store, started: list[Daemon], timeout: float, *, tolerate_errors: bool = False
) -> float:
    """Wait until nothing is queued or publishing; returns the seconds waited.
    Fails at once when a daemon exits. With `tolerate_errors`, a failing read (the test
    itself is disturbing the database) is retried instead of raised."""
    t0 = time.monotonic()
    while True:
        for daemon in started:
            code = daemon.proc.poll()
            if code is not None:
                raise AssertionError(f"a daemon exited with {code}:\n{daemon.stderr()[-3000:]}")
        try:
            left = pending(store)
        except Exception:
            if not tolerate_errors:
                raise
            left = -1
        if left == 0:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"{left} posts still queued or publishing after {timeout:.0f} s")
        time.sleep(0.25)


@dataclass
class Load:
    """What was queued: texts per platform and the campaign names."""

    texts: dict[str, list[str]] = field(default_factory=lambda: {p: [] for p in ALL_PLATFORMS})
    campaigns: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(len(t) for t in self.texts.values())


def queue_load(
    store: Store,
    total: int,
    start: datetime,
    spread: timedelta,
    campaigns: int = 8,
    thread_every: int = 2,
    platforms: tuple[str, ...] = PLATFORMS,
) -> Load:
    """Queue `total` posts due evenly from `start` over `spread`, round-robin over
    `campaigns` campaigns and both platforms. Every `thread_every`-th campaign is a thread
    per platform; the others are standalone posts. Texts are unique (X refuses repeats)."""
    run = uuid.uuid4().hex[:8]
    load = Load()
    plans: dict[int, list[PlannedPost]] = {c: [] for c in range(campaigns)}
    step = spread / max(1, total - 1)
    for i in range(total):
        c = i % campaigns
        platform = platforms[(i // campaigns) % len(platforms)]
        seq = sum(1 for p in plans[c] if p.platform == platform) + 1
        text = f"Scale run {run} campaign {c} {platform} part {seq} (post {i}) #Artsakh #Armenia"
        plans[c].append(
            PlannedPost(
                platform=Platform(platform),
                seq=seq,
                text=text,
                scheduled_at=start + step * i,
                thread=c % thread_every == 0,
            )
        )
        load.texts[platform].append(text)
    now = datetime.now(UTC)
    for c, posts in plans.items():
        name = f"scale-{run}-{c}" + ("-thread" if c % thread_every == 0 else "-standalone")
        load.campaigns.append(name)
        queue(store, posts, name, now=now, hashtags="#Artsakh #Armenia")
    return load


@dataclass
class Outcome:
    expected: int
    published_remote: int  # distinct expected texts found on the fakes
    duplicates: int  # extra copies on the fakes
    lost: int  # expected texts not on the fakes
    unexpected: int  # texts on the fakes we never queued
    db_published: int
    db_without_id: int
    db_not_published: dict[str, int]
    thread_replies: int
    thread_errors: list[str]
    lateness: list[float]  # published_at - scheduled_at, seconds, sorted

    def percentile(self, q: float) -> float:
        if not self.lateness:
            return float("nan")
        k = min(len(self.lateness) - 1, max(0, round(q * (len(self.lateness) - 1))))
        return self.lateness[k]


def check_exactly_once(
    store: Store, fx: FakeX, pds: FakePDS, load: Load, fm: FakeMastodon | None = None
) -> Outcome:
    """Compare the fakes with the queue and the database."""
    tweets = fx.tweets
    records = list(pds.records.values())
    toots = fm.statuses if fm is not None else []
    seen = {
        "x": Counter(t.text for t in tweets),
        "bluesky": Counter(str(r.value["text"]) for r in records),
        "mastodon": Counter(s.text for s in toots),
    }
    duplicates = lost = found = unexpected = 0
    for platform in ALL_PLATFORMS:
        wanted = set(load.texts[platform])
        for text, count in seen[platform].items():
            if text in wanted:
                found += 1
                duplicates += count - 1
            else:
                unexpected += count
        lost += len(wanted - set(seen[platform]))

    posts = [SimpleNamespace(**row) for row in stored_posts(store.url)]
    by_id = {p.id: p for p in posts}
    statuses = Counter(str(p.status) for p in posts)
    not_published = {s: n for s, n in statuses.items() if s != Status.PUBLISHED}
    without_id = sum(1 for p in posts if p.status == Status.PUBLISHED and not p.remote_id)

    # Thread order: each reply was created after its parent and points at it.
    tweet_by_id = {t.id: t for t in tweets}
    toot_by_id = {s.id: s for s in toots}
    record_pos = {r.uri: i for i, r in enumerate(records)}
    record_by_uri = {r.uri: r for r in records}
    errors: list[str] = []
    replies = 0
    for post in posts:
        if post.parent_id is None:
            continue
        replies += 1
        parent = by_id[post.parent_id]
        root = by_id[post.root_id] if post.root_id is not None else None
        if post.platform == "x":
            mine, theirs = (
                tweet_by_id.get(post.remote_id or ""),
                tweet_by_id.get(parent.remote_id or ""),
            )
            if mine is None or theirs is None:
                errors.append(f"post {post.id}: tweet or parent tweet missing")
            elif mine.in_reply_to != theirs.id or mine.order <= theirs.order:
                errors.append(f"post {post.id}: tweet {mine.id} does not follow {theirs.id}")
        elif post.platform == "mastodon":
            toot, toot_parent = (
                toot_by_id.get(post.remote_id or ""),
                toot_by_id.get(parent.remote_id or ""),
            )
            if toot is None or toot_parent is None:
                errors.append(f"post {post.id}: status or parent status missing")
            elif toot.in_reply_to_id != toot_parent.id or toot.order <= toot_parent.order:
                errors.append(f"post {post.id}: status {toot.id} does not follow {toot_parent.id}")
        else:
            rec = record_by_uri.get(post.remote_uri or "")
            if rec is None or parent.remote_uri not in record_pos:
                errors.append(f"post {post.id}: record or parent record missing")
                continue
            reply = rec.value.get("reply") or {}
            if (
                reply.get("parent", {}).get("uri") != parent.remote_uri
                or reply.get("parent", {}).get("cid") != parent.remote_cid
                or root is None
                or reply.get("root", {}).get("uri") != root.remote_uri
                or record_pos[rec.uri] <= record_pos[parent.remote_uri]
            ):
                errors.append(f"post {post.id}: record {rec.uri} does not follow its parent")
    lateness = sorted(
        (p.published_at - p.scheduled_at).total_seconds() for p in posts if p.published_at
    )
    return Outcome(
        expected=load.total,
        published_remote=found,
        duplicates=duplicates,
        lost=lost,
        unexpected=unexpected,
        db_published=statuses.get(Status.PUBLISHED, 0),
        db_without_id=without_id,
        db_not_published=not_published,
        thread_replies=replies,
        thread_errors=errors,
        lateness=lateness,
    )


def warning_lines(started: list[Daemon], *needles: str) -> list[str]:
    """The daemons' stderr lines at WARNING or above that contain any of `needles`."""
    lines = []
    for daemon in started:
        for line in daemon.stderr().splitlines():
            if (" WARNING " in line or " ERROR " in line) and any(n in line for n in needles):
                lines.append(line)
    return lines
