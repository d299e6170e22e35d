"""Post state changes. Each writes its event in the caller's transaction.

queued -> publishing -> published; publishing -> queued (retry, rate limit, release);
-> failed; queued -> cancelled; held (a reply whose parent failed or was cancelled,
or was published with an unknown id). `retry` moves failed/held back to queued.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from scheduler.errors import BadInput, NotFound
from scheduler.platforms.base import RemoteRef
from scheduler.store.log import add_event, add_events
from scheduler.store.models import Kind, Post, Status

_OPEN = (Status.QUEUED.value, Status.HELD.value)
# Cancelling is undone by retry too, or a cancelled thread post would strand its replies.
_RETRYABLE = (Status.FAILED.value, Status.HELD.value, Status.CANCELLED.value)


def hold_replies(session: Session, post: Post, reason: str, now: datetime) -> list[int]:
    """Hold every not-yet-published later part of `post`'s thread."""
    if post.root_id is None:
        return []
    held = list(
        session.scalars(
            update(Post)
            .where(
                Post.root_id == post.root_id,
                Post.seq > post.seq,
                Post.status == Status.QUEUED.value,
            )
            .values(status=Status.HELD.value, last_error=reason, updated_at=now)
            .returning(Post.id)
        )
    )
    add_events(session, sorted(held), Kind.HELD, now, reason=reason, parent=post.id)
    return held


def _owned(post: Post, worker: str) -> bool:
    return post.status == Status.PUBLISHING.value and post.lease_owner == worker


def _clear_lease(post: Post, now: datetime) -> None:
    post.lease_owner = None
    post.lease_until = None
    post.updated_at = now


def mark_published(
    session: Session, post: Post, ref: RemoteRef, worker: str, now: datetime
) -> None:
    """Publishing is a fact: record it whoever holds the lease now."""
    if post.status == Status.PUBLISHED.value:
        # A slower worker whose lease expired reports what the other already recorded.
        if ref.id is None or ref.id == post.remote_id:
            return
        add_event(
            session,
            post.id,
            Kind.PUBLISHED,
            now,
            worker,
            url=ref.url,
            remote_id=ref.id,
            note=f"a second copy: the post was already recorded as {post.remote_id}",
        )
        return
    for column, value in _published_values(ref, now).items():
        setattr(post, column, value)
    post.attempts += 1
    _add_published_event(session, post.id, ref, worker, now)
    if ref.id is None:
        hold_replies(
            session,
            post,
            f"post {post.id} was published but its id is unknown, so replies cannot chain",
            now,
        )


def record_published_fast(
    session: Session, post_id: int, ref: RemoteRef, worker: str, now: datetime
) -> bool:
    """mark_published's common case in one UPDATE and one INSERT, without loading the
    post: it is ours (our lease) and the platform gave its id. False otherwise, and then
    nothing was written: the caller takes mark_published."""
    if ref.id is None:
        return False
    updated = session.execute(
        update(Post)
        .where(
            Post.id == post_id,
            Post.status == Status.PUBLISHING.value,
            Post.lease_owner == worker,
        )
        .values(attempts=Post.attempts + 1, **_published_values(ref, now))
        .execution_options(synchronize_session=False)
    )
    if updated.rowcount != 1:  # type: ignore[attr-defined]
        return False
    _add_published_event(session, post_id, ref, worker, now)
    return True


def _published_values(ref: RemoteRef, now: datetime) -> dict[str, object]:
    """The columns a publish sets (besides counting the attempt)."""
    return {
        "status": Status.PUBLISHED.value,
        "remote_id": ref.id,
        "remote_uri": ref.uri,
        "remote_cid": ref.cid,
        "remote_url": ref.url,
        "published_at": now,
        "last_error": None,
        "ambiguous": False,
        "lease_owner": None,
        "lease_until": None,
        "updated_at": now,
    }


def _add_published_event(
    session: Session, post_id: int, ref: RemoteRef, worker: str, now: datetime
) -> None:
    detail = {"url": ref.url, "remote_id": ref.id}
    if ref.note:
        detail["note"] = ref.note
    kind = Kind.RECOVERED if ref.recovered else Kind.PUBLISHED
    add_event(session, post_id, kind, now, worker, **detail)


