"""People's changes to a queued campaign: new texts and times, pause and resume, a post
dropped from its thread, rename, delete, and a campaign file applied whole.

Each runs on the caller's connection, inside the caller's one transaction, and writes an
event per change with the old and the new value. Posts on their way out or already out
(publishing, published) are refused, as is a post an earlier attempt may have published.
Rows are read FOR UPDATE on PostgreSQL, so a daemon's claim (which skips locked rows)
and a change never interleave: the daemon publishes the text before or after, never both.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, or_, select, update

from scheduler.errors import BadInput, NotFound
from scheduler.model import (
    CANCELLABLE,
    CHANGEABLE,
    CampaignChanges,
    CampaignRow,
    CampaignSettings,
    Kind,
    Plan,
    Platform,
    Rethreaded,
    Status,
    TextChange,
    TimeChange,
)
from scheduler.plan import describe_span
from scheduler.store.log import add_event
from scheduler.store.models import CAMPAIGNS, EVENTS, POSTS
from scheduler.store.queries import MAX_POST_ID
from scheduler.store.queueing import insert_posts, queue_campaign

_P = POSTS.c
_C = CAMPAIGNS.c
_ROW = select(
    _P.id,
    _P.campaign_id,
    _P.platform,
    _P.account,
    _P.seq,
    _P.parent_id,
    _P.root_id,
    _P.status,
    _P.scheduled_at,
    _P.next_attempt_at,
    _P.text,
    _P.revision,
    _P.attachments,
    _P.ambiguous,
)
# Posts that will still go out, whose place in a thread's order matters.
_GOING = frozenset({Status.QUEUED, Status.HELD, Status.PUBLISHING})


def add_campaign_event(
    conn: Connection, campaign_id: int | None, kind: Kind, at: datetime, **detail: Any
) -> None:
    """An event of the campaign itself (paused, renamed...), not of one post. The detail
    names the campaign too: a deleted one's events keep its name."""
    conn.execute(
        insert(EVENTS).values(
            post_id=None,
            campaign_id=campaign_id,
            kind=kind.value,
            at=at,
            worker=None,
            detail=detail,
        )
    )


def _locked(conn: Connection, query: Any) -> Any:
    return query.with_for_update(of=POSTS) if conn.dialect.name == "postgresql" else query


def load(conn: Connection, post_ids: Collection[int]) -> dict[int, Any]:
    """The posts, locked for this transaction; unknown ids are NotFound."""
    possible = sorted(i for i in post_ids if abs(i) <= MAX_POST_ID)
    found = {row.id: row for row in conn.execute(_locked(conn, _ROW.where(_P.id.in_(possible))))}
    missing = sorted(set(post_ids) - set(found))
    if missing:
        raise NotFound(f"no post with id {', '.join(map(str, missing))}")
    return found


def check_changeable(row: Any, what: str) -> None:
    if row.status not in CHANGEABLE:
        raise BadInput(f"post {row.id} is {row.status}: its {what} can no longer change")
    if row.ambiguous:
        raise BadInput(
            f"post {row.id} may already be on {row.platform} (an earlier attempt's outcome "
            f"is unknown): its {what} cannot change until the daemon has looked"
        )


# -- texts and times --------------------------------------------------------------------------


def set_texts(conn: Connection, changes: Sequence[TextChange], now: datetime) -> None:
    """New texts (already measured against the platform's limit by the caller)."""
    rows = load(conn, [c.post_id for c in changes])
    for change in changes:
        row = rows[change.post_id]
        check_changeable(row, "text")
        if change.revision is not None and row.revision != change.revision:
            raise BadInput(
                f"post {row.id} was edited by someone else meanwhile (it is at revision "
                f"{row.revision} now): run the edit again"
            )
    for change in changes:
        row = rows[change.post_id]
        values: dict[str, Any] = {"text": change.new, "body": change.body}
        detail: dict[str, Any] = {"old": row.text, "new": change.new}
        if change.attachments is not None:
            values["attachments"] = change.attachments.as_json() or None
            detail["old_attachments"] = row.attachments or {}
            detail["new_attachments"] = change.attachments.as_json()
        conn.execute(
            update(POSTS)
            .where(_P.id == row.id)
            .values(**values, revision=row.revision + 1, updated_at=now)
        )
        add_event(conn, row.id, Kind.EDITED, now, **detail, revision=row.revision + 1)


