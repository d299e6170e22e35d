"""Build each platform's Publisher from the settings; say what is missing instead."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from scheduler.clock import utcnow
from scheduler.config import Settings
from scheduler.errors import MissingCredentials
from scheduler.model import Clock, Platform
from scheduler.platforms.base import MediaSource, Publisher


def build_publisher(settings: Settings, platform: Platform, clock: Clock = utcnow) -> Publisher:
    """The real adapter; raises MissingCredentials naming what is unset."""
    media = _media_reader(settings.resolved_data_dir() / "media")
    return _BUILDERS[platform](settings, clock, media)


# One builder a platform, each importing its SDK only when that platform is used.
Builder = Callable[[Settings, Clock, MediaSource], Publisher]


def _x(settings: Settings, clock: Clock, media: MediaSource) -> Publisher:
    from scheduler.platforms.x import XPublisher

    return XPublisher(
        settings.x_credentials(),
        clock=clock,
        media=media,
        credits_wait=timedelta(seconds=settings.x_credits_wait_seconds),
    )


def _bluesky(settings: Settings, clock: Clock, media: MediaSource) -> Publisher:
    from scheduler.platforms.bluesky import BlueskyPublisher

    return BlueskyPublisher(
        settings.bluesky_credentials(),
        session_path=settings.resolved_data_dir() / "bluesky-session",
        clock=clock,
        media=media,
    )


_BUILDERS: dict[Platform, Builder] = {Platform.X: _x, Platform.BLUESKY: _bluesky}


def _media_reader(root: Path) -> MediaSource:
    """Images' bytes from the data directory; Pillow loads only once a post has one."""

    def read(sha256: str) -> bytes:
        from scheduler.media import MediaDir

        return MediaDir(root).read(sha256)

    return read


def build_publishers(
    settings: Settings, dry_run: bool = False
) -> tuple[dict[Platform, Publisher], dict[Platform, str]]:
    """Publishers for every platform that can publish, and why the others cannot."""
    from scheduler.platforms.dryrun import DryRunPublisher

    publishers: dict[Platform, Publisher] = {}
    missing: dict[Platform, str] = {}
    for platform in Platform:
        if dry_run:
            publishers[platform] = DryRunPublisher(platform)
            continue
        try:
            publishers[platform] = build_publisher(settings, platform)
        except MissingCredentials as exc:
            missing[platform] = f"{platform} credentials missing: {exc}"
    return publishers, missing
