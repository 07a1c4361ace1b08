"""What the package's fitted models share: the results of the first coefficient and metafor's
way of printing p-values.

``RMA`` (rma.uni), ``RMAMV`` (rma.mv) and ``RMAGLMM`` (rma.glmm) each keep one array per result
(``beta``, ``se_beta``, ``stat_beta``, ``pval_beta``, ``ci_lb_beta``, ``ci_ub_beta``), as metafor's
objects do; the scalar properties read the first entry (the intercept, or the pooled estimate
of an intercept-only model).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vertebro.errors import EvidenceError

__all__ = ["Coefficients", "fmt_p", "p_eq"]


class Coefficients:
    """Mixin: scalar results of the first coefficient, once the model is fitted."""

    _fitted: bool
    beta: NDArray[np.float64]
    se_beta: NDArray[np.float64]
    stat_beta: NDArray[np.float64]
    pval_beta: NDArray[np.float64]
    ci_lb_beta: NDArray[np.float64]
    ci_ub_beta: NDArray[np.float64]

    def _check(self) -> None:
        if not self._fitted:
            raise EvidenceError("call fit() first")

    @property
    def estimate(self) -> float:
        self._check()
        return float(self.beta[0])

    @property
    def se(self) -> float:
        return float(self.se_beta[0])

    @property
    def zval(self) -> float:
        """Test statistic of the first coefficient: z, or t under Knapp-Hartung or test="t"."""
        return float(self.stat_beta[0])

    @property
    def pval(self) -> float:
        return float(self.pval_beta[0])

    @property
    def ci_lb(self) -> float:
        return float(self.ci_lb_beta[0])

    @property
    def ci_ub(self) -> float:
        return float(self.ci_ub_beta[0])

    def _estimate_dict(self, dist: str) -> dict[str, Any]:
        """The first coefficient's keys of ``to_dict``, the same in every model's JSON."""
        return {
            "estimate": self.estimate,
            "se": self.se,
            "ci": [self.ci_lb, self.ci_ub],
            "stat": self.zval,
            "dist": dist,
            "pval": self.pval,
        }


def fmt_p(p: float) -> str:
    """A p-value as metafor prints it: four decimals, "<.0001" below, "NA" when undefined."""
    if not math.isfinite(p):
        return "NA"
    return "<.0001" if p < 1e-4 else f"{p:.4f}"


def p_eq(p: float) -> str:
    """``p = 0.0123`` or ``p < .0001``, for a sentence."""
    s = fmt_p(p)
    return f"p < {s[1:]}" if s.startswith("<") else f"p = {s}"
