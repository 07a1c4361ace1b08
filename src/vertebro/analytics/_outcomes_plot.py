"""The outcomes plot: mean NRS, ODI and KPS by follow-up interval per technique, with 95% t
intervals, and the Sorensen-SpineJ-2019 pooled means as reference markers.

One panel per measure, intervals on a categorical axis (they are bins of unequal width, so a
time axis would suggest a precision the data lack). Built with matplotlib's object API on the
Agg canvas, like the audit's funnel plot; the PNG carries no software or date stamp.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ._outcomes import MEASURES, OutcomesReport
from ._paired import MeanCI
from ._plot import check_plot_path, save_png
from ._pooled import SORENSEN_SOURCE

__all__ = ["outcomes_figure", "write_outcomes_plot"]

_COLOURS = {"vertebroplasty": "tab:blue", "kyphoplasty": "tab:orange"}
_SHORT = {"vertebroplasty": "PVP", "kyphoplasty": "KP"}
_OFFSET = {"vertebroplasty": -0.1, "kyphoplasty": 0.1}  # side by side, so intervals don't hide
_SCALE = {"nrs": (0.0, 10.0), "odi": (0.0, 100.0), "kps": (0.0, 100.0)}


def kept(levels: list[MeanCI | None]) -> list[MeanCI]:
    """The intervals with a value."""
    return [lv for lv in levels if lv is not None]


def outcomes_figure(report: OutcomesReport) -> Figure:
    """Mean (95% CI) of each measure at each interval per technique, beside Sorensen."""
    fig = Figure(figsize=(8, 10), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(MEASURES), 1, sharex=True)
    labels: list[str] = []
    for ax, name in zip(axes, MEASURES, strict=True):
        shown_reference: set[str] = set()
        for t in report.techniques:
            m = t.measure(name)
            labels = ["preoperative", *(iv.label for iv in m.intervals)]
            levels = [m.baseline, *(iv.level for iv in m.intervals)]
            refs = [m.baseline_reference, *(iv.reference for iv in m.intervals)]
            colour = _COLOURS.get(t.technique, "0.3")
            dx = _OFFSET.get(t.technique, 0.0)
            xs = [i + dx for i, lv in enumerate(levels) if lv is not None]
            ys = [lv.mean for lv in levels if lv is not None]
            # a t interval can pass the scale's end (a KPS mean of 92 with n=5); the scale is
            # where the values can be, so the bar stops there (the text report has the interval)
            low, high = _SCALE[name]
            lo = [lv.mean - max(lv.ci95[0], low) if lv.ci95 else 0.0 for lv in kept(levels)]
            hi = [min(lv.ci95[1], high) - lv.mean if lv.ci95 else 0.0 for lv in kept(levels)]
            if xs:
                ax.errorbar(
                    xs,
                    ys,
                    yerr=[lo, hi],
                    fmt="o-",
                    color=colour,
                    capsize=3,
                    lw=1.5,
                    ms=6,
                    label=f"{_SHORT[t.technique]}, this registry: mean, 95% CI",
                )
                # the counts in a band along the panel's foot, under their points: never on a
                # marker, an interval or the reference (the values sit well above the foot)
                band = 0.04 if dx < 0 else 0.1
                for x, lv in zip(xs, kept(levels), strict=True):
                    ax.text(
                        x,
                        band,
                        f"n={lv.n}",
                        transform=ax.get_xaxis_transform(),
                        ha="center",
                        fontsize=6.5,
                        color=colour,
                    )
            shared = any(r is not None and r.pooled_over != t.technique for r in refs)
            # a reference pooled over both techniques sits between their points
            rx = [i + (0.0 if shared else dx) for i, r in enumerate(refs) if r is not None]
            ry = [r.mean for r in refs if r is not None]
            pooled = next((r.pooled_over for r in refs if r is not None), t.technique)
            if rx and pooled not in shown_reference:
                ax.plot(
                    rx,
                    ry,
                    "D--" if not shared else "s:",
                    color="0.2" if shared else colour,
                    mfc="white",
                    ms=6,
                    lw=1,
                    label=(
                        "Sorensen pooled mean, PVP and KP (reference)"
                        if shared
                        else f"Sorensen pooled mean, {_SHORT[t.technique]} (reference)"
                    ),
                )
                shown_reference.add(pooled)
        low, high = _SCALE[name]
        ax.set_ylim(low, high)
        better = (
            "lower"
            if report.techniques and report.techniques[0].measure(name).lower_is_better
            else "higher"
        )
        unit = {
            "nrs": "NRS pain, points (0-10)",
            "odi": "ODI, % (0-100)",
            "kps": "KPS, points (0-100)",
        }[name]
        ax.set_ylabel(f"{unit}\n{better} is better", fontsize=9)
        ax.grid(True, color="0.9")
        ax.legend(fontsize=7, loc="best", framealpha=0.9)
    if labels:
        axes[-1].set_xticks(range(len(labels)), labels)
        axes[-1].set_xlim(-0.5, len(labels) - 0.5)  # room for the n labels at both ends
    axes[-1].set_xlabel("Follow-up interval (Sorensen-SpineJ-2019 Table 2 bins)")
    axes[0].set_title(
        "Outcomes by follow-up interval: registry means with 95% CIs,\n"
        f"{SORENSEN_SOURCE} pooled means as reference",
        fontsize=11,
    )
    notes = (
        "Means of every patient with the measure in the interval (one value a patient, index "
        "procedure; no imputation); 95% CI Student t, drawn within the scale.",
        f"Reference: {SORENSEN_SOURCE}, study means weighted by N, other cohorts (KPS pooled "
        "over PVP and KP; pain as VAS 0-10): context, not a target.",
    )
    # wrapped to the figure's width (8 in of 7 pt text): the layout does not narrow it
    fig.supxlabel(
        "\n".join(line for note in notes for line in textwrap.wrap(note, 125)),
        fontsize=7,
        color="0.3",
    )
    return fig


def write_outcomes_plot(report: OutcomesReport, path: str | Path) -> Path:
    """Write the outcomes plot as a PNG at ``path`` and return it."""
    p = check_plot_path(path, what="outcomes plot")
    save_png(outcomes_figure(report), p)
    return p
