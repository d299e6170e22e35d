"""One tick's policy: claim due posts, publish each through its platform, record the outcome.

No SQL and no APScheduler here: the store, the publishers and the clock come in as
arguments, so tests drive ticks directly. What this module decides is what an answer
from a platform means: published, retry later (backoff with jitter, up to the attempts
allowed), deferred to a rate limit's reset, failed, a duplicate of another post, or
missed (too late to send).
Publishing happens outside any transaction; each outcome and its event are committed by
the store in one transaction.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from scheduler.clock import utcnow
from scheduler.errors import DatabaseUnavailable
from scheduler.model import (
    Clock,
    Deferred,
    Duplicate,
    Failed,
    Job,
    Missed,
    Outcome,
    Platform,
    Published,
    RetryLater,
)
from scheduler.platforms.base import (
    DuplicateContent,
    OutOfCredits,
    Permanent,
    Publisher,
    RateLimited,
    Transient,
)

if TYPE_CHECKING:
    from scheduler.store import Store

log = logging.getLogger("campaign.dispatch")
T = TypeVar("T")


@dataclass(frozen=True)
class DispatchSettings:
    batch_size: int = 50
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

    def add(self, other: TickResult) -> None:
        for name in ("claimed", "published", "retried", "rate_limited", "failed", "released"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def count(self, outcome: Outcome) -> None:
        if isinstance(outcome, Published):
            self.published += 1
        elif isinstance(outcome, RetryLater):
            self.retried += 1
        elif isinstance(outcome, Deferred):
            self.rate_limited += 1
        else:
            self.failed += 1


def backoff_seconds(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with 'equal jitter': half fixed, half random, capped."""
    delay = min(cap, base * 2.0 ** max(0, attempt - 1))
    return delay / 2 + rng.uniform(0, delay / 2)