def set_times(conn: Connection, changes: Sequence[TimeChange], now: datetime) -> None:
    """New scheduled times; a reply is never left before its parent."""
    rows = load(conn, [c.post_id for c in changes])
    for change in changes:
        check_changeable(rows[change.post_id], "time")
    for change in changes:
        row = rows[change.post_id]
        # A queued post waits for its new time; one held or failed keeps it for `retry`.
        conn.execute(
            update(POSTS)
            .where(_P.id == row.id)
            .values(scheduled_at=change.new, next_attempt_at=change.new, updated_at=now)
        )
        add_event(
            conn,
            row.id,
            Kind.RESCHEDULED,
            now,
            old=row.scheduled_at.isoformat(),
            new=change.new.isoformat(),
        )
    check_thread_order(conn, [c.post_id for c in changes])


def check_thread_order(conn: Connection, post_ids: Collection[int]) -> None:
    """Refuse (rolling the transaction back) a reply due before its parent, among these
    posts, their parents and their replies, as they stand in this transaction."""
    if not post_ids:
        return
    parent = POSTS.alias("parent")
    reply = POSTS.alias("reply")
    ids = sorted(post_ids)
    query = (
        select(reply.c.id, reply.c.scheduled_at, parent.c.id.label("parent"),
               parent.c.scheduled_at.label("parent_at"))
        .join(parent, parent.c.id == reply.c.parent_id)
        .where(
            or_(reply.c.id.in_(ids), parent.c.id.in_(ids)),
            reply.c.status.in_(sorted(_GOING)),
            parent.c.status.in_(sorted(_GOING)),
            reply.c.scheduled_at < parent.c.scheduled_at,
        )
        .order_by(reply.c.id)
        .limit(1)
    )  # fmt: skip
    wrong = conn.execute(query).one_or_none()
    if wrong is not None:
        raise BadInput(
            f"post {wrong.id} replies to post {wrong.parent} but would go out before it "
            f"({wrong.scheduled_at:%Y-%m-%d %H:%M} UTC, before {wrong.parent_at:%Y-%m-%d %H:%M}"
            " UTC): move both, or the whole thread"
        )


# -- threads ----------------------------------------------------------------------------------


def drop_from_thread(conn: Connection, row: Any, now: datetime) -> list[Rethreaded]:
    """The replies of a cancelled post `row` attach to its parent instead (or start the
    thread, when it was the first); those held because it was cancelled go back to the
    queue."""
    replies = list(conn.execute(_locked(conn, _ROW.where(_P.parent_id == row.id))))
    rethreaded = []
    for reply in replies:
        if row.parent_id is None:  # it started the thread: its reply does now
            conn.execute(
                update(POSTS).where(_P.root_id == row.id, _P.id != row.id).values(root_id=reply.id)
            )
        conn.execute(
            update(POSTS).where(_P.id == reply.id).values(parent_id=row.parent_id, updated_at=now)
        )
        add_event(conn, reply.id, Kind.RETHREADED, now, old=row.id, new=row.parent_id)
        rethreaded.append(Rethreaded(reply.id, row.id, row.parent_id))
    # Posts held by its cancelling (`hold_replies`) wait no more.
    held = list(
        conn.scalars(
            update(POSTS)
            .where(
                _P.status == Status.HELD,
                _P.last_error == f"post {row.id} was cancelled",
                _P.root_id.in_([row.root_id, *(r.id for r in replies)]),
            )
            .values(status=Status.QUEUED, last_error=None, updated_at=now)
            .returning(_P.id)
        )
    )
    for post_id in sorted(held):
        add_event(conn, post_id, Kind.REQUEUED, now, note=f"post {row.id} left the thread")
    return rethreaded


def cancel_keeping_threads(
    conn: Connection, post_ids: Sequence[int], now: datetime
) -> list[Rethreaded]:
    """Cancel posts (queued, held, or already cancelled), each reply re-attached to the
    cancelled post's parent instead of being held."""
    rows = load(conn, post_ids)
    for row in rows.values():
        if row.status not in CANCELLABLE and row.status != Status.CANCELLED:
            raise BadInput(f"post {row.id} is {row.status} and cannot be cancelled")
    rethreaded = []
    for post_id in sorted(rows):
        row = rows[post_id]
        if row.status != Status.CANCELLED:
            conn.execute(
                update(POSTS)
                .where(_P.id == post_id)
                .values(status=Status.CANCELLED, updated_at=now)
            )
            add_event(conn, post_id, Kind.CANCELLED, now, note="its reply keeps the thread")
        rethreaded.extend(drop_from_thread(conn, load(conn, [post_id])[post_id], now))
    return rethreaded


