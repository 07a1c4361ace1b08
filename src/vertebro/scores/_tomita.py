"""Tomita score for spinal metastases (2-10) and its treatment goal.

Written by hand (a table lookup). Points and bands: ``data/prognosis.yaml`` from Tomita K et
al. Spine 2001;26(3):298-306; unknown inputs give ranges (``_prognosis``).
"""

from __future__ import annotations

import itertools

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
    span,
)
from ._skeletal import solitary_skeletal

__all__ = ["tomita"]


def tomita(
    *,
    primary: str | None = None,
    visceral_metastases: str | None = None,
    extraspinal_bone_metastases: int | None = None,
    spinal_metastases: int | None = None,
) -> PrognosticScore:
    """Tomita score; every argument may be ``None`` (unknown).

    Parameters
    ----------
    primary : str
        Primary site (vertebro key): slow growth 1 (breast, thyroid, prostate), moderate 2
        (renal, uterus), rapid 4 (lung, liver, stomach, colon/colorectal, unknown primary).
        Sites the paper does not name are unknown (1-4).
    visceral_metastases : {"none", "treatable", "untreatable"}
        none 0, treatable 2, untreatable 4.
    extraspinal_bone_metastases, spinal_metastases : int
        Bone metastases including the spine: one lesion in all is solitary (1 point), more
        are multiple (2). vertebro reads Tomita's "solitary or isolated" from the counts.

    Returns
    -------
    PrognosticScore
        Total 2-10; bands (treatment goals) 2-3 long-term local control, 4-5 middle-term
        local control, 6-7 short-term palliation, 8-10 terminal care.

    References
    ----------
    Tomita K, Kawahara N, Kobayashi T, et al. Surgical strategy for spinal metastases.
    Spine 2001;26(3):298-306.
    """
    spec = prognosis_data()["tomita"]
    errors: list[FieldError] = []
    visc = check_choice(errors, "visceral_metastases", visceral_metastases, VISCERAL_STATES)
    extra = check_count(errors, "extraspinal_bone_metastases", extraspinal_bone_metastases)
    spinal = check_count(errors, "spinal_metastases", spinal_metastases, low=1)
    raise_if(errors)
    key = primary_key(primary)
    table = spec["primary_points"]
    notes: list[str] = []
    if key is not None and key not in table:
        notes.append(f"primary {primary!r} is not classified by Tomita 2001: scored as unknown")
    solitary = solitary_skeletal(extra, spinal)
    bone = spec["bone_points"]
    # each item's possible points: the growth classes are 1/2/4 and visceral 0/2/4, so the
    # totals an unknown can give have gaps (build() reports only bands they reach)
    values = {
        "primary": set(table[key]) if key in table else {p for ps in table.values() for p in ps},
        "visceral_metastases": {
            spec["visceral_points"][v] for v in ((visc,) if visc else VISCERAL_STATES)
        },
        "bone_metastases": {
            bone["solitary" if s else "multiple"]
            for s in ((solitary,) if solitary is not None else (True, False))
        },
    }
    points = {item: span(v) for item, v in values.items()}
    unknown = [
        n
        for n, v in (
            ("primary", key if key in table else None),
            ("visceral_metastases", visc),
        )
        if v is None
    ]
    if solitary is None:
        unknown += [
            n
            for n, v in (
                ("extraspinal_bone_metastases", extra),
                ("spinal_metastases", spinal),
            )
            if v is None
        ]
    reachable = (sum(c) for c in itertools.product(*values.values()))
    return build("tomita", points, unknown, reachable=reachable, notes=notes)
