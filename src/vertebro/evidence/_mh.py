"""Common-effect models for sparse 2x2 tables: Mantel-Haenszel (OR, RR, RD) and Peto's odds
ratio, as metafor's ``rma.mh`` and ``rma.peto`` (defaults: no continuity correction for the
pooled estimate; studies with no events, or only events, in both arms kept in it but left out of
the heterogeneity test, whose per-study effects take 1/2 on a zero cell).

* OR: Mantel & Haenszel (J Natl Cancer Inst 1959;22:719), variance of Robins, Breslow &
  Greenland (Biometrics 1986;42:311).
* RR and RD: Greenland & Robins (Biometrics 1985;41:55) estimators and variances (RD: Sato's
  form, Biometrics 1989;45:1323, as metafor).
* Peto: Yusuf et al. (Prog Cardiovasc Dis 1985;27:335): sum(O - E) / sum(V), hypergeometric
  variance; Q = sum (O - E)^2/V - (sum(O - E))^2/sum V.
Q is Cochran's, around the pooled estimate, with the studies' own escalc effects (metafor).
Written by hand: statsmodels' ``StratifiedTable`` has the MH odds ratio with the RBG variance but
neither the RR/RD forms nor Peto's method; the tests check the OR against it as well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from vertebro.errors import EvidenceError

from ._measures import escalc

__all__ = ["TableModel", "mantel_haenszel", "peto"]


@dataclass(frozen=True)
class TableModel:
    """Pooled log OR/RR (or RD) with its test, CI and Cochran's Q over the studies."""

    method: str
    measure: str
    k: int
    estimate: float
    se: float
    zval: float
    pval: float
    ci_lb: float
    ci_ub: float
    q: float
    q_df: int
    q_pval: float
    level: float

    @property
    def i2(self) -> float:
        return max(0.0, 100 * (self.q - self.q_df) / self.q) if self.q > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = {f: getattr(self, f) for f in self.__dataclass_fields__}
        out["i2"] = self.i2
        if self.measure in ("OR", "RR"):
            out["transformed"] = {
                "scale": "odds ratio" if self.measure == "OR" else "risk ratio",
                "estimate": math.exp(self.estimate),
                "ci": [math.exp(self.ci_lb), math.exp(self.ci_ub)],
            }
        return out

    def summary(self) -> str:
        p = "<.0001" if self.pval < 1e-4 else f"{self.pval:.4f}"
        name = {"OR": "log odds ratio", "RR": "log risk ratio", "RD": "risk difference"}
        lines = [
            f"Common-effect model ({self.method}), k = {self.k}, {name[self.measure]}",
            f"Test for heterogeneity: Q({self.q_df}) = {self.q:.4f}, p = {self.q_pval:.4f}",
            f"estimate {self.estimate:.4f} (SE {self.se:.4f}), z = {self.zval:.4f}, p = {p}, "
            f"{self.level:g}% CI [{self.ci_lb:.4f}, {self.ci_ub:.4f}]",
        ]
        if self.measure in ("OR", "RR"):
            lines.append(
                f"exp: {math.exp(self.estimate):.4f} "
                f"[{math.exp(self.ci_lb):.4f}, {math.exp(self.ci_ub):.4f}]"
            )
        return "\n".join(lines)


def _tables(ai: ArrayLike, bi: ArrayLike, ci: ArrayLike, di: ArrayLike) -> tuple[np.ndarray, ...]:
    a, b, c, d = (np.atleast_1d(np.asarray(x, float)) for x in (ai, bi, ci, di))
    if not (a.shape == b.shape == c.shape == d.shape) or a.ndim != 1 or a.size < 1:
        raise EvidenceError("ai, bi, ci, di: one count of each per study is needed")
    if np.any(np.stack([a, b, c, d]) < 0) or not np.all(np.isfinite(np.stack([a, b, c, d]))):
        raise EvidenceError("counts: must be finite and >= 0")
    return a, b, c, d


def _finish(
    method: str, measure: str, beta: float, se: float, level: float, yi: Any, vi: Any, k: int
) -> TableModel:
    z = float(stats.norm.ppf(1 - (1 - level / 100) / 2))
    ok = np.isfinite(yi) & np.isfinite(vi)
    y, v = yi[ok], vi[ok]
    kq = int(y.size)
    q = max(0.0, float(np.sum((y - beta) ** 2 / v))) if kq > 1 else 0.0
    qp = float(stats.chi2.sf(q, kq - 1)) if kq > 1 else 1.0
    zval = beta / se
    return TableModel(
        method,
        measure,
        k,
        beta,
        se,
        zval,
        float(2 * stats.norm.sf(abs(zval))),
        beta - z * se,
        beta + z * se,
        q,
        max(kq - 1, 0),
        qp,
        level,
    )


