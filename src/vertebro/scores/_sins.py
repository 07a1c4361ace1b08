"""Spinal Instability Neoplastic Score (SINS).

Written by hand: no maintained library implements SINS. Points and categories are those of
Fisher CG et al. Spine 2010;35(22):E1221-9 (Spine Oncology Study Group); DESIGN.md section 5.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from vertebro.errors import FieldError, InvalidInput
from vertebro.spine import VERTEBRA_RANGE_TEXT, is_vertebra, vertebra_index

__all__ = [
    "SINS",
    "SINS_COMPONENTS",
    "SINS_POINTS",
    "SinsCategory",
    "sins",
    "sins_category",
    "sins_collapse",
    "sins_from_level",
    "sins_location",
]

SinsCategory = Literal["stable", "indeterminate", "unstable"]

# Fisher 2010, Table 1 (points per descriptor). Descriptor names are vertebro's codes:
#   pain "occasional" = occasional, non-mechanical pain;
#   alignment "subluxation" = subluxation/translation, "deformity" = de novo kyphosis/scoliosis;
#   collapse "none_over_50_involved" = no collapse but more than 50% of the body involved.
SINS_POINTS: Final[Mapping[str, Mapping[str, int]]] = MappingProxyType(
    {
        "location": MappingProxyType({"junctional": 3, "mobile": 2, "semi_rigid": 1, "rigid": 0}),
        "pain": MappingProxyType({"mechanical": 3, "occasional": 1, "none": 0}),
        "lesion": MappingProxyType({"lytic": 2, "mixed": 1, "blastic": 0}),
        "alignment": MappingProxyType({"subluxation": 4, "deformity": 2, "normal": 0}),
        "collapse": MappingProxyType(
            {"over_50": 3, "under_50": 2, "none_over_50_involved": 1, "none": 0}
        ),
        "posterolateral": MappingProxyType({"bilateral": 3, "unilateral": 1, "none": 0}),
    }
)
SINS_COMPONENTS: Final[tuple[str, ...]] = tuple(SINS_POINTS)

# Fisher 2010: 0-6 stable, 7-12 indeterminate (possibly impending) instability, 13-18 unstable.
_STABLE_MAX: Final = 6
_INDETERMINATE_MAX: Final = 12
_TOTAL_MAX: Final = 18


def _span(first: str, last: str) -> range:
    return range(vertebra_index(first), vertebra_index(last) + 1)


# Fisher 2010 location regions, as index ranges over vertebro.spine.VERTEBRAE (C1 = 0).
# Occiput-C2 is junctional; the occiput is not a vertebra, so C1-C2 stands for it here.
_LOCATION_SPANS: Final[tuple[tuple[range, str], ...]] = (
    (_span("C1", "C2"), "junctional"),
    (_span("C3", "C6"), "mobile"),
    (_span("C7", "T2"), "junctional"),
    (_span("T3", "T10"), "semi_rigid"),
    (_span("T11", "L1"), "junctional"),
    (_span("L2", "L4"), "mobile"),
    (_span("L5", "S1"), "junctional"),
    (_span("S2", "S5"), "rigid"),
)
_LOCATION_BY_INDEX: Final[dict[int, str]] = {i: loc for span, loc in _LOCATION_SPANS for i in span}


@dataclass(frozen=True)
class SINS:
    """A scored SINS: the total, its category and the points of each component.

    ``points`` and ``descriptors`` are keyed by the component names of
    :data:`SINS_COMPONENTS`, in that order.
    """

    total: int
    category: str
    points: dict[str, int]
    descriptors: dict[str, str]


def _norm(value: object) -> str:
    return (
        value.strip().lower().replace("-", "_").replace(" ", "_") if isinstance(value, str) else ""
    )


def _descriptor(component: str, value: object) -> str:
    table = SINS_POINTS[component]
    code = _norm(value)
    if code not in table:
        raise InvalidInput.field(
            component, f"{value!r} is not a SINS {component} descriptor ({', '.join(table)})"
        )
    return code


def sins_location(level: str) -> str:
    """SINS location descriptor of a vertebra.

    Parameters
    ----------
    level : str
        A vertebra name (``"T9"``; case and surrounding spaces ignored).

    Returns
    -------
    str
        ``"junctional"`` (occiput-C2, C7-T2, T11-L1, L5-S1), ``"mobile"`` (C3-C6, L2-L4),
        ``"semi_rigid"`` (T3-T10) or ``"rigid"`` (S2-S5).

    Raises
    ------
    InvalidInput
        ``level`` is not a vertebra.

    References
    ----------
    Fisher CG et al. A novel classification system for spinal instability in neoplastic
    disease. Spine 2010;35(22):E1221-9. doi:10.1097/BRS.0b013e3181e16ae2
    """
    name = level.strip().upper() if isinstance(level, str) else ""
    if not is_vertebra(name):
        raise InvalidInput.field("level", f"{level!r} is not a vertebra ({VERTEBRA_RANGE_TEXT})")
    return _LOCATION_BY_INDEX[vertebra_index(name)]


def sins_collapse(height_loss_pct: float, body_involved_over_50: bool = False) -> str:
    """SINS vertebral-body-collapse descriptor from the measured height loss.

    Parameters
    ----------
    height_loss_pct : float
        Loss of vertebral body height in percent, 0-100.
    body_involved_over_50 : bool
        More than half of the vertebral body is involved by tumour (only matters when there
        is no collapse).

    Returns
    -------
    str
        ``"over_50"`` if the loss is more than 50%, ``"under_50"`` if it is more than 0 and at
        most 50%, otherwise ``"none_over_50_involved"`` or ``"none"``.

    Notes
    -----
    Fisher's table has "> 50% collapse" (3 points) and "< 50% collapse" (2 points) and says
    nothing about exactly 50%. vertebro scores exactly 50% as ``"under_50"``: the 3-point
    descriptor is read literally as *more than* half, and a 50% reading is within the
    measurement error of a height ratio anyway, so the extra point is not claimed on a tie.

    References
    ----------
    Fisher CG et al. Spine 2010;35(22):E1221-9. doi:10.1097/BRS.0b013e3181e16ae2
    """
    loss = _percent("height_loss_pct", height_loss_pct)
    if loss > 50:
        return "over_50"
    if loss > 0:
        return "under_50"
    return "none_over_50_involved" if body_involved_over_50 else "none"


def _percent(field: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= 100
    ):
        raise InvalidInput.field(field, f"{value!r} is not a percentage (a number 0-100)")
    return float(value)


def sins_category(total: int) -> SinsCategory:
    """SINS category of a total score.

    Parameters
    ----------
    total : int
        SINS total, 0-18.

    Returns
    -------
    {"stable", "indeterminate", "unstable"}
        0-6 stable, 7-12 indeterminate (possibly impending instability), 13-18 unstable.

    References
    ----------
    Fisher CG et al. Spine 2010;35(22):E1221-9. doi:10.1097/BRS.0b013e3181e16ae2
    """
    if isinstance(total, bool) or not isinstance(total, int) or not 0 <= total <= _TOTAL_MAX:
        raise InvalidInput.field("total", f"{total!r} is not a SINS total (an integer 0-18)")
    if total <= _STABLE_MAX:
        return "stable"
    if total <= _INDETERMINATE_MAX:
        return "indeterminate"
    return "unstable"


def sins(
    *,
    location: str,
    pain: str,
    lesion: str,
    alignment: str,
    collapse: str,
    posterolateral: str,
) -> SINS:
    """Spinal Instability Neoplastic Score from the six component descriptors.

    Parameters
    ----------
    location : str
        A vertebra name (``"T9"``) or a location descriptor (``junctional``, ``mobile``,
        ``semi_rigid``, ``rigid``).
    pain : str
        ``mechanical``, ``occasional`` (occasional, non-mechanical) or ``none``.
    lesion : str
        ``lytic``, ``mixed`` or ``blastic``.
    alignment : str
        ``subluxation`` (subluxation/translation), ``deformity`` (de novo kyphosis or
        scoliosis) or ``normal``.
    collapse : str
        ``over_50``, ``under_50``, ``none_over_50_involved`` or ``none``; see
        :func:`sins_collapse` to derive it from a height loss.
    posterolateral : str
        Posterolateral involvement of spinal elements: ``bilateral``, ``unilateral``, ``none``.

    Returns
    -------
    SINS
        Total 0-18, category, and points and descriptor per component.

    Raises
    ------
    InvalidInput
        Every invalid component is reported, not only the first.

    References
    ----------
    Fisher CG et al. A novel classification system for spinal instability in neoplastic
    disease. Spine 2010;35(22):E1221-9. doi:10.1097/BRS.0b013e3181e16ae2
    """
    given = {
        "location": location,
        "pain": pain,
        "lesion": lesion,
        "alignment": alignment,
        "collapse": collapse,
        "posterolateral": posterolateral,
    }
    if _norm(location) not in SINS_POINTS["location"] and isinstance(location, str):
        name = location.strip().upper()
        if is_vertebra(name):
            given["location"] = _LOCATION_BY_INDEX[vertebra_index(name)]
    descriptors: dict[str, str] = {}
    errors: list[FieldError] = []
    for component in SINS_COMPONENTS:
        try:
            descriptors[component] = _descriptor(component, given[component])
        except InvalidInput as exc:
            errors.extend(exc.errors)
    if errors:
        if errors[0].field == "location":
            errors[0] = FieldError(
                "location",
                f"{location!r} is not a vertebra ({VERTEBRA_RANGE_TEXT}) or a SINS location "
                f"({', '.join(SINS_POINTS['location'])})",
            )
        raise InvalidInput(errors)
    points = {c: SINS_POINTS[c][d] for c, d in descriptors.items()}
    total = sum(points.values())
    return SINS(total=total, category=sins_category(total), points=points, descriptors=descriptors)


def sins_from_level(
    level: str,
    *,
    pain: str,
    lesion: str,
    alignment: str,
    height_loss_pct: float,
    posterolateral: str,
    body_involved_over_50: bool = False,
) -> SINS:
    """SINS from a vertebra name and a measured height loss.

    Location comes from :func:`sins_location` and collapse from :func:`sins_collapse`
    (exactly 50% counts as ``under_50``); the other parameters are as in :func:`sins`.

    References
    ----------
    Fisher CG et al. Spine 2010;35(22):E1221-9. doi:10.1097/BRS.0b013e3181e16ae2
    """
    errors: list[FieldError] = []
    location = collapse = ""
    try:
        location = sins_location(level)
    except InvalidInput as exc:
        errors.extend(exc.errors)
    try:
        collapse = sins_collapse(height_loss_pct, body_involved_over_50)
    except InvalidInput as exc:
        errors.extend(exc.errors)
    try:
        result = sins(
            location=location or "rigid",  # placeholders so the other fields are still checked
            pain=pain,
            lesion=lesion,
            alignment=alignment,
            collapse=collapse or "none",
            posterolateral=posterolateral,
        )
    except InvalidInput as exc:
        errors.extend(exc.errors)
    if errors:
        raise InvalidInput(errors)
    return result
