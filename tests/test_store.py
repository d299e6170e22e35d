"""The store on real SQLite files and real PostgreSQL: migrations, queueing, claims,
leases, cancel/retry and the post log, all through the Store's own operations."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import TABLES, Cli, snapshot, stored_post
from plans import every, planned, queue
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import StatementError

from scheduler.errors import BadInput, NotFound
from scheduler.keys import is_tid
from scheduler.model import (
    Deferred,
    Failed,
    Job,
    Kind,
    PlannedPost,
    Platform,
    Published,
    QueuedPost,
    RemoteRef,
    RetryLater,
    Status,
)
from scheduler.store import Store, open_store
from scheduler.store.db import make_engine
from scheduler.store.migrate import HEAD, current_revision, downgrade, upgrade

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
PLATFORMS = (Platform.X, Platform.BLUESKY)


def keys() -> Callable[[Platform], str]:
    counter = iter(range(1_000_000))
    return lambda platform: f"{platform}-key-{next(counter)}"


def plan(
    platform: str,
    count: int,
    start: datetime = NOW,
    thread: bool = True,
    account: str = "default",
    step: timedelta = timedelta(minutes=30),
) -> list[PlannedPost]:
    texts = [f"{platform} post {i + 1}" for i in range(count)]
    return planned(platform, every(start, count, step), thread=thread, account=account, texts=texts)


def queue_plan(
    store: Store,
    posts: list[PlannedPost],
    name: str = "op-ed",
    append: bool = False,
    new_key: Callable[[Platform], str] | None = None,
) -> list[QueuedPost]:
    return queue(store, posts, name, now=NOW - timedelta(hours=1), append=append, new_key=new_key)


def events_of(store: Store, post_id: int) -> list[str]:
    return [e.kind for e in store.log(post_id=post_id)]


def claim(store: Store, worker: str, now: datetime = NOW, limit: int = 10) -> dict[int, Job]:
    """The claimed jobs by post id, in publishing order."""
    return {j.post_id: j for j in store.claim(worker, now, LEASE, limit, PLATFORMS)}


def publish(store: Store, job: Job, worker: str, remote_id: str | None = "r1") -> bool:
    return store.record(job, Published(RemoteRef(id=remote_id)), worker, NOW)


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_migrations_up_down_up(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert not table_names(engine) & set(TABLES)
        upgrade(engine)
        assert set(TABLES) <= table_names(engine)
        index_names = {ix["name"] for ix in inspect(engine).get_indexes("posts")}
        assert "ix_posts_claim" in index_names
        with engine.connect() as conn:
            assert current_revision(conn) == HEAD

        downgrade(engine, "base")
        assert not table_names(engine) & set(TABLES)
        with engine.connect() as conn:
            assert current_revision(conn) is None

        upgrade(engine)
        assert set(TABLES) <= table_names(engine)
        with engine.connect() as conn:
            assert current_revision(conn) == HEAD
    finally:
        engine.dispose()


# --- migrations -----------------------------------------------------------------------------


def test_db_upgrade_command(db_url: str, cli: Cli) -> None:
    result = cli("db", "upgrade", env={"CAMPAIGN_DATABASE_URL": db_url})
    assert result.code == 0, result.stderr
    assert "head" in result.stdout
    engine = make_engine(db_url)
    try:
        assert set(TABLES) <= table_names(engine)
        with engine.connect() as conn:
            assert current_revision(conn) == HEAD
    finally:
        engine.dispose()
    # A second upgrade is a no-op, not an error.
    assert cli("db", "upgrade", env={"CAMPAIGN_DATABASE_URL": db_url}).code == 0


def test_first_use_creates_sqlite_in_data_dir_in_wal_mode(cli: Cli, tmp_path: Path) -> None:
    database = tmp_path / "data" / "campaign.db"
    assert not database.exists()
    result = cli("list", "--json")
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert database.is_file()
    conn = sqlite3.connect(database)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert set(TABLES) <= names
    finally:
        conn.close()


def test_open_store_creates_schema_on_first_use(db_url: str) -> None:
    open_store(db_url).close()
    engine = make_engine(db_url)
    try:
        assert set(TABLES) <= table_names(engine)
    finally:
        engine.dispose()


# --- times ------------------------------------------------------------------------------------


def test_times_round_trip_as_aware_utc(store: Store) -> None:
    yerevan = timezone(timedelta(hours=4))
    local_start = datetime(2030, 6, 1, 13, 30, 15, tzinfo=yerevan)
    [queued] = queue_plan(store, plan("x", 1, start=local_start))
    found = store.post(queued.id)
    created = stored_post(store.url, queued.id)["created_at"]
    for value in (found.scheduled_at, found.next_attempt_at, created):
        assert value.tzinfo is not None
        assert value.utcoffset() == timedelta(0)
    assert found.scheduled_at == local_start
    assert found.scheduled_at == datetime(2030, 6, 1, 9, 30, 15, tzinfo=UTC)
    # Comparisons in SQL are on UTC too: the post is due exactly from 09:30:15Z.
    assert list(claim(store, "w1", now=datetime(2030, 6, 1, 9, 30, 14, tzinfo=UTC))) == []
    assert list(claim(store, "w1", now=datetime(2030, 6, 1, 9, 30, 15, tzinfo=UTC))) == [queued.id]


def test_naive_time_is_refused(store: Store) -> None:
    naive = [PlannedPost(Platform.X, 1, "t", datetime(2030, 1, 1, 9, 0), thread=False)]
    before = snapshot(store.url)
    with pytest.raises(StatementError, match="naive datetime"):
        queue_plan(store, naive)
    assert snapshot(store.url) == before


# --- queueing ---------------------------------------------------------------------------------


def links(store: Store, post_id: int) -> tuple[int | None, int | None]:
    row = stored_post(store.url, post_id)
    return row["parent_id"], row["root_id"]


def test_queue_chains_threads_per_platform(store: Store) -> None:
    queued = queue_plan(store, plan("x", 3) + plan("bluesky", 2))
    x_ids = [q.id for q in queued if q.platform == "x"]
    bsky_ids = [q.id for q in queued if q.platform == "bluesky"]
    assert [q.seq for q in queued] == [1, 2, 3, 1, 2]

    assert links(store, x_ids[0]) == (None, x_ids[0])
    assert links(store, x_ids[1]) == (x_ids[0], x_ids[0])
    assert links(store, x_ids[2]) == (x_ids[1], x_ids[0])
    assert links(store, bsky_ids[0]) == (None, bsky_ids[0])
    assert links(store, bsky_ids[1]) == (bsky_ids[0], bsky_ids[0])
    for post_id in x_ids + bsky_ids:
        assert events_of(store, post_id) == [Kind.QUEUED.value]
        assert store.post(post_id).status == Status.QUEUED


def test_queue_standalone_has_no_parents(store: Store) -> None:
    queued = queue_plan(store, plan("x", 3, thread=False) + plan("bluesky", 2, thread=False))
    for q in queued:
        assert links(store, q.id) == (None, None)


def test_queue_keeps_idempotency_keys(store: Store) -> None:
    queued = queue_plan(store, plan("x", 2) + plan("bluesky", 1), new_key=keys())
    stored = [stored_post(store.url, q.id)["idempotency_key"] for q in queued]
    assert stored == ["x-key-0", "x-key-1", "bluesky-key-2"]


def test_default_keys_are_record_keys_on_bluesky_and_unique(store: Store) -> None:
    queued = queue_plan(store, plan("x", 3) + plan("bluesky", 3))
    stored: dict[str, list[str]] = {q.platform: [] for q in queued}
    for q in queued:
        stored[q.platform].append(stored_post(store.url, q.id)["idempotency_key"])
    assert all(is_tid(key) for key in stored["bluesky"])
    assert len({*stored["x"], *stored["bluesky"]}) == 6


def test_append_continues_numbering(store: Store) -> None:
    queue_plan(store, plan("x", 2) + plan("bluesky", 1))
    more = queue_plan(store, plan("x", 2) + plan("bluesky", 2), append=True)
    assert [(q.platform, q.seq) for q in more] == [
        ("x", 3),
        ("x", 4),
        ("bluesky", 2),
        ("bluesky", 3),
    ]
    assert len(store.posts()) == 7


def test_duplicate_campaign_name_leaves_database_unchanged(store: Store) -> None:
    queue_plan(store, plan("x", 2))
    before = snapshot(store.url)
    with pytest.raises(BadInput, match="exists already"):
        queue_plan(store, plan("x", 3) + plan("bluesky", 2))
    assert snapshot(store.url) == before


def test_failure_half_way_through_queueing_leaves_database_unchanged(store: Store) -> None:
    queue_plan(store, plan("x", 2), name="earlier")
    before = snapshot(store.url)

    def failing_after(calls: int) -> Callable[[Platform], str]:
        counter = iter(range(100))

        def key(platform: Platform) -> str:
            if next(counter) == calls:  # after the campaign row is written, before the posts
                raise RuntimeError("key generator broke")
            return f"{platform}-k-{calls}"

        return key

    with pytest.raises(RuntimeError, match="key generator broke"):
        queue_plan(store, plan("x", 5), name="second", new_key=failing_after(3))
    assert snapshot(store.url) == before

    # A post the database refuses, after the campaign row and every other post are
    # written, rolls all of it back.
    bad = [*plan("x", 3), PlannedPost(Platform.X, 4, "t", datetime(2030, 1, 1), thread=True)]
    with pytest.raises(StatementError, match="naive datetime"):
        queue_plan(store, bad, name="third")
    assert snapshot(store.url) == before

    # And so does an append that fails.
    with pytest.raises(RuntimeError, match="key generator broke"):
        queue_plan(store, plan("x", 3), name="earlier", append=True, new_key=failing_after(2))
    assert snapshot(store.url) == before


# --- claims and leases ------------------------------------------------------------------------


def test_two_claims_by_different_workers_never_overlap(store: Store) -> None:
    posts = [
        *plan("x", 3, thread=False, account="alice", step=timedelta(0)),
        *plan("x", 3, thread=False, account="bob", step=timedelta(0)),
        *plan("bluesky", 3, thread=False, account="carol", step=timedelta(0)),
    ]
    queued = queue_plan(store, posts)
    first = claim(store, "w1", limit=2)
    second = claim(store, "w2", limit=20)
    third = claim(store, "w3", limit=20)
    assert len(first) == 2
    assert second, "the second daemon found nothing to do"
    assert not set(first) & set(second)
    assert not (set(first) | set(second)) & set(third)
    assert set(first) | set(second) | set(third) <= {q.id for q in queued}
    accounts: dict[tuple[str, str], set[str]] = {}
    for worker, jobs in (("w1", first), ("w2", second), ("w3", third)):
        for post_id, job in jobs.items():
            found = stored_post(store.url, post_id)
            assert found["status"] == Status.PUBLISHING
            assert found["lease_owner"] == worker
            assert found["lease_until"] == NOW + LEASE
            assert events_of(store, post_id) == [Kind.QUEUED.value, Kind.CLAIMED.value]
            accounts.setdefault((job.platform, job.account), set()).add(worker)
    # One account never has two daemons publishing at once.
    assert all(len(owners) == 1 for owners in accounts.values())


def test_posts_not_yet_due_are_not_claimed(store: Store) -> None:
    queued = queue_plan(store, plan("x", 2, thread=False, start=NOW + timedelta(minutes=1)))
    assert list(claim(store, "w1")) == []
    assert list(claim(store, "w1", now=NOW + timedelta(minutes=1))) == [queued[0].id]


def test_reply_waits_for_parent_published_with_remote_id(store: Store) -> None:
    first, reply = queue_plan(store, plan("x", 2, step=timedelta(0)))
    jobs = claim(store, "w1")
    assert list(jobs) == [first.id]
    # The parent is publishing: its reply is not claimable by anyone.
    assert list(claim(store, "w1")) == []
    assert list(claim(store, "w2")) == []
    publish(store, jobs[first.id], "w1", remote_id="1700000000000000001")
    replies = claim(store, "w2")
    assert list(replies) == [reply.id]
    reply_to = replies[reply.id].reply_to
    assert reply_to is not None and reply_to.parent.id == "1700000000000000001"


def test_reply_to_post_published_without_id_is_held(store: Store) -> None:
    first, reply, last = queue_plan(store, plan("x", 3, step=timedelta(0)))
    jobs = claim(store, "w1")
    assert list(jobs) == [first.id]
    publish(store, jobs[first.id], "w1", remote_id=None)
    assert list(claim(store, "w1")) == []
    assert store.post(reply.id).status == Status.HELD
    assert store.post(last.id).status == Status.HELD
    assert events_of(store, reply.id) == [Kind.QUEUED.value, Kind.HELD.value]


def test_expired_lease_is_reclaimed_and_marked_ambiguous(store: Store) -> None:
    [queued] = queue_plan(store, plan("bluesky", 1))
    first = claim(store, "w1")
    assert list(first) == [queued.id]
    assert not first[queued.id].post.ambiguous
    # Within the lease nobody else may take it.
    assert list(claim(store, "w2", now=NOW + LEASE - timedelta(seconds=1))) == []
    second = claim(store, "w2", now=NOW + LEASE + timedelta(seconds=1))
    assert list(second) == [queued.id]
    assert second[queued.id].post.ambiguous
    found = stored_post(store.url, queued.id)
    assert found["ambiguous"]
    assert found["lease_owner"] == "w2"
    assert found["status"] == Status.PUBLISHING
    assert events_of(store, queued.id) == [Kind.QUEUED, Kind.CLAIMED, Kind.CLAIMED]
    last = store.log(post_id=queued.id)[-1]
    assert last.worker == "w2"
    assert "expired lease" in last.detail["note"]
    # The old owner lost the lease: its late retry does not overwrite the new owner's.
    late = RetryLater("late", NOW + LEASE * 3)
    assert not store.record(first[queued.id], late, "w1", NOW + LEASE * 2)
    assert stored_post(store.url, queued.id)["lease_owner"] == "w2"


# --- cancel and retry -------------------------------------------------------------------------


def test_cancel_holds_later_replies(store: Store) -> None:
    first, second, third = queue_plan(store, plan("x", 3))
    [other] = queue_plan(store, plan("bluesky", 1), name="other")
    assert store.cancel([second.id], now=NOW) == [second.id]
    assert store.post(first.id).status == Status.QUEUED
    assert store.post(second.id).status == Status.CANCELLED
    assert store.post(third.id).status == Status.HELD
    assert f"post {second.id} was cancelled" in (store.post(third.id).last_error or "")
    assert store.post(other.id).status == Status.QUEUED
    assert events_of(store, first.id) == [Kind.QUEUED]
    assert events_of(store, second.id) == [Kind.QUEUED, Kind.CANCELLED]
    assert events_of(store, third.id) == [Kind.QUEUED, Kind.HELD]


def test_cancel_a_whole_campaign_takes_only_its_open_posts(store: Store) -> None:
    first, second, third = queue_plan(store, plan("x", 3, step=timedelta(0)), name="whole")
    jobs = claim(store, "w1")
    publish(store, jobs[first.id], "w1")
    [other] = queue_plan(store, plan("bluesky", 1), name="other")
    assert store.cancel(campaign="whole", now=NOW) == [second.id, third.id]
    assert store.post(first.id).status == Status.PUBLISHED
    assert store.post(other.id).status == Status.QUEUED
    with pytest.raises(NotFound, match="no campaign named 'nope'"):
        store.cancel(campaign="nope", now=NOW)


def test_cancel_refuses_published_and_unknown_posts(store: Store) -> None:
    first, second = queue_plan(store, plan("x", 2))
    jobs = claim(store, "w1")
    publish(store, jobs[first.id], "w1")
    before = snapshot(store.url)
    with pytest.raises(BadInput, match="published"):
        store.cancel([second.id, first.id], now=NOW)
    with pytest.raises(NotFound, match="999"):
        store.cancel([second.id, 999], now=NOW)
    with pytest.raises(NotFound, match="99999999999"):
        store.cancel([99999999999], now=NOW)
    assert snapshot(store.url) == before


def test_retry_moves_failed_and_held_back_to_queued(store: Store) -> None:
    first, second, third = queue_plan(store, plan("x", 3, step=timedelta(0)))
    jobs = claim(store, "w1")
    assert list(jobs) == [first.id]
    assert store.record(jobs[first.id], Failed("403 forbidden"), "w1", NOW)
    assert [store.post(p.id).status for p in (first, second, third)] == [
        Status.FAILED,
        Status.HELD,
        Status.HELD,
    ]
    # A held reply cannot go back alone while its parent is failed.
    before = snapshot(store.url)
    with pytest.raises(BadInput, match=f"retry {first.id} too"):
        store.retry([second.id], now=NOW)
    assert snapshot(store.url) == before

    later = NOW + timedelta(minutes=5)
    requeued = store.retry([first.id, second.id, third.id], now=later)
    assert [r.post_id for r in requeued] == [first.id, second.id, third.id]
    # All three were due at NOW: re-planned from `later` with their (zero) spacing.
    assert {(r.was, r.at, r.replanned) for r in requeued} == {(NOW, later, True)}
    for p in (first, second, third):
        found = store.post(p.id)
        assert found.status == Status.QUEUED
        assert found.attempts == 0
        assert found.last_error is None
        assert found.next_attempt_at == later
    assert events_of(store, first.id) == [
        Kind.QUEUED,
        Kind.CLAIMED,
        Kind.FAILED,
        Kind.REQUEUED,
    ]
    assert events_of(store, second.id) == [Kind.QUEUED, Kind.HELD, Kind.REQUEUED]
    # Queued posts are not "retried".
    with pytest.raises(BadInput, match="is queued"):
        store.retry([first.id], now=later)


# --- the post log -----------------------------------------------------------------------------


def test_every_state_change_writes_exactly_one_event(store: Store) -> None:
    a, b = queue_plan(store, plan("x", 2, thread=False, step=timedelta(seconds=30)))
    [c] = queue_plan(store, plan("bluesky", 1), name="c")
    t0 = NOW
    first = claim(store, "w1", now=t0)
    assert set(first) == {a.id, c.id}

    assert store.record(first[a.id], RetryLater("503", t0 + timedelta(seconds=30), True), "w1", t0)
    assert store.record(first[c.id], Deferred("429", t0 + timedelta(minutes=15)), "w1", t0)
    assert store.post(a.id).attempts == 1
    assert store.post(c.id).attempts == 0  # a rate limit is not an attempt
    assert stored_post(store.url, a.id)["ambiguous"]

    t1 = t0 + timedelta(seconds=30)
    second = claim(store, "w1", now=t1)
    assert set(second) == {a.id, b.id}
    ref = RemoteRef(id="42", url="https://x/42")
    assert store.record(second[a.id], Published(ref), "w1", t1)
    assert store.release([second[b.id]], "shutting down", "w1", t1) == 1

    assert events_of(store, a.id) == [
        Kind.QUEUED,
        Kind.CLAIMED,
        Kind.RETRY_SCHEDULED,
        Kind.CLAIMED,
        Kind.PUBLISHED,
    ]
    assert events_of(store, b.id) == [Kind.QUEUED, Kind.CLAIMED, Kind.RELEASED]
    assert events_of(store, c.id) == [Kind.QUEUED, Kind.CLAIMED, Kind.RATE_LIMITED]
    published = store.post(a.id)
    assert published.status == Status.PUBLISHED
    assert published.remote_id == "42"
    assert published.published_at == t1
    assert not stored_post(store.url, a.id)["ambiguous"]
    assert store.post(b.id).status == Status.QUEUED
    assert store.post(c.id).next_attempt_at == t0 + timedelta(minutes=15)


def test_a_late_worker_reporting_the_same_publish_writes_nothing_more(store: Store) -> None:
    [queued] = queue_plan(store, plan("x", 1))
    mine = claim(store, "w1")
    theirs = claim(store, "w2", now=NOW + LEASE * 2)  # w1's lease expired
    ref = RemoteRef(id="7", url="https://x/7")
    assert store.record(theirs[queued.id], Published(ref), "w2", NOW + LEASE * 2)
    # w1 comes back with the same post: a fact already recorded, nothing is written.
    assert not store.record(mine[queued.id], Published(ref), "w1", NOW + LEASE * 3)
    # With another id it is a second copy, and the log says so.
    assert not store.record(mine[queued.id], Published(RemoteRef(id="8")), "w1", NOW + LEASE * 3)
    kinds = events_of(store, queued.id)
    assert kinds == [Kind.QUEUED, Kind.CLAIMED, Kind.CLAIMED, Kind.PUBLISHED, Kind.PUBLISHED]
    assert "a second copy" in store.log(post_id=queued.id)[-1].detail["note"]
    assert store.post(queued.id).remote_id == "7"


def test_a_publish_is_recorded_even_after_the_lease_passed_on(store: Store) -> None:
    [queued] = queue_plan(store, plan("x", 1))
    mine = claim(store, "w1")
    claim(store, "w2", now=NOW + LEASE * 2)
    assert store.record(mine[queued.id], Published(RemoteRef(id="9")), "w1", NOW + LEASE * 2)
    assert store.post(queued.id).status == Status.PUBLISHED
    assert store.post(queued.id).remote_id == "9"


def test_attempts_exhausted_fails_with_one_event(store: Store) -> None:
    [queued] = queue_plan(store, plan("x", 1))
    jobs = claim(store, "w1")
    assert store.record(
        jobs[queued.id], Failed("timeout (gave up after 1 attempts)", ambiguous=True), "w1", NOW
    )
    found = store.post(queued.id)
    assert found.status == Status.FAILED
    assert found.attempts == 1
    assert "gave up after 1 attempts" in (found.last_error or "")
    assert stored_post(store.url, queued.id)["ambiguous"]
    assert events_of(store, queued.id) == [Kind.QUEUED, Kind.CLAIMED, Kind.FAILED]


def test_concurrent_claims_never_share_a_post(store: Store) -> None:
    """Several daemons claiming at the same moment, each in its own connection."""
    import threading

    accounts = [f"acct{i}" for i in range(6)]
    posts = [
        p
        for account in accounts
        for p in plan("x", 4, thread=False, account=account, step=timedelta(0))
    ]
    queue_plan(store, posts)
    results: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def daemon(worker: str) -> None:
        barrier.wait()
        results[worker] = list(claim(store, worker, limit=5))

    threads = [threading.Thread(target=daemon, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 4
    claimed = [post_id for ids in results.values() for post_id in ids]
    assert claimed, "nobody claimed anything"
    assert len(claimed) == len(set(claimed))
    for worker, ids in results.items():
        for post_id in ids:
            assert stored_post(store.url, post_id)["lease_owner"] == worker
            assert events_of(store, post_id) == [Kind.QUEUED, Kind.CLAIMED]


def test_a_group_of_publishes_is_written_whole_or_one_by_one(store: Store) -> None:
    posts = queue_plan(store, plan("x", 4, thread=False, step=timedelta(0)))
    mine = claim(store, "w1")
    assert len(mine) == 4
    ref = {p.id: RemoteRef(id=f"r{p.id}", url=f"https://x/{p.id}") for p in posts}
    first_two = [(mine[p.id], Published(ref[p.id])) for p in posts[:2]]
    assert store.record_all(first_two, "w1", NOW) == [True, True]  # the group at once
    # w1's lease on the other two expires and w2 takes one of them over.
    theirs = claim(store, "w2", now=NOW + LEASE * 2, limit=1)
    [taken] = theirs
    rest = [(mine[p.id], Published(ref[p.id])) for p in posts[2:]]
    # Not all of these are w1's any more: recorded one by one, each publish a fact.
    assert store.record_all(rest, "w1", NOW + LEASE * 2) == [True, True]
    for p in posts:
        found = store.post(p.id)
        assert (found.status, found.remote_id) == (Status.PUBLISHED, f"r{p.id}")
        assert events_of(store, p.id).count(Kind.PUBLISHED) == 1
    assert stored_post(store.url, taken)["lease_owner"] is None


def test_the_migrations_build_exactly_the_models_schema(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from scheduler.store.models import Base

    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
