"""Output helpers shared by the commands: JSON that is byte-identical for the same input."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from functools import cache
from typing import Any

from rich.console import Console

__all__ = ["Format", "console", "dumps", "err_console", "print_json"]


class Format(StrEnum):
    """``--format`` of every command that prints results: for people or for programs."""

    text = "text"
    json = "json"


def dumps(obj: Any, *, indent: int | None = 2) -> str:
    """Deterministic JSON: keys in the order the library built them, floats as Python prints."""
    return json.dumps(obj, indent=indent, ensure_ascii=False, allow_nan=False)


def print_json(obj: Any) -> None:
    sys.stdout.write(dumps(obj) + "\n")


@cache
def console() -> Console:
    return Console(highlight=False)


@cache
def err_console() -> Console:
    return Console(stderr=True, highlight=False)
