"""From validated input to the facts rules test, with unknowns kept as unknowns.

A fact is ``None`` when unknown. Interval facts (SINS total, KPS, the number of index
fractures) are ``(low, high)``: the SINS total of a level whose lesion type is unknown is the
range of totals over the possible lesion types, so that "SINS >= 13" is decided whenever every
possibility agrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vertebro.errors import InvalidInput
from vertebro.scores import (
    SINS_POINTS,
    ecog_by_table,
    ecog_to_kps_range,
    genant_grade,
    height_loss_pct,
    sins_category,
    sins_collapse,
    sins_location,
)
from vertebro.spine import region, vertebra_index

from ._input import AssessmentInput, LevelInput

__all__ = [
    "KPS_ECOG_TABLE",
    "LevelFacts",
    "kps_ecog_warning",
    "level_facts",
    "patient_facts",
    "performance_status",
    "unknown_inputs",
]

_SCREWS = ("unilateral_screw", "bilateral_screws")
# primary_cancer values read as primary bone tumours (CAFE excluded them, e.g. osteosarcoma;
# SNIS-2014) and as other cancers; free text outside both lists leaves the fact unknown.
_PRIMARY_BONE = frozenset(
    {"osteosarcoma", "chondrosarcoma", "ewing_sarcoma", "ewing", "chordoma", "primary_bone"}
)
_OTHER_CANCERS = frozenset(
    {
        "myeloma", "breast", "lung", "prostate", "renal", "melanoma", "thyroid", "colorectal",
        "lymphoma", "bladder", "oesophageal", "esophageal", "gastric", "liver", "pancreatic",
        "ovarian", "cervical", "endometrial", "sarcoma_soft_tissue", "head_and_neck",
    }
)  # fmt: skip


def _primary_bone(text: str | None) -> bool | None:
    if text is None:
        return None
    key = text.strip().lower().replace(" ", "_").replace("-", "_")
    if key in _PRIMARY_BONE:
        return True
    return False if key in _OTHER_CANCERS else None


def _known_cancer(inp: AssessmentInput) -> bool | None:
    p = inp.patient
    return True if (p.cancer_history is True or p.histology_confirmed is True) else None


_FULL_KPS = (0, 100)
# The KPS<->ECOG table (a key of vertebro.scores.KPS_ECOG_TABLES) that reads an ECOG grade as
# a KPS range when no KPS is given; published tables disagree, so the output names it.
KPS_ECOG_TABLE = "conventional"


def _points(component: str, descriptor: str | None) -> tuple[int, int]:
    table = SINS_POINTS[component]
    if descriptor is None:
        return min(table.values()), max(table.values())
    p = table[descriptor]
    return p, p


def _kps_range(inp: AssessmentInput) -> tuple[tuple[int, int], str | None]:
    """The KPS range the rules see, and the conversion table used (None: no conversion)."""
    p = inp.patient
    if p.kps is not None:
        return (p.kps, p.kps), None
    if p.ecog is not None:
        # A KPS<->ECOG table maps each ECOG grade to a KPS range; the rules see that range,
        # never a guessed single value.
        return ecog_to_kps_range(p.ecog, KPS_ECOG_TABLE), KPS_ECOG_TABLE
    return _FULL_KPS, None


def performance_status(inp: AssessmentInput) -> dict[str, Any]:
    """The patient's performance status as given, and as the rules read it (output block).

    ``kps`` and ``ecog`` as entered; ``kps_range_used`` the ``[low, high]`` KPS the rules see
    (the KPS itself when given, else the range the ECOG grade maps to, ``None`` when neither
    is given); ``table`` the key of :data:`vertebro.scores.KPS_ECOG_TABLES` used for that
    conversion, ``None`` when nothing was converted (DESIGN.md section 5: store both scales as
    entered and name the table used when converting); ``warning`` the data-quality warning of
    :func:`kps_ecog_warning`, ``None`` when there is nothing to warn about.
    """
    p = inp.patient
    (lo, hi), table = _kps_range(inp)
    known = p.kps is not None or p.ecog is not None
    return {
        "kps": p.kps,
        "ecog": p.ecog,
        "kps_range_used": [lo, hi] if known else None,
        "table": table,
        "warning": kps_ecog_warning(p.kps, p.ecog),
    }


def kps_ecog_warning(kps: int | None, ecog: int | None) -> dict[str, Any] | None:
    """A warning when a KPS and an ECOG given together disagree under every shipped table.

    The published KPS->ECOG tables disagree with each other (conventional, Ma 2010, Prasad
    2018; see :data:`vertebro.scores.KPS_ECOG_TABLES`), so a pair that any one of them gives
    is plausible and passes silently. The rules read the KPS (see :func:`_kps_range`); the
    warning only asks the team to check both, it changes nothing else.
    """
    if kps is None or ecog is None:
        return None
    expected = ecog_by_table(kps)
    if ecog in expected.values():
        return None
    by_table = ", ".join(f"ECOG {e} ({name})" for name, e in expected.items())
    return {
        "code": "kps_ecog_inconsistent",
        "fields": {"patient.kps": kps, "patient.ecog": ecog},
        "used": "patient.kps",
        "ecog_for_kps": expected,
        "text": (
            f"patient.kps {kps} and patient.ecog {ecog} disagree under every KPS-ECOG table: "
            f"KPS {kps} is {by_table}. The rules read the KPS ({kps}); check both."
        ),
    }


def patient_facts(inp: AssessmentInput) -> dict[str, Any]:
    p, pain, neuro, contra, ctx = (
        inp.patient,
        inp.pain,
        inp.neurology,
        inp.contraindications,
        inp.context,
    )
    kps, _ = _kps_range(inp)
    instr = [lv.instrumentation for lv in inp.levels]
    if any(i in _SCREWS for i in instr):
        instrumented: bool | None = True
    elif instr and all(i == "none" for i in instr):
        instrumented = False
    else:
        instrumented = None
    # CAFE (Berenson 2011) enrolled 1-3 painful fractures: count the index levels, an unknown
    # index counting as possibly painful, so that "more than 3" is decided only when it is sure.
    index = [lv.index for lv in inp.levels]
    n_index = index.count(True)
    return {
        "patient.age": p.age,
        "patient.sex": p.sex,
        "patient.primary_cancer": p.primary_cancer,
        "patient.cancer_history": p.cancer_history,
        "patient.histology_confirmed": p.histology_confirmed,
        "patient.kps": kps,
        "patient.index_fracture_count": (n_index, n_index + index.count(None)),
        "patient.life_expectancy_months": p.life_expectancy_months,
        "patient.multiple_primaries": p.multiple_primaries,
        "patient.long_latency": p.long_latency,
        "patient.instrumented": instrumented,
        "patient.known_cancer": _known_cancer(inp),
        "patient.primary_bone_tumour": _primary_bone(p.primary_cancer),
        "pain.nrs": pain.nrs,
        "pain.mechanical": pain.mechanical,
        "pain.concordant_exam": pain.concordant_exam,
        "pain.radicular_exceeds_axial": pain.radicular_exceeds_axial,
        "pain.medical_therapy_weeks": pain.medical_therapy_weeks,
        "pain.therapy_failed.prevents_ambulation": pain.therapy_failed.prevents_ambulation,
        "pain.therapy_failed.analgesic_side_effects": pain.therapy_failed.analgesic_side_effects,
        "neurology.deficit": neuro.deficit,
        "neurology.clinical_cord_compression": neuro.clinical_cord_compression,
        "neurology.pending_compromise": neuro.pending_compromise,
        "pain.alternative_source": pain.alternative_source,
        "contraindications.active_systemic_infection": contra.active_systemic_infection,
        "contraindications.spinal_infection": contra.spinal_infection,
        "contraindications.uncorrectable_coagulopathy": contra.uncorrectable_coagulopathy,
        "contraindications.unfit_for_anaesthesia": contra.unfit_for_anaesthesia,
        "contraindications.cement_allergy": contra.cement_allergy,
        "context.mdt_agreed": ctx.mdt_agreed,
        "context.spine_surgery_available": ctx.spine_surgery_available,
        "context.mri_contraindicated": ctx.mri_contraindicated,
        "assessment.disposition": None,
        "assessment.augmentation_possible": None,
    }


@dataclass(slots=True)
class LevelFacts:
    """The facts of one level plus what the report shows about it (SINS range, Genant)."""

    facts: dict[str, Any]
    sins_range: tuple[int, int]
    sins_points: dict[str, tuple[int, int]]
    height_loss: float | None
    genant: int | None


def _pain_points(lv: LevelInput, inp: AssessmentInput) -> tuple[int, int]:
    # SINS pain is pain attributed to the lesion: a non-index (asymptomatic) level scores 0.
    if lv.index is False:
        return 0, 0
    mech, nrs = inp.pain.mechanical, inp.pain.nrs
    if mech is True:
        symptomatic = (3, 3)
    elif mech is False:
        symptomatic = (1, 1) if (nrs is not None and nrs > 0) else ((0, 0) if nrs == 0 else (0, 1))
    else:
        symptomatic = (0, 3) if nrs is None else ((0, 0) if nrs == 0 else (1, 3))
    if lv.index is None:
        return 0, symptomatic[1]
    return symptomatic


def _near_construct(name: str, inp: AssessmentInput) -> bool | None:
    """Within, or one level next to, the span of the described pedicle screws.

    AJNR-instrumented treated only fractures within or immediately adjacent to a construct.
    Unknown when a described level's hardware is unknown and could change the span.
    """
    at = vertebra_index(name)
    screwed = [vertebra_index(lv.level) for lv in inp.levels if lv.instrumentation in _SCREWS]
    if screwed and min(screwed) - 1 <= at <= max(screwed) + 1:
        return True
    if any(lv.instrumentation is None for lv in inp.levels):
        return None
    return False


def _metastasis(lv: LevelInput, inp: AssessmentInput) -> bool | None:
    """A vertebral metastasis at the level (NICE 2008's population), never guessed "no".

    True when the spinal lesion is tissue-confirmed, or when a patient with known cancer has a
    tumour lesion described at the level (lesion type given); otherwise unknown (JNCCN-2012:
    only about half of cancer patients' fractures proved malignant on biopsy).
    """
    p = inp.patient
    if p.histology_confirmed is True:
        return True
    if p.cancer_history is True and lv.lesion is not None:
        return True
    return None


def level_facts(
    lv: LevelInput, i: int, inp: AssessmentInput, patient: dict[str, Any]
) -> LevelFacts:
    if lv.height_loss_pct is not None:
        loss: float | None = lv.height_loss_pct
    elif lv.heights_mm is not None:
        h = lv.heights_mm
        loss = height_loss_pct(
            anterior=h.anterior, middle=h.middle, posterior=h.posterior, reference=h.reference
        )
    else:
        loss = None
    grade = genant_grade(loss) if loss is not None else None

    if loss is None:
        collapse = _points("collapse", None)
    elif loss == 0 and lv.body_involved_over_50 is None:
        collapse = (
            SINS_POINTS["collapse"]["none"],
            SINS_POINTS["collapse"]["none_over_50_involved"],
        )
    else:
        collapse = _points("collapse", sins_collapse(loss, bool(lv.body_involved_over_50)))
    pts = {
        "location": _points("location", sins_location(lv.level)),
        "pain": _pain_points(lv, inp),
        "lesion": _points("lesion", lv.lesion),
        "alignment": _points("alignment", lv.alignment),
        "collapse": collapse,
        "posterolateral": _points("posterolateral", lv.posterolateral),
    }
    lo = sum(p[0] for p in pts.values())
    hi = sum(p[1] for p in pts.values())
    if lv.sins_total is not None:
        if not lo <= lv.sins_total <= hi:
            span = f"{lo}" if lo == hi else f"{lo}-{hi}"
            raise InvalidInput.field(
                f"levels[{i}].sins_total",
                f"{lv.sins_total} disagrees with the SINS components given ({span}); "
                "correct one or leave sins_total out",
            )
        lo = hi = lv.sins_total
    prior = inp.context.prior_radiotherapy_levels
    facts = dict(patient)
    facts.update(
        {
            "level.level": lv.level,
            "level.region": region(lv.level),
            "level.index": lv.index,
            "level.mri_edema": lv.mri_edema,
            "level.height_loss_pct": loss,
            "level.genant_grade": grade,
            "level.lesion": lv.lesion,
            "level.posterior_wall": lv.posterior_wall,
            "level.escc": lv.escc,
            "level.alignment": lv.alignment,
            "level.posterolateral": lv.posterolateral,
            "level.instrumentation": lv.instrumentation,
            "level.fracture_age_weeks": lv.fracture_age_weeks,
            "level.sins_total": (lo, hi),
            "level.kyphosis_concern": lv.kyphosis_concern,
            "level.vertebra_plana": lv.vertebra_plana,
            "level.prior_radiotherapy": None if prior is None else lv.level in prior,
            "level.concordant_exam": (
                lv.concordant_exam if lv.concordant_exam is not None else inp.pain.concordant_exam
            ),
            "level.near_construct": _near_construct(lv.level, inp),
            "level.metastasis": _metastasis(lv, inp),
            "level.plasmacytoma": lv.plasmacytoma,
            "level.comminuted": lv.comminuted,
            "level.posterior_elements_resected": lv.posterior_elements_resected,
            "level.costovertebral_junction_removed": lv.costovertebral_junction_removed,
            "level.fluid_collection_on_path": lv.fluid_collection_on_path,
            "level.hardware_failure": lv.hardware_failure,
            "level.hardware_prohibits": lv.hardware_prohibits,
            "level.treated": None,
            "level.needs_workup": None,
        }
    )
    return LevelFacts(facts, (lo, hi), pts, loss, grade)


_SINS_INPUTS = {
    "lesion": "lesion",
    "alignment": "alignment",
    "posterolateral": "posterolateral",
    "collapse": "height_loss_pct",
}


def unknown_inputs(fact: str, i: int | None, inp: AssessmentInput) -> list[str]:
    """The input paths to fill in to make an unknown fact known (for ``missing``)."""
    lv = inp.levels[i] if i is not None else None
    at = f"levels[{i}]." if i is not None else ""
    if fact == "level.sins_total" and lv is not None:
        out = [
            f"{at}{attr}"
            for comp, attr in _SINS_INPUTS.items()
            if comp != "collapse" and getattr(lv, attr) is None
        ]
        if lv.height_loss_pct is None and lv.heights_mm is None:
            out.append(f"{at}height_loss_pct")
        elif (lv.height_loss_pct == 0) and lv.body_involved_over_50 is None:
            out.append(f"{at}body_involved_over_50")
        if lv.index is None:
            out.append(f"{at}index")
        elif lv.index and inp.pain.mechanical is None:
            out.append("pain.mechanical")
        return out or [f"{at}sins_total"]
    if fact in ("level.height_loss_pct", "level.genant_grade"):
        return [f"{at}height_loss_pct"]
    if fact == "level.prior_radiotherapy":
        return ["context.prior_radiotherapy_levels"]
    if fact == "patient.kps":
        return ["patient.kps"]
    if fact == "patient.index_fracture_count":
        return [f"levels[{j}].index" for j, other in enumerate(inp.levels) if other.index is None]
    if fact == "level.concordant_exam":
        return ["pain.concordant_exam"]  # or levels[i].concordant_exam, per level
    if fact == "patient.known_cancer":
        p = inp.patient
        paths = [
            f"patient.{k}"
            for k in ("cancer_history", "histology_confirmed")
            if getattr(p, k) is None
        ]
        return paths or ["patient.histology_confirmed"]  # known "no" to both: a biopsy
    if fact == "level.metastasis":
        out = unknown_inputs("patient.known_cancer", None, inp)
        if lv is not None and lv.lesion is None and inp.patient.cancer_history is not False:
            out.append(f"{at}lesion")
        return out
    if fact == "patient.primary_bone_tumour":
        return ["patient.primary_cancer"]
    if fact in ("patient.instrumented", "level.near_construct"):
        return [
            f"levels[{j}].instrumentation"
            for j, other in enumerate(inp.levels)
            if other.instrumentation is None
        ]
    if fact.startswith("level."):
        return [f"{at}{fact.removeprefix('level.')}"]
    return [fact]


def sins_summary(lf: LevelFacts) -> dict[str, Any]:
    lo, hi = lf.sins_range
    cat_lo, cat_hi = sins_category(lo), sins_category(hi)
    out: dict[str, Any] = {
        "total": lo if lo == hi else None,
        "category": cat_lo if cat_lo == cat_hi else None,
    }
    if lo != hi:
        out["range"] = [lo, hi]
    out["points"] = {k: (v[0] if v[0] == v[1] else None) for k, v in lf.sins_points.items()}
    return out
