"""Case-deletion influence diagnostics of a fitted model, as metafor's ``influence.rma.uni``.

Viechtbauer W, Cheung MW-L. Outlier and influence diagnostics for meta-analysis. Res Synth
Methods 2010;1:112-25. For study i the model is refitted without it (same method and test):

* ``rstudent``: (y_i - x_i b_(-i)) / sqrt(s2w_(-i) (v_i + tau2_(-i)) + x_i V_(-i) x_i');
* ``dffits``: (x_i b - x_i b_(-i)) / sqrt(s2w_(-i) h_i (tau2_(-i) + v_i));
* ``cook_d``: (b - b_(-i))' V^-1 (b - b_(-i)); ``cov_r``: det V_(-i) / det V;
* ``tau2_del``, ``qe_del``: tau^2 and Q without study i; ``hat``: diagonal of
  X (X'WX)^-1 X'W; ``weight``: the study's weight in percent.

Baujat's plot (Baujat et al. Stat Med 2002;21:2641-52, as metafor's ``baujat.rma``) draws, per
study, ``baujat_x``: its squared Pearson residual (y_i - x_i b)^2 / (tau2 + v_i), the
contribution to (residual) heterogeneity, against ``baujat_y``: its influence on the fitted
value, (x_i b_(-i) - x_i b)^2 / (x_i V_(-i) x_i'), from the same refits.

``s2w`` is the Knapp-Hartung factor (1 for ``test="z"``). A study is flagged influential with
metafor's rule: |DFFITS| > 3 sqrt(p/(k - p)), P(chi2_p <= Cook's D) > 0.5, hat > 3p/k, or
any DFBETAS > 1 (DFBETAS are not reported here, so the last criterion is not applied).
Written by hand (one refit per study with :class:`RMA`): statsmodels has influence measures for
OLS/GLM, not for random-effects meta-analysis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from vertebro.errors import EvidenceError

from ._rma import RMA

__all__ = ["Influence", "influence"]

FloatArray = NDArray[np.float64]
FIELDS = ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "qe_del", "hat", "weight")


@dataclass(frozen=True)
class Influence:
    """One value per study for each diagnostic (metafor's names with ``.`` as ``_``)."""

    slab: list[str]
    rstudent: FloatArray
    dffits: FloatArray
    cook_d: FloatArray
    cov_r: FloatArray
    tau2_del: FloatArray
    qe_del: FloatArray
    hat: FloatArray
    weight: FloatArray
    influential: NDArray[np.bool_]
    baujat_x: FloatArray
    baujat_y: FloatArray

    def to_dict(self) -> dict[str, Any]:
        return {
            "studies": [
                {
                    "study": s,
                    **{f: float(getattr(self, f)[i]) for f in FIELDS},
                    "influential": bool(self.influential[i]),
                    "baujat_x": float(self.baujat_x[i]),
                    "baujat_y": float(self.baujat_y[i]),
                }
                for i, s in enumerate(self.slab)
            ]
        }

    def summary(self) -> str:
        head = f"{'study':16}" + "".join(f"{f:>10}" for f in FIELDS) + "  inf"
        lines = [head]
        for i, s in enumerate(self.slab):
            vals = "".join(f"{getattr(self, f)[i]:>10.4f}" for f in FIELDS)
            lines.append(f"{s[:16]:16}{vals}  {'*' if self.influential[i] else ''}")
        return "\n".join(lines)


def influence(fit: RMA) -> Influence:
    """Leave-one-out influence diagnostics of the fitted ``fit`` (k >= 3)."""
    fit._check()
    k, p = fit.k, fit.p
    if k - p < 1 or k < 3:
        raise EvidenceError("influence diagnostics need at least 3 studies and k > p")
    y, v, X = fit.yi, fit.vi, fit.X
    w = 1 / (v + fit.tau2)
    XtW = X.T * w
    hat = np.einsum("ij,ji->i", X @ np.linalg.solve(XtW @ X, np.eye(p)), XtW)
    pred = X @ fit.beta
    svb = np.linalg.inv(fit.vb)
    out = {f: np.full(k, np.nan) for f in FIELDS}
    bj_y = np.full(k, np.nan)
    for i in range(k):
        keep = np.arange(k) != i
        r = RMA(fit.method, fit.test, fit.level).fit(
            y[keep], v[keep], mods=None if p == 1 else X[keep, 1:]
        )
        xi = X[i]
        delpred = float(xi @ r.beta)
        vdel = float(xi @ r.vb @ xi)
        bj_y[i] = (delpred - pred[i]) ** 2 / vdel
        out["tau2_del"][i] = r.tau2
        out["qe_del"][i] = r.q
        out["rstudent"][i] = (y[i] - delpred) / np.sqrt(r.s2w * (v[i] + r.tau2) + vdel)
        out["dffits"][i] = (pred[i] - delpred) / np.sqrt(r.s2w * hat[i] * (r.tau2 + v[i]))
        dfb = fit.beta - r.beta
        out["cook_d"][i] = float(dfb @ svb @ dfb)
        out["cov_r"][i] = np.linalg.det(r.vb) / np.linalg.det(fit.vb)
    out["hat"] = hat
    out["weight"] = np.asarray(fit.weights, float)
    infl = (
        (np.abs(out["dffits"]) > 3 * np.sqrt(p / (k - p)))
        | (stats.chi2.cdf(out["cook_d"], p) > 0.5)
        | (hat > 3 * p / k)
    )
    bj_x = (y - pred) ** 2 / (fit.tau2 + v)
    return Influence(list(fit.slab), **out, influential=infl, baujat_x=bj_x, baujat_y=bj_y)
