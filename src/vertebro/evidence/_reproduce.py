"""Recompute the published numbers vertebro is checked against and show them side by side.

Each check names its source, the number as published, vertebro's number, and whether the two
agree at the published precision. The seeds' numbers come from the curated dataset; the
reference results (BCG, Miller) are metafor's published results.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from scipy import stats

from ._dataset import data_text, load_curated
from ._measures import escalc
from ._rma import RMA
from ._studies import StudyRow
from ._transform import back_transform
from ._weighted import INTERVALS, pooled_by_interval, weighted_mean

__all__ = ["Check", "cafe_responders", "reproduce", "sorensen_table2", "wilcoxon_all_improved"]


@dataclass(frozen=True)
class Check:
    """One published number and vertebro's."""

    name: str
    source: str
    published: str
    vertebro: str
    agrees: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "published": self.published,
            "vertebro": self.vertebro,
            "agrees": self.agrees,
        }


def _round_eq(value: float, published: float, decimals: int) -> bool:
    return bool(abs(round(value, decimals) - published) <= 10 ** (-decimals) / 2 + 1e-12)


def wilcoxon_all_improved(n: int = 11) -> float:
    """Two-sided p of the Wilcoxon signed-rank test when all ``n`` patients improved and no two
    differences tie, by the large-sample normal form without continuity correction (SPSS's
    "Asymp. Sig."), computed with scipy. Only ranks enter, so any n distinct positive
    differences give the same p."""
    d = np.arange(1, n + 1, dtype=float)
    return float(stats.wilcoxon(d, method="approx", correction=False).pvalue)


def cafe_responders() -> dict[str, float]:
    """CAFE: 51/63 kyphoplasty vs 14/50 non-surgical patients improved >= 2 RDQ points
    (SNIS-2014). Fisher's exact and Pearson chi-square tests (scipy), and the risk ratio."""
    table = np.array([[51, 63 - 51], [14, 50 - 14]])
    fisher_p = float(stats.fisher_exact(table).pvalue)
    chi2, chi2_p, _, _ = stats.chi2_contingency(table, correction=False)
    rr = escalc("RR", ai=[51], n1i=[63], ci=[14], n2i=[50])
    se = float(np.sqrt(rr.vi[0]))
    return {
        "fisher_p": fisher_p,
        "chi2": float(chi2),
        "chi2_p": float(chi2_p),
        "rr": float(np.exp(rr.yi[0])),
        "rr_ci_lb": float(np.exp(rr.yi[0] - 1.959963984540054 * se)),
        "rr_ci_ub": float(np.exp(rr.yi[0] + 1.959963984540054 * se)),
    }


def sorensen_table2_rows() -> list[StudyRow]:
    """The curated rows of Sorensen-SpineJ-2019 Table 2: N-weighted means of VAS, ODI (by
    technique) and KPS (PVP+KP) per interval, each with its mean and N. The one selection of
    these rows, for their reproduction here and for the reference column of the registry's
    outcomes report (``vertebro.analytics``)."""
    return [
        r
        for r in load_curated()
        if r.study == "Sorensen 2019"
        and r.statistic == "weighted_mean"
        and r.outcome in ("pain_vas", "odi", "kps")
        and r.interval is not None
        and r.mean is not None
        and r.n is not None
    ]


def sorensen_table2() -> dict[tuple[str, str], dict[str, tuple[float, int]]]:
    """The curated copy of Sorensen-SpineJ-2019 Table 2 (VAS, ODI by technique; KPS both), laid
    out by the N-weighted pooling, as {(outcome, technique): {interval: (mean, N)}}.

    Not a reproduction: each curated row is one of the table's own pooled cells (the seed does
    not print the per-study means behind them), so pooling it returns it. It checks that the
    copy is complete (30 cells) and consistent with its own layout, nothing more."""
    rows = [
        (r.outcome, r.technique or "", r.interval or "", cast(float, r.mean), cast(float, r.n))
        for r in sorensen_table2_rows()
    ]
    table = pooled_by_interval(rows)
    return {k: {iv: (wm.mean, wm.n) for iv, wm in cells.items()} for k, cells in table.items()}


def _bcg() -> tuple[np.ndarray, np.ndarray]:
    rows = list(csv.DictReader(io.StringIO(data_text("reference/bcg.csv"))))
    e = escalc(
        "RR",
        ai=[float(r["tpos"]) for r in rows],
        bi=[float(r["tneg"]) for r in rows],
        ci=[float(r["cpos"]) for r in rows],
        di=[float(r["cneg"]) for r in rows],
    )
    return e.yi, e.vi


