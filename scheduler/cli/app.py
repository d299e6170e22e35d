"""Entry point: registers the commands and turns errors into one sentence + exit code."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import typer

# Importing a command module registers its commands; each keeps its heavy imports inside.
from scheduler.cli import (  # noqa: F401
    accounts,
    campaigns,
    files,
    log,
    posts,
    queue,
    review,
    run,
    split,
    status,
)
from scheduler.cli.root import app
from scheduler.errors import BadInput, CampaignError

BAD_INPUT = 2
RUNTIME_FAILURE = 1


def _posts_errors() -> tuple[type[Exception], ...]:
    """posts/ may not import scheduler, so its input errors are ValueErrors of its own.
    Only modules already imported can have raised one."""
    errors: list[type[Exception]] = []
    if "posts.platform" in sys.modules:
        from posts.platform import UnknownPlatform

        errors.append(UnknownPlatform)
    if "posts.split" in sys.modules:
        from posts.split import SplitError

        errors.append(SplitError)
    if "posts.article" in sys.modules:
        from posts.article import ArticleError

        errors.append(ArticleError)
    return tuple(errors)


def _setting_errors() -> tuple[type[Exception], ...]:
    if "pydantic" not in sys.modules:  # loaded by then if a setting was parsed
        return ()
    from pydantic import ValidationError

    return (ValidationError,)


def exit_codes() -> list[tuple[tuple[type[Exception], ...], int]]:
    """The one table from error kinds to exit codes, first match wins: bad input (not
    found included, and a bad setting) 2, a runtime failure 1. Anything else is a bug."""
    return [
        ((BadInput, *_posts_errors(), *_setting_errors()), BAD_INPUT),
        ((CampaignError,), RUNTIME_FAILURE),
    ]


def exit_code_for(exc: BaseException) -> int | None:
    for kinds, code in exit_codes():
        if isinstance(exc, kinds):
            return code
    return None


def message_for(exc: BaseException) -> str:
    """The one sentence for stderr; a setting's value is left out (it may be a secret)."""
    if isinstance(exc, _setting_errors()):
        first = exc.errors()[0]  # type: ignore[attr-defined]
        name = ".".join(str(part) for part in first["loc"]) or "a setting"
        said = str(first["msg"]).removeprefix("Value error, ")
        return f"invalid setting {name}: {said}"
    return str(exc)


# Typer may ship its own copy of click; take its exception types from Typer itself.
_ClickException: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


class Interrupted(BaseException):
    """Ctrl-C. Not a KeyboardInterrupt: Typer turns that into a silent exit 130."""


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise Interrupted


def _unraisable(hook: Callable[[Any], None]) -> Callable[[Any], None]:
    """A Ctrl-C that lands while Python runs a finaliser (a weakref callback, a __del__)
    is swallowed there as "unraisable"; send it again, so that it interrupts the command
    as any other."""

    def handle(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, Interrupted):
            # Again a moment later, from another thread: raised here, in the hook, it
            # would be swallowed once more.
            threading.Timer(0.01, os.kill, (os.getpid(), signal.SIGINT)).start()
            return
        hook(unraisable)

    return handle


INTERRUPTED = (
    "campaign: interrupted; nothing was changed in the database "
    "(every change is written whole or not at all)\n"
)


def main(argv: list[str] | None = None) -> None:
    command = typer.main.get_command(app)
    debug = os.environ.get("CAMPAIGN_DEBUG") == "1"
    # `run` installs its own handlers: the daemon finishes what is in flight first.
    previous = signal.signal(signal.SIGINT, _interrupt)
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _unraisable(previous_hook)
    try:
        code = command.main(args=argv, prog_name="campaign", standalone_mode=False)
    except (Interrupted, typer.Abort, KeyboardInterrupt):
        sys.stderr.write(INTERRUPTED)
        code = 130
    except typer.Exit as exc:
        code = exc.exit_code
    except _ClickException as exc:  # usage errors: one line, exit 2
        message = exc.format_message()  # type: ignore[attr-defined]
        sys.stderr.write(f"campaign: {message} (see campaign --help)\n")
        code = exc.exit_code  # type: ignore[attr-defined]
    except Exception as exc:
        if debug:
            raise
        known = exit_code_for(exc)
        if known is None:
            sys.stderr.write(
                f"campaign: unexpected error ({type(exc).__name__}: {exc}); "
                "run again with CAMPAIGN_DEBUG=1 for the traceback\n"
            )
            code = RUNTIME_FAILURE
        else:
            sys.stderr.write(f"campaign: {message_for(exc)}\n")
            code = known
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = previous_hook
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
