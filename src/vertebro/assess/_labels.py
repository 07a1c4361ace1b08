"""Input fields in words, for the reader of a report (the JSON keeps the paths).

``missing`` and ``notes`` name input paths (``pain.medical_therapy_weeks``,
``levels[0].fracture_age_weeks``) so that a program can find them; the text report and the web
page say the same in words ("weeks of medical therapy", "fracture age in weeks at T7").
A test checks that every field of the input contract has a label here.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["FACT_LABELS", "FIELD_LABELS", "field_label"]

FIELD_LABELS: Final[dict[str, str]] = {
    "levels": "the fractured levels (none described)",
    "note": "case note",
    "patient.age": "age",
    "patient.sex": "sex",
    "patient.primary_cancer": "primary cancer",
    "patient.cancer_history": "known cancer history",
    "patient.histology_confirmed": "tissue diagnosis (biopsy) of the spinal lesion",
    "patient.kps": "Karnofsky performance status (KPS)",
    "patient.ecog": "ECOG performance status",
    "patient.life_expectancy_months": "life expectancy in months",
    "patient.multiple_primaries": "several primary cancers",
    "patient.long_latency": "first metastasis after a long latency",
    "patient.visceral_metastases": "visceral metastases (none, treatable, untreatable)",
    "patient.extraspinal_bone_metastases": "number of extraspinal bone metastases",
    "patient.spinal_metastases": "number of vertebrae with metastases",
    "patient.ambulatory": "walks independently",
    "patient.albumin_g_dl": "serum albumin (g/dL)",
    "pain.nrs": "pain score (NRS 0-10)",
    "pain.mechanical": "mechanical (positional) pain",
    "pain.concordant_exam": "examination matching the imaged level",
    "pain.radicular_exceeds_axial": "radicular pain exceeding axial pain",
    "pain.medical_therapy_weeks": "weeks of medical therapy",
    "pain.alternative_source": "a clear alternative source of the back pain",
    "pain.therapy_failed.prevents_ambulation": "pain preventing walking despite analgesia",
    "pain.therapy_failed.analgesic_side_effects": "intolerable side effects of analgesia",
    "neurology.deficit": "neurological deficit",
    "neurology.clinical_cord_compression": "clinical spinal cord compression",
    "neurology.pending_compromise": "pending neurological compromise",
    "neurology.frankel": "Frankel grade",
    "contraindications.active_systemic_infection": "active systemic infection",
    "contraindications.spinal_infection": "spinal infection",
    "contraindications.uncorrectable_coagulopathy": "uncorrectable coagulopathy",
    "contraindications.unfit_for_anaesthesia": "fitness for sedation or anaesthesia",
    "contraindications.cement_allergy": "allergy to the cement",
    "context.mdt_agreed": "multidisciplinary agreement",
    "context.spine_surgery_available": "spine surgery available on site",
    "context.prior_radiotherapy_levels": "levels given radiotherapy before",
    "context.mri_contraindicated": "MRI contraindicated",
    # per level (levels[i].<attr>)
    "level": "vertebra",
    "index": "whether the level is the painful fracture",
    "mri_edema": "oedema on MRI (STIR)",
    "height_loss_pct": "height loss",
    "heights_mm": "vertebral body heights",
    "lesion": "lesion type (lytic, mixed, blastic)",
    "posterior_wall": "posterior wall",
    "escc": "epidural compression (ESCC grade)",
    "alignment": "alignment",
    "posterolateral": "posterolateral involvement",
    "instrumentation": "pedicle screws",
    "fracture_age_weeks": "fracture age in weeks",
    "sins_total": "SINS total",
    "body_involved_over_50": "more than half of the body involved",
    "kyphosis_concern": "kyphosis where correction matters",
    "vertebra_plana": "vertebra plana",
    "concordant_exam": "examination matching the level",
    "plasmacytoma": "plasmacytoma at the level",
    "comminuted": "comminuted fracture",
    "posterior_elements_resected": "resected pedicles or posterior elements",
    "costovertebral_junction_removed": "removed costovertebral junction",
    "fluid_collection_on_path": "seroma or pseudomeningocele on the needle path",
    "hardware_failure": "hardware failure",
    "hardware_prohibits": "hardware position making augmentation unsafe",
}

# Facts the engine derives from several inputs (``_facts.py``). They reach ``missing`` and
# ``notes`` only for an offered level that is not in the input, which has no input paths.
FACT_LABELS: Final[dict[str, str]] = {
    "assessment.disposition": "the overall answer",
    "assessment.augmentation_possible": "whether augmentation is possible",
    "patient.index_fracture_count": "number of painful (index) fractures",
    "patient.instrumented": "pedicle screws in the spine",
    "patient.known_cancer": "known cancer (history or tissue diagnosis)",
    "patient.primary_bone_tumour": "primary bone tumour",
    "level.genant_grade": "fracture grade (Genant)",
    "level.metastasis": "metastasis at the level",
    "level.near_construct": "level within or next to a screw construct",
    "level.needs_workup": "work-up (imaging) of the level",
    "level.prior_radiotherapy": "radiotherapy to the level before",
    "level.region": "spinal region",
}

_LEVEL = re.compile(r"levels\[\d+\]\.(.+)")
# the engine's path for a fact of an offered level: "C3 (patient.instrumented, offered ...)"
_OFFERED = re.compile(r"(\S+) \((\S+), offered level not in the input\)")


def _fact_label(fact: str) -> str:
    key = fact.removeprefix("level.")
    return FACT_LABELS.get(fact) or FIELD_LABELS.get(key) or FIELD_LABELS.get(fact, fact)


def field_label(path: str) -> str:
    """The words for an input path (``levels[i].attr`` by its attribute); the path itself
    when there is no label, so that nothing is ever hidden. A fact of an offered level that is
    not in the input is named in words at that vertebra."""
    offered = _OFFERED.fullmatch(path)
    if offered:
        return f"{_fact_label(offered[2])} at {offered[1]} (offered level, not in the input)"
    m = _LEVEL.fullmatch(path)
    key = m[1] if m else path
    return FIELD_LABELS.get(key, path)
