"""Post state changes (see scheduler.model for the states). Each writes its events on the
caller's connection, in the caller's transaction.

The daemon's changes (`record`, `release`) apply only while the worker still holds the
post's lease: a daemon whose lease expired and was taken over must not overwrite what the
new owner does, except for a publish, which is a fact whoever reports it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, String, Text, and_, bindparam, case, func, select, text, update

from scheduler.errors import BadInput, NotFound
from scheduler.model import (
    CANCELLABLE,
    RETRYABLE,
    WAITING_FOR_CREDITS,
    Deferred,
    Duplicate,
    Failed,
    Job,
    Kind,
    Missed,
    Outcome,
    Published,
    RemoteRef,
    Requeued,
    RetryLater,
    Status,
)
from scheduler.store.log import add_each, add_event, add_events
from scheduler.store.models import CAMPAIGNS, POSTS, UTCDateTime
from scheduler.store.queries import MAX_POST_ID

_P = POSTS.c
_NO_LEASE: dict[str, Any] = {"lease_owner": None, "lease_until": None}
_NOW = bindparam("b_now", type_=UTCDateTime())
_OWNED = and_(
    _P.id == bindparam("b_id"),
    _P.status == Status.PUBLISHING,
    _P.lease_owner == bindparam("b_worker"),
)
# A publish: the common case of every post, so its statements are built once.
_PUBLISHED_VALUES: dict[str, Any] = {
    "status": Status.PUBLISHED,
    "attempts": _P.attempts + 1,
    "remote_id": bindparam("b_remote_id", type_=String()),
    "remote_uri": bindparam("b_remote_uri", type_=Text()),
    "remote_cid": bindparam("b_remote_cid", type_=String()),
    "remote_url": bindparam("b_remote_url", type_=Text()),
    "published_at": _NOW,
    "last_error": None,
    "ambiguous": False,
    "updated_at": _NOW,
    **_NO_LEASE,
}
_PUBLISH_OWNED = update(POSTS).where(_OWNED).values(_PUBLISHED_VALUES)
_PUBLISH_ANYWAY = update(POSTS).where(_P.id == bindparam("b_id")).values(_PUBLISHED_VALUES)
_CURRENT = select(_P.status, _P.remote_id).where(_P.id == bindparam("b_id"))


def hold_replies(conn: Connection, post_id: int, reason: str, now: datetime) -> list[int]:
    """Hold every queued later part of `post_id`'s thread."""
    thread = select(_P.root_id, _P.seq).where(_P.id == post_id).subquery()
    held = list(
        conn.scalars(
            update(POSTS)
            .where(
                _P.root_id == thread.c.root_id,
                _P.seq > thread.c.seq,
                _P.status == Status.QUEUED,
            )
            .values(status=Status.HELD, last_error=reason, updated_at=now)
            .returning(_P.id)
        )
    )
    add_events(conn, sorted(held), Kind.HELD, now, reason=reason, parent=post_id)
    return held


# -- the daemon's outcomes ------------------------------------------------------------------


def record_all(
    conn: Connection, outcomes: Sequence[tuple[Job, Outcome]], worker: str, now: datetime
) -> list[bool]:
    """`record` for several claimed posts. A group of clean publishes, the common case,
    is written as one UPDATE and one INSERT executed for them all (the simple version, a
    statement pair per post, cost two to three times as much per post on SQLite and
    PostgreSQL); it raises NotAllOurs when one of them was not ours any more."""
    if len(outcomes) > 1 and all(_clean_publish(o) for _, o in outcomes):
        _publish_all_owned(conn, outcomes, worker, now)
        return [True] * len(outcomes)
    return [record(conn, job, outcome, worker, now) for job, outcome in outcomes]


class NotAllOurs(Exception):
    """A group of publishes included a post whose lease had passed on: the caller rolls
    the transaction back and records the group one post at a time."""


def _clean_publish(outcome: Outcome) -> bool:
    return (
        isinstance(outcome, Published) and outcome.ref.id is not None and not outcome.ref.recovered
    )


