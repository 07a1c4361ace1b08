"""Output helpers shared by the commands: JSON that is byte-identical for the same input."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vertebro.errors import InvalidInput

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["Format", "console", "dumps", "err_console", "output_path", "print_json"]


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
