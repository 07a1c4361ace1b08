"""`vertebro assess`: one patient (text or JSON), or a JSONL cohort in batch."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from vertebro._atomic import atomic_open
from vertebro.errors import FieldError, InvalidInput

from ._lazy import lazy_module
from ._output import Format, console, dumps, err_console, print_json

if TYPE_CHECKING:
    import vertebro.assess as engine
else:  # the engine is built when a patient is assessed, not for `vertebro --help`
    engine = lazy_module("vertebro.assess")

__all__ = ["register"]


def _read(path: Path) -> bytes:
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput.field(str(path), f"cannot read: {exc.strerror}") from None


def _batch(src: Path, out: Path, guideline: str | None, max_levels: int | None) -> None:
    patients: list[tuple[int, engine.AssessmentInput]] = []
    errors: list[FieldError] = []
    for n, line in enumerate(_read(src).decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            patients.append((n, engine.validate_json(line, where=f"line {n}")))
        except InvalidInput as exc:
            errors.extend(exc.errors)
    if errors:
        raise InvalidInput(errors)
    if not patients:
        raise InvalidInput.field(str(src), "no patients in the file (one JSON object per line)")
    # Assess everything before writing anything; then write atomically, so a failure leaves
    # no partial results file behind.
    results = []
    with Progress(
        TextColumn("assessing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console(),
        transient=True,
    ) as progress:
        task = progress.add_task("assess", total=len(patients))
        for n, inp in patients:
            try:
                result = engine.assess(inp, guideline=guideline, max_levels_per_session=max_levels)
            except InvalidInput as exc:
                raise InvalidInput(
                    [FieldError(e.field, e.reason, f"line {n}") for e in exc.errors]
                ) from None
            results.append(dumps({"line": n, **result}, indent=None))
            progress.advance(task)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(out, "w", encoding="utf-8") as fh:
        fh.write("\n".join(results) + "\n")
    err_console().print(f"assessed {len(results)} patients -> {out}")


def register(app: typer.Typer) -> None:
    @app.command("assess")
    def assess_cmd(
        patient: Annotated[
            Path | None,
            typer.Argument(help="Patient JSON file (docs/assessment.md), or - for stdin."),
        ] = None,
        format: Annotated[
            Format, typer.Option("--format", "-f", help="text report or JSON")
        ] = Format.text,
        guideline: Annotated[
            str | None,
            typer.Option(
                help="Profile for the primary disposition: jnccn2012 (default), nice2008, snis2014."
            ),
        ] = None,
        max_levels_per_session: Annotated[
            int | None, typer.Option(help="Levels per session (default 3, JNCCN-2012).")
        ] = None,
        batch: Annotated[
            Path | None, typer.Option(help="Assess a JSONL cohort, one patient per line.")
        ] = None,
        out: Annotated[Path | None, typer.Option(help="Results JSONL for --batch.")] = None,
        width: Annotated[
            int | None, typer.Option(help="Text report width (default: the terminal's).")
        ] = None,
    ) -> None:
        """Assess a patient: disposition, plan per level, actions, why, what is missing.

        Decision support for clinicians, not a decision. Exit code 2 for invalid input.
        """
        if batch is not None:
            if patient is not None:
                raise InvalidInput.field(
                    "PATIENT", "give either a patient file or --batch, not both"
                )
            if out is None:
                raise InvalidInput.field("--out", "required with --batch")
            _batch(batch, out, guideline, max_levels_per_session)
            return
        if patient is None:
            raise InvalidInput.field(
                "PATIENT", "give a patient JSON file (or --batch FILE --out FILE)"
            )
        inp = engine.validate_json(_read(patient), where=str(patient))
        result = engine.assess(
            inp, guideline=guideline, max_levels_per_session=max_levels_per_session
        )
        if format is Format.json:
            print_json(result)
        elif width:
            sys.stdout.write(engine.render_text(result, width=width))
        else:
            console().print(engine.report_renderable(result))