# PostgreSQL: the whole group as one statement, the rows passed as arrays. Executed row by
# row (even pipelined) each UPDATE and INSERT is planned and run on its own, and the
# server's CPU is shared with the daemon's on a small machine.
_PUBLISH_GROUP_PG = text(
    """
    WITH v AS (
        SELECT * FROM unnest(
            CAST(:ids AS integer[]), CAST(:remote_ids AS text[]), CAST(:uris AS text[]),
            CAST(:cids AS text[]), CAST(:urls AS text[]), CAST(:details AS json[])
        ) AS v(id, remote_id, uri, cid, url, detail)
    ), published AS (
        UPDATE posts SET
            status = 'published', attempts = posts.attempts + 1, remote_id = v.remote_id,
            remote_uri = v.uri, remote_cid = v.cid, remote_url = v.url, published_at = :now,
            last_error = NULL, ambiguous = false, updated_at = :now,
            lease_owner = NULL, lease_until = NULL
        FROM v
        WHERE posts.id = v.id AND posts.status = 'publishing' AND posts.lease_owner = :worker
        RETURNING posts.id, v.detail
    )
    INSERT INTO events (post_id, at, kind, detail, worker)
    SELECT id, :now, 'published', detail, :worker FROM published
    RETURNING post_id
    """
)


def _publish_all_owned(
    conn: Connection, published: Sequence[tuple[Job, Outcome]], worker: str, now: datetime
) -> None:
    """Every post ours and now published, or NotAllOurs (and the caller rolls back)."""
    if conn.dialect.name == "postgresql":
        refs = [
            (job.post_id, outcome.ref)
            for job, outcome in published
            if isinstance(outcome, Published)
        ]
        written = conn.execute(
            _PUBLISH_GROUP_PG,
            {
                "ids": [i for i, _ in refs],
                "remote_ids": [r.id for _, r in refs],
                "uris": [r.uri for _, r in refs],
                "cids": [r.cid for _, r in refs],
                "urls": [r.url for _, r in refs],
                "details": [
                    json.dumps(_published_event(o.ref, j.revision)[1])
                    for j, o in published
                    if isinstance(o, Published)
                ],
                "now": now.astimezone(UTC).replace(tzinfo=None),  # stored as naive UTC
                "worker": worker,
            },
        ).all()
        if len(written) != len(published):
            raise NotAllOurs
        return
    params = []
    events = []
    for job, outcome in published:
        assert isinstance(outcome, Published)
        params.append(_publish_params(job.post_id, outcome.ref, worker, now))
        events.append((job.post_id, _published_event(outcome.ref, job.revision)))
    if conn.execute(_PUBLISH_OWNED, params).rowcount != len(params):
        raise NotAllOurs
    add_each(conn, events, now, worker)


def record(conn: Connection, job: Job, outcome: Outcome, worker: str, now: datetime) -> bool:
    """Write what happened to a claimed post, with its event. False when nothing was
    written: the lease passed to another daemon meanwhile (a publish is written anyway)."""
    post_id = job.post_id
    if isinstance(outcome, Published):
        taken = _recorded_elsewhere(conn, job, outcome.ref)
        if taken is None:
            return _published(conn, post_id, outcome.ref, worker, now, job.revision)
        # A lookup found a post that is another of ours: a repeat of its text, not this.
        outcome = Failed(
            f"the post found on {job.platform} ({outcome.ref.url or outcome.ref.id}) is "
            f"already recorded for {taken}: this one repeats its text; "
            f"{_change_the_text(post_id)}"
        )
    if isinstance(outcome, Duplicate):
        outcome = Failed(_duplicate_reason(conn, job, outcome))
    if isinstance(outcome, RetryLater):
        changed = _update_owned(
            conn,
            post_id,
            worker,
            status=Status.QUEUED,
            attempts=_P.attempts + 1,
            ambiguous=_P.ambiguous | outcome.ambiguous,
            last_error=outcome.reason,
            next_attempt_at=outcome.at,
            updated_at=now,
        )
        if changed:
            add_event(
                conn,
                post_id,
                Kind.RETRY_SCHEDULED,
                now,
                worker,
                reason=outcome.reason,
                attempt=job.post.attempt,
                next_attempt_at=outcome.at.isoformat(),
            )
        return changed
    if isinstance(outcome, Deferred) and outcome.credits:
        return _out_of_credits(conn, job, outcome, worker, now)
    if isinstance(outcome, Deferred):  # not counted as an attempt
        changed = _update_owned(
            conn,
            post_id,
            worker,
            status=Status.QUEUED,
            next_attempt_at=outcome.until,
            last_error=outcome.reason,
            updated_at=now,
        )
        if changed:
            until = outcome.until.isoformat()
            add_event(conn, post_id, Kind.RATE_LIMITED, now, worker, until=until)
        return changed
    if isinstance(outcome, Failed):
        changed = _update_owned(
            conn,
            post_id,
            worker,
            status=Status.FAILED,
            attempts=_P.attempts + 1,
            ambiguous=_P.ambiguous | outcome.ambiguous,
            last_error=outcome.reason,
            updated_at=now,
        )
    else:  # Missed: never attempted
        assert isinstance(outcome, Missed)
        changed = _update_owned(
            conn, post_id, worker, status=Status.FAILED, last_error=outcome.reason, updated_at=now
        )
    if changed:
        add_event(conn, post_id, Kind.FAILED, now, worker, reason=outcome.reason)
        hold_replies(conn, post_id, f"post {post_id} failed: {outcome.reason}", now)
    return changed


