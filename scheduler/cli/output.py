"""Where the CLI writes: data to stdout, warnings and errors to stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def stdout_console() -> Console:
    from rich.console import Console

    return Console(soft_wrap=False)


def warn(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def print_json_rows(rows: Sequence[Any]) -> None:
    """A JSON array with one compact object per line: readable, and encoded by json's
    C encoder (indent= falls back to pure Python, seconds for 10,000 rows)."""
    encode = json.JSONEncoder(ensure_ascii=False).encode
    if not rows:
        sys.stdout.write("[]\n")
        return
    sys.stdout.write("[\n  " + ",\n  ".join(encode(row) for row in rows) + "\n]\n")