def schedule_retry(
    session: Session,
    post: Post,
    reason: str,
    retry_at: datetime,
    ambiguous: bool,
    max_attempts: int,
    worker: str,
    now: datetime,
) -> bool:
    """A transient failure: queue again, or fail once attempts are used up.

    Returns False when the lease was lost meanwhile (another daemon owns the post)."""
    if not _owned(post, worker):
        return False
    post.attempts += 1
    post.ambiguous = post.ambiguous or ambiguous
    post.last_error = reason
    if post.attempts >= max_attempts:
        mark_failed(
            session, post, f"{reason} (gave up after {post.attempts} attempts)", worker, now
        )
        return True
    post.status = Status.QUEUED.value
    post.next_attempt_at = retry_at
    _clear_lease(post, now)
    add_event(
        session,
        post.id,
        Kind.RETRY_SCHEDULED,
        now,
        worker,
        reason=reason,
        attempt=post.attempts,
        next_attempt_at=retry_at.isoformat(),
    )
    return True


def defer_rate_limited(
    session: Session, post: Post, reason: str, until: datetime, worker: str, now: datetime
) -> bool:
    """429: wait for the platform's reset time; not counted as an attempt."""
    if not _owned(post, worker):
        return False
    post.status = Status.QUEUED.value
    post.next_attempt_at = until
    post.last_error = reason
    _clear_lease(post, now)
    add_event(session, post.id, Kind.RATE_LIMITED, now, worker, until=until.isoformat())
    return True


def mark_failed(
    session: Session, post: Post, reason: str, worker: str | None, now: datetime
) -> None:
    post.status = Status.FAILED.value
    post.last_error = reason
    _clear_lease(post, now)
    add_event(session, post.id, Kind.FAILED, now, worker, reason=reason)
    hold_replies(session, post, f"post {post.id} failed: {reason}", now)


def fail_permanent(session: Session, post: Post, reason: str, worker: str, now: datetime) -> bool:
    if not _owned(post, worker):
        return False
    post.attempts += 1
    mark_failed(session, post, reason, worker, now)
    return True


def release(
    session: Session, posts: Sequence[Post], reason: str, worker: str, now: datetime
) -> None:
    """Hand claimed posts back unpublished (shutdown, skipped after a rate limit)."""
    for post in posts:
        if _owned(post, worker):
            post.status = Status.QUEUED.value
            _clear_lease(post, now)
            add_event(session, post.id, Kind.RELEASED, now, worker, reason=reason)


def _load(session: Session, post_ids: Sequence[int]) -> list[Post]:
    posts = list(session.scalars(select(Post).where(Post.id.in_(post_ids)).order_by(Post.id)))
    missing = sorted(set(post_ids) - {p.id for p in posts})
    if missing:
        raise NotFound(f"no post with id {', '.join(map(str, missing))}")
    return posts


def cancel(session: Session, post_ids: Sequence[int], now: datetime) -> list[Post]:
    """Cancel queued or held posts; later parts of their threads are held."""
    posts = _load(session, post_ids)
    for post in posts:
        if post.status not in _OPEN and post.status != Status.CANCELLED.value:
            raise BadInput(f"post {post.id} is {post.status} and cannot be cancelled")
    for post in posts:
        if post.status == Status.CANCELLED.value:
            continue
        post.status = Status.CANCELLED.value
        post.updated_at = now
        add_event(session, post.id, Kind.CANCELLED, now)
        hold_replies(session, post, f"post {post.id} was cancelled", now)
    return posts


def retry(session: Session, post_ids: Sequence[int], now: datetime) -> list[Post]:
    """Failed, held or cancelled posts go back to the queue, due now (or at their time
    if that is later)."""
    posts = _load(session, post_ids)
    chosen = {p.id for p in posts}
    for post in posts:
        if post.status not in _RETRYABLE:
            raise BadInput(
                f"post {post.id} is {post.status}; only failed, held or cancelled posts are retried"
            )
        if post.parent_id is not None and post.parent_id not in chosen:
            parent = session.get(Post, post.parent_id)
            if parent is not None and parent.status not in (
                Status.QUEUED.value,
                Status.PUBLISHING.value,
                Status.PUBLISHED.value,
            ):
                raise BadInput(
                    f"post {post.id} replies to post {parent.id}, which is {parent.status}: "
                    f"retry {parent.id} too"
                )
            if (
                parent is not None
                and parent.status == Status.PUBLISHED.value
                and not parent.remote_id
            ):
                raise BadInput(
                    f"post {post.id} replies to post {parent.id}, whose id on the platform is "
                    "unknown, so the reply cannot chain"
                )
    for post in posts:
        post.status = Status.QUEUED.value
        post.attempts = 0
        post.last_error = None
        post.next_attempt_at = max(now, post.scheduled_at)
        post.updated_at = now
        add_event(
            session, post.id, Kind.REQUEUED, now, next_attempt_at=post.next_attempt_at.isoformat()
        )
    return posts