def _change_the_text(post_id: int) -> str:
    return f"change the text, then `campaign retry {post_id}`"


def _describe_post(row: Any) -> str:
    return f"post {row.id} of campaign {row.campaign!r}"


_OTHERS = select(_P.id, CAMPAIGNS.c.name.label("campaign"), _P.status, _P.remote_url).join(
    CAMPAIGNS, CAMPAIGNS.c.id == _P.campaign_id
)


def _recorded_elsewhere(conn: Connection, job: Job, ref: RemoteRef) -> str | None:
    """Which other post of ours a recovered remote post is already recorded for (a
    found post is only this one's if no other post claims it)."""
    if not ref.recovered or ref.id is None:
        return None
    row = conn.execute(
        _OTHERS.where(
            _P.platform == job.platform, _P.remote_id == ref.id, _P.id != job.post_id
        ).limit(1)
    ).first()
    return None if row is None else _describe_post(row)


def _duplicate_reason(conn: Connection, job: Job, outcome: Duplicate) -> str:
    """The platform's refusal, with the post of ours it repeats, found by the remote id
    the platform showed or else by the same text on the same account."""
    others = _OTHERS.where(
        _P.platform == job.platform, _P.account == job.account, _P.id != job.post_id
    )
    row = None
    if outcome.existing is not None and outcome.existing.id is not None:
        row = conn.execute(others.where(_P.remote_id == outcome.existing.id).limit(1)).first()
    if row is None:
        published_first = case((_P.status == Status.PUBLISHED, 0), else_=1)
        row = conn.execute(
            others.where(_P.text == job.post.text).order_by(published_first, _P.id).limit(1)
        ).first()
    reason = outcome.reason
    if row is not None:
        went = "it went out as" if row.status == Status.PUBLISHED else "it repeats"
        url = f" ({row.remote_url})" if row.remote_url and row.remote_url not in reason else ""
        reason = f"{reason}; {went} {_describe_post(row)}{url}"
    return f"{reason}; {_change_the_text(job.post_id)}"


def _update_owned(conn: Connection, post_id: int, worker: str, **values: Any) -> bool:
    """Change a post this worker holds, and give up the lease."""
    changed = update(POSTS).where(_OWNED).values(**values, **_NO_LEASE)
    return _one_row(conn.execute(changed, {"b_id": post_id, "b_worker": worker}))


def _one_row(result: Any) -> bool:
    return bool(result.rowcount == 1)


def _publish_params(post_id: int, ref: RemoteRef, worker: str, now: datetime) -> dict[str, Any]:
    return {
        "b_id": post_id,
        "b_worker": worker,
        "b_now": now,
        "b_remote_id": ref.id,
        "b_remote_uri": ref.uri,
        "b_remote_cid": ref.cid,
        "b_remote_url": ref.url,
    }


