"""The Typer application every command module registers on."""

from __future__ import annotations

import typer

from scheduler import __version__

app = typer.Typer(
    name="campaign",
    help=(
        "Cut an article into hashtagged posts for X and Bluesky, queue them, "
        "and publish each exactly once, on time."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"campaign {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Cut an article into hashtagged posts for X and Bluesky, queue them, and publish
    each exactly once, on time."""
