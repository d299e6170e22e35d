"""`campaign run --dry-run`: what a daemon would publish, printed, and nothing changed.

A rehearsal only reads: no post is claimed, published or logged, so the real run that
follows finds the queue as it was. Posts are shown in the order a daemon sends them (due
time, then id; a reply after the post it answers), each with when it is due.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo

from scheduler.model import Clock, Platform, PostRow, Status

if TYPE_CHECKING:
    from scheduler.store import Store


@dataclass
class Rehearsal:
    store: Store
    platforms: Collection[Platform]
    out: TextIO
    zone: ZoneInfo
    shown: set[int] = field(default_factory=set)

    def show_due(self, until: datetime | None) -> list[PostRow]:
        """Print the queued posts due by `until` (None: all of them) not shown yet."""
        due = [
            p
            for p in self.store.posts(statuses=[Status.QUEUED], due_by=until)
            if p.platform in self.platforms and p.id not in self.shown
        ]
        due.sort(key=lambda p: (p.next_attempt_at, p.id))
        for post in due:
            self._print(post)
        self.shown.update(p.id for p in due)
        return due

    def waiting(self, now: datetime) -> int:
        """Queued posts not shown yet (due later)."""
        queued = self.store.overview(now).counts.get(Status.QUEUED, 0)
        return max(queued - len(self.shown), 0)

    def _print(self, post: PostRow) -> None:
        replying = f" (reply to post {post.parent_id})" if post.parent_id is not None else ""
        at = post.next_attempt_at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S %Z")
        self.out.write(
            f"[dry-run {post.platform}] post {post.id}{replying}, due {at}:\n{post.text}\n\n"
        )
        self.out.flush()


def rehearse_until_stopped(
    rehearsal: Rehearsal, clock: Clock, poll_seconds: float, stopping: threading.Event
) -> int:
    """As a daemon would run: print what falls due, poll after poll, until `stopping`."""
    while True:
        rehearsal.show_due(clock())
        if stopping.wait(poll_seconds):
            return len(rehearsal.shown)


def summary(count: int, waiting: int) -> str:
    noun = "post" if count == 1 else "posts"
    later = f" ({waiting} more queued for later)" if waiting else ""
    return (
        f"dry run: {count} {noun} would go out{later}; nothing was claimed, published or "
        "changed in the database"
    )