def _published_event(ref: RemoteRef, revision: int = 1) -> tuple[Kind, dict[str, Any]]:
    detail: dict[str, Any] = {"url": ref.url, "remote_id": ref.id}
    if revision > 1:  # which text went out: the one of that edit
        detail["revision"] = revision
    if ref.note:
        detail["note"] = ref.note
    if ref.reads:
        detail["reads"] = ref.reads
    return (Kind.RECOVERED if ref.recovered else Kind.PUBLISHED), detail


def _published(
    conn: Connection, post_id: int, ref: RemoteRef, worker: str, now: datetime, revision: int
) -> bool:
    params = _publish_params(post_id, ref, worker, now)
    # The common case, one UPDATE: the post is still ours.
    if not _one_row(conn.execute(_PUBLISH_OWNED, params)):
        # Publishing is a fact: record it whoever holds the lease now, unless another
        # daemon already recorded it (a slower worker whose lease expired reports it too).
        current = conn.execute(_CURRENT, {"b_id": post_id}).one_or_none()
        if current is None:
            return False
        if current.status == Status.PUBLISHED:
            if ref.id is None or ref.id == current.remote_id:
                return False
            add_event(
                conn,
                post_id,
                Kind.PUBLISHED,
                now,
                worker,
                url=ref.url,
                remote_id=ref.id,
                note=f"a second copy: the post was already recorded as {current.remote_id}",
            )
            return False
        conn.execute(_PUBLISH_ANYWAY, params)
    kind, detail = _published_event(ref, revision)
    add_event(conn, post_id, kind, now, worker, **detail)
    if ref.id is None:
        hold_replies(
            conn,
            post_id,
            f"post {post_id} was published but its id is unknown, so replies cannot chain",
            now,
        )
    return True


def release(conn: Connection, jobs: Sequence[Job], reason: str, worker: str, now: datetime) -> int:
    """Hand claimed posts back unpublished (the daemon is stopping)."""
    released = 0
    for job in jobs:
        if _update_owned(conn, job.post_id, worker, status=Status.QUEUED, updated_at=now):
            add_event(conn, job.post_id, Kind.RELEASED, now, worker, reason=reason)
            released += 1
    return released


# -- people's changes -------------------------------------------------------------------------


def _load(conn: Connection, post_ids: Sequence[int]) -> dict[int, Any]:
    possible = [i for i in post_ids if abs(i) <= MAX_POST_ID]
    rows = conn.execute(
        select(
            _P.id,
            _P.campaign_id,
            _P.platform,
            _P.account,
            _P.status,
            _P.parent_id,
            _P.scheduled_at,
            _P.remote_id,
            _P.last_error,
        ).where(_P.id.in_(possible))
    ).all()
    found = {row.id: row for row in rows}
    missing = sorted(set(post_ids) - set(found))
    if missing:
        raise NotFound(f"no post with id {', '.join(map(str, missing))}")
    return found


def cancel(conn: Connection, post_ids: Sequence[int], now: datetime) -> list[int]:
    """Cancel queued or held posts; later parts of their threads are held."""
    posts = _load(conn, post_ids)
    for post_id in sorted(posts):
        status = posts[post_id].status
        if status not in CANCELLABLE and status != Status.CANCELLED:
            raise BadInput(f"post {post_id} is {status} and cannot be cancelled")
    for post_id in sorted(posts):
        if posts[post_id].status == Status.CANCELLED:
            continue
        conn.execute(
            update(POSTS).where(_P.id == post_id).values(status=Status.CANCELLED, updated_at=now)
        )
        add_event(conn, post_id, Kind.CANCELLED, now)
        hold_replies(conn, post_id, f"post {post_id} was cancelled", now)
    return sorted(posts)


