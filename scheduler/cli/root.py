"""The Typer application every command module registers on."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from scheduler import __version__

# The order a new user meets the commands in, not the order modules register them.
COMMAND_ORDER = (
    "split",
    "plan",
    "queue",
    "apply",
    "list",
    "show",
    "log",
    "campaigns",
    "edit",
    "reschedule",
    "pause",
    "resume",
    "cancel",
    "retry",
    "export",
    "rename",
    "delete",
    "run",
    "status",
    "accounts",
    "db",
    "demo",
)


class _OrderedGroup(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        rank = {name: i for i, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda name: rank.get(name, len(rank)))


app = typer.Typer(
    name="campaign",
    cls=_OrderedGroup,
    help=(
        "Cut an article into hashtagged posts for X and Bluesky, queue them, "
        "and publish each exactly once, on time."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: Rich-formatted help imports ~140 ms of modules (rich.markdown,
    # markdown-it) on every `--help`, doubling the CLI's start-up.
    rich_markup_mode=None,
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
