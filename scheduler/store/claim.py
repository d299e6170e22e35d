"""The claim: atomically take due posts for one daemon, with a lease.

A post is claimable when it is queued and due, or publishing with an expired lease
(its daemon died or stalled: it may already be live, so it is marked ambiguous);
when its parent is published with a known id; and when no *other* daemon is
publishing for the same account (posts of one account go out in order).

PostgreSQL: one advisory lock serialises claims (so the account rule holds between
daemons), then SELECT ... FOR UPDATE SKIP LOCKED and UPDATE. SQLite: the write
transaction is BEGIN IMMEDIATE, which already serialises claims, and one
UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING does the rest
(`with_for_update` would be silently dropped there).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from scheduler.store.log import add_events
from scheduler.store.models import Kind, Post, Status

_PG_CLAIM_LOCK = 7_424_618


def _claimable(now: datetime, worker: str, platforms: Collection[str]):  # type: ignore[no-untyped-def]
    parent = aliased(Post)
    busy = aliased(Post)
    return (
        select(Post.id)
        .where(
            or_(
                and_(Post.status == Status.QUEUED.value, Post.next_attempt_at <= now),
                and_(Post.status == Status.PUBLISHING.value, Post.lease_until < now),
            ),
            Post.platform.in_(list(platforms)),
            or_(
                Post.parent_id.is_(None),
                exists().where(
                    parent.id == Post.parent_id,
                    parent.status == Status.PUBLISHED.value,
                    parent.remote_id.is_not(None),
                ),
            ),
            ~exists().where(
                busy.platform == Post.platform,
                busy.account == Post.account,
                busy.status == Status.PUBLISHING.value,
                busy.lease_until >= now,
                busy.lease_owner != worker,
            ),
        )
        .order_by(Post.next_attempt_at, Post.id)
    )


def claim_due(
    session: Session,
    worker: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    platforms: Collection[str],
) -> list[Post]:
    """Claim up to `limit` due posts for `worker`; returns them in publishing order."""
    if not platforms:
        return []
    candidates = _claimable(now, worker, platforms).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CLAIM_LOCK})
        ids = list(session.scalars(candidates.with_for_update(skip_locked=True, of=Post)))
        if not ids:
            return []
        target = Post.id.in_(ids)
    else:
        target = Post.id.in_(candidates.scalar_subquery())
    # An expired lease means an earlier attempt may have gone out: look before posting.
    was_publishing = (
        select(Post.id).where(target, Post.status == Status.PUBLISHING.value).subquery()
    )
    reclaimed = set(session.scalars(select(was_publishing.c.id)))
    claimed = list(
        session.scalars(
            update(Post)
            .where(target)
            .values(
                status=Status.PUBLISHING.value,
                lease_owner=worker,
                lease_until=now + lease,
                updated_at=now,
            )
            .returning(Post)
            .execution_options(synchronize_session=False)
        )
    )
    claimed.sort(key=lambda p: (p.next_attempt_at, p.id))
    for post in claimed:
        if post.id in reclaimed:
            post.ambiguous = True
    fresh = [p.id for p in claimed if p.id not in reclaimed]
    add_events(session, fresh, Kind.CLAIMED, now, worker)
    add_events(
        session,
        sorted(reclaimed & {p.id for p in claimed}),
        Kind.CLAIMED,
        now,
        worker,
        note="reclaimed after an expired lease; checking whether it already went out",
    )
    return claimed
