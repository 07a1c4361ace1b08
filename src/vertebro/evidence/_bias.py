"""Small-study effects: Egger's regression test and Duval & Tweedie's trim-and-fill.

* ``egger(model="rma")`` is metafor's ``regtest`` default: the standard error as a moderator in
  the same (mixed-effects) model, z test of its coefficient (Sterne & Egger, in Publication Bias
  in Meta-Analysis, 2005). ``egger(model="lm")`` is the classic test of Egger et al. (BMJ
  1997;315:629): weighted least squares of yi on sei with weights 1/vi and a multiplicative
  dispersion, t test on k - 2 df; it is computed with statsmodels' WLS.
* ``ranktest`` is Begg & Mazumdar's rank correlation test (Biometrics 1994;50:1088) as metafor's
  ``ranktest``: Kendall's tau-b between the standardised deviates from the common-effect
  estimate and the variances; exact p-value without ties, the normal approximation with ties
  (R's ``cor.test``), computed with scipy's ``kendalltau``.
* ``trimfill`` follows Duval & Tweedie (Biometrics 2000;56:455 and JASA 2000;95:89) as metafor's
  ``trimfill``: estimator L0 (default) or R0, side chosen from the sign of Egger's slope when not
  given, iterated until the number of missing studies k0 is stable, then the mirrored studies are
  added and the model is refitted with the same method.
Written by hand (trim-and-fill; the mixed-effects Egger test) because statsmodels has neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import statsmodels.api as sm
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from scipy.stats import rankdata

from vertebro.errors import EvidenceError

from ._rma import RMA

__all__ = ["Egger", "PetPeese", "RankTest", "TrimFill", "egger", "pet_peese", "ranktest",
           "trimfill"]


@dataclass(frozen=True)
class Egger:
    """Egger's test: ``stat``/``pval`` test the slope on the standard error (asymmetry);
    ``limit`` is the intercept, the estimate as the standard error goes to 0."""

    model: str
    slope: float
    slope_se: float
    stat: float
    dist: str
    pval: float
    limit: float
    limit_ci: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "slope": self.slope,
            "se": self.slope_se,
            "stat": self.stat,
            "dist": self.dist,
            "pval": self.pval,
            "limit_estimate": self.limit,
            "limit_ci": list(self.limit_ci),
        }


def egger(
    yi: ArrayLike,
    vi: ArrayLike,
    *,
    model: Literal["rma", "lm"] = "rma",
    method: str = "REML",
    test: str = "z",
    predictor: Literal["sei", "vi"] = "sei",
) -> Egger:
    """Regression test for funnel-plot asymmetry with the standard error (or, ``predictor="vi"``,
    the variance: PEESE) as predictor."""
    y = np.asarray(yi, float)
    v = np.asarray(vi, float)
    k = y.shape[0]
    if k < 3:
        raise EvidenceError("Egger's test needs at least 3 studies")
    if predictor not in ("sei", "vi"):
        raise EvidenceError(f"predictor: {predictor!r} must be 'sei' or 'vi'")
    sei = np.sqrt(v) if predictor == "sei" else v
    if model == "rma":
        fit = RMA(method, test).fit(y, v, mods=sei)
        return Egger(
            model=f"rma ({fit.method}, {fit.dist})",
            slope=float(fit.beta[1]),
            slope_se=float(fit.se_beta[1]),
            stat=float(fit.stat_beta[1]),
            dist=fit.dist,
            pval=float(fit.pval_beta[1]),
            limit=float(fit.beta[0]),
            limit_ci=(float(fit.ci_lb_beta[0]), float(fit.ci_ub_beta[0])),
        )
    if model != "lm":
        raise EvidenceError(f"model: {model!r} must be 'rma' or 'lm'")
    X = sm.add_constant(sei, has_constant="add")
    res = sm.WLS(y, X, weights=1 / v).fit()
    ci = res.conf_int()
    return Egger(
        model="lm (weighted regression, Egger 1997)",
        slope=float(res.params[1]),
        slope_se=float(res.bse[1]),
        stat=float(res.tvalues[1]),
        dist=f"t({k - 2})",
        pval=float(res.pvalues[1]),
        limit=float(res.params[0]),
        limit_ci=(float(ci[0, 0]), float(ci[0, 1])),
    )


@dataclass(frozen=True)
class PetPeese:
    """PET (the limit estimate with the standard error as predictor) and PEESE (with the
    variance), and the one the conditional rule picks."""

    pet: Egger
    peese: Egger
    chosen: str

    @property
    def estimate(self) -> float:
        return self.peese.limit if self.chosen == "PEESE" else self.pet.limit

    def to_dict(self) -> dict[str, Any]:
        return {"pet": self.pet.to_dict(), "peese": self.peese.to_dict(), "chosen": self.chosen,
                "estimate": self.estimate}


def pet_peese(yi: ArrayLike, vi: ArrayLike, *, alpha: float = 0.05) -> PetPeese:
    """PET-PEESE (Stanley & Doucouliagos, Res Synth Methods 2014;5:60): common-effect weighted
    regressions of the effects on the standard error (PET) and on the variance (PEESE), as
    metafor's ``regtest(model="rma", predictor=...)`` of an EE model. The conditional rule:
    PEESE when PET's intercept differs from 0 (two-sided ``alpha``), else PET."""
    pet = egger(yi, vi, method="EE", predictor="sei")
    peese = egger(yi, vi, method="EE", predictor="vi")
    fit = RMA("EE").fit(np.asarray(yi, float), np.asarray(vi, float), mods=np.sqrt(vi))
    chosen = "PEESE" if float(fit.pval_beta[0]) < alpha else "PET"
    return PetPeese(pet, peese, chosen)


