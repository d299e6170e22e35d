"""The one door into the database: `Store`, whose methods are the operations.

Each method is one transaction that writes its log events with the change. What goes in
and comes out is the vocabulary of `scheduler.model`; SQLAlchemy models, connections and
Alembic stay inside this package.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from scheduler.errors import BadInput, NotFound
from scheduler.keys import new_idempotency_key
from scheduler.model import (
    CANCELLABLE,
    RETRYABLE,
    WAITING_FOR_CREDITS,
    CampaignChanges,
    CampaignRow,
    Job,
    Kind,
    LogEntry,
    Outcome,
    Overview,
    Plan,
    Platform,
    PostRow,
    QueuedPost,
    Requeued,
    Rethreaded,
    SameText,
    Status,
    TextChange,
    TimeChange,
)
from scheduler.store import claim as _claim
from scheduler.store import lifecycle, queries, review
from scheduler.store.db import BUSY_TIMEOUT_MS, Database, open_database, redact
from scheduler.store.log import add_event, read_log
from scheduler.store.queueing import queue_campaign

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["Store", "open_store", "redact"]


class Store:
    def __init__(self, database: Database) -> None:
        self._db = database

    @property
    def url(self) -> str:
        return self._db.url

    @property
    def dialect(self) -> str:
        return self._db.dialect

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to `revision` (done on open unless asked not to)."""
        from alembic.util import CommandError

        from scheduler.store.migrate import upgrade

        try:
            upgrade(self._db.engine, revision)
        except CommandError as exc:  # an unknown revision
            first = (str(exc).strip().splitlines() or ["unknown revision"])[0]
            raise BadInput(f"cannot upgrade the database: {first}") from None

    # -- queueing ----------------------------------------------------------------------

    def queue(
        self,
        plan: Plan,
        now: datetime,
        append: bool = False,
        new_key: Callable[[Platform], str] = new_idempotency_key,
    ) -> list[QueuedPost]:
        """Store the plan's campaign (or append to it) and its posts, threads chained."""
        with self._db.write() as conn:
            return queue_campaign(conn, plan, append, now, new_key)

    # -- the daemon's path -----------------------------------------------------------------

    def claim(
        self,
        worker: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        platforms: Collection[Platform],
    ) -> list[Job]:
        """Take up to `limit` due posts for `worker`, leased until now + lease."""
        with self._db.write() as conn:
            return _claim.claim_due(conn, worker, now, lease, limit, platforms)

    def record(self, job: Job, outcome: Outcome, worker: str, now: datetime) -> bool:
        """Write a claimed post's outcome; False when the lease had passed to another
        daemon and nothing was written."""
        return self.record_all([(job, outcome)], worker, now)[0]

    def record_all(
        self, outcomes: Sequence[tuple[Job, Outcome]], worker: str, now: datetime
    ) -> list[bool]:
        """Several outcomes in one transaction (a group commit), in order."""
        try:
            with self._db.write() as conn:
                return lifecycle.record_all(conn, outcomes, worker, now)
        except lifecycle.NotAllOurs:  # rolled back: one post at a time, in a new one
            with self._db.write() as conn:
                return [lifecycle.record(conn, j, o, worker, now) for j, o in outcomes]

    def release(self, jobs: Sequence[Job], reason: str, worker: str, now: datetime) -> int:
        """Hand claimed posts back unpublished; returns how many were still ours."""
        with self._db.write() as conn:
            return lifecycle.release(conn, jobs, reason, worker, now)

    def heartbeat(self, worker: str, now: datetime) -> None:
        with self._db.write() as conn:
            queries.heartbeat(conn, worker, now)

    def worker_stopped(self, worker: str, now: datetime) -> None:
        with self._db.write() as conn:
            queries.worker_stopped(conn, worker, now)

    def note_no_credentials(
        self, worker: str, platform: Platform, reason: str, now: datetime
    ) -> bool:
        """A daemon-wide event: this platform's posts stay queued. Only when it has posts
        still to go: a platform nobody uses is not worth a line at every start."""
        with self._db.write() as conn:
            if not queries.has_pending(conn, platform):
                return False
            add_event(
                conn, None, Kind.NO_CREDENTIALS, now, worker, platform=platform, reason=reason
            )
            return True

    def next_wake(
        self, platforms: Collection[Platform], after: datetime, count_pending: bool = False
    ) -> tuple[datetime | None, int | None]:
        """The next time something becomes claimable after `after` (a post falls due or
        a lease expires) and, if asked (it costs a scan), how many posts are pending."""
        with self._db.read() as conn:
            due = queries.next_due_time(conn, platforms, after=after)
            expiry = queries.earliest_lease_expiry(conn, after=after)
            pending = queries.pending_count(conn, platforms) if count_pending else None
        times = [t for t in (due, expiry) if t is not None]
        return (min(times) if times else None), pending

    # -- people's changes --------------------------------------------------------------

    def cancel(
        self, post_ids: Sequence[int] = (), campaign: str | None = None, *, now: datetime
    ) -> list[int]:
        """Cancel queued or held posts (by id, or every one of a campaign); later parts
        of their threads are held. Returns the ids."""
        with self._db.write() as conn:
            ids = self._targets(conn, post_ids, campaign, CANCELLABLE)
            return lifecycle.cancel(conn, ids, now)

    def retry(
        self, post_ids: Sequence[int] = (), campaign: str | None = None, *, now: datetime
    ) -> list[Requeued]:
        """Queue failed, held or cancelled posts again, those whose time has passed
        re-planned from now with their spacing kept."""
        with self._db.write() as conn:
            ids = self._targets(conn, post_ids, campaign, RETRYABLE)
            if campaign is not None:  # and those waiting for their account's credits
                ids += [
                    row.id
                    for row in queries.list_posts(conn, campaign, statuses=[Status.QUEUED])
                    if (row.last_error or "").startswith(WAITING_FOR_CREDITS)
                ]
            return lifecycle.retry(conn, ids, now)

    def cancel_keeping_threads(self, post_ids: Sequence[int], *, now: datetime) -> list[Rethreaded]:
        """Cancel posts, each reply attaching to the cancelled post's parent instead of
        being held."""
        with self._db.write() as conn:
            return review.cancel_keeping_threads(conn, post_ids, now)

    def edit(self, change: TextChange, *, now: datetime) -> None:
        """Give a post a new text (measured by the caller); refused once it is on its way
        out, or when someone else edited it since `change.revision`."""
        with self._db.write() as conn:
            review.set_texts(conn, [change], now)

    def reschedule(self, changes: Sequence[TimeChange], *, now: datetime) -> None:
        """Move posts to new times, all or none; a reply never goes before its parent."""
        with self._db.write() as conn:
            review.set_times(conn, changes, now)

    def pause(self, campaign: str, *, now: datetime) -> bool:
        """Stop claiming the campaign's posts; False when it was paused already."""
        with self._db.write() as conn:
            return review.pause(conn, campaign, now)

    def resume(
        self, campaign: str, keep_times: bool = False, *, now: datetime
    ) -> tuple[datetime, int]:
        """Claim its posts again, moved later by the time paused unless `keep_times`.
        Returns when it was paused and how many posts moved."""
        with self._db.write() as conn:
            return review.resume(conn, campaign, keep_times, now)

    def rename(self, old: str, new: str, *, now: datetime) -> None:
        with self._db.write() as conn:
            review.rename(conn, old, new, now)

    def delete(self, campaign: str, *, now: datetime) -> dict[Status, int]:
        """Delete a campaign none of whose posts went out; returns its counts by status."""
        with self._db.write() as conn:
            return review.delete_campaign(conn, campaign, now)

    def apply(
        self,
        changes: CampaignChanges,
        *,
        now: datetime,
        new_key: Callable[[Platform], str] = new_idempotency_key,
    ) -> None:
        """A campaign file's changes, all in one transaction or none."""
        with self._db.write() as conn:
            review.apply_changes(conn, changes, now, new_key)

    @staticmethod
    def _targets(
        conn: Connection, post_ids: Sequence[int], campaign: str | None, wanted: Collection[Status]
    ) -> list[int]:
        if campaign is None:
            return list(post_ids)
        return [row.id for row in queries.list_posts(conn, campaign, statuses=wanted)]

    # -- listings ----------------------------------------------------------------------

    def posts(
        self,
        campaign: str | None = None,
        statuses: Collection[Status] = (),
        platform: Platform | None = None,
        post_ids: Collection[int] | None = None,
        due_by: datetime | None = None,
        limit: int | None = None,
    ) -> list[PostRow]:
        """Posts in schedule order (`due_by`: due by then; `limit`: the first N); an
        unknown campaign is NotFound."""
        with self._db.read() as conn:
            return queries.list_posts(conn, campaign, statuses, platform, post_ids, due_by, limit)

    def campaigns(self, names: Collection[str] | None = None) -> list[CampaignRow]:
        """Every campaign (or those named; an unknown name is NotFound), oldest first."""
        with self._db.read() as conn:
            found = review.campaigns(conn, names)
        missing = sorted(set(names or ()) - {c.name for c in found})
        if missing:
            raise NotFound(f"no campaign named {missing[0]!r}")
        return found

    def campaign(self, name: str) -> CampaignRow:
        return self.campaigns([name])[0]

    def same_texts(self, plan: Plan) -> list[SameText]:
        """Stored posts (not failed or cancelled) whose text a post of `plan` repeats on
        the same platform and account."""
        with self._db.read() as conn:
            return queries.same_texts(conn, {(p.platform, p.account, p.text) for p in plan.posts})

    def post(self, post_id: int) -> PostRow:
        found = self.posts(post_ids=[post_id])
        if not found:
            raise NotFound(f"no post with id {post_id}")
        return found[0]

    def log(
        self,
        campaign: str | None = None,
        post_id: int | None = None,
        platform: Platform | None = None,
        kinds: Collection[str] = (),
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[LogEntry]:
        """The post log, oldest first (`limit`: the newest N); unknown names are NotFound."""
        with self._db.read() as conn:
            if campaign is not None:
                queries.campaign_id(conn, campaign)
            if post_id is not None and not queries.list_posts(conn, post_ids=[post_id]):
                raise NotFound(f"no post with id {post_id}")
            return read_log(conn, campaign, post_id, platform, kinds, since, limit)

    def waiting_for_credits(self) -> list[tuple[Platform, str, int, datetime]]:
        """(platform, account, posts, until) for each account out of credits."""
        with self._db.read() as conn:
            return queries.waiting_for_credits(conn)

    def overview(self, now: datetime) -> Overview:
        with self._db.read() as conn:
            return Overview(
                counts=queries.counts_by_status(conn),
                next_due=queries.next_due(conn),
                overdue=queries.overdue_count(conn, now),
                workers=tuple(queries.workers(conn)),
                paused=tuple(review.paused_names(conn)),
            )


def open_store(url: str, migrate: bool = True, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Store:
    """Open (and on first use create or upgrade) the database at `url`."""
    database = open_database(url, busy_timeout_ms)
    if migrate:
        from scheduler.store.migrate import ensure_current

        try:
            ensure_current(database.engine)
        except BaseException:
            database.close()
            raise
    return Store(database)
