"""The CSV long format: one file, one row per record (see docs/registry.md)."""

from __future__ import annotations

import csv
import gc
from collections.abc import Iterable
from operator import itemgetter
from pathlib import Path

from vertebro.errors import FieldError, InvalidInput

from .transfer import COLUMNS

__all__ = ["read_csv", "write_csv"]

_nonempty = itemgetter(1)


def write_csv(path: Path, records: Iterable[dict[str, str]]) -> int:
    """Write records in the long format; returns the number of data rows."""
    n = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for rec in records:
            writer.writerow(rec)
            n += 1
    return n


def read_csv(path: Path) -> list[tuple[str, dict[str, str]]]:
    """Rows as ``("row N", record)``; the header is row 1. Unknown columns are errors."""
    if path.is_dir():
        path = path / "registry.csv"
    if not path.is_file():
        raise InvalidInput.field("path", f"{path} is not a file")
    enabled = gc.isenabled()
    gc.disable()  # many small dicts are kept: spare the cyclic GC rescanning them
    try:
        return _read(path)
    finally:
        if enabled:
            gc.enable()


def _read(path: Path) -> list[tuple[str, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise InvalidInput.field("header", f"{path} is empty")
        unknown = [c for c in header if c not in COLUMNS]
        errors = [FieldError(c, "unknown column", "row 1") for c in unknown]
        if "record_type" not in header:
            errors.append(FieldError("record_type", "missing column", "row 1"))
        if errors:
            raise InvalidInput(errors)
        out: list[tuple[str, dict[str, str]]] = []
        width = len(header)
        for n, values in enumerate(reader, 2):
            if not values:
                continue
            if len(values) != width:
                errors.append(FieldError("", f"{len(values)} values for {width} columns",
                                         f"row {n}"))
                continue
            # empty cells are left out: an absent column and an empty cell mean the same
            out.append((f"row {n}", dict(filter(_nonempty, zip(header, values, strict=True)))))
        if errors:
            raise InvalidInput(errors)
        return out
