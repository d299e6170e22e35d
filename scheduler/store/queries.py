"""Read-side queries for `list` and `status`, and the daemon heartbeat."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from scheduler.errors import NotFound
from scheduler.store.models import Campaign, Post, Status, Worker


@dataclass(frozen=True)
class PostRow:
    id: int
    campaign: str
    platform: str
    seq: int
    status: str
    scheduled_at: datetime
    attempts: int
    remote_url: str | None
    last_error: str | None
    text: str


def campaign_id(session: Session, name: str) -> int:
    found = session.scalar(select(Campaign.id).where(Campaign.name == name))
    if found is None:
        raise NotFound(f"no campaign named {name!r}")
    return found


def post_ids_of(session: Session, name: str) -> list[int]:
    return list(
        session.scalars(
            select(Post.id).where(Post.campaign_id == campaign_id(session, name)).order_by(Post.id)
        )
    )


def list_posts(
    session: Session,
    campaign: str | None = None,
    status: str | None = None,
    platform: str | None = None,
) -> list[PostRow]:
    # Columns, not entities: no identity map or ORM state for thousands of rows.
    query = select(
        Post.id,
        Campaign.name,
        Post.platform,
        Post.seq,
        Post.status,
        Post.scheduled_at,
        Post.attempts,
        Post.remote_url,
        Post.last_error,
        Post.text,
    ).join(Campaign, Campaign.id == Post.campaign_id)
    if campaign is not None:
        query = query.where(Post.campaign_id == campaign_id(session, campaign))
    if status is not None:
        query = query.where(Post.status == status)
    if platform is not None:
        query = query.where(Post.platform == platform)
    query = query.order_by(Post.scheduled_at, Post.id)
    return [
        PostRow(
            id=r[0],
            campaign=r[1],
            platform=r[2],
            seq=r[3],
            status=r[4],
            scheduled_at=r[5],
            attempts=r[6],
            remote_url=r[7],
            last_error=r[8],
            text=r[9],
        )
        for r in session.execute(query)
    ]


def counts_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(Post.status, func.count()).group_by(Post.status)).all()
    return {status: count for status, count in rows}


def overdue_count(session: Session, now: datetime) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                Post.status == Status.QUEUED.value, Post.next_attempt_at <= now
            )
        )
        or 0
    )


def next_due(session: Session) -> Post | None:
    return session.scalar(
        select(Post)
        .where(Post.status == Status.QUEUED.value)
        .order_by(Post.next_attempt_at, Post.id)
        .limit(1)
    )


def next_due_time(
    session: Session, platforms: list[str] | None = None, after: datetime | None = None
) -> datetime | None:
    """When the next queued post falls due (strictly after `after`, if given)."""
    query = select(func.min(Post.next_attempt_at)).where(Post.status == Status.QUEUED.value)
    if platforms is not None:
        query = query.where(Post.platform.in_(platforms))
    if after is not None:
        query = query.where(Post.next_attempt_at > after)
    return session.scalar(query)


def earliest_lease_expiry(session: Session, after: datetime | None = None) -> datetime | None:
    query = select(func.min(Post.lease_until)).where(Post.status == Status.PUBLISHING.value)
    if after is not None:
        query = query.where(Post.lease_until > after)
    return session.scalar(query)


def workers(session: Session) -> list[Worker]:
    return list(session.scalars(select(Worker).order_by(Worker.last_seen.desc())))


def last_heartbeat(session: Session) -> datetime | None:
    return session.scalar(select(func.max(Worker.last_seen)))


def heartbeat(session: Session, worker_id: str, now: datetime) -> None:
    """Create or refresh this daemon's row in `workers`."""
    found = session.get(Worker, worker_id)
    if found is None:
        session.add(
            Worker(
                id=worker_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                started_at=now,
                last_seen=now,
            )
        )
    else:
        found.last_seen = now


def worker_stopped(session: Session, worker_id: str, now: datetime) -> None:
    session.execute(
        update(Worker).where(Worker.id == worker_id).values(last_seen=now, stopped_at=now)
    )


def pending_count(session: Session, platforms: list[str] | None = None) -> int:
    """Posts still to go out: queued or being published (on these platforms)."""
    query = select(func.count()).where(
        Post.status.in_([Status.QUEUED.value, Status.PUBLISHING.value])
    )
    if platforms is not None:
        query = query.where(Post.platform.in_(platforms))
    return session.scalar(query) or 0
