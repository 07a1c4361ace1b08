"""Output helpers shared by the commands: JSON that is byte-identical for the same input."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vertebro.errors import InvalidInput

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "Format",
    "console",
    "dumps",
    "emit",
    "err_console",
    "output_path",
    "plain",
    "print_json",
    "print_table",
]


class Format(StrEnum):
    """``--format`` of every command that prints results: for people or for programs."""

    text = "text"
    json = "json"


def dumps(obj: Any, *, indent: int | None = 2) -> str:
    """Deterministic JSON: keys in the order the library built them, floats as Python prints."""
    return json.dumps(obj, indent=indent, ensure_ascii=False, allow_nan=False)


def print_json(obj: Any) -> None:
    sys.stdout.write(dumps(obj) + "\n")


# rich.console is imported on first output: `vertebro --help` is printed by Click without it
@cache
def console() -> Console:
    from rich.console import Console

    return Console(highlight=False)


@cache
def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def output_path(path: Path, option: str = "--out", *, folder_ok: bool = False) -> Path:
    """An output path, checked before any work is done: the folder it goes in must exist.

    vertebro never creates folders for its output (``--out``, ``--plot``, ``--forest``, ...):
    a mistyped path is an error (exit 2, nothing written), not a new directory tree. A path
    that is an existing folder is refused unless the command writes into one (``folder_ok``).
    """
    if not path.parent.is_dir():
        raise InvalidInput.field(
            option, f"folder {str(path.parent)!r} does not exist (create it first)"
        )
    if path.is_dir() and not folder_ok:
        raise InvalidInput.field(option, f"{str(path)!r} is a folder; give a file name")
    return path


def plain(value: Any) -> str:
    """A value for people: no Python ``None``, no JSON brackets."""
    if value is None:
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value) or "(none)"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {plain(v)}" for k, v in value.items()) or "(none)"
    return str(value)


def emit(renderable: Any) -> None:
    """Print to stdout; piped, as plain lines without the padding rich adds to fill the width."""
    con = console()
    if con.is_terminal:
        con.print(renderable)
        return
    with con.capture() as cap:
        con.print(renderable)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in cap.get().splitlines()))


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    right: Sequence[int] = (),
) -> None:
    """Rows as a table if every word fits its column at the terminal's width, else as one
    block per row (the first cell, then ``header: value`` lines, wrapped): data is wrapped
    or stacked, never cut with "…"."""
    from rich import box
    from rich.table import Table

    con = console()
    words = {w for row in rows for cell in row for w in cell.split()}
    for style in ({"box": box.SIMPLE_HEAD}, {"box": None, "pad_edge": False}):
        table = Table(title=title, title_justify="left", **style)
        for k, h in enumerate(headers):
            table.add_column(h, justify="right" if k in right else "left")
        for row in rows:
            table.add_row(*row)
        with con.capture() as cap:
            con.print(table)
        text = cap.get()
        shown = set(text.split())
        if words <= shown:  # rich cut no word (no "…", no crop): wrapped at most
            if con.is_terminal:
                con.print(table)
            else:
                sys.stdout.write("".join(line.rstrip() + "\n" for line in text.splitlines()))
            return
    import textwrap

    width = max(con.width, 20)
    label = max((len(h) for h in headers[1:]), default=0)
    indent = " " * (label + 4)
    lines: list[str] = [title] if title else []
    for k, row in enumerate(rows):
        if k:
            lines.append("")
        lines.append(textwrap.fill(row[0], width))
        for h, cell in zip(headers[1:], row[1:], strict=True):
            if cell:
                lines.append(
                    textwrap.fill(f"  {h:>{label}}: {cell}", width, subsequent_indent=indent)
                )
    sys.stdout.write("".join(line.rstrip() + "\n" for line in lines))
