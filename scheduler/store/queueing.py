"""Putting a campaign's posts in the queue: one transaction, all or nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, insert, select, text
from sqlalchemy.orm import Session

from scheduler.errors import BadInput
from scheduler.platforms.tid import new_idempotency_key
from scheduler.store.log import add_events_where
from scheduler.store.models import Campaign, Kind, Post, Status


@dataclass(frozen=True)
class PlannedPost:
    platform: str
    account: str
    seq: int
    text: str
    scheduled_at: datetime
    thread: bool  # part of a reply chain with the previous post of the same platform


@dataclass(frozen=True)
class QueuedPost:
    id: int
    platform: str
    seq: int
    scheduled_at: datetime
    text: str


def queue_campaign(
    session: Session,
    name: str,
    source_path: str,
    source_sha256: str,
    hashtags: str,
    planned: Sequence[PlannedPost],
    append: bool,
    now: datetime,
    new_key: Callable[[str], str] = new_idempotency_key,
) -> list[QueuedPost]:
    """Insert the campaign (or append to it) and its posts, threads chained.

    `new_key(platform)` makes each post's idempotency key, stored before any attempt."""
    campaign = session.scalar(select(Campaign).where(Campaign.name == name))
    if campaign is not None and not append:
        raise BadInput(
            f"a campaign named {name!r} exists already: pass --append or --campaign NAME"
        )
    if campaign is None:
        campaign = Campaign(
            name=name,
            source_path=source_path,
            source_sha256=source_sha256,
            hashtags=hashtags,
            created_at=now,
        )
        session.add(campaign)
        session.flush()
    # Appended posts continue the campaign's numbering per platform.
    offsets = dict(
        session.execute(
            select(Post.platform, func.coalesce(func.max(Post.seq), 0))
            .where(Post.campaign_id == campaign.id)
            .group_by(Post.platform)
        ).all()
    )
    if not planned:
        return []
    # Ids are reserved first so that each reply's parent and root go in with the row
    # itself: one bulk INSERT, instead of an INSERT and then an UPDATE per reply.
    ids = _reserve_post_ids(session, len(planned))
    root: dict[str, int] = {}
    previous: dict[str, int] = {}
    rows = []
    for post_id, p in zip(ids, planned, strict=True):
        parent_id = root_id = None
        if p.thread:  # a reply points at the previous post and at the thread's root
            parent_id = previous.get(p.platform)
            root_id = root.setdefault(p.platform, post_id)
            previous[p.platform] = post_id
        rows.append(
            {
                "id": post_id,
                "campaign_id": campaign.id,
                "platform": p.platform,
                "account": p.account,
                "seq": p.seq + offsets.get(p.platform, 0),
                "parent_id": parent_id,
                "root_id": root_id,
                "text": p.text,
                "scheduled_at": p.scheduled_at,
                "next_attempt_at": p.scheduled_at,
                "status": Status.QUEUED.value,
                "attempts": 0,
                "ambiguous": False,
                "idempotency_key": new_key(p.platform),
                "created_at": now,
                "updated_at": now,
            }
        )
    # A Core executemany (the table, not the class: no ORM bookkeeping for each row;
    # psycopg pipelines it). Multi-row VALUES and RETURNING were both measured slower.
    session.execute(insert(Post.metadata.tables["posts"]), rows)
    # This call's posts: this campaign, created now, with ids from the reserved ones.
    add_events_where(
        session,
        and_(
            Post.campaign_id == campaign.id,
            Post.created_at == now,
            Post.id.between(ids[0], ids[-1]),
        ),
        Kind.QUEUED,
        now,
        campaign=name,
    )
    return [
        QueuedPost(
            id=i,
            platform=p.platform,
            seq=p.seq + offsets.get(p.platform, 0),
            scheduled_at=p.scheduled_at,
            text=p.text,
        )
        for i, p in zip(ids, planned, strict=True)
    ]


def _reserve_post_ids(session: Session, count: int) -> list[int]:
    """`count` fresh post ids. PostgreSQL: from the id sequence, safe beside other
    writers. SQLite: after the largest id, safe because the write transaction
    (BEGIN IMMEDIATE) keeps every other writer out until it commits."""
    if session.get_bind().dialect.name == "postgresql":
        return list(
            session.scalars(
                text(
                    "SELECT nextval(pg_get_serial_sequence('posts', 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"n": count},
            )
        )
    start = session.scalar(select(func.coalesce(func.max(Post.id), 0))) or 0
    return list(range(start + 1, start + count + 1))
