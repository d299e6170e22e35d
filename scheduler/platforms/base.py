"""The Publisher protocol and the error kinds every adapter raises.

The dispatcher decides what happens next from the kind of error alone:
Transient -> retry with backoff, RateLimited -> defer to `reset_at` (not an attempt),
Permanent -> failed at once. Messages must never contain a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class RemoteRef:
    """Where a published post lives. `id` is None when the platform has the post
    but we could not learn its id (X duplicate content with no way to look it up)."""

    id: str | None
    url: str | None = None
    uri: str | None = None  # Bluesky at:// URI
    cid: str | None = None  # Bluesky content hash (strong refs need uri + cid)
    recovered: bool = False  # found after an ambiguous outcome, not from a clean reply
    note: str | None = None  # what the log should say about how we know


@dataclass(frozen=True)
class ReplyTarget:
    """The thread a reply belongs to: Bluesky needs both root and parent."""

    root: RemoteRef
    parent: RemoteRef


@dataclass(frozen=True)
class OutgoingPost:
    post_id: int
    platform: str
    text: str
    # Chosen and stored before the first attempt. Bluesky: the record key (a TID).
    idempotency_key: str
    # 1-based; > 1 means an earlier attempt may have reached the platform.
    attempt: int = 1
    # True when an earlier attempt ended without knowing whether the post went out
    # (timeout, dropped connection, expired lease): look before posting again.
    ambiguous: bool = False


class PublishError(Exception):
    """Base of the error kinds; str() is a one-line reason fit for the post log."""


class Transient(PublishError):
    """5xx, timeout, connection trouble: worth retrying later.

    `ambiguous` is True when the request may have reached the platform."""

    def __init__(self, reason: str, *, ambiguous: bool = False) -> None:
        super().__init__(reason)
        self.ambiguous = ambiguous


class RateLimited(PublishError):
    def __init__(self, reason: str, reset_at: datetime) -> None:
        super().__init__(reason)
        self.reset_at = reset_at


class Permanent(PublishError):
    """400/401/403: retrying the same request will not help."""


class MissingCredentials(Exception):
    """The platform's credentials are not configured; str() names the variables."""


class Publisher(Protocol):
    platform: str

    def publish(self, post: OutgoingPost, reply_to: ReplyTarget | None) -> RemoteRef: ...

    def check(self) -> str:
        """Verify the credentials without posting; return who we are."""
        ...

    def close(self) -> None: ...
