"""New England Spinal Metastasis Score (NESMS, 0-3).

Written by hand. Weights of Ghori AK et al. Spine J 2015;15(11):2345-50 (modified Bauer >= 3:
2 points; independent ambulation 1; serum albumin >= 3.5 g/dL 1; ceiling 3), named NESMS by
Schoenfeld AJ et al. Spine J 2016;16(4):482-90; bands in ``data/prognosis.yaml``.
"""

from __future__ import annotations

import itertools

from vertebro.errors import FieldError

from ._bauer import modified_bauer
from ._prognosis import (
    PrognosticScore,
    build,
    check_albumin,
    check_bool,
    prognosis_data,
    raise_if,
)

__all__ = ["nesms"]


def nesms(
    *,
    primary: str | None = None,
    visceral_metastases: str | None = None,
    extraspinal_bone_metastases: int | None = None,
    spinal_metastases: int | None = None,
    ambulatory: bool | None = None,
    albumin_g_dl: float | None = None,
) -> PrognosticScore:
    """NESMS; every argument may be ``None`` (unknown).

    Parameters
    ----------
    primary, visceral_metastases, extraspinal_bone_metastases, spinal_metastases
        The modified Bauer score's inputs (:func:`modified_bauer`).
    ambulatory : bool
        Walks independently.
    albumin_g_dl : float
        Serum albumin in g/dL (>= 3.5 scores).

    Returns
    -------
    PrognosticScore
        ``points["modified_bauer_3_or_more"]`` etc.; the total is capped at 3 (Ghori 2015).

    References
    ----------
    Ghori AK et al. Spine J 2015;15(11):2345-50; Schoenfeld AJ et al. Spine J
    2016;16(4):482-90; Schoenfeld AJ et al. (prospective validation) Spine J
    2021;21(1):28-36, doi:10.1016/j.spinee.2020.02.009.
    """
    spec = prognosis_data()["nesms"]
    errors: list[FieldError] = []
    walks = check_bool(errors, "ambulatory", ambulatory)
    albumin = check_albumin(errors, albumin_g_dl)
    raise_if(errors)
    mb = modified_bauer(
        primary=primary,
        visceral_metastases=visceral_metastases,
        extraspinal_bone_metastases=extraspinal_bone_metastases,
        spinal_metastases=spinal_metastases,
    )
    lo, hi = mb.range
    t, w = spec["bauer_threshold"], spec["bauer_points"]
    bauer = (w, w) if lo >= t else (0, 0) if hi < t else (0, w)
    a = spec["ambulatory_points"]
    b = spec["albumin_points"]
    points = {
        "modified_bauer_3_or_more": bauer,
        "ambulatory": (0, a) if walks is None else (a * walks, a * walks),
        "albumin_3_5_or_more": (0, b)
        if albumin is None
        else ((b, b) if albumin >= spec["albumin_threshold_g_dl"] else (0, 0)),
    }
    cap = spec["ceiling"]
    # the Bauer item moves by 2, so 0-2 may skip 1: list the totals the unknowns can give
    reachable = {
        min(cap, sum(combo))
        for combo in itertools.product(*({lo_, hi_} for lo_, hi_ in points.values()))
    }
    unknown = list(mb.unknown) if bauer[0] != bauer[1] else []
    unknown += [n for n, v in (("ambulatory", walks), ("albumin_g_dl", albumin)) if v is None]
    return build(
        "nesms",
        points,
        unknown,
        reachable=reachable,
        notes=(f"modified Bauer {_range(mb.range)}",),
    )


def _range(r: tuple[int, int]) -> str:
    return str(r[0]) if r[0] == r[1] else f"{r[0]}-{r[1]}"
