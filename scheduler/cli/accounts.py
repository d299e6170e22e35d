"""`campaign accounts check`: verify credentials without posting."""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.cli.root import app

accounts_app = typer.Typer(help="Platform accounts.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(accounts_app, name="accounts")


@accounts_app.command("check")
def check(
    platform: Annotated[
        list[str] | None, typer.Option("--platform", "-p", help="x and/or bluesky (default both).")
    ] = None,
) -> None:
    """Check the configured credentials (X: who am I; Bluesky: log in or resume)."""
    from scheduler.cli.context import settings
    from scheduler.cli.options import platform_of
    from scheduler.errors import CampaignError
    from scheduler.platforms.base import MissingCredentials, PublishError
    from scheduler.platforms.factory import PLATFORMS, build_publisher

    chosen = [platform_of(p).value for p in platform] if platform else list(PLATFORMS)
    problems = 0
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
    if problems:
        raise CampaignError(f"{problems} of {len(chosen)} accounts could not be verified")
