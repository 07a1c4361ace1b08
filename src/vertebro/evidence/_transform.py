"""Back-transformations of pooled results to the scale a clinician reads.

As metafor's ``transf.*`` functions: ``exp`` for RR, OR, IRLN, IRR and ROM, ``tanh`` for ZCOR,
inverse logit for PLO, ``sin(x)^2`` for PAS and Miller's inverse of the Freeman-Tukey double
arcsine for PFT.

Miller JJ. The inverse of the Freeman-Tukey double arcsine transformation. Am Stat 1978;32:138.
metafor works on the half scale (``yi`` is half of Freeman and Tukey's sum), so ``2*yi`` is the
double arcsine of Miller's paper. The inverse needs a sample size; for a pooled estimate, metafor
(``transf.ipft.hm``) and vertebro use the harmonic mean of the studies' ``ni``.
Written by hand: neither scipy nor statsmodels has these inverses.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["back_transform", "ipft", "pft", "transform_name"]

FloatArray = NDArray[np.float64]


def pft(xi: ArrayLike, ni: ArrayLike) -> FloatArray:
    """Freeman-Tukey double arcsine on metafor's half scale."""
    x = np.asarray(xi, float)
    n = np.asarray(ni, float)
    return np.asarray(
        0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))
    )


def ipft(t: ArrayLike, ni: ArrayLike) -> FloatArray:
    """Miller's (1978) inverse of the (half-scale) double arcsine for sample size ``ni``.

    Values below the transform of 0 events map to 0; above the transform of ``ni`` events, to 1.
    """
    x = np.asarray(t, float)
    n = np.broadcast_to(np.asarray(ni, float), x.shape)
    s = np.sin(2 * x)
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = 1 - (s + (s - 1 / s) / n) ** 2
        z = 0.5 * (1 - np.sign(np.cos(2 * x)) * np.sqrt(inner))
    z = np.where(np.isnan(z), np.nan, z)
    z = np.where(x > pft(n, n), 1.0, z)
    z = np.where(x < pft(0, n), 0.0, z)
    return np.asarray(z, float)


def _ilogit(x: ArrayLike) -> FloatArray:
    return np.asarray(1 / (1 + np.exp(-np.asarray(x, float))))


def _iarcsin(x: ArrayLike) -> FloatArray:
    y = np.clip(np.asarray(x, float), 0, np.pi / 2)
    return np.asarray(np.sin(y) ** 2)


def _exp(x: ArrayLike) -> FloatArray:
    return np.asarray(np.exp(np.asarray(x, float)))


_BACK: dict[str, tuple[str, Callable[[ArrayLike], FloatArray]]] = {
    "RR": ("risk ratio", _exp),
    "OR": ("odds ratio", _exp),
    "PLO": ("proportion", _ilogit),
    "PAS": ("proportion", _iarcsin),
    "IRLN": ("incidence rate", _exp),
    "IRR": ("incidence rate ratio", _exp),
    "ROM": ("ratio of means", _exp),
    "ZCOR": ("correlation", lambda x: np.asarray(np.tanh(np.asarray(x, float)))),
}


def transform_name(measure: str) -> str | None:
    """What the back-transformed scale is called, or None when the measure is not transformed."""
    m = measure.upper()
    if m == "PFT":
        return "proportion"
    return _BACK[m][0] if m in _BACK else None


def back_transform(measure: str, x: ArrayLike, ni: ArrayLike | None = None) -> FloatArray:
    """Back-transform ``x`` from the analysis scale of ``measure``.

    For PFT, ``ni`` are the study sample sizes; their harmonic mean is used (metafor's
    ``transf.ipft.hm``).
    """
    m = measure.upper()
    if m == "PFT":
        if ni is None:
            raise ValueError("PFT back-transformation needs the study sample sizes ni")
        n = np.asarray(ni, float)
        nhm = 1 / np.mean(1 / n)
        return ipft(x, nhm)
    if m in _BACK:
        return _BACK[m][1](x)
    return np.asarray(x, float)
