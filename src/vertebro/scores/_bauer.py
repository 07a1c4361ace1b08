"""Modified Bauer score for spinal metastases (0-4).

Written by hand. Bauer's score without the pathological-fracture item, as tested by Leithner
A et al. Eur Spine J 2008;17(11):1488-95; bands in ``data/prognosis.yaml``.
"""

from __future__ import annotations

from vertebro.errors import FieldError

from ._prognosis import (
    VISCERAL_STATES,
    PrognosticScore,
    build,
    check_choice,
    check_count,
    primary_key,
    prognosis_data,
    raise_if,
)
from ._skeletal import solitary_skeletal

__all__ = ["modified_bauer"]


def _point(value: bool | None) -> tuple[int, int]:
    return (0, 1) if value is None else (int(value), int(value))


def modified_bauer(
    *,
    primary: str | None = None,
    visceral_metastases: str | None = None,
    extraspinal_bone_metastases: int | None = None,
    spinal_metastases: int | None = None,
) -> PrognosticScore:
    """Modified Bauer score; every argument may be ``None`` (unknown).

    One point each for: no visceral metastases; a solitary skeletal metastasis; a primary
    that is not lung cancer; a primary of breast, kidney, lymphoma or multiple myeloma.
    An unidentified primary (``"unknown"``) may be lung, so its "not lung" point is unknown.

    Returns
    -------
    PrognosticScore
        Total 0-4; bands 0-1 poor (mean survival 4.8 months), 2 moderate (18.2), 3-4 good
        (28.4), as observed by Leithner 2008.

    References
    ----------
    Leithner A, Radl R, Gruber G, et al. Predictive value of seven preoperative prognostic
    scoring systems for spinal metastases. Eur Spine J 2008;17(11):1488-95.
    Bauer HC, Wedin R. Survival after surgery for spinal and extremity metastases. Acta Orthop
    Scand 1995;66(2):143-6 (the original score).
    """
    spec = prognosis_data()["modified_bauer"]
    errors: list[FieldError] = []
    visc = check_choice(errors, "visceral_metastases", visceral_metastases, VISCERAL_STATES)
    extra = check_count(errors, "extraspinal_bone_metastases", extraspinal_bone_metastases)
    spinal = check_count(errors, "spinal_metastases", spinal_metastases, low=1)
    raise_if(errors)
    key = primary_key(primary)
    if key is None:
        not_lung: bool | None = None
        favourable: bool | None = None
    elif key in spec["unidentified_primaries"]:
        not_lung, favourable = None, False
    else:
        not_lung = key not in spec["lung_primaries"]
        favourable = key in spec["favourable_primaries"]
    solitary = solitary_skeletal(extra, spinal)
    points = {
        "no_visceral_metastases": _point(None if visc is None else visc == "none"),
        "solitary_skeletal_metastasis": _point(solitary),
        "primary_not_lung": _point(not_lung),
        "favourable_primary": _point(favourable),
    }
    unknown = []
    if visc is None:
        unknown.append("visceral_metastases")
    if solitary is None:
        unknown += [
            n
            for n, v in (("extraspinal_bone_metastases", extra), ("spinal_metastases", spinal))
            if v is None
        ]
    if not_lung is None or favourable is None:
        unknown.append("primary")
    return build("modified_bauer", points, unknown)
