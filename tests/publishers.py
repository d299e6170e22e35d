"""A test double for a *platform* (not for our code), speaking the Publisher protocol.

It behaves like a platform that honours an idempotency key: publishing the same key
twice returns the same remote id and makes no second live copy. Tests can tell it to
raise an error kind for the next N calls, or to be slow for the next N calls.
Thread-safe, so two dispatchers in two threads can share one "platform".
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from scheduler.model import OutgoingPost, Platform, RemoteRef, ReplyTarget


@dataclass(frozen=True)
class Call:
    post: OutgoingPost
    reply_to: ReplyTarget | None
    started: float  # time.monotonic() when the call began


class FakePlatformPublisher:
    def __init__(self, platform: str) -> None:
        self.platform = Platform(platform)
        self.calls: list[Call] = []
        # idempotency key -> remote id of the one live copy; `copies` counts every
        # post that became live, so a double post shows up as two entries.
        self.live: dict[str, str] = {}
        self.copies: list[str] = []
        self.texts: dict[str, str] = {}
        self.call_started = threading.Event()
        self._lock = threading.Lock()
        self._errors: deque[Exception] = deque()
        self._delays: deque[float] = deque()
        self._next = 0
        # Called inside every publish (a test moving its clock: a slow platform).
        self.during_publish: Callable[[], None] | None = None

    # -- what the test tells the "platform" to do ------------------------------------

    def fail_next(self, error: Exception, times: int = 1) -> None:
        with self._lock:
            self._errors.extend([error] * times)

    def slow_next(self, seconds: float, times: int = 1) -> None:
        with self._lock:
            self._delays.extend([seconds] * times)

    # -- the protocol ----------------------------------------------------------------

    def publish(self, post: OutgoingPost, reply_to: ReplyTarget | None) -> RemoteRef:
        with self._lock:
            self.calls.append(Call(post, reply_to, time.monotonic()))
            error = self._errors.popleft() if self._errors else None
            delay = self._delays.popleft() if self._delays else 0.0
        self.call_started.set()
        if self.during_publish is not None:
            self.during_publish()
        if delay:
            time.sleep(delay)
        if error is not None:
            raise error
        with self._lock:
            remote_id = self.live.get(post.idempotency_key)
            if remote_id is None:
                self._next += 1
                remote_id = f"{self.platform}-{self._next}"
                self.live[post.idempotency_key] = remote_id
                self.copies.append(remote_id)
                self.texts[remote_id] = post.text
        return RemoteRef(
            id=remote_id,
            url=f"https://{self.platform}.test/{remote_id}",
            uri=f"at://test/{remote_id}",
            cid=f"cid-{remote_id}",
        )

    def check(self) -> str:
        return f"fake {self.platform} platform"

    def close(self) -> None:
        return None

    # -- what the test reads back ----------------------------------------------------

    def published_ids(self) -> list[int]:
        """Our post ids, in the order the platform was asked to publish them."""
        with self._lock:
            return [c.post.post_id for c in self.calls]
