"""Putting a campaign's posts in the queue: one transaction, all or nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from scheduler.errors import BadInput
from scheduler.store.log import add_events
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
    new_key: Callable[[str], str],
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
    rows = [
        {
            "campaign_id": campaign.id,
            "platform": p.platform,
            "account": p.account,
            "seq": p.seq + offsets.get(p.platform, 0),
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
        for p in planned
    ]
    if not rows:
        return []
    ids = list(session.scalars(insert(Post).returning(Post.id, sort_by_parameter_order=True), rows))
    # Chain each thread: a reply points at the previous post and at the thread's root.
    links: list[dict[str, int | None]] = []
    root: dict[str, int] = {}
    previous: dict[str, int] = {}
    for post_id, plan in zip(ids, planned, strict=True):
        if not plan.thread:
            continue
        if plan.platform in root:
            links.append(
                {
                    "id": post_id,
                    "parent_id": previous[plan.platform],
                    "root_id": root[plan.platform],
                }
            )
        else:
            root[plan.platform] = post_id
            links.append({"id": post_id, "parent_id": None, "root_id": post_id})
        previous[plan.platform] = post_id
    if links:
        session.execute(update(Post), links)  # ORM bulk UPDATE by primary key
    add_events(session, ids, Kind.QUEUED, now, campaign=name)
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
