"""The claim: atomically take due posts for one daemon, with a lease.

A post is claimable when it is queued and due, or publishing with an expired lease
(its daemon died or stalled: it may already be live, so it is marked ambiguous);
when its parent is published with a known id; and when no *other* daemon is
publishing for the same account (posts of one account go out in order).

PostgreSQL: one advisory lock serialises claims (so the account rule holds between
daemons), then SELECT ... FOR UPDATE SKIP LOCKED and UPDATE. SQLite: the write
transaction is BEGIN IMMEDIATE, which already serialises claims, so a plain SELECT
then UPDATE is safe (`with_for_update` would be silently dropped there).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, exists, or_, select, text, update
from sqlalchemy.orm import aliased

from scheduler.model import Job, Kind, OutgoingPost, Platform, RemoteRef, ReplyTarget, Status
from scheduler.store.log import add_events
from scheduler.store.models import Post

_PG_CLAIM_LOCK = 7_424_618
RECLAIMED_NOTE = "reclaimed after an expired lease; checking whether it already went out"


def _claimable(now: datetime, worker: str, platforms: Collection[Platform]) -> Any:
    """SELECT id, status of the claimable posts, in publishing order."""
    parent = aliased(Post)
    busy = aliased(Post)
    return (
        select(Post.id, Post.status)
        .where(
            or_(
                and_(Post.status == Status.QUEUED, Post.next_attempt_at <= now),
                and_(Post.status == Status.PUBLISHING, Post.lease_until < now),
            ),
            Post.platform.in_(list(platforms)),
            or_(
                Post.parent_id.is_(None),
                exists().where(
                    parent.id == Post.parent_id,
                    parent.status == Status.PUBLISHED,
                    parent.remote_id.is_not(None),
                ),
            ),
            ~exists().where(
                busy.platform == Post.platform,
                busy.account == Post.account,
                busy.status == Status.PUBLISHING,
                busy.lease_until >= now,
                busy.lease_owner != worker,
            ),
        )
        .order_by(Post.next_attempt_at, Post.id)
    )


def claim_due(
    conn: Connection,
    worker: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    platforms: Collection[Platform],
) -> list[Job]:
    """Claim up to `limit` due posts for `worker`; returns them in publishing order."""
    if not platforms:
        return []
    candidates = _claimable(now, worker, platforms).limit(limit)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CLAIM_LOCK})
        candidates = candidates.with_for_update(skip_locked=True, of=Post)
    found = conn.execute(candidates).all()
    if not found:
        return []
    # An expired lease means an earlier attempt may have gone out: look before posting.
    reclaimed = {row.id for row in found if row.status == Status.PUBLISHING}
    claimed = list(
        conn.execute(
            update(Post)
            .where(Post.id.in_([row.id for row in found]))
            .values(
                status=Status.PUBLISHING,
                lease_owner=worker,
                lease_until=now + lease,
                ambiguous=or_(Post.ambiguous, Post.status == Status.PUBLISHING),
                updated_at=now,
            )
            .returning(
                Post.id,
                Post.platform,
                Post.account,
                Post.text,
                Post.idempotency_key,
                Post.attempts,
                Post.ambiguous,
                Post.parent_id,
                Post.root_id,
                Post.next_attempt_at,
            )
        )
    )
    claimed.sort(key=lambda p: (p.next_attempt_at, p.id))
    fresh = [p.id for p in claimed if p.id not in reclaimed]
    add_events(conn, fresh, Kind.CLAIMED, now, worker)
    add_events(conn, sorted(reclaimed), Kind.CLAIMED, now, worker, note=RECLAIMED_NOTE)
    return _jobs(conn, claimed)


def _jobs(conn: Connection, claimed: Sequence[Any]) -> list[Job]:
    """Claimed rows as Jobs, each reply with its thread's root and parent refs."""
    wanted = {p.parent_id for p in claimed if p.parent_id is not None} | {
        p.root_id for p in claimed if p.parent_id is not None and p.root_id is not None
    }
    refs: dict[int, RemoteRef] = {}
    if wanted:
        for row in conn.execute(
            select(
                Post.id, Post.remote_id, Post.remote_url, Post.remote_uri, Post.remote_cid
            ).where(Post.id.in_(wanted))
        ):
            refs[row.id] = RemoteRef(
                id=row.remote_id, url=row.remote_url, uri=row.remote_uri, cid=row.remote_cid
            )
    jobs = []
    for p in claimed:
        reply_to = None
        if p.parent_id is not None and p.root_id is not None:
            reply_to = ReplyTarget(root=refs[p.root_id], parent=refs[p.parent_id])
        jobs.append(
            Job(
                post=OutgoingPost(
                    post_id=p.id,
                    platform=p.platform,
                    text=p.text,
                    idempotency_key=p.idempotency_key,
                    attempt=p.attempts + 1,
                    ambiguous=p.ambiguous,
                ),
                account=p.account,
                reply_to=reply_to,
                due=p.next_attempt_at,
            )
        )
    return jobs
