"""Genant semi-quantitative grade of vertebral fracture.

Written by hand. Genant HK et al. Vertebral fracture assessment using a semiquantitative
technique. J Bone Miner Res 1993;8(9):1137-48; DESIGN.md section 5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

from vertebro.errors import InvalidInput

__all__ = [
    "Genant",
    "GenantMorphology",
    "genant",
    "genant_grade",
    "genant_morphology",
    "height_loss_pct",
]

GenantMorphology = Literal["wedge", "biconcave", "crush"]

# Genant 1993 height-reduction bands: grade 1 ~20-25%, grade 2 ~25-40%, grade 3 > 40%.
# Each upper bound belongs to the lower grade; 20% itself is grade 1 (see genant_grade).
_GRADE_1_FROM: Final = 20.0
_GRADE_1_TO: Final = 25.0
_GRADE_2_TO: Final = 40.0


@dataclass(frozen=True)
class Genant:
    """A Genant grade, the height loss it came from and, when heights were given, the shape."""

    grade: int
    height_loss_pct: float
    morphology: str | None


def _number(
    field: str, value: object, *, low: float, high: float | None, strict_low: bool
) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = (v > low if strict_low else v >= low) and (high is None or v <= high)
    if not ok:
        bound = (
            f"> {low:g}"
            if strict_low
            else f"{low:g}-{high:g}"
            if high is not None
            else f">= {low:g}"
        )
        raise InvalidInput.field(field, f"{value!r} is not a valid {field} (a number {bound})")
    return float(value)  # type: ignore[arg-type]


def genant_grade(height_loss_pct: float) -> int:
    """Genant semi-quantitative grade from the vertebral height loss.

    Parameters
    ----------
    height_loss_pct : float
        Loss of vertebral height in percent, 0-100 (see :func:`height_loss_pct`).

    Returns
    -------
    int
        0 normal (< 20%), 1 mild (20-25%), 2 moderate (> 25-40%), 3 severe (> 40%).

    Notes
    -----
    Genant's bands ("approximately 20-25%", "25-40%", "> 40%") share their end points.
    vertebro puts each shared end point in the lower grade, so that grade 3 is strictly
    "> 40%" as published: exactly 20% is grade 1, exactly 25% is grade 1, exactly 40% is
    grade 2.

    References
    ----------
    Genant HK et al. J Bone Miner Res 1993;8(9):1137-48. doi:10.1002/jbmr.5650080915
    """
    loss = _number("height_loss_pct", height_loss_pct, low=0, high=100, strict_low=False)
    if loss < _GRADE_1_FROM:
        return 0
    if loss <= _GRADE_1_TO:
        return 1
    if loss <= _GRADE_2_TO:
        return 2
    return 3


def height_loss_pct(*, anterior: float, middle: float, posterior: float, reference: float) -> float:
    """Largest loss of the three vertebral heights against a reference height, in percent.

    Parameters
    ----------
    anterior, middle, posterior : float
        Measured heights of the vertebral body (any unit, the same for all four), >= 0.
    reference : float
        Expected height of the body (e.g. from the adjacent normal vertebrae), > 0.

    Returns
    -------
    float
        ``(reference - min(anterior, middle, posterior)) / reference * 100``, floored at 0
        (a body taller than the reference has no loss).

    References
    ----------
    Genant HK et al. J Bone Miner Res 1993;8(9):1137-48. doi:10.1002/jbmr.5650080915
    """
    ref = _number("reference", reference, low=0, high=None, strict_low=True)
    lowest = min(
        _number("anterior", anterior, low=0, high=None, strict_low=False),
        _number("middle", middle, low=0, high=None, strict_low=False),
        _number("posterior", posterior, low=0, high=None, strict_low=False),
    )
    return max(0.0, (ref - lowest) / ref * 100.0)


# genant() takes a keyword named height_loss_pct, which shadows the function inside it.
_height_loss = height_loss_pct


def genant_morphology(*, anterior: float, middle: float, posterior: float) -> GenantMorphology:
    """Fracture shape from which of the three heights is reduced most.

    Rule: the smallest height names the shape: posterior -> ``"crush"``, anterior ->
    ``"wedge"``, middle -> ``"biconcave"``. Ties go in that order of precedence, so a body
    compressed evenly (all three equal) or with the posterior height among the lowest is a
    crush, and anterior equal to middle is a wedge.

    References
    ----------
    Genant HK et al. J Bone Miner Res 1993;8(9):1137-48. doi:10.1002/jbmr.5650080915
    """
    a = _number("anterior", anterior, low=0, high=None, strict_low=False)
    m = _number("middle", middle, low=0, high=None, strict_low=False)
    p = _number("posterior", posterior, low=0, high=None, strict_low=False)
    lowest = min(a, m, p)
    if p == lowest:
        return "crush"
    if a == lowest:
        return "wedge"
    return "biconcave"


def genant(
    *,
    height_loss_pct: float | None = None,
    anterior: float | None = None,
    middle: float | None = None,
    posterior: float | None = None,
    reference: float | None = None,
) -> Genant:
    """Genant grade from a height loss, or from three heights and a reference height.

    Give either ``height_loss_pct`` or all four heights, not both.

    Returns
    -------
    Genant
        ``morphology`` is set only when heights were given and the grade is at least 1
        (a grade-0 vertebra is not fractured, so it has no fracture shape).

    References
    ----------
    Genant HK et al. J Bone Miner Res 1993;8(9):1137-48. doi:10.1002/jbmr.5650080915
    """
    heights = {
        "anterior": anterior,
        "middle": middle,
        "posterior": posterior,
        "reference": reference,
    }
    given = [k for k, v in heights.items() if v is not None]
    if height_loss_pct is not None:
        if given:
            raise InvalidInput.field(
                "height_loss_pct", "give either height_loss_pct or the four heights, not both"
            )
        return Genant(
            grade=genant_grade(height_loss_pct),
            height_loss_pct=float(height_loss_pct),
            morphology=None,
        )
    if len(given) != len(heights):
        missing = ", ".join(k for k in heights if k not in given)
        raise InvalidInput.field(
            "height_loss_pct" if not given else missing.split(", ")[0],
            f"missing ({missing}); give height_loss_pct, "
            "or anterior, middle, posterior and reference",
        )
    assert (
        anterior is not None
        and middle is not None
        and posterior is not None
        and reference is not None
    )
    loss = _height_loss(anterior=anterior, middle=middle, posterior=posterior, reference=reference)
    grade = genant_grade(loss)
    shape = (
        genant_morphology(anterior=anterior, middle=middle, posterior=posterior) if grade else None
    )
    return Genant(grade=grade, height_loss_pct=loss, morphology=shape)
