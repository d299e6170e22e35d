"""The post log: append-only events, written in the same transaction as the change."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, literal, select

from scheduler.model import Kind, LogEntry, Platform
from scheduler.store.models import EVENTS, Campaign, Event, Post

_INSERT = insert(EVENTS)  # built once: one row per state change, often


def add_event(
    conn: Connection,
    post_id: int | None,
    kind: Kind,
    at: datetime,
    worker: str | None = None,
    **detail: Any,
) -> None:
    conn.execute(
        _INSERT,
        {"post_id": post_id, "kind": kind.value, "at": at, "worker": worker, "detail": detail},
    )


def add_events(
    conn: Connection,
    post_ids: Sequence[int],
    kind: Kind,
    at: datetime,
    worker: str | None = None,
    **detail: Any,
) -> None:
    """The same event for many posts, as one bulk insert."""
    if post_ids:
        conn.execute(
            _INSERT,
            [
                {"post_id": pid, "kind": kind.value, "at": at, "worker": worker, "detail": detail}
                for pid in post_ids
            ],
        )


def add_each(
    conn: Connection,
    events: Sequence[tuple[int, tuple[Kind, dict[str, Any]]]],
    at: datetime,
    worker: str | None = None,
) -> None:
    """An event of its own for each post, as one bulk insert: (post id, (kind, detail))."""
    if events:
        conn.execute(
            _INSERT,
            [
                {"post_id": pid, "kind": kind.value, "at": at, "worker": worker, "detail": detail}
                for pid, (kind, detail) in events
            ],
        )


def add_events_where(
    conn: Connection, posts: ColumnElement[bool], kind: Kind, at: datetime, **detail: Any
) -> None:
    """The same event for every post matching `posts`, written by the database itself
    (INSERT ... SELECT): no row crosses from Python, which matters for 100,000 posts."""
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
    conn.execute(insert(EVENTS).from_select(["post_id", "at", "kind", "detail", "worker"], rows))


def read_log(
    conn: Connection,
    campaign: str | None = None,
    post_id: int | None = None,
    platform: Platform | None = None,
    kinds: Collection[str] = (),
    since: datetime | None = None,
    limit: int | None = None,
) -> list[LogEntry]:
    """Events matching the filters (`kinds`: any of them), oldest first; `limit` keeps
    the newest N."""
    query = (
        select(
            Event.id,
            Event.at,
            Event.kind,
            Event.post_id,
            Campaign.name,
            Post.platform,
            Post.seq,
            Event.worker,
            Event.detail,
        )
        .outerjoin(Post, Post.id == Event.post_id)
        # A post's events, and the campaign's own (paused, renamed...).
        .outerjoin(Campaign, Campaign.id == func.coalesce(Post.campaign_id, Event.campaign_id))
    )
    if campaign is not None:
        query = query.where(Campaign.name == campaign)
    if post_id is not None:
        query = query.where(Event.post_id == post_id)
    if platform is not None:
        query = query.where(Post.platform == platform)
    if kinds:
        query = query.where(Event.kind.in_(sorted(kinds)))
    if since is not None:
        query = query.where(Event.at >= since)
    query = query.order_by(Event.id.desc())
    if limit is not None:
        query = query.limit(min(limit, 2**31 - 1))  # "-n 99999999999999999999": all of them
    entries = [
        LogEntry(
            id=row.id,
            at=row.at,
            kind=row.kind,
            post_id=row.post_id,
            campaign=row.name if row.name is not None else (row.detail or {}).get("campaign"),
            platform=None if row.platform is None else str(row.platform),
            seq=row.seq,
            worker=row.worker,
            detail=dict(row.detail or {}),
        )
        for row in conn.execute(query)
    ]
    entries.reverse()
    return entries
