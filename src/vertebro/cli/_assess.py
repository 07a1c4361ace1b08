"""`vertebro assess`: one patient (text or JSON), or a JSONL cohort in batch."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vertebro.errors import InvalidInput

from ._lazy import lazy_module
from ._output import Format, console, err_console, output_path, print_json

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
        out: Annotated[
            Path | None,
            typer.Option(help="Results JSONL for --batch (its folder must exist)."),
        ] = None,
        jobs: Annotated[
            int | None,
            typer.Option(
                min=1,
                help="Processes for --batch (default: the number of CPUs). The output is the "
                "same whatever the number.",
            ),
        ] = None,
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
            output_path(out)
            from ._batch import default_jobs, run_batch  # multiprocessing: only for a batch

            n = run_batch(
                _read(batch).decode("utf-8", errors="replace"),
                out,
                source=str(batch),
                guideline=guideline,
                max_levels=max_levels_per_session,
                jobs=jobs or default_jobs(),
            )
            err_console().print(f"assessed {n} patients -> {out}", markup=False)
            return
        if jobs is not None:
            raise InvalidInput.field("--jobs", "only with --batch")
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
        elif width or not sys.stdout.isatty():
            # piped or redirected: plain text, lines without rich's trailing padding
            sys.stdout.write(engine.render_text(result, width=width or console().width))
        else:
            console().print(engine.report_renderable(result))
