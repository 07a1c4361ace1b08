"""Subgroups, leave-one-out and cumulative meta-analysis.

* Subgroups: one model per subgroup, each with its own tau^2 (as Cochrane's RevMan and R's
  ``meta`` by default), and a test for subgroup differences: Cochran's Q across the subgroup
  estimates with weights 1/se^2, on G - 1 degrees of freedom (Borenstein et al., Introduction
  to Meta-Analysis 2009, ch. 19; Deeks, Higgins & Altman, Cochrane Handbook 10.11.3.1).
  A meta-regression on the subgroup indicator (common tau^2) is ``RMA().fit(yi, vi, mods=...)``.
* Leave-one-out and cumulative (in order of year, as metafor's ``leave1out`` / ``cumul``): every
  reduced data set is a row of one :func:`rma_batch` call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from vertebro.errors import EvidenceError

from ._batch import BatchResult, rma_batch
from ._rma import RMA

__all__ = ["Subgroups", "cumulative", "leave_one_out", "subgroups"]


@dataclass
class Subgroups:
    """Per-subgroup fits, the overall fit and the test for subgroup differences."""

    fits: dict[str, RMA]
    overall: RMA
    q_between: float
    df: int
    pval: float
    order: list[str] = field(default_factory=list)
    #: positions of each subgroup's studies in the input (labels need not be unique)
    indices: dict[str, list[int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "subgroups": {g: self.fits[g].to_dict() for g in self.order},
            "test_for_subgroup_differences": {
                "q": self.q_between,
                "df": self.df,
                "pval": self.pval,
                "method": "Cochran Q across subgroup estimates (separate tau^2 per subgroup)",
            },
        }

    def summary(self) -> str:
        lines = []
        for g in self.order:
            f = self.fits[g]
            lines.append(
                f"{g}: k = {f.k}, estimate {f.estimate:.4f} [{f.ci_lb:.4f}, {f.ci_ub:.4f}], "
                f"tau^2 = {f.tau2:.4f}, I^2 = {_pct(f.i2)}"
            )
        p = "p < 0.0001" if self.pval < 1e-4 else f"p = {self.pval:.4f}"
        lines.append(f"Test for subgroup differences: Q({self.df}) = {self.q_between:.4f}, {p}")
        return "\n".join(lines)


def _pct(x: float) -> str:
    return "NA" if not np.isfinite(x) else f"{x:.1f}%"


def subgroups(
    yi: ArrayLike,
    vi: ArrayLike,
    groups: Sequence[str],
    *,
    method: str = "REML",
    test: str = "z",
    measure: str = "GEN",
    ni: ArrayLike | None = None,
    slab: Sequence[str] | None = None,
) -> Subgroups:
    """Fit one model per subgroup and test whether the subgroup estimates differ."""
    y = np.asarray(yi, float)
    v = np.asarray(vi, float)
    g = np.asarray([str(x) for x in groups])
    if g.shape[0] != y.shape[0]:
        raise EvidenceError("subgroup: one label per study is needed")
    order = list(dict.fromkeys(g.tolist()))
    n = None if ni is None else np.asarray(ni, float)
    labels = list(slab) if slab is not None else [str(i + 1) for i in range(len(y))]
    fits: dict[str, RMA] = {}
    for name in order:
        sel = g == name
        fits[name] = RMA(method, test).fit(
            y[sel],
            v[sel],
            measure=measure,
            ni=None if n is None else n[sel],
            slab=[s for s, keep in zip(labels, sel, strict=True) if keep],
        )
    overall = RMA(method, test).fit(y, v, measure=measure, ni=n, slab=labels)
    indices = {name: [int(i) for i in np.flatnonzero(g == name)] for name in order}
    if len(order) < 2:
        return Subgroups(fits, overall, float("nan"), 0, float("nan"), order, indices)
    est = np.array([fits[o].estimate for o in order])
    w = 1 / np.array([fits[o].se for o in order]) ** 2
    mu = float(np.sum(w * est) / np.sum(w))
    qb = float(np.sum(w * (est - mu) ** 2))
    df = len(order) - 1
    return Subgroups(fits, overall, qb, df, float(stats.chi2.sf(qb, df)), order, indices)


def leave_one_out(
    yi: ArrayLike, vi: ArrayLike, *, method: str = "REML", test: str = "z", level: float = 95.0
) -> BatchResult:
    """Row i is the model fitted without study i (metafor's ``leave1out``)."""
    y = np.asarray(yi, float)
    v = np.asarray(vi, float)
    k = y.shape[0]
    if k < 2:
        raise EvidenceError("leave-one-out needs at least two studies")
    Y = np.tile(y, (k, 1))
    V = np.tile(v, (k, 1))
    np.fill_diagonal(Y, np.nan)
    np.fill_diagonal(V, np.nan)
    return rma_batch(Y, V, method, test, level)


def cumulative(
    yi: ArrayLike,
    vi: ArrayLike,
    order: ArrayLike | None = None,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
) -> tuple[BatchResult, np.ndarray]:
    """Cumulative meta-analysis: row j pools the first j + 1 studies in ``order`` (e.g. year).

    Returns the batch result and the study indices in the order used (stable sort, so studies of
    the same year keep their input order).
    """
    y = np.asarray(yi, float)
    v = np.asarray(vi, float)
    k = y.shape[0]
    idx = np.arange(k) if order is None else np.argsort(np.asarray(order), kind="stable")
    ys, vs = y[idx], v[idx]
    tri = np.tril(np.ones((k, k), bool))
    Y = np.where(tri, ys[None, :], np.nan)
    V = np.where(tri, vs[None, :], np.nan)
    return rma_batch(Y, V, method, test, level), idx
