"""One tick: claim due posts, publish each through its platform, record the outcome.

No APScheduler here: the clock, the store and the publishers come in as arguments,
so tests drive ticks directly. Publishing happens outside any transaction; each
outcome and its event are written together in one short transaction.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from scheduler.clock import utcnow
from scheduler.platforms.base import (
    OutgoingPost,
    Permanent,
    Publisher,
    RateLimited,
    RemoteRef,
    ReplyTarget,
    Transient,
)
from scheduler.store import lifecycle
from scheduler.store.claim import claim_due
from scheduler.store.db import DatabaseUnavailable, Store
from scheduler.store.models import Post, Status

log = logging.getLogger("campaign.dispatch")

Clock = Callable[[], datetime]
T = TypeVar("T")


@dataclass(frozen=True)
class DispatchSettings:
    batch_size: int = 20
    lease: timedelta = timedelta(seconds=120)
    backoff_base: float = 30.0
    backoff_cap: float = 3600.0
    max_attempts: int = 8
    catch_up: timedelta = timedelta(hours=6)
    # How long to keep trying to record an outcome while the database is unavailable.
    record_patience: float = 60.0


@dataclass
class TickResult:
    claimed: int = 0
    published: int = 0
    retried: int = 0
    rate_limited: int = 0
    failed: int = 0
    released: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Job:
    """A claimed post as plain data, so no ORM object crosses the publish call."""

    post_id: int
    platform: str
    account: str
    outgoing: OutgoingPost
    reply_to: ReplyTarget | None
    due: datetime


def backoff_seconds(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with 'equal jitter': half fixed, half random, capped."""
    delay = min(cap, base * 2.0 ** max(0, attempt - 1))
    return delay / 2 + rng.uniform(0, delay / 2)


def _ref(post: Post) -> RemoteRef:
    return RemoteRef(
        id=post.remote_id, url=post.remote_url, uri=post.remote_uri, cid=post.remote_cid
    )


def _jobs(session: Session, claimed: list[Post]) -> list[_Job]:
    wanted = {p.parent_id for p in claimed if p.parent_id} | {
        p.root_id for p in claimed if p.parent_id and p.root_id
    }
    related = {p.id: p for p in session.scalars(select(Post).where(Post.id.in_(wanted)))}
    jobs = []
    for post in claimed:
        reply_to = None
        if post.parent_id is not None and post.root_id is not None:
            reply_to = ReplyTarget(
                root=_ref(related[post.root_id]), parent=_ref(related[post.parent_id])
            )
        jobs.append(
            _Job(
                post_id=post.id,
                platform=post.platform,
                account=post.account,
                outgoing=OutgoingPost(
                    post_id=post.id,
                    platform=post.platform,
                    text=post.text,
                    idempotency_key=post.idempotency_key,
                    attempt=post.attempts + 1,
                    ambiguous=post.ambiguous,
                ),
                reply_to=reply_to,
                due=post.next_attempt_at,
            )
        )
    return jobs


