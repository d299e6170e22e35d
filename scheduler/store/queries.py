"""Read-side queries for the listings and the daemon's planning, and the heartbeat."""

from __future__ import annotations

import os
import socket
from collections.abc import Collection
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, func, insert, select, update

from scheduler.errors import NotFound
from scheduler.model import (
    PENDING,
    WAITING_FOR_CREDITS,
    Platform,
    PostRow,
    SameText,
    Status,
    WorkerRow,
)
from scheduler.store.models import WORKERS, Campaign, Post, Worker

# Post ids are a 32-bit INTEGER column on PostgreSQL (64-bit on SQLite, which never gets
# that far): a bigger id cannot exist, and looking it up would fail in the driver.
MAX_POST_ID = 2**31 - 1

_POST_COLUMNS = (
    Post.id,
    Campaign.name.label("campaign"),
    Post.platform,
    Post.account,
    Post.seq,
    Post.parent_id,
    Post.status,
    Post.scheduled_at,
    Post.next_attempt_at,
    Post.attempts,
    Post.remote_id,
    Post.remote_url,
    Post.last_error,
    Post.published_at,
    Post.text,
    Post.body,
    Post.revision,
    Post.attachments.label("attachments_json"),
)


def campaign_id(conn: Connection, name: str) -> int:
    found = conn.scalar(select(Campaign.id).where(Campaign.name == name))
    if found is None:
        raise NotFound(f"no campaign named {name!r}")
    return found


def list_posts(
    conn: Connection,
    campaign: str | None = None,
    statuses: Collection[Status] = (),
    platform: Platform | None = None,
    post_ids: Collection[int] | None = None,
    due_by: datetime | None = None,
    limit: int | None = None,
) -> list[PostRow]:
    """Posts in schedule order (`due_by`: only those whose next attempt is due by then;
    `limit`: the first N).
    Columns, not entities: nothing per row but the tuple."""
    query = select(*_POST_COLUMNS).join(Campaign, Campaign.id == Post.campaign_id)
    if campaign is not None:
        query = query.where(Post.campaign_id == campaign_id(conn, campaign))
    if statuses:
        query = query.where(Post.status.in_(sorted(statuses)))
    if platform is not None:
        query = query.where(Post.platform == platform)
    if post_ids is not None:
        query = query.where(Post.id.in_(sorted(i for i in post_ids if abs(i) <= MAX_POST_ID)))
    if due_by is not None:
        query = query.where(Post.next_attempt_at <= due_by)
    query = query.order_by(Post.scheduled_at, Post.id)
    if limit is not None:
        query = query.limit(min(limit, 2**31 - 1))
    # Positional, in _POST_COLUMNS' order: a dict per row cost a tenth of `list`.
    return [PostRow(*cast(tuple[Any, ...], row)) for row in conn.execute(query)]


def has_pending(conn: Connection, platform: Platform) -> bool:
    """Whether the platform has posts queued, held or on their way out."""
    going = sorted({*PENDING, Status.HELD})
    found = conn.scalar(
        select(Post.id).where(Post.platform == platform, Post.status.in_(going)).limit(1)
    )
    return found is not None


def waiting_for_credits(conn: Connection) -> list[tuple[Platform, str, int, datetime]]:
    """Per platform and account whose credits ran out: how many queued posts wait, and
    until when."""
    rows = conn.execute(
        select(Post.platform, Post.account, func.count(), func.max(Post.next_attempt_at))
        .where(
            Post.status == Status.QUEUED,
            Post.last_error.startswith(WAITING_FOR_CREDITS, autoescape=True),
        )
        .group_by(Post.platform, Post.account)
        .order_by(Post.platform, Post.account)
    )
    return [(row[0], row[1], int(row[2]), row[3]) for row in rows]