def _out_of_credits(
    conn: Connection, job: Job, outcome: Deferred, worker: str, now: datetime
) -> bool:
    """The account cannot post until it pays: this post and every queued post of the
    account due before `until` wait until then (no attempt spent), with one event."""
    reason = WAITING_FOR_CREDITS + outcome.reason
    changed = _update_owned(
        conn,
        job.post_id,
        worker,
        status=Status.QUEUED,
        next_attempt_at=outcome.until,
        last_error=reason,
        updated_at=now,
    )
    if not changed or outcome.passed_on:
        return changed  # the post that was refused says it for the account
    others = conn.execute(
        update(POSTS)
        .where(
            _P.platform == job.platform,
            _P.account == job.account,
            _P.status == Status.QUEUED,
            _P.next_attempt_at < outcome.until,
            _P.id != job.post_id,
        )
        .values(next_attempt_at=outcome.until, last_error=reason, updated_at=now)
    ).rowcount
    # The rest of this worker's batch for the account follows (passed on, not asked).
    in_batch = conn.scalar(
        select(func.count()).where(
            _P.platform == job.platform,
            _P.account == job.account,
            _P.status == Status.PUBLISHING,
            _P.lease_owner == worker,
        )
    )
    add_event(
        conn,
        job.post_id,
        Kind.OUT_OF_CREDITS,
        now,
        worker,
        reason=outcome.reason,
        until=outcome.until.isoformat(),
        waiting=others + 1 + int(in_batch or 0),
        account=job.account,
    )
    return True


def retry(conn: Connection, post_ids: Sequence[int], now: datetime) -> list[Requeued]:
    """Failed, held or cancelled posts go back to the queue, at their time, or re-planned
    from now when that time has passed (see _replanned)."""
    posts = _load(conn, post_ids)
    parents = _load(
        conn,
        sorted({p.parent_id for p in posts.values() if p.parent_id is not None} - set(posts)),
    )
    for post_id in sorted(posts):
        post = posts[post_id]
        if _waits_for_credits(post):
            continue  # queued, held back for its account's credits: due again now
        if post.status not in RETRYABLE:
            raise BadInput(
                f"post {post_id} is {post.status}; only failed, held or cancelled posts are retried"
            )
        parent = parents.get(post.parent_id)
        if parent is None:
            continue
        if parent.status not in (Status.QUEUED, Status.PUBLISHING, Status.PUBLISHED):
            raise BadInput(
                f"post {post_id} replies to post {parent.id}, which is {parent.status}: "
                f"retry {parent.id} too"
            )
        if parent.status == Status.PUBLISHED and not parent.remote_id:
            raise BadInput(
                f"post {post_id} replies to post {parent.id}, whose id on the platform is "
                "unknown, so the reply cannot chain"
            )
    times, replanned = _replanned(posts, now)
    requeued = []
    for post_id, due in sorted(times.items()):
        was = posts[post_id].scheduled_at
        conn.execute(
            update(POSTS)
            .where(_P.id == post_id)
            .values(
                status=Status.QUEUED,
                attempts=0,
                last_error=None,
                scheduled_at=due,
                next_attempt_at=due,
                updated_at=now,
            )
        )
        detail: dict[str, Any] = {"next_attempt_at": due.isoformat()}
        if post_id in replanned:
            detail["note"] = f"re-planned from now, keeping its spacing (was {was.isoformat()})"
        add_event(conn, post_id, Kind.REQUEUED, now, **detail)
        requeued.append(Requeued(post_id, was, due, post_id in replanned))
    return requeued


def _waits_for_credits(post: Any) -> bool:
    return post.status == Status.QUEUED and (post.last_error or "").startswith(WAITING_FOR_CREDITS)


def _replanned(posts: dict[int, Any], now: datetime) -> tuple[dict[int, datetime], set[int]]:
    """When each retried post goes out: at its time, or now if that has passed. But when
    the times of several retried posts of one campaign, platform and account have passed,
    sending them now would burst them onto the timeline: then those posts move together,
    the earliest going now and the rest keeping their spacing."""
    groups: dict[tuple[int, str, str], list[int]] = {}
    for post_id, post in posts.items():
        groups.setdefault((post.campaign_id, post.platform, post.account), []).append(post_id)
    due: dict[int, datetime] = {}
    moved: set[int] = set()
    for ids in groups.values():
        overdue = [i for i in ids if posts[i].scheduled_at <= now]
        if len(overdue) < 2:
            due.update({i: max(now, posts[i].scheduled_at) for i in ids})
            continue
        shift = now - min(posts[i].scheduled_at for i in ids)
        due.update({i: posts[i].scheduled_at + shift for i in ids})
        moved.update(ids)
    return due, moved
