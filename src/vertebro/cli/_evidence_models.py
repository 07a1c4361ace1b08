"""``vertebro evidence multilevel`` and ``vertebro evidence glmm``: the rma.mv and rma.glmm models.

Thin: read the CSV columns named on the command line, call :class:`vertebro.evidence.RMAMV` or
:class:`vertebro.evidence.RMAGLMM`, format. A row with an empty or ``NA`` cell in a column the
model needs is left out with a note naming its line (as metafor omits it); a value that is not a
number, or a model the data cannot support, is :class:`~vertebro.errors.InvalidInput` (exit 2,
naming the column and the line). NumPy and the evidence package load inside the commands.
"""

from __future__ import annotations

import csv
import io
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vertebro.errors import EvidenceError, FieldError, InvalidInput

from ._evidence import FormatOption, _clean, _note, _read_csv
from ._lazy import lazy_module
from ._output import Format, console, print_json

if TYPE_CHECKING:
    from vertebro import evidence as ev
else:
    ev = lazy_module("vertebro.evidence")

__all__ = ["add_commands"]

_MISSING = {"", "na", "nan"}


class MVMethod(StrEnum):
    REML = "REML"
    ML = "ML"


class MVTest(StrEnum):
    z = "z"
    t = "t"


class GLMMMethod(StrEnum):
    ML = "ML"
    EE = "EE"


def add_commands(group: typer.Typer) -> None:
    """Add ``multilevel`` and ``glmm`` to the ``evidence`` group (once: register() may run
    more than once in a process, e.g. for ``--help`` and then for the command)."""
    if any(c.name == "multilevel" for c in group.registered_commands):
        return
    group.command("multilevel")(multilevel_cmd)
    group.command("glmm")(glmm_cmd)


def _columns(
    file: Path, wanted: dict[str, str], optional: dict[str, str]
) -> tuple[dict[str, list[str]], list[int], list[int]]:
    """The cells of the ``wanted`` (required) and ``optional`` columns, rows with a missing cell
    in a required one left out; the line numbers of the rows kept and of those left out.

    Keys are the option names (``--yi``), values the column names given for them."""
    text, header = _read_csv(file)
    for option, col in wanted.items():
        if col not in header:
            raise InvalidInput.field(
                option, f"{col!r} is not a column of {file.name} (columns: {', '.join(header)})"
            )
    present = {**wanted, **{o: c for o, c in optional.items() if c in header}}
    out: dict[str, list[str]] = {o: [] for o in present}
    kept: list[int] = []
    omitted: list[int] = []
    reader = csv.DictReader(io.StringIO(text))
    for row in reader:
        line = reader.line_num
        cells = {o: (row.get(c) or "").strip() for o, c in present.items()}
        if any(cells[o].lower() in _MISSING for o in wanted):
            omitted.append(line)
            continue
        kept.append(line)
        for o, v in cells.items():
            out[o].append(v)
    if not kept:
        raise InvalidInput.field(str(file), "has no row with every needed value")
    return out, kept, omitted


def _numbers(cells: list[str], column: str, first_lines: list[int]) -> list[float]:
    vals: list[float] = []
    errors: list[FieldError] = []
    for v, line in zip(cells, first_lines, strict=True):
        try:
            vals.append(float(v))
        except ValueError:
            errors.append(FieldError(column, f"{v!r} is not a number", f"line {line}"))
    if errors:
        raise InvalidInput(errors)
    return vals


def _reason(exc: EvidenceError) -> str:
    """The model's message without its leading field name (the option names the column)."""
    text = str(exc)
    head, sep, rest = text.partition(": ")
    return rest if sep and head in ("study", "xi", "xi and ni") else text


def _report(fit: Any, file: Path, omitted: list[int], fmt: Format) -> None:
    if omitted:
        _note(
            f"note: {len(omitted)} row(s) have a missing value (empty or NA) in a needed column "
            f"and were left out (lines {', '.join(map(str, omitted))})"
        )
    if fmt is Format.json:
        out = {"file": file.name, **_clean(fit.to_dict()), "omitted_lines": omitted}
        print_json(out)
    else:
        console().print(fit.summary(), markup=False, soft_wrap=True)


