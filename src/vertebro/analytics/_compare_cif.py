"""Cumulative incidence of a new fracture with death as the competing event (Aalen-Johansen).

The Kaplan-Meier new-fracture curve censors a patient at death, as if they could still
fracture later; in a population that dies soon after the procedure that overstates the risk
of a new fracture (1 - KM exceeds the cumulative incidence). The Aalen-Johansen estimator
(Aalen OO, Johansen S. Scand J Stat 1978;5(3):141-50), via lifelines'
``AalenJohansenFitter``, counts death before a fracture as a competing event:
CIF(t) = sum over fracture times t_j <= t of S(t_j-) * d_j / n_j, with S the Kaplan-Meier
of either event.

Ties: lifelines resolves a fracture and a death on the same day by random jitter (and reseeds
numpy's global generator). vertebro breaks such ties itself, deterministically, by moving the
deaths a millionth of a day earlier: the cumulative incidence after the tied day does not
depend on the order of tied events, and events still come before the censorings of that day,
so the estimate equals the textbook one with ties.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["CENSORED", "DEATH", "FRACTURE", "CIFCurve", "cumulative_incidence"]

CENSORED, FRACTURE, DEATH = 0, 1, 2
_TIE_SHIFT = 1e-6  # days; far below the one-day resolution of the registry


@dataclass(frozen=True)
class CIFCurve:
    """Cumulative incidence of the event of interest in one group."""

    group: str
    n: int
    events: int  # new fractures
    competing: int  # deaths before a recorded new fracture
    times: tuple[float, ...]
    incidence: tuple[float, ...]
    ci_low: tuple[float, ...]
    ci_high: tuple[float, ...]
    at_days: tuple[tuple[int, float], ...]  # (day, cumulative incidence by that day)


def cumulative_incidence(
    group: str, durations: Sequence[float], events: Sequence[int], at_days: Sequence[int]
) -> CIFCurve:
    """Aalen-Johansen cumulative incidence of ``FRACTURE`` with ``DEATH`` competing.

    ``events`` holds ``CENSORED`` (0), ``FRACTURE`` (1) or ``DEATH`` (2) per patient.
    """
    from lifelines import AalenJohansenFitter

    d = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=int)
    fracture_days = set(d[e == FRACTURE].tolist())
    tied = (e == DEATH) & np.isin(d, list(fracture_days))
    d = np.where(tied, d - _TIE_SHIFT, d)
    ajf = AalenJohansenFitter(calculate_variance=True).fit(d, e, event_of_interest=FRACTURE)
    # the moved deaths' own rows are dropped: each tied day is reported once, with all its events
    keep = ~np.isin(ajf.cumulative_density_.index.to_numpy(dtype=float), d[tied])
    cif = ajf.cumulative_density_.iloc[keep, 0]
    ci = ajf.confidence_interval_cumulative_density_.iloc[keep]
    times = cif.index.to_numpy(dtype=float)
    values = cif.to_numpy(dtype=float)

    def by(day: int) -> float:
        k = np.searchsorted(times, day, side="right") - 1
        return float(values[k]) if k >= 0 else 0.0

    return CIFCurve(
        group=group,
        n=len(d),
        events=int(np.sum(e == FRACTURE)),
        competing=int(np.sum(e == DEATH)),
        times=tuple(float(t) for t in times),
        incidence=tuple(float(v) for v in values),
        ci_low=tuple(float(v) for v in ci.iloc[:, 0].to_numpy()),
        ci_high=tuple(float(v) for v in ci.iloc[:, 1].to_numpy()),
        at_days=tuple((int(day), by(day)) for day in at_days),
    )
