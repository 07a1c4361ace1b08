"""CSV files of the registry: the long format (one file, one row per record; see
docs/registry.md), and the reading and writing every CSV format of the registry shares.

Reading streams: one physical line at a time, decoded as UTF-8 by this module, so that a file
in another encoding, a NUL byte or an oversized cell is a named error with its row (and the
same error on every store), and memory does not grow with the file. Writing goes through
:func:`vertebro._atomic.atomic_open` (a refused or failed export leaves no file) and escapes
every cell a spreadsheet would read as a formula.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from vertebro._atomic import atomic_open
from vertebro.errors import FieldError, InvalidInput

from .schemas import MAX_CELL_BYTES, text_problem
from .transfer import COLUMNS

__all__ = ["read_csv", "read_table", "spreadsheet_safe", "write_csv", "write_table"]

#: cells a spreadsheet evaluates (OWASP "CSV injection"): =, +, -, @, tab and CR leading
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
#: a physical line may hold every column at its largest
_MAX_LINE = MAX_CELL_BYTES * (len(COLUMNS) + 32)
_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
         (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))
#: problems a reader lists (the importer counts the rows past them)
_MAX_ERRORS = 10_000
_ENCODING_HINT = "save the file as UTF-8 (e.g. 'CSV UTF-8' in a spreadsheet's Save As)"


def spreadsheet_safe(value: str) -> str:
    """``value`` with a leading ``'`` when a spreadsheet would run it as a formula; a value
    that already starts with ``'`` gets one more, so that :func:`_unescape` is exact. Numbers
    (``-5``, ``+1.5``) are left alone: a spreadsheet reads them as the numbers they are."""
    if value[:1] == "'" or (value[:1] in _FORMULA and not _NUMBER.fullmatch(value)):
        return "'" + value
    return value


def _unescape(value: str) -> str:
    return value[1:] if value[:1] == "'" else value


def write_table(path: Path, header: Iterable[str], rows: Iterable[dict[str, str]]) -> int:
    """Write ``rows`` (dicts of strings) under ``header``, whole or not at all; returns the
    number of data rows. Every cell is made :func:`spreadsheet_safe`."""
    names = list(header)
    n = 0
    with atomic_open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            writer.writerow([spreadsheet_safe(row.get(c) or "") for c in names])
            n += 1
    return n


def write_csv(path: Path, records: Iterable[dict[str, str]]) -> int:
    """Write records in the long format; returns the number of data rows."""
    return write_table(path, COLUMNS, records)


def _lines(fh: BinaryIO, errors: list[FieldError]) -> Iterator[str]:
    """Physical lines as text; the first encoding problem ends the file with a named error."""
    n = 0
    while raw := fh.readline(_MAX_LINE):
        n += 1
        if n == 1:
            for bom, name in _BOMS:
                if raw.startswith(bom):
                    raise InvalidInput([FieldError("encoding", f"the file is {name}, not UTF-8",
                                                   "line 1", hint=_ENCODING_HINT)])
            raw = raw.removeprefix(codecs.BOM_UTF8)
        if len(raw) >= _MAX_LINE and not raw.endswith(b"\n"):
            raise InvalidInput([FieldError("", f"a line longer than {_MAX_LINE // 1024} KiB",
                                           f"line {n}")])
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput([FieldError(
                "encoding", f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})",
                f"line {n}", cause="not UTF-8", hint=_ENCODING_HINT)]) from None


def read_table(
    path: Path, known: Callable[[str], bool], *, default_name: str, required: Iterable[str] = (),
) -> Iterator[tuple[str, dict[str, str]]]:
    """Rows of a CSV file as ``("row N", {column: value})`` (the header is row 1; empty cells
    left out), streamed. Every problem is collected: unknown or missing columns (``known``
    says which are known), rows of the wrong width, cells with a NUL byte or over the size
    limit; they are raised together, as one :class:`InvalidInput`, after the last row (a file
    that cannot be decoded stops at once). ``default_name`` is the file read in a folder."""
    if path.is_dir():
        path = path / default_name
    if not path.is_file():
        raise InvalidInput.field("path", f"{path} is not a file")
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, 4 * MAX_CELL_BYTES + 1))  # so that the check below names it
    errors: list[FieldError] = []
    unlisted = 0
    try:
        with path.open("rb") as fh:
            reader = csv.reader(_lines(fh, errors))
            header = next(reader, None)
            if header is None:
                raise InvalidInput.field("header", f"{path} is empty")
            header = [h.strip() for h in header]
            errors += [FieldError(c, "unknown column (a misspelling? nothing of it would be "
                                  "imported)", "row 1", cause="unknown column")
                       for c in header if not known(c)]
            errors += [FieldError(c, "missing column", "row 1") for c in required
                       if c not in header]
            errors += [FieldError(c, "the column is there twice", "row 1")
                       for i, c in enumerate(header) if c in header[:i]]
            if errors:
                raise InvalidInput(errors)
            width = len(header)
            for n, values in enumerate(reader, 2):
                if not values:
                    continue
                if len(errors) > _MAX_ERRORS:  # a file wrong in every row: count, not list
                    unlisted += len(errors) - _MAX_ERRORS
                    del errors[_MAX_ERRORS:]
                if len(values) != width:
                    errors.append(FieldError("", f"{len(values)} values for {width} columns",
                                             f"row {n}"))
                    continue
                row: dict[str, str] = {}
                bad = False
                for c, v in zip(header, values, strict=True):
                    if v:
                        if (problem := text_problem(v)) is not None:
                            errors.append(FieldError(c, problem, f"row {n}"))
                            bad = True
                        row[c] = _unescape(v)
                if not bad:
                    yield f"row {n}", row
    except csv.Error as exc:
        errors.append(FieldError("", f"not a readable CSV file ({exc})", ""))
    finally:
        csv.field_size_limit(limit)
    unlisted += max(0, len(errors) - _MAX_ERRORS)
    del errors[_MAX_ERRORS:]
    if unlisted:
        errors.append(FieldError("", f"... and {unlisted} more problems (the first "
                                 f"{_MAX_ERRORS} are listed)"))
    if errors:
        raise InvalidInput(errors)


def read_csv(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """The long format's rows as ``("row N", record)``, streamed. Unknown columns are errors."""
    return read_table(path, set(COLUMNS).__contains__, default_name="registry.csv",
                      required=("record_type",))