def multilevel_cmd(
    file: Annotated[Path, typer.Argument(help="CSV with one row per estimate.")],
    yi: Annotated[str, typer.Option("--yi", help="Column of the effect sizes.")] = "yi",
    vi: Annotated[str, typer.Option("--vi", help="Column of their sampling variances.")] = "vi",
    study: Annotated[
        str, typer.Option("--study", help="Column naming the study (cluster) of each estimate.")
    ] = "study",
    estimate: Annotated[
        str,
        typer.Option(
            "--estimate",
            help="Column naming the estimate within its study (e.g. the follow-up interval); "
            "without it each row is one estimate.",
        ),
    ] = "estimate",
    measure: Annotated[
        str, typer.Option("--measure", help="Measure of yi, for the back-transformation.")
    ] = "GEN",
    method: Annotated[MVMethod, typer.Option("--method", help="REML or ML.")] = MVMethod.REML,
    test: Annotated[
        MVTest, typer.Option("--test", help="z, or t with k - p degrees of freedom (metafor).")
    ] = MVTest.z,
    level: Annotated[float, typer.Option("--level", help="Confidence level, percent.")] = 95.0,
    fmt: FormatOption = Format.text,
) -> None:
    """Multilevel model, several estimates per study (metafor rma.mv, ~ 1 | study/estimate)."""
    if not 0 < level < 100:
        raise InvalidInput.field("--level", f"{level!r} must lie between 0 and 100 (percent)")
    if measure.upper() not in ev.MEASURES:
        raise InvalidInput.field("--measure", f"{measure!r} is not one of {', '.join(ev.MEASURES)}")
    cols, lines, omitted = _columns(
        file, {"--yi": yi, "--vi": vi, "--study": study}, {"--estimate": estimate}
    )
    y = _numbers(cols["--yi"], yi, lines)
    v = _numbers(cols["--vi"], vi, lines)
    bad = [
        FieldError(vi, f"{x:g} must be > 0", f"line {ln}")
        for x, ln in zip(v, lines, strict=True)
        if not x > 0
    ]
    if bad:
        raise InvalidInput(bad)
    try:
        fit = ev.RMAMV(method.value, test.value, level=level).fit(
            y,
            v,
            study=cols["--study"],
            estimate=cols.get("--estimate"),
            measure=measure,
            names=(study, estimate if "--estimate" in cols else "row"),
        )
    except EvidenceError as exc:
        raise InvalidInput.field("--study", _reason(exc)) from None
    _report(fit, file, omitted, fmt)


def glmm_cmd(
    file: Annotated[Path, typer.Argument(help="CSV with one row per study: events, total.")],
    xi: Annotated[str, typer.Option("--xi", help="Column of the events.")] = "xi",
    ni: Annotated[str, typer.Option("--ni", help="Column of the totals.")] = "ni",
    study: Annotated[str, typer.Option("--study", help="Column of the study labels.")] = "study",
    method: Annotated[
        GLMMMethod, typer.Option("--method", help="ML (random effects) or EE (common effect).")
    ] = GLMMMethod.ML,
    level: Annotated[float, typer.Option("--level", help="Confidence level, percent.")] = 95.0,
    fmt: FormatOption = Format.text,
) -> None:
    """Random-effects logistic model for proportions (metafor rma.glmm, PLO), zeros allowed."""
    if not 0 < level < 100:
        raise InvalidInput.field("--level", f"{level!r} must lie between 0 and 100 (percent)")
    cols, lines, omitted = _columns(file, {"--xi": xi, "--ni": ni}, {"--study": study})
    x = _numbers(cols["--xi"], xi, lines)
    n = _numbers(cols["--ni"], ni, lines)
    errors: list[FieldError] = []
    for a, b, ln in zip(x, n, lines, strict=True):
        where = f"line {ln}"
        if a != int(a) or a < 0:
            errors.append(FieldError(xi, f"{a:g} must be a whole number >= 0", where))
        if b != int(b) or b < 1:
            errors.append(FieldError(ni, f"{b:g} must be a whole number >= 1", where))
        elif a > b:
            errors.append(FieldError(xi, f"{a:g} events exceed the total {b:g}", where))
    if errors:
        raise InvalidInput(errors)
    try:
        fit = ev.RMAGLMM(method.value, level=level).fit(x, n, slab=cols.get("--study"))
    except EvidenceError as exc:
        raise InvalidInput.field("--xi", _reason(exc)) from None
    _report(fit, file, omitted, fmt)
