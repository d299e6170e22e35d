"""Where and how the CLI writes: data to stdout (JSON or tables), warnings to stderr."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def stdout_console() -> Console:
    """Rich, for the few tables it draws (`split`): no guessing at highlights, and no
    styling at all (bold, italic) under NO_COLOR, not just no colour."""
    from rich.console import Console

    plain = bool(os.environ.get("NO_COLOR"))
    return Console(soft_wrap=False, highlight=False, color_system=None if plain else "auto")


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


def plural(count: int, noun: str, many: str | None = None) -> str:
    """'1 post', '2 posts', '1 of 1 accounts' is written by the caller."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"


def terminal_width() -> int:
    """$COLUMNS, else the terminal's width, else 80 (shutil's rule, without importing it)."""
    with contextlib.suppress(ValueError):
        columns = int(os.environ.get("COLUMNS", "0"))
        if columns > 0:
            return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


def cell_width(text: str) -> int:
    """Terminal columns `text` takes: wide East Asian characters 2, combining marks and
    format characters (joiners, variation selectors) 0, the rest 1."""
    if text.isascii():
        return len(text)
    width = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def _chop(text: str, width: int) -> list[str]:
    """`text` in pieces of at most `width` columns (a wide character is never split)."""
    pieces, current, used = [], "", 0
    for ch in text:
        w = cell_width(ch)
        if used + w > width and current:
            pieces.append(current)
            current, used = "", 0
        current += ch
        used += w
    pieces.append(current)
    return pieces


def _wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` columns, broken after spaces where it can be,
    inside a word only when the word alone is longer than a line."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if cell_width(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        pieces = _chop(word, width)
        lines.extend(pieces[:-1])
        current = pieces[-1]
    lines.append(current)
    return lines


def _clip(text: str, width: int) -> str:
    """`text` cut to `width` columns, ending in an ellipsis when it was cut."""
    if cell_width(text) <= width:
        return text
    return _chop(text, width - 1)[0] + "…"


# The folding column keeps at least this much room before text columns give way.
MIN_FOLD = 24


def print_table(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    right: frozenset[int] = frozenset(),
    width: int | None = None,
    shrink: Sequence[int] = (),
    clip_last: bool = False,
) -> None:
    """A table drawn like Rich's default (heavy head), laid out once for all rows. Every
    cell keeps one line (ids, statuses and times never wrap) but the last column's, which
    folds to fit the terminal (or, with `clip_last`, is cut short to one line); when even
    that is too little, the `shrink` columns (free text such as a campaign's name) give
    way first, cut short with an ellipsis. Rich itself lays out every cell (about 2.5 ms
    a row, 25 s for 10,000 posts); this is linear and stdlib only."""
    width = width or terminal_width()
    measured = [[cell_width(c) for c in row] for row in [headers, *rows]]  # once a cell
    widths = [max(row[i] for row in measured) for i in range(len(headers))]
    # Borders and one space of padding each side: 3 per column, plus 1.
    frame = 3 * len(widths) + 1
    excess = frame + sum(widths[:-1]) + min(widths[-1], MIN_FOLD) - width
    for i in shrink:
        floor = 4  # "ab…": the header is cut too
        cut = max(0, min(excess, widths[i] - floor))
        widths[i] -= cut
        excess -= cut
    room = width - frame - sum(widths[:-1])
    widths[-1] = max(min(widths[-1], room), 8)
    clipped = set(shrink)

    last = len(widths) - 1

    def pad(cell: str, i: int, used: int | None = None) -> str:
        gap = " " * (widths[i] - (cell_width(cell) if used is None else used))
        return gap + cell if i in right else cell + gap

    def fixed_cell(cell: str, i: int, used: int) -> str:
        if i in clipped and used > widths[i]:
            return pad(_clip(cell, widths[i]), i)
        return pad(cell, i, used)

    def lines(cells: Sequence[str], used: Sequence[int], bar: str) -> list[str]:
        """One table row: the fixed cells padded once, the last one wrapped or clipped.
        (The header row too, so a cut column keeps its width.)"""
        *fixed, folded = cells
        if clip_last:
            folded = _clip(folded, widths[last])
        shown = [fixed_cell(c, i, used[i]) for i, c in enumerate(fixed)]
        pieces = _wrap(folded, widths[last]) if cell_width(folded) > widths[last] else [folded]
        blank = [" " * w for w in widths[:last]]
        return [
            f"{bar} "
            + f" {bar} ".join([*(shown if n == 0 else blank), pad(piece, last)])
            + f" {bar}"
            for n, piece in enumerate(pieces)
        ]

    def rule(left: str, mid: str, end: str, fill: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + end

    total = sum(widths) + 3 * len(widths) + 1
    out = [title.center(total).rstrip(), rule("┏", "┳", "┓", "━")]
    out.extend(lines(headers, measured[0], "┃"))
    out.append(rule("┡", "╇", "┩", "━"))
    for row, used in zip(rows, measured[1:], strict=True):
        out.extend(lines(row, used, "│"))
    out.append(rule("└", "┴", "┘", "─"))
    sys.stdout.write("\n".join(out) + "\n")
