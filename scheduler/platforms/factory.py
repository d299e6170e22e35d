"""Build each platform's Publisher from the settings; say what is missing instead."""

from __future__ import annotations

from scheduler.config import Settings
from scheduler.platforms.base import Publisher

PLATFORMS = ("x", "bluesky")
X_VARIABLES = ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")
BLUESKY_VARIABLES = ("BLUESKY_HANDLE", "BLUESKY_APP_PASSWORD")


def missing_credentials(settings: Settings, platform: str) -> list[str]:
    """Names (never values) of the unset variables a platform needs."""
    if platform == "x":
        values = [
            settings.x_api_key,
            settings.x_api_secret,
            settings.x_access_token,
            settings.x_access_token_secret,
        ]
        return [
            name
            for name, value in zip(X_VARIABLES, values, strict=True)
            if value is None or not value.get_secret_value()
        ]
    missing = []
    if not settings.bluesky_handle:
        missing.append("BLUESKY_HANDLE")
    if (
        settings.bluesky_app_password is None
        or not settings.bluesky_app_password.get_secret_value()
    ):
        missing.append("BLUESKY_APP_PASSWORD")
    return missing


def build_publisher(settings: Settings, platform: str) -> Publisher:
    """The real adapter; raises MissingCredentials naming what is unset."""
    from scheduler.platforms.base import MissingCredentials

    missing = missing_credentials(settings, platform)
    if missing:
        raise MissingCredentials(f"{', '.join(missing)} not set (see .env.example)")
    if platform == "x":
        from scheduler.platforms.x import XPublisher

        assert settings.x_api_key and settings.x_api_secret
        assert settings.x_access_token and settings.x_access_token_secret
        return XPublisher(
            api_key=settings.x_api_key.get_secret_value(),
            api_secret=settings.x_api_secret.get_secret_value(),
            access_token=settings.x_access_token.get_secret_value(),
            access_token_secret=settings.x_access_token_secret.get_secret_value(),
            base_url=settings.x_api_base_url,
        )
    from scheduler.platforms.bluesky import BlueskyPublisher

    assert settings.bluesky_app_password
    return BlueskyPublisher(
        handle=settings.bluesky_handle,
        app_password=settings.bluesky_app_password.get_secret_value(),
        pds_url=settings.bluesky_pds_url,
        session_path=settings.resolved_data_dir() / "bluesky-session",
    )


def build_publishers(
    settings: Settings, dry_run: bool = False
) -> tuple[dict[str, Publisher], dict[str, str]]:
    """Publishers for every platform that can publish, and why the others cannot."""
    from scheduler.platforms.base import MissingCredentials
    from scheduler.platforms.dryrun import DryRunPublisher

    publishers: dict[str, Publisher] = {}
    missing: dict[str, str] = {}
    for platform in PLATFORMS:
        if dry_run:
            publishers[platform] = DryRunPublisher(platform)
            continue
        try:
            publishers[platform] = build_publisher(settings, platform)
        except MissingCredentials as exc:
            missing[platform] = f"{platform} credentials missing: {exc}"
    return publishers, missing
