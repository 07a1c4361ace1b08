"""Revised Tokuhashi score for the prognosis of spinal metastases (0-15).

Written by hand (a table lookup). Points and bands: ``data/prognosis.yaml`` from Tokuhashi Y
et al. Spine 2005;30(19):2186-91, Table 1; unknown inputs give ranges (``_prognosis``).
"""

from __future__ import annotations

from vertebro.errors import FieldError

from ._prognosis import (
    FRANKEL_GRADES,
    VISCERAL_STATES,
    PrognosticScore,
    build,
    by_count,
    by_kps,
    check_choice,
    check_count,
    check_kps,
    primary_key,
    prognosis_data,
    raise_if,
    span,
)

__all__ = ["tokuhashi"]


def tokuhashi(
    *,
    kps: int | tuple[int, int] | None = None,
    extraspinal_bone_metastases: int | None = None,
    spinal_metastases: int | None = None,
    visceral_metastases: str | None = None,
    primary: str | None = None,
    frankel: str | None = None,
) -> PrognosticScore:
    """Revised Tokuhashi score; every argument may be ``None`` (unknown).

    Parameters
    ----------
    kps : int or (int, int)
        Karnofsky performance status 10-100 (general condition), or the range of KPS an ECOG
        stands for.
    extraspinal_bone_metastases : int
        Number of extraspinal bone metastasis foci (0 or more).
    spinal_metastases : int
        Number of metastases in the vertebral bodies (1 or more).
    visceral_metastases : {"none", "treatable", "untreatable"}
        Metastases to the major internal organs; "treatable" stands for Tokuhashi's
        "removable", "untreatable" for "unremovable".
    primary : str
        Primary site, a vertebro key (``breast``, ``lung``, ``renal``, ``unknown`` for an
        unidentified primary, ...). A key the table does not name is unknown (0-5 points).
    frankel : {"A", "B", "C", "D", "E"}
        Palsy: Frankel A/B complete (0), C/D incomplete (1), E none (2).

    Returns
    -------
    PrognosticScore
        Total 0-15 (or its range); bands 0-8 (under 6 months), 9-11 (6 months or more),
        12-15 (1 year or more).

    Raises
    ------
    InvalidInput
        Every invalid argument, by name.

    References
    ----------
    Tokuhashi Y, Matsuzaki H, Oda H, Oshima M, Ryu J. A revised scoring system for
    preoperative evaluation of metastatic spine tumor prognosis. Spine 2005;30(19):2186-91.
    """
    spec = prognosis_data()["tokuhashi"]
    errors: list[FieldError] = []
    k = check_kps(errors, kps)
    extra = check_count(errors, "extraspinal_bone_metastases", extraspinal_bone_metastases)
    spinal = check_count(errors, "spinal_metastases", spinal_metastases, low=1)
    visc = check_choice(errors, "visceral_metastases", visceral_metastases, VISCERAL_STATES)
    palsy = check_choice(errors, "frankel", frankel, FRANKEL_GRADES)
    raise_if(errors)
    key = primary_key(primary)
    table = spec["primary_points"]
    all_primary = span(p for ps in table.values() for p in ps)
    notes: list[str] = []
    if key is not None and key not in table:
        notes.append(f"primary {primary!r} is not in the Tokuhashi table: scored as unknown")
    primary_pts = span(table[key]) if key in table else all_primary
    points = {
        "general_condition": by_kps(spec["kps_points"], k),
        "extraspinal_bone_metastases": by_count(spec["extraspinal_points"], extra),
        "spinal_metastases": by_count(spec["spinal_points"], spinal),
        "visceral_metastases": span(
            spec["visceral_points"][v] for v in ((visc,) if visc else VISCERAL_STATES)
        ),
        "primary": primary_pts,
        "palsy": span(
            spec["frankel_points"][g] for g in ((palsy,) if palsy else FRANKEL_GRADES)
        ),
    }
    given = {
        "kps": k,
        "extraspinal_bone_metastases": extra,
        "spinal_metastases": spinal,
        "visceral_metastases": visc,
        "primary": key if key in table else None,
        "frankel": palsy,
    }
    return build(
        "tokuhashi", points, (n for n, v in given.items() if v is None), notes=notes
    )
