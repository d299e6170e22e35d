"""Entry point: registers the commands and turns errors into one sentence + exit code."""

from __future__ import annotations

import os
import sys

import typer

# Importing a command module registers its commands; each keeps its heavy imports inside.
from scheduler.cli import accounts, log, posts, queue, run, split, status  # noqa: F401
from scheduler.cli.root import app


def exit_code_for(exc: BaseException) -> int | None:
    """2 for bad input, 1 for runtime failures we understand, None for bugs."""
    from scheduler.errors import CampaignError

    if isinstance(exc, CampaignError):
        return exc.exit_code
    # posts/ raises ValueError subclasses for bad articles, tags and options.
    from posts.article import ArticleError
    from posts.split import SplitError
    from scheduler.plan import PlanError

    if isinstance(exc, ArticleError | SplitError | PlanError):
        return 2
    return None


def bad_setting(exc: BaseException) -> str | None:
    """One sentence for a setting the environment or .env got wrong, else None."""
    if "pydantic" not in sys.modules:  # loaded by then if a setting was parsed
        return None
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return None
    first = exc.errors()[0]
    name = ".".join(str(part) for part in first["loc"]) or "a setting"
    # The value itself is left out: it might be a secret.
    return f"invalid setting {name}: {first['msg']}"


# Typer may ship its own copy of click; take its exception types from Typer itself.
_ClickException: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def main(argv: list[str] | None = None) -> None:
    command = typer.main.get_command(app)
    debug = os.environ.get("CAMPAIGN_DEBUG") == "1"
    try:
        code = command.main(args=argv, prog_name="campaign", standalone_mode=False)
    except typer.Abort:
        sys.stderr.write("campaign: interrupted\n")
        code = 130
    except typer.Exit as exc:
        code = exc.exit_code
    except _ClickException as exc:  # usage errors: one line, exit 2
        message = exc.format_message()  # type: ignore[attr-defined]
        sys.stderr.write(f"campaign: {message} (see campaign --help)\n")
        code = exc.exit_code  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        sys.stderr.write("campaign: interrupted\n")
        code = 130
    except Exception as exc:
        known = exit_code_for(exc)
        if debug:
            raise
        setting = bad_setting(exc)
        if setting is not None:
            sys.stderr.write(f"campaign: {setting}\n")
            code = 2
        elif known is None:
            sys.stderr.write(
                f"campaign: unexpected error ({type(exc).__name__}: {exc}); "
                "run again with CAMPAIGN_DEBUG=1 for the traceback\n"
            )
            code = 1
        else:
            sys.stderr.write(f"campaign: {exc}\n")
            code = known
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
