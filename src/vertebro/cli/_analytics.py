"""`vertebro analytics`: cohort reports from the registry (the quality audit, the outcomes
report).

Thin commands: parse the options, read the registry as the user given by ``--as`` (with that
user's access), call :mod:`vertebro.analytics` and format the result as text or JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from ._output import Format, console, err_console, print_json
from ._registry import AsOpt, DbOpt, FmtOpt, _registry

__all__ = ["register"]

analytics_app = typer.Typer(
    help="Cohort reports from the registry: the quality audit of "
    "complication rates against published thresholds, the outcomes report, and the "
    "comparison of kyphoplasty with vertebroplasty.",
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
        report = analytics.registry_audit(reg, as_, by=by.value)
    has_data = report.cohort.n > 0
    written = analytics.write_funnel_plot(report, plot) if plot is not None and has_data else None
    _show(
        fmt,
        report.to_dict(),
        lambda width: analytics.render_text(report, width),
        plot,
        written,
        "funnel plot",
        "no procedures to plot",
    )


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
        report = analytics.registry_outcomes(reg, as_)
    has_data = report.patients > 0
    written = analytics.write_outcomes_plot(report, plot) if plot is not None and has_data else None
    _show(
        fmt,
        report.to_dict(),
        lambda width: analytics.render_outcomes_text(report, width),
        plot,
        written,
        "outcomes plot",
        "no patients to plot",
    )


@analytics_app.command("compare")
def compare_cmd(
    as_: AsOpt,
    db: DbOpt = None,
    fmt: FmtOpt = Format.text,
    love_plot: Annotated[
        Path | None,
        typer.Option("--love-plot", help="write the balance (love) plot, PNG, to this file"),
    ] = None,
    km_plot: Annotated[
        Path | None,
        typer.Option("--km-plot", help="write the Kaplan-Meier curves, PNG, to this file"),
    ] = None,
) -> None:
    """Kyphoplasty vs vertebroplasty for comparable patients: change in NRS, ODI and KPS per
    interval, adjusted by inverse probability weighting on a propensity score (balance before
    and after, weights truncated, unadjusted beside it), and Kaplan-Meier survival and time
    to a new fracture by technique and prognostic band. Observational: decision support."""
    from vertebro import analytics

    for path, what in ((love_plot, "love plot"), (km_plot, "Kaplan-Meier plot")):
        if path is not None:
            analytics.check_plot_path(path, what=what)  # before any work
    with _registry(db) as reg:
        report = analytics.registry_compare(reg, as_)
    days = list(analytics.compare_settings()["at_risk_days"])
    written: dict[str, str | None] = {"love_plot": None, "km_plot": None}
    if love_plot is not None and report.adjusted_n:
        written["love_plot"] = str(analytics.write_love_plot(report, love_plot))
    if km_plot is not None and any(c.curves for c in report.survival):
        written["km_plot"] = str(analytics.write_km_plot(report, km_plot, days))
    if fmt is Format.json:
        print_json({**report.to_dict(), **written})
    else:
        console().print(
            analytics.render_compare_text(report, console().width, days).rstrip("\n"),
            markup=False, highlight=False, soft_wrap=True,
        )
    for key in (k for k, p in (("love_plot", love_plot), ("km_plot", km_plot)) if p):
        what = key.replace("_", " ")
        if written[key]:
            err_console().print(f"{what} written to {written[key]}", markup=False)
        else:
            err_console().print(f"no {what} written: nothing to plot", markup=False)


def _show(
    fmt: Format,
    data: dict[str, Any],
    text: Callable[[int], str],
    plot: Path | None,
    written: Path | None,
    what: str,
    nothing: str,
) -> None:
    """A report as JSON (with the plot's path) or as text at the terminal's width; on stderr,
    where the plot went or why none was written."""
    if fmt is Format.json:
        print_json({**data, "plot": str(written) if written else None})
    else:
        console().print(
            text(console().width).rstrip("\n"), markup=False, highlight=False, soft_wrap=True
        )
    if written is not None:
        err_console().print(f"{what} written to {written}", markup=False)
    elif plot is not None:
        err_console().print(f"no {what} written: {nothing}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(analytics_app, name="analytics")
