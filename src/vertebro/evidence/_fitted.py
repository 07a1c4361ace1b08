"""What the package's fitted models share: the results of the first coefficient and metafor's
way of printing p-values.

``RMA`` (rma.uni), ``RMAMV`` (rma.mv) and ``RMAGLMM`` (rma.glmm) each keep one array per result
(``beta``, ``se_beta``, ``stat_beta``, ``pval_beta``, ``ci_lb_beta``, ``ci_ub_beta``), as metafor's
objects do; the scalar properties read the first entry (the intercept, or the pooled estimate
of an intercept-only model).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vertebro.errors import EvidenceError

__all__ = ["Coefficients", "choice", "fmt_p", "level_percent", "p_eq"]


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


def choice(
    name: str, value: str, allowed: Sequence[str], hint: str = "", *, upper: bool = True
) -> str:
    """``value`` (upper- or lower-cased) if it is one of ``allowed``, else the models' one
    message naming ``name`` and the value as given."""
    v = value.upper() if upper else value.lower()
    if v not in allowed:
        raise EvidenceError(f"{name}: {value!r} is not one of {', '.join(allowed)}{hint}")
    return v


def level_percent(level: float) -> float:
    """A confidence level in percent, strictly between 0 and 100."""
    if not 0 < level < 100:
        raise EvidenceError(f"level: {level!r} must lie between 0 and 100 (percent)")
    return float(level)


def fmt_p(p: float) -> str:
    """A p-value as metafor prints it: four decimals, "<.0001" below, "NA" when undefined."""
    if not math.isfinite(p):
        return "NA"
    return "<.0001" if p < 1e-4 else f"{p:.4f}"


def p_eq(p: float) -> str:
    """``p = 0.0123`` or ``p < .0001``, for a sentence."""
    s = fmt_p(p)
    return f"p < {s[1:]}" if s.startswith("<") else f"p = {s}"
