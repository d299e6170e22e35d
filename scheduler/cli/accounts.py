"""`campaign accounts check`: verify credentials without posting."""

from __future__ import annotations

from typing import Annotated

import typer

from posts.platform import Platform, parse_platform
from scheduler.cli.context import settings
from scheduler.cli.options import PLATFORM_NAMES
from scheduler.cli.root import app
from scheduler.errors import CampaignError, MissingCredentials

accounts_app = typer.Typer(help="Platform accounts.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(accounts_app, name="accounts")


@accounts_app.command("check")
def check(
    platform: Annotated[
        list[str] | None, typer.Option("--platform", "-p", help=f"{PLATFORM_NAMES} (default all).")
    ] = None,
) -> None:
    """Check the configured accounts without posting: who each one is (Bluesky: log in
    or resume the session; Mastodon: also the instance's limits).

    By default every account that is set up; a platform not set up is named, not
    counted as a failure unless asked for with --platform.
    """
    from scheduler.platforms.base import PublishError
    from scheduler.platforms.factory import build_publisher, instance_profile

    chosen = (
        list(dict.fromkeys(parse_platform(p) for p in platform)) if platform else list(Platform)
    )
    problems = 0
    asked = bool(platform)
    configured = [p for p in chosen if not settings().missing_credentials(p)]
    if not asked and configured:
        # By default the accounts set up; one not set up is said, not counted against.
        for name in chosen:
            if name not in configured:
                missing = ", ".join(settings().missing_credentials(name))
                typer.echo(f"{name}: not configured ({missing} not set)")
        chosen = configured
    for name in chosen:
        try:
            publisher = build_publisher(settings(), name)
            try:
                who = publisher.check()
            finally:
                publisher.close()
        except MissingCredentials as exc:
            typer.echo(f"{name}: not configured: {exc}", err=True)
            problems += 1
        except PublishError as exc:
            typer.echo(f"{name}: {exc}", err=True)
            problems += 1
        else:
            typer.echo(f"{name}: ok, {who}")
            _, counted = instance_profile(settings(), name)
            if counted:
                typer.echo(f"{name}: {counted}")
    if problems:
        noun = "account" if len(chosen) == 1 else "accounts"
        raise CampaignError(f"{problems} of {len(chosen)} {noun} could not be verified")
