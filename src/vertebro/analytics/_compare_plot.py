"""Plots of the comparative-effectiveness report: the love plot (balance before and after
weighting) and the Kaplan-Meier curves with numbers at risk; on the new-fracture panel, dashed
in the same colour, 1 minus the cumulative incidence with death competing (Aalen-Johansen),
which Kaplan-Meier's censoring at death lies below.

matplotlib's object API on the Agg canvas (no pyplot state), written atomically without a
software or date stamp, like the other analytics plots (``_plot.save_png``).
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vertebro.errors import InvalidInput

from ._compare import CompareReport, SurvivalComparison
from ._compare_cif import CIFCurve
from ._plot import save_png

__all__ = ["km_figure", "love_figure", "write_km_plot", "write_love_plot"]

_TITLES = {
    ("survival", "technique"): "Survival after the index procedure, by technique",
    ("survival", "band"): "Survival after the index procedure, by prognostic band",
    ("new_fracture", "technique"): "Free of a recorded new fracture, by technique",
}


def love_figure(report: CompareReport) -> Figure:
    """|SMD| per covariate before (open) and after (filled) weighting, with the 0.1 line."""
    rows = [b for b in report.balance if b.smd_before == b.smd_before]  # drop NaN
    if not rows:
        raise InvalidInput.field("plot", "no propensity model: nothing to plot")
    fig = Figure(figsize=(7.5, 0.45 * len(rows) + 1.6))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ys = range(len(rows))
    ax.scatter([abs(b.smd_before) for b in rows], ys, facecolors="none", edgecolors="#b2182b",
               label="unweighted", zorder=3)
    ax.scatter([abs(b.smd_after) for b in rows], ys, color="#2166ac", label="IPTW-weighted",
               zorder=3)
    for y, b in zip(ys, rows, strict=True):
        ax.plot([abs(b.smd_before), abs(b.smd_after)], [y, y], color="0.75", lw=1, zorder=2)
    ax.axvline(report.balance_threshold, color="0.3", ls="--", lw=1)
    ax.set_yticks(list(ys), [b.label for b in rows])
    ax.invert_yaxis()
    ax.set_xlabel("absolute standardised mean difference")
    ax.set_xlim(left=0)
    fig.suptitle(
        f"Balance, {report.treated} vs {report.control} (n={report.adjusted_n})\n"
        f"stabilised weights truncated at percentiles {report.trim_percentiles[0]:g}/"
        f"{report.trim_percentiles[1]:g}; dashed line |SMD| = {report.balance_threshold:g}",
        fontsize=9,
    )
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2, fontsize=8,
              frameon=False)
    ax.grid(axis="x", color="0.9")
    fig.tight_layout()
    return fig


def _panel(
    fig: Figure,
    row: int,
    rows: int,
    comp: SurvivalComparison,
    days: list[int],
    incidence: tuple[CIFCurve, ...] = (),
) -> None:
    ax = fig.add_subplot(rows, 1, row)
    competing = {c.group: c for c in incidence}
    for curve in comp.curves:
        times = [0.0, *curve.times]
        surv = [1.0, *curve.survival]
        (line,) = ax.step(times, surv, where="post", label=f"{curve.group} (n={curve.n}, "
                          f"{curve.events} events)")
        if (cif := competing.get(curve.group)) is not None:
            ax.step([0.0, *cif.times], [1.0, *(1 - v for v in cif.incidence)], where="post",
                    ls="--", color=line.get_color(),
                    label=f"{curve.group}: 1 - incidence, death competing "
                    f"({cif.competing} deaths first)")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, max(max(days), *(c.times[-1] for c in comp.curves if c.times)))
    ax.set_xticks(days)
    ax.set_ylabel("probability")
    title = _TITLES[(comp.outcome, comp.by)]
    if comp.logrank_p is not None:
        title += f" (log-rank p={comp.logrank_p:.2g})"
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(color="0.92")
    # numbers at risk under the axis, one line per curve
    width = max(len("at risk, day"), *(len(c.group) for c in comp.curves))
    lines = ["at risk, day".ljust(width) + "".join(f"{d:>7}" for d in days)]
    for curve in comp.curves:
        lines.append(curve.group.ljust(width) + "".join(f"{n:>7}" for _, n in curve.at_risk))
    ax.text(0, -0.22, "\n".join(lines), transform=ax.transAxes, fontsize=7, va="top",
            family="monospace")
    ax.set_xlabel("days after the index procedure", fontsize=8)


def km_figure(report: CompareReport, days: list[int]) -> Figure:
    comps = [c for c in report.survival if c.curves]
    if not comps:
        raise InvalidInput.field("plot", "no follow-up time to plot")
    fig = Figure(figsize=(7.5, 4.2 * len(comps)))
    FigureCanvasAgg(fig)
    for k, comp in enumerate(comps, 1):
        cif = report.new_fracture_incidence if comp.outcome == "new_fracture" else ()
        _panel(fig, k, len(comps), comp, days, cif)
    fig.subplots_adjust(hspace=0.75, bottom=0.08, top=0.97, left=0.1, right=0.97)
    return fig


def write_love_plot(report: CompareReport, path: Path) -> Path:
    save_png(love_figure(report), path)
    return path


def write_km_plot(report: CompareReport, path: Path, days: list[int]) -> Path:
    save_png(km_figure(report, days), path)
    return path
