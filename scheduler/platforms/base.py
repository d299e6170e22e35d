"""The Publisher protocol and the error kinds every adapter raises.

The dispatcher decides what happens next from the kind of error alone:
Transient -> retry with backoff, RateLimited -> defer to `reset_at` (not an attempt),
Permanent -> failed at once (DuplicateContent: failed, naming the post it repeats).
Messages must never contain a secret.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from scheduler.errors import CampaignError
from scheduler.model import OutgoingPost, Platform, RemoteRef, ReplyTarget, StoredImage


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


class OutOfCredits(RateLimited):
    """The account cannot post until someone pays (X's 402, or its usage cap): every post
    of the account waits until `reset_at` or `campaign retry`; no attempt is spent."""


class Permanent(PublishError):
    """400/401/403: retrying the same request will not help."""


class DuplicateContent(Permanent):
    """The platform refused the text as a repeat of a post the account already has, and
    that post is not known to be this one. `existing` is that post, when it was found."""

    def __init__(self, reason: str, existing: RemoteRef | None = None) -> None:
        super().__init__(reason)
        self.existing = existing


# An image's bytes by its SHA-256, from the data directory (scheduler.media.MediaDir.read).
MediaSource = Callable[[str], bytes]


def image_bytes(media: MediaSource | None, image: StoredImage) -> bytes:
    """An image's bytes for its upload; Permanent when the data directory lost them
    (no retry brings them back: the post must be queued again with its image)."""
    if media is None:
        raise Permanent("the post has images but this publisher has no media directory")
    try:
        return media(image.sha256)
    except CampaignError as exc:
        raise Permanent(str(exc)) from None


class Publisher(Protocol):
    platform: Platform

    def publish(self, post: OutgoingPost, reply_to: ReplyTarget | None) -> RemoteRef: ...

    def check(self) -> str:
        """Verify the credentials without posting; return who we are."""
        ...

    def close(self) -> None: ...
