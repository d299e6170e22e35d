"""`campaign run`: APScheduler decides when to look; the database decides what to send.

An in-memory job store holds three jobs: `poll` on an interval; `wake`, a one-shot
re-armed for the next due time so a post goes out within a second of it while an
idle daemon sleeps; and `heartbeat`, so the CLI can tell whether a daemon is alive.
One executor thread runs them, so ticks never overlap.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING

from scheduler.clock import utcnow
from scheduler.dispatch import Dispatcher, DispatchSettings, TickResult
from scheduler.errors import DatabaseUnavailable
from scheduler.model import Clock, Platform
from scheduler.platforms.base import Publisher

if TYPE_CHECKING:
    from scheduler.store import Store

log = logging.getLogger("campaign.daemon")

HEARTBEAT_SECONDS = 15.0


@dataclass(frozen=True)
class DaemonOptions:
    poll_seconds: float = 5.0
    once: bool = False
    until_done: bool = False
    shutdown_grace: float = 30.0


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Daemon:
    def __init__(
        self,
        store: Store,
        publishers: Mapping[Platform, Publisher],
        missing: Mapping[Platform, str],
        settings: DispatchSettings,
        options: DaemonOptions,
        clock: Clock = utcnow,
        worker_id: str | None = None,
    ) -> None:
        self.store = store
        self.options = options
        self.clock = clock
        self.worker_id = worker_id or new_worker_id()
        self.missing = missing  # platform -> why it cannot publish
        self.stopping = threading.Event()
        self.done = threading.Event()
        self.dispatcher = Dispatcher(
            store, publishers, self.worker_id, settings, clock=clock, stopping=self.stopping
        )
        self.totals = TickResult()
        self._scheduler: object | None = None

    # -- lifecycle -------------------------------------------------------------------

    def run(self) -> TickResult:
        """Run until stopped (signal), done (--until-done) or after one tick (--once)."""
        self._startup()
        try:
            if self.options.once:
                self._tick()
                return self.totals
            self._serve()
            return self.totals
        finally:
            self._shutdown()

    def stop(self, *_: object) -> None:
        self.stopping.set()
        self.done.set()

    def install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s: finishing in-flight posts", signal.Signals(signum).name)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def _startup(self) -> None:
        now = self.clock()
        self.store.heartbeat(self.worker_id, now)
        for platform, reason in sorted(self.missing.items()):
            # One event per daemon start: its posts stay queued, nothing is lost.
            if self.store.note_no_credentials(self.worker_id, platform, reason, now):
                log.warning("%s posts stay queued: %s", platform, reason)

    def _shutdown(self) -> None:
        try:
            self.store.worker_stopped(self.worker_id, self.clock())
        except DatabaseUnavailable as exc:
            log.warning("could not record the daemon's stop: %s", exc)

    # -- the APScheduler loop --------------------------------------------------------

    def _serve(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone="UTC",
        )
        self._scheduler = scheduler
        scheduler.add_job(
            self._tick,
            "interval",
            seconds=self.options.poll_seconds,
            id="poll",
            next_run_time=self.clock(),
        )
        scheduler.add_job(self._heartbeat, "interval", seconds=HEARTBEAT_SECONDS, id="heartbeat")
        scheduler.start()
        try:
            self.done.wait()
        finally:
            self.stopping.set()
            # Let the running tick finish its in-flight publish (bounded), then stop.
            stopper = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True})
            stopper.start()
            stopper.join(self.options.shutdown_grace)
            if stopper.is_alive():
                log.warning(
                    "in-flight publishes did not finish within %.0f s; their leases will "
                    "expire and another run will check them before posting again",
                    self.options.shutdown_grace,
                )

    def _tick(self) -> None:
        started = self.clock()
        try:
            result = self.dispatcher.tick()
        except DatabaseUnavailable as exc:
            log.warning("database unavailable; will try again: %s", exc)
            self._arm_wake(self.clock() + timedelta(seconds=1))
            return
        self.totals.add(result)
        if self.stopping.is_set():
            return
        try:
            self._after_tick(started)
        except DatabaseUnavailable as exc:
            log.warning("database unavailable; will try again: %s", exc)

    def _after_tick(self, started: datetime) -> None:
        """Arm the wake-up for the next post that falls due after this tick began.

        Posts already due but not claimable (another daemon holds their account, or
        their parent is not out yet) are left to the poll: waking for them at once
        would spin, taking the database from the daemon that is publishing."""
        # Counting pending posts costs a scan of them; only --until-done needs it. Posts of
        # a platform without credentials cannot go out: not waited for.
        wake, pending = self.store.next_wake(
            list(self.dispatcher.publishers), after=started, count_pending=self.options.until_done
        )
        if self.options.until_done and pending == 0:
            self.stop()
            return
        if wake is not None:
            self._arm_wake(wake)

    def _arm_wake(self, when: datetime) -> None:
        scheduler = self._scheduler
        if scheduler is None:
            return
        from apscheduler.schedulers.base import BaseScheduler

        assert isinstance(scheduler, BaseScheduler)
        now = self.clock()
        when = max(when, now)
        poll = scheduler.get_job("poll")
        if poll is not None and poll.next_run_time is not None and poll.next_run_time <= when:
            return  # the poll comes first anyway
        scheduler.add_job(self._tick, "date", run_date=when, id="wake", replace_existing=True)

    def _heartbeat(self) -> None:
        try:
            self.store.heartbeat(self.worker_id, self.clock())
        except DatabaseUnavailable as exc:
            log.warning("heartbeat not recorded: %s", exc)
