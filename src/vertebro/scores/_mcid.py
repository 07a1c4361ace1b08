"""Minimal clinically important differences (MCIDs) and responder classification.

The thresholds are data (``scores/data/mcid.yaml``, one cited entry per measure) so that a
reviewer can check each against its source and a site can substitute its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Any, Final, Literal

import yaml

from vertebro.errors import InvalidInput

__all__ = [
    "MCIDThreshold",
    "is_responder",
    "kps_self_care_threshold",
    "mcid_thresholds",
    "parse_mcid_thresholds",
]

Direction = Literal["decrease", "increase"]

# Absorbs float noise in differences such as 8.1 - 6.1 = 1.9999999999999996 against 2 points.
_EPS: Final = 1e-9


@dataclass(frozen=True)
class MCIDThreshold:
    """One MCID: the smallest important improvement of a measure, and who says so.

    ``points`` is in the measure's own units; ``percent`` (or ``None``) is an alternative
    relative threshold, as a percentage of the baseline value. ``direction`` is
    ``"decrease"`` when a lower score is better (NRS, ODI, RDQ) and ``"increase"`` when a
    higher one is (KPS, SOSGOQ). ``low``/``high`` bound the scale.
    """

    measure: str
    points: float
    percent: float | None
    direction: str
    citation: str
    low: float = 0.0
    high: float = math.inf


def _as_number(where: str, value: Any, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidInput.field(where, f"{value!r} is not a positive number")
    return float(value)


def parse_mcid_thresholds(data: Mapping[str, Any]) -> Mapping[str, MCIDThreshold]:
    """Build MCID thresholds from data shaped like ``scores/data/mcid.yaml``.

    Lets a site load its own thresholds file (``yaml.safe_load``) and pass the result to
    :func:`is_responder` as ``thresholds=``.
    """
    measures = data.get("measures")
    if not isinstance(measures, Mapping) or not measures:
        raise InvalidInput.field("measures", "a mapping of measure name to threshold is required")
    out: dict[str, MCIDThreshold] = {}
    for name, entry in measures.items():
        where = f"measures.{name}"
        if not isinstance(entry, Mapping):
            raise InvalidInput.field(where, f"{entry!r} is not a mapping")
        direction = entry.get("direction")
        if direction not in ("decrease", "increase"):
            raise InvalidInput.field(
                f"{where}.direction", f"{direction!r} is not 'decrease' or 'increase'"
            )
        citation = entry.get("citation")
        if not isinstance(citation, str) or not citation.strip():
            raise InvalidInput.field(f"{where}.citation", "every threshold needs a citation")
        low, high = entry.get("range", [0, math.inf])
        points = _as_number(f"{where}.points", entry.get("points"))
        assert points is not None
        out[str(name)] = MCIDThreshold(
            measure=str(name),
            points=points,
            percent=_as_number(f"{where}.percent", entry.get("percent"), optional=True),
            direction=direction,
            citation=" ".join(citation.split()),
            low=float(low),
            high=float(high),
        )
    return MappingProxyType(out)


@cache
def _data() -> Mapping[str, Any]:
    text = files("vertebro.scores").joinpath("data", "mcid.yaml").read_text(encoding="utf-8")
    loaded: Mapping[str, Any] = yaml.safe_load(text)
    return loaded


@cache
def mcid_thresholds() -> Mapping[str, MCIDThreshold]:
    """The shipped MCID thresholds, by measure (``nrs``, ``odi``, ``rdq``, ``rdq_ostelo``,
    ``kps``, ``sosgoq``).

    References
    ----------
    Ostelo RW et al. Spine 2008;33(1):90-4 (NRS 2 points or 30%, ODI 10, RDQ 5);
    SNIS-2014 quoting CAFE (RDQ 2-3, KPS about 5); Yin M et al. J Neurosurg Spine
    2025;43(3):283-93 (SOSGOQ 2.0 total 19.4).
    """
    return parse_mcid_thresholds(_data())


@cache
def kps_self_care_threshold() -> int:
    """KPS at or above which a patient is considered able to care for themselves (70).

    References
    ----------
    SNIS-2014 (standard of practice), CAFE trial section.
    """
    return int(_data()["thresholds"]["kps_self_care"]["value"])


def _score(field: str, value: object, t: MCIDThreshold) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not t.low <= value <= t.high
    ):
        raise InvalidInput.field(
            field, f"{value!r} is not a valid {t.measure} score (a number {t.low:g}-{t.high:g})"
        )
    return float(value)


def is_responder(
    measure: str,
    baseline: float,
    follow_up: float,
    *,
    points: float | None = None,
    percent: float | None = None,
    thresholds: Mapping[str, MCIDThreshold] | None = None,
) -> bool:
    """Whether the change from baseline to follow-up reaches the measure's MCID.

    A patient responds when the improvement (in the measure's better direction) is at least
    ``points``, or at least ``percent`` % of the baseline value when a percent threshold is
    set. A worsening is never a response.

    Parameters
    ----------
    measure : str
        A key of :func:`mcid_thresholds` (or of ``thresholds``), e.g. ``"nrs"``.
    baseline, follow_up : float
        Scores on the measure's scale.
    points, percent : float, optional
        Overrides for another published threshold. If either is given, the pair replaces the
        default pair entirely (a ``None`` in it is then not used), e.g. ``points=1.5`` alone
        for the VAS MCID used by Buchbinder et al. 2009.
    thresholds : mapping, optional
        Thresholds to use instead of the shipped ones (see :func:`parse_mcid_thresholds`).

    Returns
    -------
    bool

    Examples
    --------
    NRS 8 -> 6: 2 points, a responder. NRS 4 -> 3: 1 point but 25%, not a responder.
    NRS 3 -> 2: 1 point but 33%, a responder by the 30% criterion.

    References
    ----------
    Ostelo RW et al. Spine 2008;33(1):90-4. doi:10.1097/BRS.0b013e31815e3a10
    """
    table = mcid_thresholds() if thresholds is None else thresholds
    if measure not in table:
        raise InvalidInput.field("measure", f"{measure!r} has no MCID ({', '.join(table)})")
    t = table[measure]
    if points is not None or percent is not None:
        use_points = _as_number("points", points, optional=True)
        use_percent = _as_number("percent", percent, optional=True)
    else:
        use_points, use_percent = t.points, t.percent
    before = _score("baseline", baseline, t)
    after = _score("follow_up", follow_up, t)
    gain = before - after if t.direction == "decrease" else after - before
    if gain <= 0:
        return False
    if use_points is not None and gain >= use_points - _EPS:
        return True
    return use_percent is not None and before > 0 and gain / before * 100.0 >= use_percent - _EPS