class Dispatcher:
    def __init__(
        self,
        store: Store,
        publishers: Mapping[Platform, Publisher],
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

    def tick(self) -> TickResult:
        """Claim and publish until nothing is claimable now (or a stop is requested)."""
        result = TickResult()
        while not self.stopping.is_set():
            claimed_at = self.clock()
            jobs = self.store.claim(
                self.worker_id,
                claimed_at,
                self.settings.lease,
                self.settings.batch_size,
                list(self.publishers),
            )
            if not jobs:
                break
            result.claimed += len(jobs)
            recorder = Recorder(self.store, self.worker_id, self.clock, self.settings, result)
            try:
                # Half the lease is left for the last publish begun: a post is never sent
                # after its lease may have passed to another daemon.
                self._publish_batch(jobs, recorder, claimed_at + self.settings.lease / 2)
            finally:
                recorder.close()  # every outcome committed before the next claim sees them
        return result

    def _publish_batch(self, jobs: list[Job], recorder: Recorder, last_start: datetime) -> None:
        """Publish a claimed batch in order; `recorder` commits each outcome meanwhile.
        What is not begun by `last_start` is handed back, to be claimed afresh."""
        limited: dict[tuple[Platform, str], Deferred] = {}
        for index, job in enumerate(jobs):
            if self.stopping.is_set():
                recorder.release(jobs[index:], "the daemon is stopping")
                return
            if self.clock() > last_start:
                recorder.release(jobs[index:], "the batch ran long; claimed again afresh")
                return
            account = (job.platform, job.account)
            if account in limited:
                # The account is rate-limited: do not knock again before the reset.
                recorder.submit(job, limited[account])
                continue
            outcome = self._missed(job) or self._publish(job)
            if isinstance(outcome, Deferred):
                limited[account] = dataclasses.replace(outcome, passed_on=True)
            recorder.submit(job, outcome)

    def _missed(self, job: Job) -> Missed | None:
        """Too late to send, unless an earlier attempt may have gone out (then look)."""
        late = self.clock() - job.due
        if late <= self.settings.catch_up or job.post.ambiguous:
            return None
        return Missed(f"missed: {late.total_seconds() / 3600:.1f} h late")

    def _publish(self, job: Job) -> Outcome:
        """What the platform's answer means for this post."""
        try:
            ref = self.publishers[job.platform].publish(job.post, job.reply_to)
        except RateLimited as exc:
            return Deferred(str(exc), exc.reset_at, credits=isinstance(exc, OutOfCredits))
        except DuplicateContent as exc:
            return Duplicate(str(exc), exc.existing)
        except Permanent as exc:
            return Failed(str(exc))
        except Transient as exc:
            return self._retry_or_give_up(job, str(exc), exc.ambiguous)
        except Exception as exc:  # an SDK surprise: it may or may not have gone out
            log.exception("unexpected error publishing post %s", job.post_id)
            return self._retry_or_give_up(
                job, f"unexpected error: {type(exc).__name__}: {exc}", ambiguous=True
            )
        return Published(ref)

    def _retry_or_give_up(self, job: Job, reason: str, ambiguous: bool) -> Outcome:
        attempt = job.post.attempt
        if attempt >= self.settings.max_attempts:
            return Failed(f"{reason} (gave up after {attempt} attempts)", ambiguous=ambiguous)
        delay = backoff_seconds(
            attempt, self.settings.backoff_base, self.settings.backoff_cap, self.rng
        )
        return RetryLater(reason, self.clock() + timedelta(seconds=delay), ambiguous=ambiguous)


_DONE = object()


class Recorder:
    """Commits a batch's outcomes in order on one background thread while the next posts
    are being published, many in one transaction (a group commit: it waits up to
    `LINGER` seconds for up to `GROUP` outcomes). The simple version records each outcome
    in its own transaction before the next publish; against a fast platform that cost as
    much as the publish itself (bench.dispatch: the daemon at 0.4-0.6x a bare SDK loop).
    Waiting a few milliseconds to record costs nothing in safety: a crash before the
    commit leaves the post claimed, and its reclaim looks on the platform before posting.

    A record that fails for good (the database away beyond `record_patience`) is raised
    by close(); the posts it concerned keep their lease, so they are checked again."""

    GROUP = 50
    LINGER = 0.02

    def __init__(
        self,
        store: Store,
        worker: str,
        clock: Clock,
        settings: DispatchSettings,
        result: TickResult,
    ) -> None:
        self._store = store
        self._worker = worker
        self._clock = clock
        self._settings = settings
        self._result = result
        self._queue: queue.SimpleQueue[tuple[Job, Outcome] | object] = queue.SimpleQueue()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="campaign-record", daemon=True)
        self._thread.start()

    def submit(self, job: Job, outcome: Outcome) -> None:
        self._queue.put((job, outcome))

    def release(self, jobs: Sequence[Job], reason: str) -> None:
        """Hand the rest of the batch back, after the outcomes before it are committed."""
        self._drain()
        self._result.released += self._with_patience(
            lambda: self._store.release(jobs, reason, self._worker, self._clock())
        )

    def close(self) -> None:
        self._drain()
        self._queue.put(_DONE)
        self._thread.join()

    def _drain(self) -> None:
        done = threading.Event()
        self._queue.put(done)
        done.wait()
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def _run(self) -> None:
        finished = False
        while not finished:
            items = self._gather()
            group = [item for item in items if isinstance(item, tuple)]
            if group and self._failure is None:
                self._commit(group)
            for item in items:
                if isinstance(item, threading.Event):
                    item.set()  # everything submitted before it is committed
                finished = finished or item is _DONE

    def _gather(self) -> list[object]:
        """The next group: up to GROUP outcomes, waiting at most LINGER for them, and
        at once when someone waits for the commit (a drain marker or the end)."""
        items = [self._queue.get()]
        deadline = time.monotonic() + self.LINGER
        while len(items) < self.GROUP and isinstance(items[-1], tuple):
            left = deadline - time.monotonic()
            try:
                items.append(
                    self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
                )
            except queue.Empty:
                break
        return items

    def _commit(self, group: list[tuple[Job, Outcome]]) -> None:
        try:
            written = self._with_patience(
                lambda: self._store.record_all(group, self._worker, self._clock())
            )
        except BaseException as exc:
            self._failure = exc
            return
        for (_, outcome), changed in zip(group, written, strict=True):
            if changed:
                self._result.count(outcome)

    def _with_patience(self, write: Callable[[], T]) -> T:
        """Write, retrying while the database is locked or away: the platform already
        acted, so giving up early would turn a fact into a guess."""
        deadline = time.monotonic() + self._settings.record_patience
        pause = 0.2
        while True:
            try:
                return write()
            except DatabaseUnavailable as exc:
                if time.monotonic() >= deadline:
                    raise
                log.warning("database unavailable while recording (%s); retrying", exc)
                time.sleep(pause)
                pause = min(pause * 2, 5.0)
