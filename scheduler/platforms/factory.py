"""Build each platform's Publisher from the settings; say what is missing instead."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from posts.platform import PROFILES, Profile
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


def _mastodon(settings: Settings, clock: Clock, media: MediaSource) -> Publisher:
    from scheduler.platforms.mastodon import MastodonPublisher

    return MastodonPublisher(
        settings.mastodon_credentials(),
        clock=clock,
        media=media,
        visibility=settings.mastodon_visibility,
        reply_visibility=settings.mastodon_reply_visibility or None,  # None: as the first
        media_wait=settings.mastodon_media_wait_seconds,
    )


def _mastodon_instance(settings: Settings) -> tuple[Profile, str]:
    """The instance's own figures when it can be asked (credentials set, the server up,
    within a few seconds), else the settings', saying which."""
    from dataclasses import replace

    from scheduler.platforms.base import PublishError
    from scheduler.platforms.mastodon import MastodonPublisher

    default = PROFILES[Platform.MASTODON]
    configured = (settings.mastodon_max_characters, settings.mastodon_characters_per_url)
    by_settings = replace(default, limit=configured[0], url_length=configured[1])
    said = f"{configured[0]} characters, a link {configured[1]}"
    if settings.missing_credentials(Platform.MASTODON):
        return by_settings, ""  # not configured: the settings, nothing to say
    publisher = MastodonPublisher(settings.mastodon_credentials(), timeout=5.0)
    try:
        limit, per_url = publisher.instance_limits()
    except PublishError as exc:
        return (
            by_settings,
            f"the instance could not be asked ({exc}); counted with the settings: {said}",
        )
    finally:
        publisher.close()
    note = f"counted as the instance counts: {limit} characters, a link {per_url}"
    if (limit, per_url) != configured:
        note += f" (the settings say {said})"
    return replace(default, limit=limit, url_length=per_url), note


_BUILDERS: dict[Platform, Builder] = {
    Platform.X: _x,
    Platform.BLUESKY: _bluesky,
    Platform.MASTODON: _mastodon,
}
# Platforms whose servers each set their own limits, and how to ask one.
_INSTANCES: dict[Platform, Callable[[Settings], tuple[Profile | None, str]]] = {
    Platform.MASTODON: _mastodon_instance,
}


def instance_profile(settings: Settings, platform: Platform) -> tuple[Profile | None, str]:
    """How an instance counts posts, where the platform lets each server choose (None:
    the platform's profile), and a sentence saying where the figures came from."""
    ask = _INSTANCES.get(platform)
    return (None, "") if ask is None else ask(settings)


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