class Dispatcher:
    def __init__(
        self,
        store: Store,
        publishers: Mapping[str, Publisher],
        worker_id: str,
        settings: DispatchSettings | None = None,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        self.store = store
        self.publishers = publishers
        self.worker_id = worker_id
        self.settings = settings or DispatchSettings()
        self.clock = clock
        self.rng = rng or random.Random()
        self.stopping = stopping or threading.Event()
        self._recorder: ThreadPoolExecutor | None = None
        self._pending: list[Future[None]] = []

    def tick(self) -> TickResult:
        """Claim and publish until nothing is claimable now (or a stop is requested)."""
        result = TickResult()
        while not self.stopping.is_set():
            jobs = self._claim()
            if not jobs:
                break
            result.claimed += len(jobs)
            self._run_batch(jobs, result)
        return result

    def _claim(self) -> list[_Job]:
        now = self.clock()
        with self.store.write() as session:
            claimed = claim_due(
                session,
                self.worker_id,
                now,
                self.settings.lease,
                self.settings.batch_size,
                list(self.publishers),
            )
            return _jobs(session, claimed)

    def _run_batch(self, jobs: list[_Job], result: TickResult) -> None:
        """Publish a claimed batch in order. Outcomes are committed by one background
        thread, in order, while the next post is being published: recording one costs
        about as much as a publish to a fast server. The batch ends only when every
        outcome is committed, so the next claim sees them all."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="campaign-record") as pool:
            self._recorder = pool
            try:
                self._publish_batch(jobs, result)
            finally:
                self._recorder = None
                pending, self._pending = self._pending, []
        for future in pending:
            future.result()  # a record that failed for good fails the tick

    def _publish_batch(self, jobs: list[_Job], result: TickResult) -> None:
        limited: dict[tuple[str, str], RateLimited] = {}
        for index, job in enumerate(jobs):
            if self.stopping.is_set():
                self._release(jobs[index:], "the daemon is stopping", result)
                return
            account = (job.platform, job.account)
            if account in limited:
                # The account is rate-limited: do not knock again before the reset.
                self._record(job, limited[account], result)
                continue
            now = self.clock()
            late = now - job.due
            if late > self.settings.catch_up and not job.outgoing.ambiguous:
                hours = late.total_seconds() / 3600
                self._record(job, f"missed: {hours:.1f} h late", result)
                continue
            outcome: RemoteRef | Exception
            try:
                outcome = self.publishers[job.platform].publish(job.outgoing, job.reply_to)
            except (Transient, RateLimited, Permanent) as exc:
                outcome = exc
            except Exception as exc:  # an SDK surprise: it may or may not have gone out
                log.exception("unexpected error publishing post %s", job.post_id)
                outcome = Transient(
                    f"unexpected error: {type(exc).__name__}: {exc}", ambiguous=True
                )
            if isinstance(outcome, RateLimited):
                limited[account] = outcome
            self._record(job, outcome, result)

    def _record(
        self,
        job: _Job,
        outcome: RemoteRef | Exception | str,
        result: TickResult,
    ) -> None:
        """Record what happened to a claimed post: published (a RemoteRef), an error
        kind, or, as a string, why it was too late to send."""

        def write(session: Session) -> str | None:
            now = self.clock()
            worker = self.worker_id
            if isinstance(outcome, RemoteRef) and lifecycle.record_published_fast(
                session, job.post_id, outcome, worker, now
            ):
                return "published"
            post = session.get(Post, job.post_id, populate_existing=True)
            if post is None:
                return None
            if isinstance(outcome, str):  # a missed post: the reason
                lifecycle.mark_failed(session, post, outcome, worker, now)
                return "failed"
            if isinstance(outcome, RemoteRef):
                lifecycle.mark_published(session, post, outcome, worker, now)
                return "published"
            if isinstance(outcome, RateLimited):
                changed = lifecycle.defer_rate_limited(
                    session, post, str(outcome), outcome.reset_at, worker, now
                )
                return "rate_limited" if changed else None
            if isinstance(outcome, Permanent):
                changed = lifecycle.fail_permanent(session, post, str(outcome), worker, now)
                return "failed" if changed else None
            if isinstance(outcome, Transient):
                delay = backoff_seconds(
                    post.attempts + 1,
                    self.settings.backoff_base,
                    self.settings.backoff_cap,
                    self.rng,
                )
                if lifecycle.schedule_retry(
                    session,
                    post,
                    str(outcome),
                    now + timedelta(seconds=delay),
                    outcome.ambiguous,
                    self.settings.max_attempts,
                    worker,
                    now,
                ):
                    # Attempts used up: schedule_retry failed the post instead.
                    return "failed" if post.status == Status.FAILED.value else "retried"
            return None

        self._write_in_order(write, result)

    def _release(self, jobs: list[_Job], reason: str, result: TickResult) -> None:
        def write(session: Session) -> str | None:
            posts = list(
                session.scalars(select(Post).where(Post.id.in_([j.post_id for j in jobs])))
            )
            lifecycle.release(session, posts, reason, self.worker_id, self.clock())
            result.released += len(posts)
            return None

        self._write_in_order(write, result)

    def _write_in_order(self, write: Callable[[Session], str | None], result: TickResult) -> None:
        """Commit `write` (on the batch's recorder thread when there is one, after the
        writes queued before it) and count its outcome once committed."""

        def commit_and_count() -> None:
            counter = self._with_patience(write)
            if counter is not None:
                setattr(result, counter, getattr(result, counter) + 1)

        if self._recorder is None:
            commit_and_count()
        else:
            self._pending.append(self._recorder.submit(commit_and_count))

    def _with_patience(self, write: Callable[[Session], str | None]) -> str | None:
        """Write in one transaction, retrying while the database is locked or away:
        the platform already acted, so giving up early would turn a fact into a guess."""
        deadline = time.monotonic() + self.settings.record_patience
        pause = 0.2
        while True:
            try:
                with self.store.write() as session:
                    outcome = write(session)
                return outcome
            except (DatabaseUnavailable, OperationalError) as exc:
                if time.monotonic() >= deadline:
                    raise
                log.warning("database unavailable while recording (%s); retrying", exc)
                time.sleep(pause)
                pause = min(pause * 2, 5.0)
