"""The store on real SQLite files and real PostgreSQL: migrations, queueing, claims,
leases, cancel/retry and the post log."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import TABLES, snapshot
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.exc import StatementError

from scheduler.errors import BadInput, NotFound
from scheduler.platforms.base import RemoteRef
from scheduler.platforms.tid import is_tid
from scheduler.store import lifecycle
from scheduler.store.claim import claim_due
from scheduler.store.db import Store, make_engine, open_store
from scheduler.store.migrate import HEAD, current_revision, downgrade, upgrade
from scheduler.store.models import Event, Kind, Post, Status
from scheduler.store.queueing import PlannedPost, QueuedPost, queue_campaign

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
PLATFORMS = ("x", "bluesky")


@pytest.fixture
def store(reused_db_url: str) -> Iterator[Store]:
    opened = open_store(reused_db_url)
    try:
        yield opened
    finally:
        opened.close()


def keys() -> Callable[[str], str]:
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
    return [
        PlannedPost(
            platform=platform,
            account=account,
            seq=i + 1,
            text=f"{platform} post {i + 1}",
            scheduled_at=start + i * step,
            thread=thread,
        )
        for i in range(count)
    ]


def queue(
    store: Store,
    planned: list[PlannedPost],
    name: str = "op-ed",
    append: bool = False,
    new_key: Callable[[str], str] | None = None,
) -> list[QueuedPost]:
    with store.write() as session:
        return queue_campaign(
            session,
            name=name,
            source_path="/tmp/op-ed.txt",
            source_sha256="0" * 64,
            hashtags="#Artsakh #Armenia",
            planned=planned,
            append=append,
            now=NOW - timedelta(hours=1),
            **({"new_key": new_key} if new_key else {}),
        )


def events_of(store: Store, post_id: int) -> list[str]:
    with store.read() as session:
        return list(
            session.scalars(select(Event.kind).where(Event.post_id == post_id).order_by(Event.id))
        )


def post(store: Store, post_id: int) -> Post:
    with store.read() as session:
        found = session.get(Post, post_id)
        assert found is not None
        return found


def claim(store: Store, worker: str, now: datetime = NOW, limit: int = 10) -> list[int]:
    with store.write() as session:
        return [p.id for p in claim_due(session, worker, now, LEASE, limit, PLATFORMS)]


def publish(store: Store, post_id: int, worker: str, remote_id: str | None = "r1") -> None:
    with store.write() as session:
        found = session.get(Post, post_id)
        assert found is not None
        lifecycle.mark_published(session, found, RemoteRef(id=remote_id), worker, NOW)


# --- migrations -------------------------------------------------------------------------------


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


def test_db_upgrade_command(db_url: str, cli: Any) -> None:
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


def test_first_use_creates_sqlite_in_data_dir_in_wal_mode(cli: Any, tmp_path: Path) -> None:
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
    opened = open_store(db_url)
    try:
        assert set(TABLES) <= table_names(opened.engine)
    finally:
        opened.close()


# --- times ------------------------------------------------------------------------------------


def test_times_round_trip_as_aware_utc(store: Store) -> None:
    yerevan = timezone(timedelta(hours=4))
    local_start = datetime(2030, 6, 1, 13, 30, 15, tzinfo=yerevan)
    [queued] = queue(store, plan("x", 1, start=local_start))
    found = post(store, queued.id)
    for value in (found.scheduled_at, found.next_attempt_at, found.created_at):
        assert value.tzinfo is not None
        assert value.utcoffset() == timedelta(0)
    assert found.scheduled_at == local_start
    assert found.scheduled_at == datetime(2030, 6, 1, 9, 30, 15, tzinfo=UTC)
    # Comparisons in SQL are on UTC too: the post is due exactly from 09:30:15Z.
    assert claim(store, "w1", now=datetime(2030, 6, 1, 9, 30, 14, tzinfo=UTC)) == []
    assert claim(store, "w1", now=datetime(2030, 6, 1, 9, 30, 15, tzinfo=UTC)) == [queued.id]


def test_naive_time_is_refused(store: Store) -> None:
    naive = [PlannedPost("x", "default", 1, "t", datetime(2030, 1, 1, 9, 0), thread=False)]
    before = snapshot(store.url)
    with pytest.raises(StatementError, match="naive datetime"):
        queue(store, naive)
    assert snapshot(store.url) == before


# --- queueing ---------------------------------------------------------------------------------


def test_queue_chains_threads_per_platform(store: Store) -> None:
    queued = queue(store, plan("x", 3) + plan("bluesky", 2))
    x_ids = [q.id for q in queued if q.platform == "x"]
    bsky_ids = [q.id for q in queued if q.platform == "bluesky"]
    assert [q.seq for q in queued] == [1, 2, 3, 1, 2]

    links = {i: (post(store, i).parent_id, post(store, i).root_id) for i in x_ids + bsky_ids}
    assert links[x_ids[0]] == (None, x_ids[0])
    assert links[x_ids[1]] == (x_ids[0], x_ids[0])
    assert links[x_ids[2]] == (x_ids[1], x_ids[0])
    assert links[bsky_ids[0]] == (None, bsky_ids[0])
    assert links[bsky_ids[1]] == (bsky_ids[0], bsky_ids[0])
    for post_id in x_ids + bsky_ids:
        assert events_of(store, post_id) == [Kind.QUEUED.value]
        assert post(store, post_id).status == Status.QUEUED.value


def test_queue_standalone_has_no_parents(store: Store) -> None:
    queued = queue(store, plan("x", 3, thread=False) + plan("bluesky", 2, thread=False))
    for q in queued:
        found = post(store, q.id)
        assert (found.parent_id, found.root_id) == (None, None)


def test_queue_keeps_idempotency_keys(store: Store) -> None:
    queued = queue(store, plan("x", 2) + plan("bluesky", 1), new_key=keys())
    stored = [post(store, q.id).idempotency_key for q in queued]
    assert stored == ["x-key-0", "x-key-1", "bluesky-key-2"]


def test_default_keys_are_record_keys_on_bluesky_and_unique(store: Store) -> None:
    queued = queue(store, plan("x", 3) + plan("bluesky", 3))
    stored = {q.platform: [] for q in queued}
    for q in queued:
        stored[q.platform].append(post(store, q.id).idempotency_key)
    assert all(is_tid(key) for key in stored["bluesky"])
    assert len({*stored["x"], *stored["bluesky"]}) == 6


def test_append_continues_numbering(store: Store) -> None:
    queue(store, plan("x", 2) + plan("bluesky", 1))
    more = queue(store, plan("x", 2) + plan("bluesky", 2), append=True)
    assert [(q.platform, q.seq) for q in more] == [
        ("x", 3),
        ("x", 4),
        ("bluesky", 2),
        ("bluesky", 3),
    ]
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 7


def test_duplicate_campaign_name_leaves_database_unchanged(store: Store) -> None:
    queue(store, plan("x", 2))
    before = snapshot(store.url)
    with pytest.raises(BadInput, match="exists already"):
        queue(store, plan("x", 3) + plan("bluesky", 2))
    assert snapshot(store.url) == before


def test_failure_half_way_through_queueing_leaves_database_unchanged(store: Store) -> None:
    queue(store, plan("x", 2), name="earlier")
    before = snapshot(store.url)

    calls = iter(range(100))

    def failing_key(platform: str) -> str:
        if next(calls) == 3:  # after the campaign row is written, before the posts
            raise RuntimeError("key generator broke")
        return f"{platform}-k"

    with pytest.raises(RuntimeError, match="key generator broke"):
        queue(store, plan("x", 5), name="second", new_key=failing_key)
    assert snapshot(store.url) == before

    # An error after every row and event is written still rolls all of it back.
    with pytest.raises(RuntimeError, match="after queueing"), store.write() as session:
        queue_campaign(
            session,
            name="third",
            source_path="/tmp/x.txt",
            source_sha256="1" * 64,
            hashtags="",
            planned=plan("x", 3) + plan("bluesky", 3),
            append=False,
            now=NOW,
            new_key=keys(),
        )
        session.flush()
        raise RuntimeError("after queueing")
    assert snapshot(store.url) == before

    # And so does an append that fails.
    with pytest.raises(RuntimeError, match="after appending"), store.write() as session:
        queue_campaign(
            session,
            name="earlier",
            source_path="/tmp/x.txt",
            source_sha256="1" * 64,
            hashtags="",
            planned=plan("x", 3),
            append=True,
            now=NOW,
            new_key=keys(),
        )
        session.flush()
        raise RuntimeError("after appending")
    assert snapshot(store.url) == before


# --- claims and leases ------------------------------------------------------------------------


def test_two_claims_by_different_workers_never_overlap(store: Store) -> None:
    planned = [
        *plan("x", 3, thread=False, account="alice", step=timedelta(0)),
        *plan("x", 3, thread=False, account="bob", step=timedelta(0)),
        *plan("bluesky", 3, thread=False, account="carol", step=timedelta(0)),
    ]
    queued = queue(store, planned)
    first = claim(store, "w1", limit=2)
    second = claim(store, "w2", limit=20)
    third = claim(store, "w3", limit=20)
    assert len(first) == 2
    assert second, "the second daemon found nothing to do"
    assert not set(first) & set(second)
    assert not (set(first) | set(second)) & set(third)
    assert set(first) | set(second) | set(third) <= {q.id for q in queued}
    for worker, ids in (("w1", first), ("w2", second), ("w3", third)):
        for post_id in ids:
            found = post(store, post_id)
            assert found.status == Status.PUBLISHING.value
            assert found.lease_owner == worker
            assert found.lease_until == NOW + LEASE
            assert events_of(store, post_id) == [Kind.QUEUED.value, Kind.CLAIMED.value]
    # One account never has two daemons publishing at once.
    accounts: dict[tuple[str, str], set[str]] = {}
    for worker, ids in (("w1", first), ("w2", second), ("w3", third)):
        for post_id in ids:
            found = post(store, post_id)
            accounts.setdefault((found.platform, found.account), set()).add(worker)
    assert all(len(owners) == 1 for owners in accounts.values())


def test_posts_not_yet_due_are_not_claimed(store: Store) -> None:
    queued = queue(store, plan("x", 2, thread=False, start=NOW + timedelta(minutes=1)))
    assert claim(store, "w1") == []
    assert claim(store, "w1", now=NOW + timedelta(minutes=1)) == [queued[0].id]


def test_reply_waits_for_parent_published_with_remote_id(store: Store) -> None:
    first, reply = queue(store, plan("x", 2, step=timedelta(0)))
    assert claim(store, "w1") == [first.id]
    # The parent is publishing: its reply is not claimable by anyone.
    assert claim(store, "w1") == []
    assert claim(store, "w2") == []
    publish(store, first.id, "w1", remote_id="1700000000000000001")
    assert claim(store, "w2") == [reply.id]


def test_reply_to_post_published_without_id_is_held(store: Store) -> None:
    first, reply, last = queue(store, plan("x", 3, step=timedelta(0)))
    assert claim(store, "w1") == [first.id]
    publish(store, first.id, "w1", remote_id=None)
    assert claim(store, "w1") == []
    assert post(store, reply.id).status == Status.HELD.value
    assert post(store, last.id).status == Status.HELD.value
    assert events_of(store, reply.id) == [Kind.QUEUED.value, Kind.HELD.value]


def test_expired_lease_is_reclaimed_and_marked_ambiguous(store: Store) -> None:
    [queued] = queue(store, plan("bluesky", 1))
    assert claim(store, "w1") == [queued.id]
    assert not post(store, queued.id).ambiguous
    # Within the lease nobody else may take it.
    assert claim(store, "w2", now=NOW + LEASE - timedelta(seconds=1)) == []
    assert claim(store, "w2", now=NOW + LEASE + timedelta(seconds=1)) == [queued.id]
    found = post(store, queued.id)
    assert found.ambiguous
    assert found.lease_owner == "w2"
    assert found.status == Status.PUBLISHING.value
    assert events_of(store, queued.id) == [Kind.QUEUED, Kind.CLAIMED, Kind.CLAIMED]
    with store.read() as session:
        last = session.scalars(
            select(Event).where(Event.post_id == queued.id).order_by(Event.id.desc())
        ).first()
    assert last is not None
    assert last.worker == "w2"
    assert "expired lease" in last.detail["note"]
    # The old owner lost the lease: its late retry does not overwrite the new owner's.
    with store.write() as session:
        stale = session.get(Post, queued.id)
        assert stale is not None
        assert not lifecycle.schedule_retry(
            session, stale, "late", NOW + LEASE * 3, False, 8, "w1", NOW + LEASE * 2
        )
    assert post(store, queued.id).lease_owner == "w2"


# --- cancel and retry -------------------------------------------------------------------------


def test_cancel_holds_later_replies(store: Store) -> None:
    first, second, third = queue(store, plan("x", 3))
    [other] = queue(store, plan("bluesky", 1), name="other")
    with store.write() as session:
        lifecycle.cancel(session, [second.id], NOW)
    assert post(store, first.id).status == Status.QUEUED.value
    assert post(store, second.id).status == Status.CANCELLED.value
    assert post(store, third.id).status == Status.HELD.value
    assert f"post {second.id} was cancelled" in (post(store, third.id).last_error or "")
    assert post(store, other.id).status == Status.QUEUED.value
    assert events_of(store, first.id) == [Kind.QUEUED]
    assert events_of(store, second.id) == [Kind.QUEUED, Kind.CANCELLED]
    assert events_of(store, third.id) == [Kind.QUEUED, Kind.HELD]


def test_cancel_refuses_published_and_unknown_posts(store: Store) -> None:
    first, second = queue(store, plan("x", 2))
    claim(store, "w1")
    publish(store, first.id, "w1")
    before = snapshot(store.url)
    with pytest.raises(BadInput, match="published"), store.write() as session:
        lifecycle.cancel(session, [second.id, first.id], NOW)
    with pytest.raises(NotFound, match="999"), store.write() as session:
        lifecycle.cancel(session, [second.id, 999], NOW)
    assert snapshot(store.url) == before


def test_retry_moves_failed_and_held_back_to_queued(store: Store) -> None:
    first, second, third = queue(store, plan("x", 3, step=timedelta(0)))
    assert claim(store, "w1") == [first.id]
    with store.write() as session:
        found = session.get(Post, first.id)
        assert found is not None
        assert lifecycle.fail_permanent(session, found, "403 forbidden", "w1", NOW)
    assert [post(store, p.id).status for p in (first, second, third)] == [
        Status.FAILED,
        Status.HELD,
        Status.HELD,
    ]
    # A held reply cannot go back alone while its parent is failed.
    before = snapshot(store.url)
    with pytest.raises(BadInput, match=f"retry {first.id} too"), store.write() as session:
        lifecycle.retry(session, [second.id], NOW)
    assert snapshot(store.url) == before

    later = NOW + timedelta(minutes=5)
    with store.write() as session:
        lifecycle.retry(session, [first.id, second.id, third.id], later)
    for p in (first, second, third):
        found = post(store, p.id)
        assert found.status == Status.QUEUED.value
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
    with pytest.raises(BadInput, match="is queued"), store.write() as session:
        lifecycle.retry(session, [first.id], later)


# --- the post log -----------------------------------------------------------------------------


def test_every_state_change_writes_exactly_one_event(store: Store) -> None:
    a, b = queue(store, plan("x", 2, thread=False, step=timedelta(seconds=30)))
    [c] = queue(store, plan("bluesky", 1), name="c")
    t0 = NOW
    assert set(claim(store, "w1", now=t0)) == {a.id, c.id}

    with store.write() as session:
        pa, pc = session.get(Post, a.id), session.get(Post, c.id)
        assert pa is not None and pc is not None
        assert lifecycle.schedule_retry(
            session, pa, "503", t0 + timedelta(seconds=30), True, 8, "w1", t0
        )
        assert lifecycle.defer_rate_limited(
            session, pc, "429", t0 + timedelta(minutes=15), "w1", t0
        )
    assert post(store, a.id).attempts == 1
    assert post(store, c.id).attempts == 0  # a rate limit is not an attempt

    t1 = t0 + timedelta(seconds=30)
    assert set(claim(store, "w1", now=t1)) == {a.id, b.id}
    with store.write() as session:
        pa, pb = session.get(Post, a.id), session.get(Post, b.id)
        assert pa is not None and pb is not None
        lifecycle.mark_published(session, pa, RemoteRef(id="42", url="https://x/42"), "w1", t1)
        lifecycle.release(session, [pb], "shutting down", "w1", t1)

    assert events_of(store, a.id) == [
        Kind.QUEUED,
        Kind.CLAIMED,
        Kind.RETRY_SCHEDULED,
        Kind.CLAIMED,
        Kind.PUBLISHED,
    ]
    assert events_of(store, b.id) == [Kind.QUEUED, Kind.CLAIMED, Kind.RELEASED]
    assert events_of(store, c.id) == [Kind.QUEUED, Kind.CLAIMED, Kind.RATE_LIMITED]
    published = post(store, a.id)
    assert published.status == Status.PUBLISHED.value
    assert published.remote_id == "42"
    assert published.published_at == t1
    assert post(store, b.id).status == Status.QUEUED.value
    assert post(store, c.id).next_attempt_at == t0 + timedelta(minutes=15)


def test_attempts_exhausted_fails_with_one_event(store: Store) -> None:
    [queued] = queue(store, plan("x", 1))
    claim(store, "w1")
    with store.write() as session:
        found = session.get(Post, queued.id)
        assert found is not None
        lifecycle.schedule_retry(session, found, "timeout", NOW, True, 1, "w1", NOW)
    found = post(store, queued.id)
    assert found.status == Status.FAILED.value
    assert "gave up after 1 attempts" in (found.last_error or "")
    assert events_of(store, queued.id) == [Kind.QUEUED, Kind.CLAIMED, Kind.FAILED]


def test_concurrent_claims_never_share_a_post(store: Store) -> None:
    """Several daemons claiming at the same moment, each in its own connection."""
    import threading

    accounts = [f"acct{i}" for i in range(6)]
    planned = [
        p
        for account in accounts
        for p in plan("x", 4, thread=False, account=account, step=timedelta(0))
    ]
    queue(store, planned)
    results: dict[str, list[int]] = {}
    barrier = threading.Barrier(4)

    def daemon(worker: str) -> None:
        barrier.wait()
        results[worker] = claim(store, worker, limit=5)

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
            assert post(store, post_id).lease_owner == worker
            assert events_of(store, post_id) == [Kind.QUEUED, Kind.CLAIMED]
