"""`vertebro analytics`: cohort reports from the registry (the quality audit, the outcomes
report).

Thin commands: parse the options, read the registry as the user given by ``--as`` (with that
user's access), call :mod:`vertebro.analytics` and format the result as text or JSON.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ._output import Format, console, err_console, print_json
from ._registry import AsOpt, DbOpt, FmtOpt, _registry

__all__ = ["register"]

analytics_app = typer.Typer(
    help="Cohort reports from the registry: the quality audit of "
    "complication rates against published thresholds, and the outcomes report.",
    no_args_is_help=True,
)


class By(StrEnum):
    site = "site"
    technique = "technique"


@analytics_app.command("audit")
def audit_cmd(
    as_: AsOpt,
    db: DbOpt = None,
    by: Annotated[By, typer.Option("--by", help="split the cohort by site or technique")] = By.site,
    fmt: FmtOpt = Format.text,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="write a funnel plot (PNG) of the groups to this file"),
    ] = None,
) -> None:
    """Are complication rates within the published threshold (SNIS-2014, 10% for neoplastic
    fractures)? Per site or technique, with exact intervals, tests and funnel-plot limits;
    cement leakage beside Sorensen-SpineJ-2019 for reference."""
    from vertebro import analytics

    if plot is not None:
        analytics.check_plot_path(plot)  # before any work: nothing is written on bad input
    with _registry(db) as reg:
        procedures = analytics.registry_procedures(reg, as_)
    report = analytics.audit(procedures, by=by.value)
    written: Path | None = None
    if plot is not None and report.cohort.n:
        written = analytics.write_funnel_plot(report, plot)
    if fmt is Format.json:
        print_json({**report.to_dict(), "plot": str(written) if written else None})
    else:
        console().print(
            analytics.render_text(report, console().width).rstrip("\n"),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if written is not None:
        err_console().print(f"funnel plot written to {written}", markup=False)
    elif plot is not None:
        err_console().print("no funnel plot written: no procedures to plot", markup=False)


@analytics_app.command("outcomes")
def outcomes_cmd(
    as_: AsOpt,
    db: DbOpt = None,
    fmt: FmtOpt = Format.text,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot", help="write the means by interval (PNG, one panel per measure) to this file"
        ),
    ] = None,
) -> None:
    """Did patients get better, by how much, and how many reached the MCID? NRS, ODI and KPS
    change from baseline per technique and follow-up interval (t intervals, Wilcoxon
    signed-rank, MCID responders with exact intervals), beside Sorensen-SpineJ-2019 pooled
    means for reference; completeness stated, nothing imputed."""
    from vertebro import analytics

    if plot is not None:
        # before any work: nothing is written on bad input
        analytics.check_plot_path(plot, what="outcomes plot")
    with _registry(db) as reg:
        procedures = analytics.registry_procedures(reg, as_)
    report = analytics.outcomes(procedures)
    written: Path | None = None
    if plot is not None and report.patients:
        written = analytics.write_outcomes_plot(report, plot)
    if fmt is Format.json:
        print_json({**report.to_dict(), "plot": str(written) if written else None})
    else:
        console().print(
            analytics.render_outcomes_text(report, console().width).rstrip("\n"),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if written is not None:
        err_console().print(f"outcomes plot written to {written}", markup=False)
    elif plot is not None:
        err_console().print("no outcomes plot written: no patients to plot", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(analytics_app, name="analytics")