def _study_effects(measure: str, a: Any, b: Any, c: Any, d: Any) -> tuple[Any, Any]:
    """Per-study effects for Q: escalc with 1/2 on zero cells, double-zero studies dropped."""
    eff = escalc(measure, ai=a, bi=b, ci=c, di=d)
    drop = ((a == 0) & (c == 0)) | ((b == 0) & (d == 0))
    return np.where(drop, np.nan, eff.yi), np.where(drop, np.nan, eff.vi)


def mantel_haenszel(
    measure: str, ai: ArrayLike, bi: ArrayLike, ci: ArrayLike, di: ArrayLike, level: float = 95.0
) -> TableModel:
    """Mantel-Haenszel common effect (log OR, log RR or RD) of 2x2 tables."""
    m = measure.upper()
    if m not in ("OR", "RR", "RD"):
        raise EvidenceError(f"measure: {measure!r} must be OR, RR or RD for Mantel-Haenszel")
    a, b, c, d = _tables(ai, bi, ci, di)
    n1, n2 = a + b, c + d
    n = n1 + n2
    if np.any(n1 == 0) or np.any(n2 == 0):
        raise EvidenceError("counts: every study needs participants in both groups")
    if m == "OR":
        P, Q = (a + d) / n, (b + c) / n
        R, S = a * d / n, b * c / n
        if R.sum() == 0 or S.sum() == 0:
            raise EvidenceError("Mantel-Haenszel OR: no events (or no non-events) to pool")
        sr, ss = R.sum(), S.sum()
        beta = math.log(sr / ss)
        se = math.sqrt(
            0.5
            * (np.sum(P * R) / sr**2 + np.sum(P * S + Q * R) / (sr * ss) + np.sum(Q * S) / ss**2)
        )
    elif m == "RR":
        sr, ss = float(np.sum(a * n2 / n)), float(np.sum(c * n1 / n))
        if a.sum() == 0 or c.sum() == 0:
            raise EvidenceError("Mantel-Haenszel RR: a group has no events in any study")
        beta = math.log(sr / ss)
        se = math.sqrt(float(np.sum(n1 * n2 * (a + c) / n**2 - a * c / n)) / (sr * ss))
    else:
        den = float(np.sum(n1 * n2 / n))
        beta = float(np.sum(a * n2 / n - c * n1 / n)) / den
        num = beta * float(
            np.sum(c * (n1 / n) ** 2 - a * (n2 / n) ** 2 + n1 * n2 * (n2 - n1) / (2 * n**2))
        )
        num += float(np.sum(a * (n2 - c) / n + c * (n1 - a) / n)) / 2
        se = math.sqrt(num / den**2)
    yi, vi = _study_effects(m, a, b, c, d)
    return _finish("MH", m, beta, se, level, yi, vi, int(a.size))


def peto(
    ai: ArrayLike, bi: ArrayLike, ci: ArrayLike, di: ArrayLike, level: float = 95.0
) -> TableModel:
    """Peto's one-step common log odds ratio of 2x2 tables."""
    a, b, c, d = _tables(ai, bi, ci, di)
    n1, n2 = a + b, c + d
    n = n1 + n2
    xt, yt = a + c, b + d
    e = xt * n1 / n
    with np.errstate(divide="ignore", invalid="ignore"):
        V = np.where(n > 1, xt * yt * (n1 / n) * (n2 / n) / (n - 1), 0.0)
    sv = float(V.sum())
    if sv == 0:
        raise EvidenceError("Peto OR: one of the two outcomes never occurs in any study")
    beta = float(np.sum(a - e)) / sv
    se = math.sqrt(1 / sv)
    z = float(stats.norm.ppf(1 - (1 - level / 100) / 2))
    pos = V > 0
    q = max(0.0, float(np.sum((a - e)[pos] ** 2 / V[pos])) - float(np.sum(a - e)) ** 2 / sv)
    # Q's degrees of freedom count the studies with events and non-events (metafor's k.yi)
    kq = int(np.sum(~(((a == 0) & (c == 0)) | ((b == 0) & (d == 0)))))
    zval = beta / se
    return TableModel(
        "Peto",
        "OR",
        int(a.size),
        beta,
        se,
        zval,
        float(2 * stats.norm.sf(abs(zval))),
        beta - z * se,
        beta + z * se,
        q,
        max(kq - 1, 0),
        float(stats.chi2.sf(q, kq - 1)) if int(pos.sum()) > 1 and kq > 1 else 1.0,
        level,
    )
