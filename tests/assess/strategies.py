"""Hypothesis strategies for patients with any mix of known and unknown facts."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from vertebro.spine import VERTEBRAE

MISSING = object()

# Which fields may be unknown, and the values they can take when known. Values that favour a
# candidate are listed more than once so that generated patients reach every disposition.
PATIENT = {
    "cancer_history": [True, True, True, False],
    "histology_confirmed": [True, True, False],
    "kps": [40, 60, 70, 80, 90],
    "life_expectancy_months": [1, 6, 12, 24],
    "multiple_primaries": [False, False, True],
    "long_latency": [False, False, True],
}
PAIN = {
    "nrs": [2, 5, 7, 8, 9, 10],
    "mechanical": [True, True, True, False],
    "concordant_exam": [True, True, True, False],
    "radicular_exceeds_axial": [False, False, True],
    "medical_therapy_weeks": [1, 4, 6, 10],
}
THERAPY = {"prevents_ambulation": [True, True, False], "analgesic_side_effects": [False, True]}
NEUROLOGY = {
    "deficit": ["none", "none", "none", "none", "radiculopathy", "myelopathy", "cauda_equina"],
    "clinical_cord_compression": [False, False, False, False, True],
    "pending_compromise": [False, False, False, False, True],
}
CONTRA = {
    k: [False] * 9 + [True]
    for k in (
        "active_systemic_infection",
        "spinal_infection",
        "uncorrectable_coagulopathy",
        "unfit_for_anaesthesia",
        "cement_allergy",
    )
}
LEVEL = {
    "index": [True, True, True, False],
    "mri_edema": [True, True, True, False],
    "height_loss_pct": [0, 10, 30, 45, 60, 90],
    "lesion": ["lytic", "mixed", "blastic"],
    "posterior_wall": ["intact", "intact", "disrupted", "retropulsion"],
    "escc": ["0", "0", "0", "1a", "1b", "1c", "2", "3"],
    "alignment": ["normal", "normal", "normal", "deformity", "subluxation"],
    "posterolateral": ["none", "none", "unilateral", "bilateral"],
    "instrumentation": ["none", "none", "none", "unilateral_screw", "bilateral_screws"],
    "fracture_age_weeks": [2, 8, 30],
    "kyphosis_concern": [False, False, True],
    "vertebra_plana": [False, False, True],
    "hardware_failure": [False] * 6 + [True],
    "hardware_prohibits": [False] * 6 + [True],
}
CONTEXT = {
    "mdt_agreed": [True, False],
    "spine_surgery_available": [True, True, False],
    "mri_contraindicated": [False, False, True],
}
# Facts asked as pre-procedure checks (docs/rulebook.md, readings): only a known "yes" acts,
# so the "unknowns cannot flip the answer" guarantee does not cover them; completions leave
# them unknown.
CHECKS = {"pending_compromise", "alternative_source", "hardware_failure", "hardware_prohibits"}
LEVEL_NAMES = list(VERTEBRAE)  # sacral levels included (issue 9.3)


def _block(spec: dict[str, list[Any]], p_unknown: float) -> st.SearchStrategy[dict[str, Any]]:
    unknown_weight = max(1, round(10 * p_unknown))
    known = [False] * unknown_weight + [True] * (10 - unknown_weight)
    parts = {
        k: st.tuples(st.sampled_from(known), st.sampled_from(values)).map(
            lambda t: t[1] if t[0] else MISSING
        )
        for k, values in spec.items()
    }
    return st.fixed_dictionaries(parts).map(
        lambda d: {k: v for k, v in d.items() if v is not MISSING}
    )


@st.composite
def patients(draw: st.DrawFn, p_unknown: float = 0.1, max_levels: int = 3) -> dict[str, Any]:
    names = draw(
        st.lists(st.sampled_from(LEVEL_NAMES), min_size=1, max_size=max_levels, unique=True)
    )
    levels = [{"level": n, **draw(_block(LEVEL, p_unknown))} for n in names]
    pain = draw(_block(PAIN, p_unknown))
    pain["therapy_failed"] = draw(_block(THERAPY, p_unknown))
    context = draw(_block(CONTEXT, p_unknown))
    if draw(st.booleans()):
        context["prior_radiotherapy_levels"] = draw(st.lists(st.sampled_from(names), unique=True))
    return {
        "patient": draw(_block(PATIENT, p_unknown)),
        "pain": pain,
        "neurology": draw(_block(NEUROLOGY, p_unknown)),
        "contraindications": draw(_block(CONTRA, p_unknown)),
        "levels": levels,
        "context": context,
    }


BLOCKS = {
    "patient": PATIENT,
    "pain": PAIN,
    "neurology": NEUROLOGY,
    "contraindications": CONTRA,
    "context": CONTEXT,
}


@st.composite
def completions(draw: st.DrawFn, patient: dict[str, Any]) -> dict[str, Any]:
    """The same patient with every unknown fact filled in with some valid value."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in patient.items()}
    for block, spec in BLOCKS.items():
        b = out.setdefault(block, {})
        for k, values in spec.items():
            if k not in b and k not in CHECKS:
                b[k] = draw(st.sampled_from(sorted(set(values), key=repr)))
    tf = dict(out["pain"].get("therapy_failed", {}))
    for k, values in THERAPY.items():
        tf.setdefault(k, draw(st.sampled_from(sorted(set(values), key=repr))))
    out["pain"]["therapy_failed"] = tf
    if "prior_radiotherapy_levels" not in out["context"]:
        names = [lv["level"] for lv in patient["levels"]]
        out["context"]["prior_radiotherapy_levels"] = draw(
            st.lists(st.sampled_from(names), unique=True)
        )
    levels = []
    for lv in patient["levels"]:
        full = dict(lv)
        for k, values in LEVEL.items():
            if k not in full and k not in CHECKS:
                full[k] = draw(st.sampled_from(sorted(set(values), key=repr)))
        if full["height_loss_pct"] == 0:
            full.setdefault("body_involved_over_50", draw(st.booleans()))
        levels.append(full)
    out["levels"] = levels
    return out