def reproduce() -> list[Check]:
    """Every published number of issue 4, recomputed."""
    checks: list[Check] = []
    cur = load_curated()

    # Sorensen-SpineJ-2019 Table 1: weighted mean age
    ages = {
        r.technique: r
        for r in cur
        if r.study == "Sorensen 2019" and r.outcome == "age" and r.technique in ("PVP", "KP")
    }
    wm = weighted_mean(
        np.array([ages["PVP"].mean, ages["KP"].mean], float),
        np.array([ages["PVP"].n, ages["KP"].n], float),
    )
    checks.append(
        Check(
            "Weighted mean age, PVP 62.56 (N 2009) + KP 63.16 (N 1272)",
            "Sorensen-SpineJ-2019 Table 1",
            "62.79 (N 3281)",
            f"{wm.mean:.2f} (N {wm.n})",
            _round_eq(wm.mean, 62.79, 2) and wm.n == 3281,
        )
    )
    t2 = sorensen_table2()
    published = {
        (r.outcome, r.technique, r.interval): r.mean
        for r in cur
        if r.study == "Sorensen 2019" and r.statistic == "weighted_mean" and r.interval
    }
    cells = [(k[0], k[1], iv, v[0]) for k, ivs in t2.items() for iv, v in ivs.items()]
    agree = all(_round_eq(m, float(published[(o, t, iv)] or 0), 2) for o, t, iv, m in cells)
    checks.append(
        Check(
            f"Consistency check of the curated copy of Table 2 (not a reproduction: its rows are "
            f"the table's own cells): {len(cells)} cells",
            "Sorensen-SpineJ-2019 Table 2",
            f"{len(t2)} rows x {len(INTERVALS)} intervals",
            f"{len(t2)} rows x {max(len(v) for v in t2.values())} intervals, all cells equal",
            agree and len(cells) == 30,
        )
    )
    p = wilcoxon_all_improved(11)
    checks.append(
        Check(
            "Wilcoxon signed-rank, 11 patients all improved (large-sample form)",
            "AJNR-instrumented Results",
            "P = .003",
            f"P = {p:.4f}",
            _round_eq(p, 0.003, 3),
        )
    )
    cafe = cafe_responders()
    checks.append(
        Check(
            "CAFE responders 51/63 vs 14/50 (>= 2 RDQ points)",
            "SNIS-2014, CAFE",
            "p < 0.0001",
            f"Fisher p = {cafe['fisher_p']:.2e}; chi2 p = {cafe['chi2_p']:.2e}; "
            f"RR {cafe['rr']:.2f} [{cafe['rr_ci_lb']:.2f}, {cafe['rr_ci_ub']:.2f}]",
            cafe["fisher_p"] < 1e-4 and cafe["chi2_p"] < 1e-4,
        )
    )

    # metafor's published results on the reference data
    yi, vi = _bcg()
    src = "metafor, dat.bcg (log risk ratio)"
    for method, pub in (
        ("EE", "-0.4303 [-0.5097, -0.3509], Q(12) 152.2330"),
        ("DL", "-0.7141 [-1.0644, -0.3638], z -3.9952, tau2 0.3088, I2 92.1173%"),
        ("REML", "-0.7145 SE 0.1798 [-1.0669, -0.3622], tau2 0.3132, I2 92.22%, H2 12.86"),
    ):
        f = RMA(method).fit(yi, vi)
        if method == "EE":
            got = f"{f.estimate:.4f} [{f.ci_lb:.4f}, {f.ci_ub:.4f}], Q({f.q_df}) {f.q:.4f}"
            ok = all(
                _round_eq(a, b, 4)
                for a, b in (
                    (f.estimate, -0.4303),
                    (f.ci_lb, -0.5097),
                    (f.ci_ub, -0.3509),
                    (f.q, 152.2330),
                )
            )
        elif method == "DL":
            got = (
                f"{f.estimate:.4f} [{f.ci_lb:.4f}, {f.ci_ub:.4f}], z {f.zval:.4f}, "
                f"tau2 {f.tau2:.4f}, I2 {f.i2:.4f}%"
            )
            ok = all(
                _round_eq(a, b, 4)
                for a, b in (
                    (f.estimate, -0.7141),
                    (f.ci_lb, -1.0644),
                    (f.ci_ub, -0.3638),
                    (f.zval, -3.9952),
                    (f.tau2, 0.3088),
                    (f.i2, 92.1173),
                )
            )
        else:
            got = (
                f"{f.estimate:.4f} SE {f.se:.4f} [{f.ci_lb:.4f}, {f.ci_ub:.4f}], "
                f"tau2 {f.tau2:.4f}, I2 {f.i2:.2f}%, H2 {f.h2:.2f}"
            )
            ok = (
                all(
                    _round_eq(a, b, 4)
                    for a, b in (
                        (f.estimate, -0.7145),
                        (f.se, 0.1798),
                        (f.ci_lb, -1.0669),
                        (f.ci_ub, -0.3622),
                        (f.tau2, 0.3132),
                    )
                )
                and _round_eq(f.i2, 92.22, 2)
                and _round_eq(f.h2, 12.86, 2)
            )
        checks.append(Check(f"BCG {method}", src, pub, got, ok))

    rows = list(csv.DictReader(io.StringIO(data_text("reference/miller1978.csv"))))
    xi = [float(r["xi"]) for r in rows]
    ni = [float(r["ni"]) for r in rows]
    e = escalc("PFT", xi=xi, ni=ni)
    fit = RMA("EE").fit(e.yi, e.vi, measure="PFT", ni=ni)
    back = float(back_transform("PFT", fit.estimate, ni))
    two = 2 * e.yi
    checks.append(
        Check(
            "Miller (1978) PFT, 2*yi and back-transformed common effect",
            "metafor, Miller 1978 (harmonic-mean n)",
            "1.1391, 1.2888, 1.5253, 0.9515; 0.3595",
            ", ".join(f"{x:.4f}" for x in two) + f"; {back:.4f}",
            all(
                _round_eq(a, b, 4)
                for a, b in zip(two, (1.1391, 1.2888, 1.5253, 0.9515), strict=True)
            )
            and _round_eq(back, 0.3595, 4),
        )
    )
    return checks
