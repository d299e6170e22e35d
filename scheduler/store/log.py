"""The post log: append-only events, written in the same transaction as the change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, insert, literal, select
from sqlalchemy.orm import Session

from scheduler.store.models import Campaign, Event, Kind, Post


def add_event(
    session: Session,
    post_id: int | None,
    kind: Kind,
    at: datetime,
    worker: str | None = None,
    **detail: Any,
) -> None:
    session.add(Event(post_id=post_id, kind=kind.value, at=at, worker=worker, detail=detail))


def add_events(
    session: Session,
    post_ids: Sequence[int],
    kind: Kind,
    at: datetime,
    worker: str | None = None,
    **detail: Any,
) -> None:
    """The same event for many posts, as one bulk insert."""
    if post_ids:
        session.execute(
            insert(Event.metadata.tables["events"]),  # Core: no ORM work per row
            [
                {"post_id": pid, "kind": kind.value, "at": at, "worker": worker, "detail": detail}
                for pid in post_ids
            ],
        )


def add_events_where(
    session: Session, posts: ColumnElement[bool], kind: Kind, at: datetime, **detail: Any
) -> None:
    """The same event for every post matching `posts`, written by the database itself
    (INSERT ... SELECT): no row crosses from Python, which matters for 100,000 posts."""
    events = Event.metadata.tables["events"]
    rows = (
        select(
            Post.id,
            literal(at, Event.at.type),
            literal(kind.value),
            literal(detail, Event.detail.type),
            literal(None, Event.worker.type),
        )
        .where(posts)
        .order_by(Post.id)
    )  # the log reads in post order, like the queue
    session.execute(insert(events).from_select(["post_id", "at", "kind", "detail", "worker"], rows))


@dataclass(frozen=True)
class LogEntry:
    id: int
    at: datetime
    kind: str
    post_id: int | None
    campaign: str | None
    platform: str | None
    seq: int | None
    worker: str | None
    detail: dict[str, Any]


def read_log(
    session: Session,
    campaign: str | None = None,
    post_id: int | None = None,
    platform: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[LogEntry]:
    """Events matching the filters, oldest first; `limit` keeps the newest N."""
    query = (
        select(Event, Post.platform, Post.seq, Campaign.name)
        .outerjoin(Post, Post.id == Event.post_id)
        .outerjoin(Campaign, Campaign.id == Post.campaign_id)
    )
    if campaign is not None:
        query = query.where(Campaign.name == campaign)
    if post_id is not None:
        query = query.where(Event.post_id == post_id)
    if platform is not None:
        query = query.where(Post.platform == platform)
    if kind is not None:
        query = query.where(Event.kind == kind)
    if since is not None:
        query = query.where(Event.at >= since)
    query = query.order_by(Event.id.desc())
    if limit is not None:
        query = query.limit(limit)
    rows = session.execute(query).all()
    entries = [
        LogEntry(
            id=event.id,
            at=event.at,
            kind=event.kind,
            post_id=event.post_id,
            campaign=name,
            platform=platform_name,
            seq=seq,
            worker=event.worker,
            detail=dict(event.detail or {}),
        )
        for event, platform_name, seq, name in rows
    ]
    entries.reverse()
    return entries