@dataclass(frozen=True)
class RankTest:
    """Begg's rank correlation test: Kendall's tau and its two-sided p-value."""

    tau: float
    pval: float
    exact: bool

    def to_dict(self) -> dict[str, Any]:
        return {"tau": self.tau, "pval": self.pval, "exact": self.exact}


def ranktest(yi: ArrayLike, vi: ArrayLike) -> RankTest:
    """Begg & Mazumdar's rank correlation test for funnel-plot asymmetry."""
    y = np.asarray(yi, float)
    v = np.asarray(vi, float)
    if y.shape[0] < 3:
        raise EvidenceError("the rank correlation test needs at least 3 studies")
    w = 1 / v
    theta = float(np.sum(w * y) / np.sum(w))
    ystar = (y - theta) / np.sqrt(v - 1 / np.sum(w))
    ties = len(np.unique(ystar)) < len(ystar) or len(np.unique(v)) < len(v)
    res = stats.kendalltau(ystar, v, method="asymptotic" if ties else "exact")
    return RankTest(float(res.statistic), float(res.pvalue), not ties)


@dataclass
class TrimFill:
    """Trim-and-fill: k0 missing studies on ``side``, their mirrored effects, the refitted model."""

    k0: int
    se_k0: float
    side: str
    estimator: str
    yi_fill: NDArray[np.float64]
    vi_fill: NDArray[np.float64]
    fit: RMA

    def to_dict(self) -> dict[str, Any]:
        return {
            "k0": self.k0,
            "se_k0": self.se_k0,
            "side": self.side,
            "estimator": self.estimator,
            "filled": [
                {"yi": float(a), "vi": float(b)}
                for a, b in zip(self.yi_fill, self.vi_fill, strict=True)
            ],
            "adjusted": {
                "estimate": self.fit.estimate,
                "ci": [self.fit.ci_lb, self.fit.ci_ub],
                "tau2": self.fit.tau2,
            },
        }


def trimfill(
    yi: ArrayLike,
    vi: ArrayLike,
    *,
    method: str = "REML",
    test: str = "z",
    estimator: Literal["L0", "R0"] = "L0",
    side: Literal["left", "right"] | None = None,
    maxiter: int = 100,
) -> TrimFill:
    """Duval & Tweedie's trim-and-fill, as metafor's ``trimfill``."""
    y0 = np.asarray(yi, float)
    v0 = np.asarray(vi, float)
    k = y0.shape[0]
    if k < 3:
        raise EvidenceError("trim-and-fill needs at least 3 studies")
    if estimator not in ("L0", "R0"):
        raise EvidenceError(f"estimator: {estimator!r} must be 'L0' or 'R0'")
    if side is None:
        slope = RMA(method, test).fit(y0, v0, mods=np.sqrt(v0)).beta[1]
        side = "right" if slope < 0 else "left"
    sign = -1.0 if side == "right" else 1.0
    y = sign * y0
    order = np.argsort(y, kind="stable")
    y, v = y[order], v0[order]

    k0, k0_prev, it = 0, -1, 0
    se_k0 = 0.0
    beta = 0.0
    while k0 != k0_prev:
        k0_prev = k0
        it += 1
        if it > maxiter:
            raise EvidenceError("trim-and-fill did not converge")
        beta = RMA(method, test).fit(y[: k - k0], v[: k - k0]).estimate
        yc = y - beta
        ranks = rankdata(np.abs(yc), method="ordinal")
        signed = np.sign(yc) * ranks
        if estimator == "R0":
            neg = -signed[signed < 0]
            k0f = (k - (neg.max() if neg.size else 0)) - 1
            se_k0 = float(np.sqrt(2 * max(0.0, k0f) + 2))
        else:
            sr = float(signed[signed > 0].sum())
            k0f = (4 * sr - k * (k + 1)) / (2 * k - 1)
            var_sr = (
                k * (k + 1) * (2 * k + 1)
                + 10 * k0f**3
                + 27 * k0f**2
                + 17 * k0f
                - 18 * k * k0f**2
                - 18 * k * k0f
                + 6 * k**2 * k0f
            ) / 24
            se_k0 = float(4 * np.sqrt(max(0.0, var_sr)) / (2 * k - 1))
        k0 = int(max(0, round(float(k0f))))
        k0 = min(k0, k - 1)
    if k0 > 0:
        y_fill = 2 * beta - y[k - k0 :]
        v_fill = v[k - k0 :]
    else:
        y_fill = np.empty(0)
        v_fill = np.empty(0)
    y_fill = sign * y_fill
    fit = RMA(method, test).fit(np.concatenate([y0, y_fill]), np.concatenate([v0, v_fill]))
    return TrimFill(k0, max(0.0, se_k0), side, estimator, y_fill, v_fill, fit)


def funnel_ci(estimate: float, se_max: float, level: float = 95.0) -> tuple[NDArray[Any], ...]:
    """Pseudo confidence region of a funnel plot: se grid and the lower/upper bounds."""
    z = stats.norm.ppf(1 - (1 - level / 100) / 2)
    se = np.linspace(0, se_max, 50)
    return se, estimate - z * se, estimate + z * se