# -- campaigns --------------------------------------------------------------------------------


def _campaign(conn: Connection, name: str) -> Any:
    query = select(_C.id, _C.name, _C.paused_at, _C.settings).where(_C.name == name)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    found = conn.execute(query).one_or_none()
    if found is None:
        raise NotFound(f"no campaign named {name!r}")
    return found


def pause(conn: Connection, name: str, now: datetime) -> bool:
    """Stop claiming the campaign's posts; False when it was paused already."""
    found = _campaign(conn, name)
    if found.paused_at is not None:
        return False
    conn.execute(update(CAMPAIGNS).where(_C.id == found.id).values(paused_at=now))
    add_campaign_event(conn, found.id, Kind.PAUSED, now, campaign=name)
    return True


def resume(conn: Connection, name: str, keep_times: bool, now: datetime) -> tuple[datetime, int]:
    """Claim the campaign's posts again; unless `keep_times`, the queued and held ones move
    later by the time spent paused, so their spacing is kept and nothing bursts. Returns
    when it was paused and how many posts moved."""
    found = _campaign(conn, name)
    if found.paused_at is None:
        raise BadInput(f"campaign {name!r} is not paused")
    paused_for = now - found.paused_at
    moved = 0
    if not keep_times:
        waiting = list(
            conn.execute(
                _locked(
                    conn,
                    _ROW.where(
                        _P.campaign_id == found.id,
                        _P.status.in_([Status.QUEUED, Status.HELD]),
                        _P.ambiguous.is_(False),
                    ).order_by(_P.id),
                )
            )
        )
        for row in waiting:
            new = row.scheduled_at + paused_for
            conn.execute(
                update(POSTS)
                .where(_P.id == row.id)
                .values(
                    scheduled_at=new,
                    next_attempt_at=row.next_attempt_at + paused_for,
                    updated_at=now,
                )
            )
            add_event(
                conn,
                row.id,
                Kind.RESCHEDULED,
                now,
                old=row.scheduled_at.isoformat(),
                new=new.isoformat(),
                note=f"the campaign was paused for {describe_span(paused_for.total_seconds())}",
            )
        moved = len(waiting)
    conn.execute(update(CAMPAIGNS).where(_C.id == found.id).values(paused_at=None))
    add_campaign_event(
        conn,
        found.id,
        Kind.RESUMED,
        now,
        campaign=name,
        paused_at=found.paused_at.isoformat(),
        shifted=moved,
        note=f"paused for {describe_span(paused_for.total_seconds())}"
        + ("; its posts keep their times" if keep_times else f"; {moved} posts moved later"),
    )
    return found.paused_at, moved


def rename(conn: Connection, old: str, new: str, now: datetime) -> None:
    found = _campaign(conn, old)
    if old == new:
        return
    if conn.scalar(select(_C.id).where(_C.name == new)) is not None:
        raise BadInput(f"a campaign named {new!r} exists already")
    conn.execute(update(CAMPAIGNS).where(_C.id == found.id).values(name=new))
    add_campaign_event(conn, found.id, Kind.RENAMED, now, old=old, new=new)


