"""Putting a campaign's posts in the queue: one transaction, all or nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, text, update

from scheduler.errors import BadInput
from scheduler.model import Kind, Plan, PlannedPost, Platform, QueuedPost, Status
from scheduler.store.log import add_event, add_events_where
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
                "attachments": p.attachments.as_json() or None,
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


def insert_posts(
    conn: Connection,
    campaign_id: int,
    planned: Sequence[PlannedPost],
    now: datetime,
    new_key: Callable[[Platform], str],
) -> list[int]:
    """Add posts to a stored campaign at their own seq (a campaign file's new entries).
    A threaded post joins its thread there: it replies to the post before it, and the
    post that replied to that one replies to it instead. Returns the new ids."""
    added: list[int] = []
    name = conn.scalar(select(Campaign.name).where(Campaign.id == campaign_id)) or ""
    for p in sorted(planned, key=lambda p: (p.platform, p.account, p.seq)):
        same_thread = and_(
            Post.campaign_id == campaign_id, Post.platform == p.platform, Post.account == p.account
        )
        taken = conn.scalar(select(Post.id).where(same_thread, Post.seq == p.seq))
        if taken is not None:
            raise BadInput(f"{p.platform} post {p.seq} exists already (post {taken})")
        parent_id = root_id = None
        follower = None
        if p.thread:
            before = conn.execute(
                select(Post.id, Post.root_id)
                .where(same_thread, Post.seq < p.seq, Post.status != Status.CANCELLED)
                .order_by(Post.seq.desc())
                .limit(1)
            ).one_or_none()
            follower = conn.execute(
                select(Post.id, Post.seq, Post.status, Post.root_id)
                .where(
                    same_thread,
                    Post.seq > p.seq,
                    Post.status != Status.CANCELLED,
                    Post.parent_id.is_(None) if before is None else Post.parent_id == before.id,
                )
                .order_by(Post.seq)
                .limit(1)
            ).one_or_none()
            if follower is not None and follower.status in (Status.PUBLISHING, Status.PUBLISHED):
                raise BadInput(
                    f"{p.platform} post {p.seq} would come before post {follower.id}, which "
                    f"is {follower.status} already: a new post can only join a thread after it"
                )
            if before is not None:
                parent_id, root_id = before.id, before.root_id
        [post_id] = _reserve_post_ids(conn, 1)
        conn.execute(
            insert(POSTS).values(
                id=post_id,
                campaign_id=campaign_id,
                platform=p.platform,
                account=p.account,
                seq=p.seq,
                parent_id=parent_id,
                root_id=root_id if root_id is not None else (post_id if p.thread else None),
                text=p.text,
                body=p.body,
                attachments=p.attachments.as_json() or None,
                revision=1,
                scheduled_at=p.scheduled_at,
                next_attempt_at=p.scheduled_at,
                status=Status.QUEUED,
                attempts=0,
                ambiguous=False,
                idempotency_key=new_key(p.platform),
                created_at=now,
                updated_at=now,
            )
        )
        if follower is not None:
            conn.execute(update(POSTS).where(Post.id == follower.id).values(parent_id=post_id))
            if parent_id is None:  # the new post starts the thread
                conn.execute(
                    update(POSTS).where(Post.root_id == follower.root_id).values(root_id=post_id)
                )
            add_event(conn, follower.id, Kind.RETHREADED, now, old=parent_id, new=post_id)
        add_event(conn, post_id, Kind.QUEUED, now, campaign=name)
        added.append(post_id)
    return added


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
