"""Forest and funnel plots as a reviewer would publish them (matplotlib, SVG and PNG).

The forest plot lists every study with its estimate, CI and weight, a square sized by weight,
subgroup subtotals, the pooled diamond, the prediction interval (as a bar under the diamond, as
metafor's ``addpred``) and the heterogeneity line; estimates are shown on the back-transformed
scale (risk ratio on a log axis, proportions on a linear axis) when the measure has one.
The funnel plot shows effects against their standard errors with the pseudo 95% region around
the pooled estimate, and trim-and-fill studies as open circles when asked.

Figures are built with the object API (no pyplot state), so plotting is safe in servers and tests;
SVGs are written with a fixed hash salt and no date, so the same input gives the same file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
from matplotlib.transforms import blended_transform_factory
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from vertebro.errors import EvidenceError, InvalidInput

from ._bias import TrimFill
from ._influence import Influence
from ._rma import RMA
from ._sensitivity import Subgroups
from ._transform import back_transform, transform_name

__all__ = [
    "CONTOUR_LEVELS",
    "forest_plot",
    "funnel_contours",
    "funnel_plot",
    "save_figure",
]

FloatArray = NDArray[np.float64]

_LABELS = {
    "RR": "Risk ratio",
    "OR": "Odds ratio",
    "RD": "Risk difference",
    "PR": "Proportion",
    "PLO": "Proportion",
    "PAS": "Proportion",
    "PFT": "Proportion",
    "MN": "Mean",
    "MD": "Mean difference",
    "SMD": "Standardised mean difference (Hedges' g)",
    "GEN": "Effect",
}
_ANALYSIS_LABELS = {
    "RR": "Log risk ratio",
    "OR": "Log odds ratio",
    "PLO": "Logit proportion",
    "PAS": "Arcsine proportion",
    "PFT": "Freeman-Tukey double arcsine (half scale)",
}


def save_figure(fig: Figure, path: str | Path) -> list[Path]:
    """Save ``fig`` as SVG and PNG: ``path`` and its sibling with the other suffix."""
    p = Path(path)
    if p.suffix.lower() not in (".svg", ".png"):
        raise InvalidInput.field(str(p), "plots are written as .svg or .png (both are written)")
    out = [p.with_suffix(".svg"), p.with_suffix(".png")]
    FigureCanvasAgg(fig)
    with mpl.rc_context({"svg.hashsalt": "vertebro", "svg.fonttype": "none"}):
        fig.savefig(out[0], format="svg", metadata={"Date": None})
        fig.savefig(out[1], format="png", dpi=200, metadata={"Software": None})
    return out


def _fmt(x: float, digits: int) -> str:
    return f"{x:.{digits}f}".replace("-", "\u2212")


def _p(p: float) -> str:
    if not math.isfinite(p):
        return "NA"
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.4f}"


def _pct(x: float) -> str:
    # 99.6 must not print as 100, nor 0.4 as 0
    s = f"{x:.0f}"
    if (s == "100" and x < 100) or (s == "0" and x > 0):
        s = f"{x:.1f}"
    return s + "%"


def _het_text(f: RMA) -> str:
    if f.k < 2:
        return "Heterogeneity: not applicable (one study)"
    if f.method in ("EE", "FE"):
        return f"Heterogeneity: Q({f.q_df}) = {f.q:.2f}, {_p(f.q_pval)}; I\u00b2 = {_pct(f.i2)}"
    return (
        f"Heterogeneity: \u03c4\u00b2 = {f.tau2:.4f} ({f.method}), I\u00b2 = {_pct(f.i2)}, "
        f"Q({f.q_df}) = {f.q:.2f}, {_p(f.q_pval)}"
    )


def forest_plot(
    fit: RMA,
    *,
    subgroups: Subgroups | None = None,
    labels: Sequence[str] | None = None,
    data_labels: Sequence[str] | None = None,
    data_header: str = "Events/N",
    title: str | None = None,
    digits: int = 2,
    show_pi: bool = True,
) -> Figure:
    """Forest plot of a fitted model (and its subgroup fits when given).

    ``data_labels`` are shown beside each study (e.g. "51/63"); ``labels`` replace the studies'
    names. Returns a matplotlib Figure; save it with :func:`save_figure`.
    """
    measure = fit.measure
    tname = transform_name(measure)
    log_axis = measure in ("RR", "OR")

    def tr(x: np.ndarray | float, ni: np.ndarray | None) -> np.ndarray:
        arr = np.atleast_1d(np.asarray(x, float))
        if tname is None:
            return arr
        return back_transform(measure, arr, ni)

    study_labels = list(labels) if labels is not None else list(fit.slab)
    dlab = list(data_labels) if data_labels is not None else None
    groups: list[tuple[str | None, RMA, list[int]]] = []
    g: str | None
    if subgroups is not None:
        if len(fit.yi) != len(subgroups.overall.yi) or not np.allclose(
            fit.yi, subgroups.overall.yi
        ):
            raise EvidenceError(
                "forest plot: the subgroups were fitted to other data than the model"
            )
        for g in subgroups.order:
            groups.append((g, subgroups.fits[g], subgroups.indices[g]))
    else:
        groups.append((None, fit, list(range(fit.k))))

    # rows, top to bottom
    rows: list[tuple[str, object]] = []
    subtotal_idx: dict[int, list[int]] = {}
    for g, sf, idx in groups:
        if g is not None:
            rows.append(("header", g))
        rows.extend(("study", i) for i in idx)
        if g is not None:
            subtotal_idx[len(rows)] = idx
            rows.append(("subtotal", sf))
            rows.append(("subhet", sf))
            rows.append(("blank", None))
    rows.append(("overall", fit))
    if show_pi and fit.method not in ("EE", "FE") and fit.k > 2:
        rows.append(("pi", fit))
    rows.append(("het", fit))
    if subgroups is not None and subgroups.df > 0:
        rows.append(("sgtest", subgroups))

    n = len(rows)
    height = 1.3 + 0.26 * (n + 2) + (0.35 if title else 0)
    fig = Figure(figsize=(10.5, height))
    top_pad = (0.25 + (0.35 if title else 0)) / height
    bottom_pad = 0.75 / height
    ax = fig.add_axes((0.40, bottom_pad, 0.30, 1 - top_pad - bottom_pad))
    ax.set_ylim(n - 0.5, -1.2)
    trans = blended_transform_factory(fig.transFigure, ax.transData)

    ni_all = fit.ni
    # study intervals at the model's level (normal quantile, as metafor's forest())
    zc = float(stats.norm.ppf(1 - (1 - fit.level / 100) / 2))
    lo_all = tr(fit.yi - zc * np.sqrt(fit.vi), ni_all)
    hi_all = tr(fit.yi + zc * np.sqrt(fit.vi), ni_all)
    est_all = tr(fit.yi, ni_all)
    if measure == "PFT":
        # a single study's back-transformation uses its own n (metafor: transf.ipft)
        from ._transform import ipft

        assert ni_all is not None
        est_all = ipft(fit.yi, ni_all)
        lo_all = ipft(fit.yi - zc * np.sqrt(fit.vi), ni_all)
        hi_all = ipft(fit.yi + zc * np.sqrt(fit.vi), ni_all)

    # column headers
    hdr_y = -0.9
    col_x = {"study": 0.02, "data": 0.27, "est": 0.72, "w": 0.95}
    est_head = _LABELS.get(measure, "Effect") + f" [{fit.level:g}% CI]"
    fig.text(col_x["study"], hdr_y, "Study", transform=trans, weight="bold", va="center")
    if dlab is not None:
        fig.text(
            col_x["data"],
            hdr_y,
            data_header,
            transform=trans,
            weight="bold",
            va="center",
            ha="center",
        )
    fig.text(col_x["est"], hdr_y, est_head, transform=trans, weight="bold", va="center")
    fig.text(col_x["w"], hdr_y, "Weight", transform=trans, weight="bold", va="center", ha="right")

    wmax = float(np.max(fit.weights)) if fit.k else 1.0
    xs: list[float] = []
    for y, (kind, obj) in enumerate(rows):
        if kind == "header":
            fig.text(col_x["study"], y, str(obj), transform=trans, weight="bold", va="center")
        elif kind == "study":
            i = int(obj)  # type: ignore[call-overload]
            e, lo, hi = float(est_all[i]), float(lo_all[i]), float(hi_all[i])
            xs.extend([lo, hi])
            ax.plot([lo, hi], [y, y], color="black", lw=1)
            size = 3.5 + 7 * math.sqrt(fit.weights[i] / wmax)
            # not clipped: a square at the axis edge (10/10 events) is drawn whole
            ax.plot([e], [y], marker="s", ms=size, color="#1f4e79", mec="#1f4e79", clip_on=False)
            fig.text(
                col_x["study"] + (0.015 if subgroups else 0),
                y,
                study_labels[i],
                transform=trans,
                va="center",
            )
            if dlab is not None:
                fig.text(col_x["data"], y, dlab[i], transform=trans, va="center", ha="center")
            fig.text(
                col_x["est"],
                y,
                f"{_fmt(e, digits)} [{_fmt(lo, digits)}, {_fmt(hi, digits)}]",
                transform=trans,
                va="center",
            )
            wt = fit.weights[i] if subgroups is None else _overall_weight(fit, i)
            fig.text(col_x["w"], y, f"{wt:.1f}%", transform=trans, va="center", ha="right")
        elif kind in ("subtotal", "overall"):
            f = obj
            assert isinstance(f, RMA)
            vals = tr(np.array([f.estimate, f.ci_lb, f.ci_ub]), f.ni)
            e, lo, hi = (float(v) for v in vals)
            xs.extend([lo, hi])
            color = "#7f7f7f" if kind == "subtotal" else "black"
            ax.add_patch(
                Polygon(
                    [(lo, y), (e, y - 0.32), (hi, y), (e, y + 0.32)],
                    closed=True,
                    facecolor=color,
                    edgecolor=color,
                )
            )
            if f.method in ("EE", "FE"):
                how = "common effect"
            else:
                how = f.method + (", Hartung-Knapp" if f.test == "knha" else "")
            model = (
                "Common-effect model"
                if f.method in ("EE", "FE")
                else f"Random-effects model ({how})"
            )
            label = f"Subtotal ({how})" if kind == "subtotal" else model
            fig.text(
                col_x["study"] + (0.015 if kind == "subtotal" else 0),
                y,
                f"{label}, k = {f.k}",
                transform=trans,
                va="center",
                weight="bold" if kind == "overall" else "normal",
            )
            fig.text(
                col_x["est"],
                y,
                f"{_fmt(e, digits)} [{_fmt(lo, digits)}, {_fmt(hi, digits)}]",
                transform=trans,
                va="center",
                weight="bold" if kind == "overall" else "normal",
            )
            if kind == "overall":
                fig.text(
                    col_x["w"], y, "100%", transform=trans, va="center", ha="right", weight="bold"
                )
            else:
                share = float(np.sum([_overall_weight(fit, j) for j in subtotal_idx[y]]))
                fig.text(col_x["w"], y, f"{share:.1f}%", transform=trans, va="center", ha="right")
        elif kind == "subhet":
            assert isinstance(obj, RMA)
            fig.text(
                col_x["study"] + 0.015,
                y,
                _het_text(obj),
                transform=trans,
                va="center",
                size=8,
                style="italic",
            )
        elif kind == "pi":
            assert isinstance(obj, RMA)
            vals = tr(np.array([obj.pi_lb, obj.pi_ub]), obj.ni)
            lo, hi = float(vals[0]), float(vals[1])
            xs.extend([lo, hi])
            ax.plot([lo, hi], [y, y], color="#b22222", lw=2.2, solid_capstyle="butt")
            ax.plot([lo, lo], [y - 0.18, y + 0.18], color="#b22222", lw=1.5)
            ax.plot([hi, hi], [y - 0.18, y + 0.18], color="#b22222", lw=1.5)
            fig.text(
                col_x["study"],
                y,
                f"Prediction interval ({obj.pi_dist})",
                transform=trans,
                va="center",
            )
            fig.text(
                col_x["est"],
                y,
                f"[{_fmt(lo, digits)}, {_fmt(hi, digits)}]",
                transform=trans,
                va="center",
            )
        elif kind == "het":
            assert isinstance(obj, RMA)
            fig.text(col_x["study"], y, _het_text(obj), transform=trans, va="center", size=9)
        elif kind == "sgtest":
            assert isinstance(obj, Subgroups)
            fig.text(
                col_x["study"],
                y,
                f"Test for subgroup differences: Q({obj.df}) = {obj.q_between:.2f}, {_p(obj.pval)}",
                transform=trans,
                va="center",
                size=9,
            )

    # axes cosmetics
    finite = [x for x in xs if math.isfinite(x)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if log_axis:
        ax.set_xscale("log")
        lo, hi = max(lo, 1e-3), max(hi, lo * 1.01)
        pad = (hi / lo) ** 0.06
        left, right = lo / pad, hi * pad
        ax.set_xlim(left, right)
        nice = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]
        ticks = [t for t in nice if left <= t <= right]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.axvline(1.0, color="black", lw=0.8)
    else:
        pad = 0.06 * (hi - lo if hi > lo else 1.0)
        left, right = lo - pad, hi + pad
        if tname == "proportion":
            left, right = max(0.0, left), min(1.0, right)
        ax.set_xlim(left, right)
        if measure in ("MD", "SMD", "RD", "GEN") and left < 0 < right:
            ax.axvline(0.0, color="black", lw=0.8)
    if fit.method is not None:
        e = float(tr(np.array([fit.estimate]), fit.ni)[0])
        ax.axvline(e, color="#555555", lw=0.8, ls=":")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_yticks([])
    ax.set_xlabel(_LABELS.get(measure, "Effect") + (" (log scale)" if log_axis else ""))
    ax.tick_params(axis="x", labelsize=8)
    if title:
        fig.suptitle(title, x=0.02, ha="left", y=1 - 0.18 / height, weight="bold")
    return fig


def _overall_weight(fit: RMA, i: int) -> float:
    return float(fit.weights[i])


#: metafor's documented contour-enhanced funnel (funnel(res, level = c(90, 95, 99), shade =
#: c("white", "gray55", "gray75"), refline = 0); the area past the widest contour is its
#: ``back`` colour, lightgray). Peters et al., J Clin Epidemiol 2008;61:991.
CONTOUR_LEVELS: tuple[float, ...] = (90.0, 95.0, 99.0)
_CONTOUR_SHADES = ("#ffffff", "#8c8c8c", "#bfbfbf")
_CONTOUR_BACK = "#d3d3d3"


def funnel_contours(
    se: ArrayLike, levels: Sequence[float] = CONTOUR_LEVELS, refline: float = 0.0
) -> list[tuple[FloatArray, FloatArray]]:
    """(lower, upper) effect at which a study of standard error ``se`` reaches two-sided
    p = 1 - level/100 against ``refline``, per level (metafor's funnel, tau^2 not added)."""
    s = np.asarray(se, float)
    out = []
    for lev in levels:
        if not 0 < lev < 100:
            raise EvidenceError(f"contours: {lev!r} must lie between 0 and 100 (percent)")
        z = float(stats.norm.isf((1 - lev / 100) / 2))
        out.append((refline - z * s, refline + z * s))
    return out


def funnel_plot(
    fit: RMA,
    *,
    trimfill: TrimFill | None = None,
    title: str | None = None,
    contours: Sequence[float] | None = None,
    refline: float = 0.0,
) -> Figure:
    """Funnel plot: effects (analysis scale) against standard error.

    Without ``contours``, the pseudo 95% region around the pooled estimate. With ``contours``
    (levels in percent, e.g. ``CONTOUR_LEVELS`` = 90, 95, 99), a contour-enhanced funnel
    (Peters et al. 2008): regions of two-sided significance against ``refline`` (the null, 0
    on the analysis scale of differences and log ratios), shaded as metafor's example, so that
    missing studies in the regions of non-significance suggest publication bias.
    """
    fig = Figure(figsize=(6.5, 5.2))
    ax = fig.add_subplot(1, 1, 1)
    sei = np.sqrt(fit.vi)
    se_all = sei if trimfill is None else np.concatenate([sei, np.sqrt(trimfill.vi_fill)])
    se_max = float(np.max(se_all)) * 1.08
    center = fit.estimate if trimfill is None else trimfill.fit.estimate
    se_grid = np.linspace(0, se_max, 100)
    if contours:
        levels = sorted(float(c) for c in contours)
        bounds = funnel_contours(se_grid, levels, refline)
        shades = (
            list(_CONTOUR_SHADES)
            if len(levels) == 3
            else [str(g) for g in np.linspace(1.0, 0.6, len(levels))]
        )
        ax.set_facecolor(_CONTOUR_BACK)
        alphas = [1 - lev / 100 for lev in levels]
        # widest first, so the narrower regions are drawn over it (as metafor)
        for j in range(len(levels) - 1, -1, -1):
            lo, hi = bounds[j]
            upper = 1.0 if j == 0 else alphas[j - 1]
            ax.fill_betweenx(
                se_grid,
                lo,
                hi,
                facecolor=shades[j],
                edgecolor="#999999",
                lw=0.4,
                zorder=0,
                label=f"{alphas[j]:.2f} < p \u2264 {upper:.2f}",
            )
            ax.plot(lo, se_grid, color="#666666", lw=0.6, ls=":", zorder=1)
            ax.plot(hi, se_grid, color="#666666", lw=0.6, ls=":", zorder=1)
        ax.fill_betweenx([], [], [], color=_CONTOUR_BACK, label=f"p \u2264 {alphas[-1]:.2f}")
        ax.axvline(refline, color="#666666", lw=0.8, ls="--", label=f"Null ({refline:g})")
    else:
        z = 1.959963984540054
        ax.fill_betweenx(
            se_grid, center - z * se_grid, center + z * se_grid, color="#eeeeee", zorder=0
        )
        ax.plot(center - z * se_grid, se_grid, color="#999999", lw=0.8, ls="--")
        ax.plot(center + z * se_grid, se_grid, color="#999999", lw=0.8, ls="--")
    ax.axvline(
        center,
        color="black",
        lw=0.9,
        label="Pooled estimate"
        + (" after filling" if trimfill is not None and trimfill.k0 else ""),
    )
    ax.scatter(fit.yi, sei, s=28, color="#1f4e79", zorder=3, label=f"Studies (k = {fit.k})")
    if trimfill is not None and trimfill.k0 > 0:
        ax.scatter(
            trimfill.yi_fill,
            np.sqrt(trimfill.vi_fill),
            s=28,
            facecolors="white",
            edgecolors="#b22222",
            zorder=3,
            label=f"Filled by trim-and-fill (k0 = {trimfill.k0}, {trimfill.estimator})",
        )
        ax.axvline(fit.estimate, color="#555555", lw=0.8, ls=":", label="Estimate before filling")
    ax.set_ylim(se_max, 0)
    ax.set_ylabel("Standard error")
    ax.set_xlabel(_ANALYSIS_LABELS.get(fit.measure, _LABELS.get(fit.measure, "Effect")))
    for side in ("right", "top"):
        ax.spines[side].set_visible(False)
    handles, labels_ = ax.get_legend_handles_labels()
    fig.legend(
        handles, labels_, loc="lower center", ncol=3 if contours else 2, fontsize=8, frameon=False
    )
    if title:
        ax.set_title(title, loc="left", weight="bold", fontsize=11)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def baujat_plot(inf: Influence, fit: RMA, *, title: str | None = None) -> Figure:
    """Baujat plot (Baujat et al. 2002; metafor's ``baujat``): each study's contribution to
    the heterogeneity (x) against its influence on the pooled result (y), labelled by study.

    Studies far to the right and top both drive the heterogeneity and move the estimate.
    """
    fig = Figure(figsize=(6.5, 5.2))
    ax = fig.add_subplot(1, 1, 1)
    ax.grid(color="#dddddd", lw=0.6, zorder=0)
    ax.scatter(inf.baujat_x, inf.baujat_y, s=14, color="#1f4e79", zorder=3)
    for x, y, s in zip(inf.baujat_x, inf.baujat_y, inf.slab, strict=True):
        if np.isfinite(x) and np.isfinite(y):
            ax.annotate(
                s, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7, zorder=4
            )
    # a margin so that squares and labels at the edge are not clipped
    ax.margins(x=0.12, y=0.1)
    heterogeneity = "Overall" if fit.p == 1 else "Residual"
    ax.set_xlabel(
        f"Contribution to {heterogeneity} Heterogeneity"
        if fit.method in ("EE", "FE")
        else "Squared Pearson Residual"
    )
    ax.set_ylabel("Influence on Overall Result" if fit.p == 1 else "Influence on Fitted Value")
    for side in ("right", "top"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, loc="left", weight="bold", fontsize=11)
    fig.tight_layout()
    return fig
