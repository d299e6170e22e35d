"""Building and queueing posts in tests: through the store's own `queue`, the one way in."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from scheduler.model import Plan, PlannedPost, Platform, QueuedPost
from scheduler.store import Store


def planned(
    platform: str,
    times: Sequence[datetime],
    *,
    thread: bool = True,
    account: str = "default",
    texts: Sequence[str] | None = None,
) -> list[PlannedPost]:
    """One post per time on `platform`; texts default to unique ones (X refuses repeats)."""
    label = uuid.uuid4().hex[:6]
    return [
        PlannedPost(
            platform=Platform(platform),
            seq=seq,
            text=texts[seq - 1] if texts is not None else f"{platform} post {seq} {label}",
            scheduled_at=at,
            thread=thread,
            account=account,
        )
        for seq, at in enumerate(times, start=1)
    ]


def every(start: datetime, count: int, step: timedelta = timedelta(minutes=30)) -> list[datetime]:
    return [start + i * step for i in range(count)]


def queue(
    store: Store,
    posts: Sequence[PlannedPost],
    name: str | None = None,
    *,
    now: datetime | None = None,
    append: bool = False,
    new_key: Callable[[Platform], str] | None = None,
    hashtags: str = "",
) -> list[QueuedPost]:
    """Queue `posts` as one campaign (a fresh name unless given)."""
    plan = Plan(
        name=name or f"c-{uuid.uuid4().hex[:8]}",
        posts=tuple(posts),
        source_path="/dev/null",
        source_sha256="0" * 64,
        hashtags=hashtags,
    )
    when = now if now is not None else min((p.scheduled_at for p in posts), default=None)
    assert when is not None, "give `now` when queueing no posts"
    if new_key is None:
        return store.queue(plan, when, append=append)
    return store.queue(plan, when, append=append, new_key=new_key)
