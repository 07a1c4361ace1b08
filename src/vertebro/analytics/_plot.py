"""The audit's funnel plot: each group's complication rate against its number of procedures,
with the threshold and the 95% and 99.8% control limits around it (Spiegelhalter 2005).

Built with matplotlib's object API on the Agg canvas (no pyplot state), so it is safe in tests
and servers; the PNG carries no software or date stamp, so the same audit gives the same file.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from vertebro._atomic import atomic_open
from vertebro.errors import InvalidInput

from ._audit import AuditReport
from ._stats import funnel_limit

__all__ = ["check_plot_path", "funnel_figure", "save_png", "write_funnel_plot"]

_GRID_POINTS = 300  # limits are drawn at up to this many group sizes; enough for a smooth line


def check_plot_path(path: str | Path, what: str = "funnel plot") -> Path:
    """The plot is a PNG in an existing folder; checked before any work so nothing is half
    written. ``what`` names the plot in the message."""
    p = Path(path)
    if p.is_dir():
        raise InvalidInput.field(
            "plot", f"{str(p)!r} is a folder: --plot takes the {what}'s file name (.png)"
        )
    if p.suffix.lower() != ".png":
        raise InvalidInput.field("plot", f"{str(p)!r}: the {what} is written as .png")
    if not p.parent.is_dir():
        raise InvalidInput.field("plot", f"{str(p)!r}: folder {str(p.parent)!r} does not exist")
    return p


def save_png(fig: Figure, path: Path) -> None:
    """Write ``fig`` as a PNG at ``path`` atomically: into a temporary file in the same folder,
    then renamed over ``path`` (``os.replace``), so a failure leaves nothing half written and
    an existing file untouched. No software or date stamp, so the same figure gives the same
    bytes."""
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=150, metadata={"Software": None})


def funnel_figure(report: AuditReport) -> Figure:
    """The funnel plot of ``report``'s groups (sites or techniques)."""
    th = report.thresholds
    p0 = th.threshold.rate
    cl = th.control_limits
    groups = [g for g in report.groups if g.n > 0 and g.known and g.possible]
    if not groups:
        raise InvalidInput.field("plot", "no procedures to plot")
    n_max = max(g.n for g in groups)
    x_hi = max(20, int(n_max * 1.2) + 1)
    ns = np.unique(np.linspace(1, x_hi, _GRID_POINTS).round().astype(int))

    fig = Figure(figsize=(8, 5.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for q_hi, q_lo, style, label in (
        (cl.alert, 1 - cl.alert, "--", f"{200 * cl.alert - 100:g}% control limits (alert)"),
        (cl.alarm, 1 - cl.alarm, ":", f"{200 * cl.alarm - 100:g}% control limits (alarm)"),
    ):
        upper = [100 * funnel_limit(int(n), p0, q_hi) for n in ns]
        lower = [100 * funnel_limit(int(n), p0, q_lo) for n in ns]
        ax.plot(ns, upper, style, color="0.35", lw=1.2, label=label)
        ax.plot(ns, lower, style, color="0.35", lw=1.2)
    ax.axhline(
        100 * p0,
        color="tab:red",
        lw=1.5,
        label=f"{th.threshold.source.seed} threshold {100 * p0:g}%",
    )

    colours = {"within": "tab:blue", "alert": "tab:orange", "alarm": "tab:red"}
    words = {"within": "within limits", "alert": "alert", "alarm": "alarm"}
    shown: set[str] = set()
    unknown_shown = False
    labels: dict[tuple[int, float], list[str]] = {}  # groups on the same spot share one label
    for g in groups:
        assert g.known is not None and g.possible is not None
        y = 100 * g.known.rate
        if g.events_unknown:
            ax.vlines(
                g.n,
                y,
                100 * g.possible.rate,
                color="0.55",
                lw=2.5,
                zorder=2,
                # matplotlib skips labels starting with "_" in the legend
                label="_range" if unknown_shown else "range if every unknown were an event",
            )
            ax.plot(
                g.n,
                100 * g.possible.rate,
                "o",
                mfc="white",
                mec="0.4",
                ms=6,
                zorder=3,
                clip_on=False,
            )
            unknown_shown = True
        status = g.known.status
        ax.plot(
            g.n,
            y,
            "o",
            color=colours[status],
            ms=8,
            zorder=4,
            clip_on=False,
            label="_point" if status in shown else f"{report.by}: {words[status]}",
        )
        shown.add(status)
        labels.setdefault((g.n, round(y, 9)), []).append(g.group)
    for (n, y), names in labels.items():
        right = n > 0.7 * x_hi  # near the right edge the label goes to the left of its point
        ax.annotate(
            ", ".join(names),
            (n, y),
            xytext=(-8 if right else 8, 5),
            textcoords="offset points",
            ha="right" if right else "left",
            fontsize=9,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
            zorder=5,
        )

    top = max([3 * 100 * p0] + [115 * g.possible.rate for g in groups if g.possible])
    ax.set_xlim(0, x_hi)
    ax.set_ylim(0, min(100.0, top))
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_xlabel("Procedures in the group (n)")
    ax.set_ylabel("Procedures with a clinically evident complication (%)")
    ax.set_title(
        f"Complications by {report.by} against the {th.threshold.source.seed} threshold "
        f"({100 * p0:g}%, {th.threshold.population} fractures)",
        fontsize=11,
    )
    ax.grid(True, color="0.9")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    # supxlabel, unlike free text, gets its own space in the constrained layout
    # wrapped to the figure's width (about 120 characters of 7.5 pt on 8 in): the layout gives
    # the footnote its height, not its width, so one long line would be cut at both edges
    fig.supxlabel(
        "\n".join(
            textwrap.wrap(
                "Control limits: exact binomial around the threshold (Spiegelhalter, Stat Med "
                "2005), drawn interpolated; each status is from the exact tail of its whole "
                "count, so a point just above a line may be within.",
                120,
            )
            + textwrap.wrap(
                "An alert prompts a review of local practice (SNIS-2014); it is not a verdict. "
                "Few procedures give wide limits.",
                120,
            )
        ),
        fontsize=7.5,
        color="0.3",
    )
    return fig


def write_funnel_plot(report: AuditReport, path: str | Path) -> Path:
    """Write the funnel plot as a PNG at ``path`` and return it."""
    p = check_plot_path(path)
    save_png(funnel_figure(report), p)
    return p