def delete_campaign(conn: Connection, name: str, now: datetime) -> dict[Status, int]:
    """Delete a campaign none of whose posts ever went out (or may have): its posts and
    their events go, and one `deleted` event keeps what it held. Returns its counts."""
    found = _campaign(conn, name)
    counts = {
        status: count
        for status, count in conn.execute(
            select(_P.status, func.count()).where(_P.campaign_id == found.id).group_by(_P.status)
        )
    }
    out = conn.execute(
        select(_P.id, _P.status)
        .where(
            _P.campaign_id == found.id,
            or_(
                _P.status.in_([Status.PUBLISHED, Status.PUBLISHING]),
                _P.remote_id.is_not(None),
                _P.ambiguous.is_(True),
            ),
        )
        .order_by(_P.id)
        .limit(1)
    ).one_or_none()
    if out is not None:
        raise BadInput(
            f"campaign {name!r} cannot be deleted: post {out.id} is {out.status} or may have "
            f"gone out, and its history is kept; cancel the rest with "
            f"`campaign cancel --campaign {name}`"
        )
    add_campaign_event(
        conn,
        None,
        Kind.DELETED,
        now,
        campaign=name,
        posts=sum(counts.values()),
        counts={str(k): v for k, v in sorted(counts.items())},
    )
    # Replies point at their parents: clear the links, then the posts (their events
    # cascade), then the campaign.
    conn.execute(
        update(POSTS).where(_P.campaign_id == found.id).values(parent_id=None, root_id=None)
    )
    conn.execute(delete(POSTS).where(_P.campaign_id == found.id))
    conn.execute(delete(CAMPAIGNS).where(_C.id == found.id))
    return counts


def campaigns(conn: Connection, names: Collection[str] | None = None) -> list[CampaignRow]:
    """Every campaign (or these), oldest first, with its counts and times."""
    per_status = select(_P.campaign_id, _P.platform, _P.status, func.count().label("n")).group_by(
        _P.campaign_id, _P.platform, _P.status
    )
    query = select(_C.id, _C.name, _C.paused_at, _C.settings, _C.source_path).order_by(_C.id)
    if names is not None:
        query = query.where(_C.name.in_(sorted(names)))
    rows = list(conn.execute(query))
    counts: dict[int, dict[Status, int]] = {}
    platforms: dict[int, set[Platform]] = {}
    for row in conn.execute(per_status):
        by_status = counts.setdefault(row.campaign_id, {})
        by_status[row.status] = by_status.get(row.status, 0) + row.n
        platforms.setdefault(row.campaign_id, set()).add(row.platform)
    times = {
        row.campaign_id: row
        for row in conn.execute(
            select(
                _P.campaign_id,
                func.min(_P.scheduled_at).label("first"),
                func.max(_P.scheduled_at).label("last"),
                func.min(case((_P.status == Status.QUEUED, _P.next_attempt_at))).label("next"),
            ).group_by(_P.campaign_id)
        )
    }
    result = []
    for row in rows:
        when = times.get(row.id)
        result.append(
            CampaignRow(
                name=row.name,
                platforms=tuple(sorted(platforms.get(row.id, ()))),
                counts=counts.get(row.id, {}),
                first=when.first if when else None,
                next=when.next if when else None,
                last=when.last if when else None,
                paused_at=row.paused_at,
                settings=CampaignSettings.from_json(row.settings or {}),
                source_path=row.source_path,
            )
        )
    return result


def paused_names(conn: Connection) -> list[str]:
    return list(conn.scalars(select(_C.name).where(_C.paused_at.is_not(None)).order_by(_C.name)))


# -- a campaign file applied -------------------------------------------------------------------


def apply_changes(
    conn: Connection, changes: CampaignChanges, now: datetime, new_key: Callable[[Platform], str]
) -> None:
    """Everything a campaign file changes, in the caller's one transaction: settings,
    texts, times, removals (cancelled, their replies keeping the thread), additions
    (each joining its thread at its seq). A new campaign is queued whole."""
    if changes.new_campaign:
        plan = Plan(
            name=changes.campaign,
            posts=changes.added,
            source_path=changes.source_path,
            hashtags=" ".join(changes.settings.tags) if changes.settings else "",
            settings=changes.settings or CampaignSettings(),
        )
        queue_campaign(conn, plan, False, now, new_key)
        return
    found = _campaign(conn, changes.campaign)
    if changes.settings is not None:
        conn.execute(
            update(CAMPAIGNS)
            .where(_C.id == found.id)
            .values(settings=changes.settings.as_json(), hashtags=" ".join(changes.settings.tags))
        )
        add_campaign_event(
            conn, found.id, Kind.EDITED, now, campaign=changes.campaign,
            old=found.settings, new=changes.settings.as_json(),
        )  # fmt: skip
    set_texts(conn, changes.retexted, now)
    set_times(conn, changes.retimed, now)
    if changes.removed:
        cancel_keeping_threads(conn, changes.removed, now)
    added = insert_posts(conn, found.id, changes.added, now, new_key)
    check_thread_order(conn, added)
