"""A stand-in publisher: prints the post and returns a made-up id. Never touches a network."""

from __future__ import annotations

import hashlib
import sys
from typing import TextIO

from scheduler.model import OutgoingPost, Platform, RemoteRef, ReplyTarget


class DryRunPublisher:
    def __init__(self, platform: Platform, out: TextIO | None = None) -> None:
        self.platform = platform
        self.out = out if out is not None else sys.stdout
        self.published: list[tuple[OutgoingPost, ReplyTarget | None]] = []

    def publish(self, post: OutgoingPost, reply_to: ReplyTarget | None) -> RemoteRef:
        # Derived from the idempotency key, so a repeated attempt gets the same id.
        fake_id = "dry-" + hashlib.sha256(post.idempotency_key.encode()).hexdigest()[:12]
        self.published.append((post, reply_to))
        replying = f" (reply to {reply_to.parent.id})" if reply_to else ""
        self.out.write(f"[dry-run {self.platform}] post {post.post_id}{replying}:\n{post.text}\n\n")
        self.out.flush()
        return RemoteRef(
            id=fake_id,
            url=f"dry-run://{self.platform}/{fake_id}",
            uri=f"dry-run://{self.platform}/{fake_id}",
            cid=fake_id,
        )

    def check(self) -> str:
        return f"dry-run publisher for {self.platform} (nothing is sent)"

    def close(self) -> None:
        return None
