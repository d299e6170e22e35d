"""Putting a campaign's posts in the queue: one transaction, all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, text

from scheduler.errors import BadInput
from scheduler.model import Kind, Plan, Platform, QueuedPost, Status
from scheduler.store.log import add_events_where
from scheduler.store.models import CAMPAIGNS, POSTS, Campaign, Post


def queue_campaign(
    conn: Connection,
    plan: Plan,
    append: bool,
    now: datetime,
    new_key: Callable[[Platform], str],
) -> list[QueuedPost]:
    """Insert the campaign (or append to it) and its posts, threads chained.

    `new_key(platform)` makes each post's idempotency key, stored before any attempt."""
    name, planned = plan.name, plan.posts
    campaign_id = conn.scalar(select(Campaign.id).where(Campaign.name == name))
    if campaign_id is not None and not append:
        raise BadInput(
            f"a campaign named {name!r} exists already: pass --append or --campaign NAME"
        )
    if campaign_id is None:
        campaign_id = conn.scalar(
            insert(CAMPAIGNS)
            .values(
                name=name,
                source_path=plan.source_path,
                source_sha256=plan.source_sha256,
                hashtags=plan.hashtags,
                settings=plan.settings.as_json(),
                created_at=now,
            )
            .returning(Campaign.id)
        )
    # Appended posts continue the campaign's numbering per platform.
    offsets: dict[Platform, int] = {
        row.platform: row.last
        for row in conn.execute(
            select(Post.platform, func.coalesce(func.max(Post.seq), 0).label("last"))
            .where(Post.campaign_id == campaign_id)
            .group_by(Post.platform)
        )
    }
    if not planned:
        return []
    # Ids are reserved first so that each reply's parent and root go in with the row
    # itself: one bulk INSERT, instead of an INSERT and then an UPDATE per reply.
    ids = _reserve_post_ids(conn, len(planned))
    root: dict[Platform, int] = {}
    previous: dict[Platform, int] = {}
    rows: list[dict[str, Any]] = []
    queued: list[QueuedPost] = []
    for post_id, p in zip(ids, planned, strict=True):
        parent_id = root_id = None
        if p.thread:  # a reply points at the previous post and at the thread's root
            parent_id = previous.get(p.platform)
            root_id = root.setdefault(p.platform, post_id)
            previous[p.platform] = post_id
        seq = p.seq + offsets.get(p.platform, 0)
        rows.append(
            {
                "id": post_id,
                "campaign_id": campaign_id,
                "platform": p.platform,
                "account": p.account,
                "seq": seq,
                "parent_id": parent_id,
                "root_id": root_id,
                "text": p.text,
                "body": p.body,
                "revision": 1,
                "scheduled_at": p.scheduled_at,
                "next_attempt_at": p.scheduled_at,
                "status": Status.QUEUED,
                "attempts": 0,
                "ambiguous": False,
                "idempotency_key": new_key(p.platform),
                "created_at": now,
                "updated_at": now,
            }
        )
        queued.append(QueuedPost(post_id, p.platform, seq, p.scheduled_at, p.text))
    # A Core executemany (psycopg pipelines it). Multi-row VALUES and RETURNING were both
    # measured slower.
    conn.execute(insert(POSTS), rows)
    # This call's posts: this campaign, created now, with ids from the reserved ones.
    add_events_where(
        conn,
        and_(
            Post.campaign_id == campaign_id,
            Post.created_at == now,
            Post.id.between(ids[0], ids[-1]),
        ),
        Kind.QUEUED,
        now,
        campaign=name,
    )
    return queued


def _reserve_post_ids(conn: Connection, count: int) -> list[int]:
    """`count` fresh post ids. PostgreSQL: from the id sequence, safe beside other
    writers. SQLite: after the largest id, safe because the write transaction
    (BEGIN IMMEDIATE) keeps every other writer out until it commits."""
    if conn.dialect.name == "postgresql":
        return list(
            conn.scalars(
                text(
                    "SELECT nextval(pg_get_serial_sequence('posts', 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"n": count},
            )
        )
    start = conn.scalar(select(func.coalesce(func.max(Post.id), 0))) or 0
    return list(range(start + 1, start + count + 1))