def same_texts(conn: Connection, planned: Collection[tuple[Platform, str, str]]) -> list[SameText]:
    """Stored posts (not failed or cancelled) with a (platform, account, text) among
    `planned`. One pass over the platforms' posts: no index on text, and an IN list of
    thousands of texts would scan once per chunk."""
    if not planned:
        return []
    wanted = set(planned)
    query = (
        select(
            Post.platform,
            Post.account,
            Post.text,
            Post.id.label("post_id"),
            Campaign.name.label("campaign"),
            Post.status,
        )
        .join(Campaign, Campaign.id == Post.campaign_id)
        .where(
            Post.platform.in_(sorted({p for p, _, _ in wanted})),
            Post.status.not_in([Status.FAILED, Status.CANCELLED]),
        )
        .order_by(Post.id)
    )
    return [
        SameText(**row._asdict())
        for row in conn.execute(query)
        if (row.platform, row.account, row.text) in wanted
    ]


def counts_by_status(conn: Connection) -> dict[Status, int]:
    rows = conn.execute(select(Post.status, func.count()).group_by(Post.status)).all()
    return {status: count for status, count in rows}


# Posts of a paused campaign wait: not due, not overdue.
_NOT_PAUSED = Post.campaign_id.not_in(select(Campaign.id).where(Campaign.paused_at.is_not(None)))


def overdue_count(conn: Connection, now: datetime) -> int:
    return (
        conn.scalar(
            select(func.count()).where(
                Post.status == Status.QUEUED, Post.next_attempt_at <= now, _NOT_PAUSED
            )
        )
        or 0
    )


def next_due(conn: Connection) -> PostRow | None:
    row = conn.execute(
        select(*_POST_COLUMNS)
        .join(Campaign, Campaign.id == Post.campaign_id)
        .where(Post.status == Status.QUEUED, _NOT_PAUSED)
        .order_by(Post.next_attempt_at, Post.id)
        .limit(1)
    ).one_or_none()
    return None if row is None else PostRow(**row._asdict())


def next_due_time(
    conn: Connection,
    platforms: Collection[Platform] | None = None,
    after: datetime | None = None,
) -> datetime | None:
    """When the next queued post falls due (strictly after `after`, if given)."""
    query = select(func.min(Post.next_attempt_at)).where(Post.status == Status.QUEUED, _NOT_PAUSED)
    if platforms is not None:
        query = query.where(Post.platform.in_(list(platforms)))
    if after is not None:
        query = query.where(Post.next_attempt_at > after)
    return conn.scalar(query)


def earliest_lease_expiry(conn: Connection, after: datetime | None = None) -> datetime | None:
    query = select(func.min(Post.lease_until)).where(Post.status == Status.PUBLISHING)
    if after is not None:
        query = query.where(Post.lease_until > after)
    return conn.scalar(query)


def pending_count(conn: Connection, platforms: Collection[Platform] | None = None) -> int:
    """Posts still to go out: queued or being published (on these platforms)."""
    query = select(func.count()).where(Post.status.in_(sorted(PENDING)))
    if platforms is not None:
        query = query.where(Post.platform.in_(list(platforms)))
    return conn.scalar(query) or 0


def workers(conn: Connection) -> list[WorkerRow]:
    query = select(
        Worker.id, Worker.host, Worker.pid, Worker.started_at, Worker.last_seen, Worker.stopped_at
    ).order_by(Worker.last_seen.desc())
    return [WorkerRow(**row._asdict()) for row in conn.execute(query)]


def last_heartbeat(conn: Connection) -> datetime | None:
    return conn.scalar(select(func.max(Worker.last_seen)))


def heartbeat(conn: Connection, worker_id: str, now: datetime) -> None:
    """Create or refresh this daemon's row in `workers`."""
    seen = conn.execute(update(WORKERS).where(Worker.id == worker_id).values(last_seen=now))
    if seen.rowcount == 0:
        conn.execute(
            insert(WORKERS).values(
                id=worker_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                started_at=now,
                last_seen=now,
            )
        )


def worker_stopped(conn: Connection, worker_id: str, now: datetime) -> None:
    conn.execute(update(Worker).where(Worker.id == worker_id).values(last_seen=now, stopped_at=now))
