"""Dispatcher ticks against real databases, a hand-driven clock and a fake platform."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import stored_post
from plans import planned
from plans import queue as queue_posts
from publishers import FakePlatformPublisher

from scheduler.daemon import Daemon, DaemonOptions
from scheduler.dispatch import Dispatcher, DispatchSettings, TickResult
from scheduler.model import LogEntry, Platform
from scheduler.platforms.base import Permanent, RateLimited, Transient
from scheduler.store import Store, open_store

T0 = datetime(2030, 3, 4, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def set(self, when: datetime) -> None:
        self.now = when


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with open_store(db_url) as opened:
        yield opened


def queue(
    store: Store,
    platform: str,
    times: list[datetime],
    thread: bool = True,
    account: str = "default",
) -> list[int]:
    """Queue one post per time on `platform`; returns their ids in that order."""
    posts = planned(platform, times, thread=thread, account=account)
    return [q.id for q in queue_posts(store, posts, new_key=lambda _: uuid.uuid4().hex)]


def post(store: Store, post_id: int) -> Any:
    """Every column of the post as stored, as attributes."""
    return SimpleNamespace(**stored_post(store.url, post_id))


def statuses(store: Store, ids: list[int]) -> list[str]:
    rows = {p.id: p.status for p in store.posts(post_ids=ids)}
    return [rows[i] for i in ids]


def events(store: Store, kind: str, post_id: int | None = None) -> list[LogEntry]:
    return store.log(post_id=post_id, kinds=[kind])


def dispatcher(
    store: Store,
    publishers: list[FakePlatformPublisher],
    clock: Clock,
    settings: DispatchSettings | None = None,
    worker: str = "worker-1",
    seed: int = 1,
) -> Dispatcher:
    return Dispatcher(
        store,
        {p.platform: p for p in publishers},
        worker,
        settings or DispatchSettings(batch_size=5),
        clock=clock,
        rng=random.Random(seed),
    )


# -- on time, in order -------------------------------------------------------------------


def test_due_posts_go_out_on_time_and_replies_carry_their_parents_ids(store: Store) -> None:
    x_ids = queue(store, "x", [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)])
    bsky_ids = queue(store, "bluesky", [T0, T0 + timedelta(minutes=1)])
    x, bsky = FakePlatformPublisher("x"), FakePlatformPublisher("bluesky")
    clock = Clock(T0 - timedelta(seconds=1))
    d = dispatcher(store, [x, bsky], clock)

    assert d.tick().published == 0  # nothing is due yet
    assert x.calls == [] and bsky.calls == []

    clock.set(T0)
    d.tick()
    assert x.published_ids() == [x_ids[0]]
    assert bsky.published_ids() == [bsky_ids[0]]
    assert x.calls[0].reply_to is None
    assert statuses(store, x_ids) == ["published", "queued", "queued"]
    assert post(store, x_ids[0]).remote_id == x.copies[0]

    clock.set(T0 + timedelta(minutes=2))
    result = d.tick()
    assert result.published == 3
    assert x.published_ids() == x_ids  # each reply after its parent
    assert bsky.published_ids() == bsky_ids
    assert statuses(store, x_ids + bsky_ids) == ["published"] * 5

    # The replies name the thread's root and their own parent by remote id
    # (and by uri + cid, the strong refs Bluesky needs).
    second, third = x.calls[1].reply_to, x.calls[2].reply_to
    assert second is not None and third is not None
    assert second.root.id == second.parent.id == x.live[x.calls[0].post.idempotency_key]
    assert third.root.id == second.parent.id
    assert third.parent.id == x.live[x.calls[1].post.idempotency_key] != third.root.id
    reply = bsky.calls[1].reply_to
    assert reply is not None
    root = post(store, bsky_ids[0])
    assert (reply.parent.uri, reply.parent.cid) == (root.remote_uri, root.remote_cid)
    assert reply.parent.uri is not None and reply.parent.cid is not None


def test_a_reply_is_not_published_before_its_parent(store: Store) -> None:
    ids = queue(store, "x", [T0, T0])  # the reply is due as soon as its parent
    x = FakePlatformPublisher("x")
    x.fail_next(Transient("503 service unavailable"))
    clock = Clock(T0)
    d = dispatcher(store, [x], clock, DispatchSettings(backoff_base=10, backoff_cap=10))

    d.tick()
    assert x.published_ids() == [ids[0]]  # the reply was not even tried
    assert statuses(store, ids) == ["queued", "queued"]
    assert post(store, ids[1]).attempts == 0

    clock.advance(60)
    d.tick()
    assert x.published_ids() == [ids[0], ids[0], ids[1]]
    assert statuses(store, ids) == ["published", "published"]
    reply_to = x.calls[2].reply_to
    assert reply_to is not None and reply_to.parent.id == post(store, ids[0]).remote_id


def test_an_accounts_posts_go_out_in_schedule_order(store: Store) -> None:
    # Inserted out of time order; all due except the last.
    ids = queue(
        store,
        "x",
        [
            T0 - timedelta(seconds=10),
            T0 - timedelta(seconds=30),
            T0 - timedelta(seconds=20),
            T0 + timedelta(hours=1),
        ],
        thread=False,
    )
    x = FakePlatformPublisher("x")
    dispatcher(store, [x], Clock(T0), DispatchSettings(batch_size=2)).tick()
    assert x.published_ids() == [ids[1], ids[2], ids[0]]
    assert statuses(store, ids) == ["published", "published", "published", "queued"]


def test_a_batch_that_runs_past_half_its_lease_hands_the_rest_back(store: Store) -> None:
    ids = queue(store, "x", [T0, T0, T0], thread=False)
    x = FakePlatformPublisher("x")
    clock = Clock(T0)
    x.during_publish = lambda: clock.advance(40)  # a platform taking 40 s a post
    settings = DispatchSettings(batch_size=10, lease=timedelta(seconds=60))
    d = dispatcher(store, [x], clock, settings)

    first = d.tick()
    # The second post would begin 40 s into a 60 s lease: past half of it. The tick
    # claims the rest afresh, with a new lease, and goes on.
    assert x.published_ids() == ids
    assert (first.published, first.released) == (3, 3)
    released = events(store, "released")
    assert [e.post_id for e in released] == [ids[1], ids[2], ids[2]]
    assert all("ran long" in str(e.detail["reason"]) for e in released)
    assert statuses(store, ids) == ["published"] * 3
    assert len(x.copies) == 3


# -- errors ------------------------------------------------------------------------------


def test_transient_errors_back_off_with_jitter_then_fail_and_hold_the_replies(
    store: Store,
) -> None:
    ids = queue(store, "x", [T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)])
    x = FakePlatformPublisher("x")
    x.fail_next(Transient("503 service unavailable"), times=4)
    clock = Clock(T0 + timedelta(seconds=5))
    settings = DispatchSettings(backoff_base=10, backoff_cap=25, max_attempts=4)
    d = dispatcher(store, [x], clock, settings, seed=7)

    delays = []
    for attempt in (1, 2, 3):
        result = d.tick()
        assert result.retried == 1
        first = post(store, ids[0])
        assert first.status == "queued"
        assert first.attempts == attempt
        assert first.last_error == "503 service unavailable"
        assert first.lease_owner is None
        delay = (first.next_attempt_at - clock.now).total_seconds()
        ceiling = min(25.0, 10.0 * 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling, (attempt, delay)
        delays.append(delay)
        assert statuses(store, ids[1:]) == ["queued", "queued"]
        # Not before its time...
        clock.set(first.next_attempt_at - timedelta(seconds=1))
        d.tick()
        assert len(x.calls) == attempt
        # ...but at it.
        clock.set(first.next_attempt_at)
    assert delays != [5.0, 10.0, 12.5]  # jittered, not the bare lower bounds
    assert [c.post.attempt for c in x.calls] == [1, 2, 3]

    assert d.tick().failed == 1
    first = post(store, ids[0])
    assert first.status == "failed"
    assert first.attempts == 4
    assert first.last_error is not None and "503 service unavailable" in first.last_error
    assert statuses(store, ids[1:]) == ["held", "held"]
    assert x.published_ids() == [ids[0]] * 4 and x.copies == []

    retries = events(store, "retry scheduled", ids[0])
    assert [e.detail["attempt"] for e in retries] == [1, 2, 3]
    assert all(e.detail["reason"] == "503 service unavailable" for e in retries)
    assert len(events(store, "failed", ids[0])) == 1
    assert {e.post_id for e in events(store, "held")} == set(ids[1:])


def test_a_permanent_error_fails_at_once_with_the_reason(store: Store) -> None:
    ids = queue(store, "x", [T0, T0, T0])
    x = FakePlatformPublisher("x")
    reason = "403 Forbidden: you are not permitted to perform this action"
    x.fail_next(Permanent(reason))
    result = dispatcher(store, [x], Clock(T0)).tick()

    assert result.failed == 1
    first = post(store, ids[0])
    assert (first.status, first.attempts, first.last_error) == ("failed", 1, reason)
    assert statuses(store, ids[1:]) == ["held", "held"]
    assert len(x.calls) == 1
    [failed] = events(store, "failed", ids[0])
    assert failed.detail["reason"] == reason
    held = events(store, "held")
    assert {e.post_id for e in held} == set(ids[1:])
    assert all(reason in str(e.detail["reason"]) for e in held)


def test_a_rate_limit_defers_the_whole_account_until_the_reset_without_an_attempt(
    store: Store,
) -> None:
    x_ids = queue(
        store,
        "x",
        [T0 - timedelta(seconds=3), T0 - timedelta(seconds=2), T0 - timedelta(seconds=1)],
        thread=False,
    )
    bsky_ids = queue(store, "bluesky", [T0])
    x, bsky = FakePlatformPublisher("x"), FakePlatformPublisher("bluesky")
    reset = T0 + timedelta(minutes=15)
    x.fail_next(RateLimited("429 Too Many Requests", reset_at=reset))
    clock = Clock(T0)
    d = dispatcher(store, [x, bsky], clock)

    result = d.tick()
    assert result.rate_limited == 3
    assert len(x.calls) == 1  # the other two were not knocked on the door with
    for post_id in x_ids:
        deferred = post(store, post_id)
        assert (deferred.status, deferred.attempts) == ("queued", 0)
        assert deferred.next_attempt_at == reset
    limited = events(store, "rate-limited")
    assert sorted(e.post_id for e in limited if e.post_id is not None) == x_ids
    assert {e.detail["until"] for e in limited} == {reset.isoformat()}
    assert statuses(store, bsky_ids) == ["published"]  # other accounts carry on

    clock.set(reset - timedelta(seconds=1))
    d.tick()
    assert len(x.calls) == 1

    clock.set(reset)
    assert d.tick().published == 3
    assert x.published_ids() == [x_ids[0], *x_ids]
    assert [post(store, i).attempts for i in x_ids] == [1, 1, 1]


# -- misfires ----------------------------------------------------------------------------


def test_a_post_later_than_catch_up_fails_as_missed_and_a_less_late_one_goes_out(
    store: Store,
) -> None:
    old = queue(store, "x", [T0 - timedelta(hours=3), T0 - timedelta(hours=3)])
    recent = queue(store, "bluesky", [T0 - timedelta(minutes=30)])
    x, bsky = FakePlatformPublisher("x"), FakePlatformPublisher("bluesky")
    settings = DispatchSettings(catch_up=timedelta(hours=1))
    result = dispatcher(store, [x, bsky], Clock(T0), settings).tick()

    assert (result.failed, result.published) == (1, 1)
    assert x.calls == []
    missed = post(store, old[0])
    assert (missed.status, missed.last_error) == ("failed", "missed: 3.0 h late")
    [failed] = events(store, "failed", old[0])
    assert failed.detail["reason"] == "missed: 3.0 h late"
    assert statuses(store, old[1:]) == ["held"]  # its reply is kept, not dropped
    assert statuses(store, recent) == ["published"]
    assert bsky.published_ids() == recent


# -- missing credentials -----------------------------------------------------------------


def test_a_platform_without_credentials_keeps_its_posts_queued(store: Store) -> None:
    x_ids = queue(store, "x", [T0, T0])
    bsky_ids = queue(store, "bluesky", [T0, T0])
    bsky = FakePlatformPublisher("bluesky")
    reason = "x credentials missing: X_API_KEY, X_API_SECRET not set (see .env.example)"
    clock = Clock(T0)
    Daemon(
        store,
        {Platform.BLUESKY: bsky},
        {Platform.X: reason},
        DispatchSettings(),
        DaemonOptions(once=True),
        clock=clock,
        worker_id="worker-creds",
    ).run()

    assert statuses(store, bsky_ids) == ["published", "published"]
    assert statuses(store, x_ids) == ["queued", "queued"]
    assert [post(store, i).attempts for i in x_ids] == [0, 0]
    [warning] = events(store, "no credentials")
    assert warning.post_id is None
    assert warning.detail == {"platform": "x", "reason": reason}
    assert events(store, "claimed", x_ids[0]) == []


# -- an expired lease during a slow publish ----------------------------------------------


def test_a_post_reclaimed_after_its_lease_expired_is_published_once(store: Store) -> None:
    # Real time here: the first daemon's publish outlives its lease.
    now = datetime.now(UTC)
    [post_id] = queue(store, "x", [now - timedelta(seconds=1)], thread=False)
    platform = FakePlatformPublisher("x")
    platform.slow_next(1.5)
    settings = DispatchSettings(lease=timedelta(seconds=0.5), record_patience=10)
    first = Dispatcher(store, {Platform.X: platform}, "worker-slow", settings)
    second = Dispatcher(store, {Platform.X: platform}, "worker-fast", settings)

    results: list[TickResult] = []
    slow = threading.Thread(target=lambda: results.append(first.tick()))
    slow.start()
    try:
        assert platform.call_started.wait(5)
        assert post(store, post_id).lease_owner == "worker-slow"
        threading.Event().wait(0.7)  # the lease (0.5 s) expires mid-publish
        reclaimed = second.tick()
    finally:
        slow.join(10)
    assert not slow.is_alive()

    assert reclaimed.claimed == 1
    assert [c.post.ambiguous for c in platform.calls] == [False, True]
    assert [c.post.idempotency_key for c in platform.calls].count(
        platform.calls[0].post.idempotency_key
    ) == 2
    assert len(platform.copies) == 1  # one live copy on the platform
    done = post(store, post_id)
    assert done.status == "published"
    assert done.remote_id == platform.copies[0]
    assert done.lease_owner is None
    notes = [e.detail.get("note") for e in events(store, "claimed", post_id)]
    assert any(n and "expired lease" in str(n) for n in notes)
    # The slow worker's late report of the same copy is not logged as a second publish.
    assert len(events(store, "published", post_id)) == 1
    assert done.attempts == 1
