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


def print_json_rows(rows: Sequence[Any], wrapper: dict[str, Any] | None = None) -> None:
    """A JSON array with one compact object per line: readable, and encoded by json's
    C encoder (indent= falls back to pure Python: seconds for 10,000 rows). With
    `wrapper`, the array is the value of its last key, `null` in it, e.g.
    {"campaign": "x", "posts": None}."""
    encode = json.JSONEncoder(ensure_ascii=False).encode
    pad = "  " if wrapper is None else "    "
    array = "[]"
    if rows:
        array = f"[\n{pad}" + f",\n{pad}".join(encode(row) for row in rows) + f"\n{pad[2:]}]"
    if wrapper is not None:
        *head, last = wrapper
        fields = [f"  {encode(k)}: {encode(wrapper[k])}" for k in head]
        array = "{\n" + ",\n".join([*fields, f"  {encode(last)}: {array}"]) + "\n}"
    sys.stdout.write(array + "\n")
