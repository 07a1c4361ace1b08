"""Sample-size-weighted pooled means, interval by interval (Sorensen-SpineJ-2019, Methods).

Sorensen et al. (Spine J 2019;19:1067-75) summarise 87 studies by the mean of the study means
weighted by each study's N, separately for each technique (PVP, KP) and follow-up interval
(preoperative, < 4 weeks, <= 6 weeks, < 6 months, < 1 year, >= 1 year; their Table 2). This is
not an inverse-variance meta-analysis: it has no standard error and ignores between-study
variance. It is implemented as its own method so that their tables can be rebuilt and compared;
use :class:`RMA` with measure MN for an inverse-variance pooled mean.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from vertebro.errors import EvidenceError

__all__ = ["INTERVALS", "WeightedMean", "pooled_by_interval", "weighted_mean"]

#: Sorensen-SpineJ-2019 Table 2 follow-up intervals, in order (codes used in the CSV format).
INTERVALS: dict[str, str] = {
    "preop": "Preoperative",
    "lt4w": "< 4 weeks",
    "le6w": "<= 6 weeks",
    "lt6m": "< 6 months",
    "lt1y": "< 1 year",
    "ge1y": ">= 1 year",
}


@dataclass(frozen=True)
class WeightedMean:
    """N-weighted mean of study means and the total N behind it."""

    mean: float
    n: int
    k: int


def weighted_mean(means: ArrayLike, ns: ArrayLike) -> WeightedMean:
    """sum(n_i * mean_i) / sum(n_i) (Sorensen-SpineJ-2019: "weighted according to sample size")."""
    m = np.asarray(means, float)
    n = np.asarray(ns, float)
    if m.shape != n.shape or m.size == 0:
        raise EvidenceError("weighted mean: needs one n per mean and at least one study")
    if np.any(n < 1) or not np.all(np.isfinite(m)):
        raise EvidenceError("weighted mean: every n must be >= 1 and every mean finite")
    total = float(n.sum())
    return WeightedMean(float((m * n).sum() / total), round(total), int(m.size))


def pooled_by_interval(
    rows: Iterable[tuple[str, str, str, float, float]],
    intervals: Sequence[str] = tuple(INTERVALS),
) -> dict[tuple[str, str], dict[str, WeightedMean]]:
    """Pool ``(outcome, arm, interval, mean, n)`` rows into a Table-2 layout.

    Returns ``{(outcome, arm): {interval: WeightedMean}}`` with intervals in Sorensen's order.
    """
    groups: dict[tuple[str, str], dict[str, list[tuple[float, float]]]] = {}
    for outcome, arm, interval, mean, n in rows:
        if interval not in intervals:
            raise EvidenceError(f"interval: {interval!r} is not one of {', '.join(intervals)}")
        groups.setdefault((outcome, arm), {}).setdefault(interval, []).append((mean, n))
    out: dict[tuple[str, str], dict[str, WeightedMean]] = {}
    for key, cells in groups.items():
        out[key] = {}
        for iv in intervals:
            if iv in cells:
                ms, ns = zip(*cells[iv], strict=True)
                out[key][iv] = weighted_mean(ms, ns)
    return out
