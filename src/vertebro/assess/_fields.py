"""The facts a rule may test: their names, scopes and kinds.

Rules (``vertebro/rulebook/*.yaml``) name facts by these dotted names; the loader rejects a rule
that names anything else. ``level.*`` facts exist once per level, everything else once per
patient. *derived* facts are computed from the input (e.g. ``level.sins_total`` from the SINS
components; ``_facts.py`` computes them and names the input fields behind an unknown one);
*plan* facts exist only after the disposition is known, so only plan rules
(technique, flags, actions, offers) may use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from vertebro.spine import REGIONS

from ._input import ESCC_GRADES

__all__ = ["FIELDS", "Field", "FieldKind"]

FieldKind = Literal["bool", "enum", "number", "interval", "vertebra", "text"]
Phase = Literal["input", "derived", "plan"]


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: FieldKind
    scope: Literal["patient", "level"]
    phase: Phase = "input"
    values: tuple[str, ...] = ()


def _f(name: str, kind: FieldKind, phase: Phase = "input", values: tuple[str, ...] = ()) -> Field:
    scope: Literal["patient", "level"] = "level" if name.startswith("level.") else "patient"
    return Field(name, kind, scope, phase, values)


_DISPOSITIONS = ("candidate", "refer_surgery", "contraindicated", "not_indicated", "incomplete")

FIELDS: Final[dict[str, Field]] = {
    f.name: f
    for f in (
        _f("patient.age", "number"),
        _f("patient.sex", "enum", values=("male", "female", "other")),
        _f("patient.primary_cancer", "text"),
        _f("patient.cancer_history", "bool"),
        _f("patient.histology_confirmed", "bool"),
        _f("patient.kps", "interval", "derived"),
        # (levels known to be index, levels that are index or unknown): CAFE's 1-3 painful fractures
        _f("patient.index_fracture_count", "interval", "derived"),
        _f("patient.life_expectancy_months", "number"),
        _f("patient.multiple_primaries", "bool"),
        _f("patient.long_latency", "bool"),
        _f("patient.instrumented", "bool", "derived"),
        # a known malignancy (history or tissue diagnosis); never false: a fracture without
        # known cancer may still be malignant until a biopsy says otherwise (JNCCN-2012)
        _f("patient.known_cancer", "bool", "derived"),
        # primary_cancer names a primary bone tumour (CAFE excluded them; SNIS-2014)
        _f("patient.primary_bone_tumour", "bool", "derived"),
        _f("pain.nrs", "number"),
        _f("pain.mechanical", "bool"),
        _f("pain.concordant_exam", "bool"),
        _f("pain.radicular_exceeds_axial", "bool"),
        _f("pain.medical_therapy_weeks", "number"),
        _f("pain.therapy_failed.prevents_ambulation", "bool"),
        _f("pain.therapy_failed.analgesic_side_effects", "bool"),
        _f(
            "neurology.deficit",
            "enum",
            values=("none", "radiculopathy", "myelopathy", "cauda_equina"),
        ),
        _f("neurology.clinical_cord_compression", "bool"),
        _f("neurology.pending_compromise", "bool"),
        _f("pain.alternative_source", "bool"),
        _f("contraindications.active_systemic_infection", "bool"),
        _f("contraindications.spinal_infection", "bool"),
        _f("contraindications.uncorrectable_coagulopathy", "bool"),
        _f("contraindications.unfit_for_anaesthesia", "bool"),
        _f("contraindications.cement_allergy", "bool"),
        _f("context.mdt_agreed", "bool"),
        _f("context.spine_surgery_available", "bool"),
        _f("context.mri_contraindicated", "bool"),
        _f("level.level", "vertebra"),
        _f("level.region", "enum", "derived", values=tuple(r for r, _ in REGIONS.values())),
        _f("level.index", "bool"),
        _f("level.mri_edema", "bool"),
        _f("level.height_loss_pct", "number", "derived"),
        _f("level.genant_grade", "number", "derived"),
        _f("level.lesion", "enum", values=("lytic", "mixed", "blastic")),
        _f("level.posterior_wall", "enum", values=("intact", "disrupted", "retropulsion")),
        _f("level.escc", "enum", values=ESCC_GRADES),
        _f("level.alignment", "enum", values=("normal", "deformity", "subluxation")),
        _f("level.posterolateral", "enum", values=("none", "unilateral", "bilateral")),
        _f(
            "level.instrumentation", "enum", values=("none", "unilateral_screw", "bilateral_screws")
        ),
        _f("level.fracture_age_weeks", "number"),
        _f("level.sins_total", "interval", "derived"),
        _f("level.kyphosis_concern", "bool"),
        _f("level.concordant_exam", "bool", "derived"),
        _f("level.near_construct", "bool", "derived"),
        _f("level.vertebra_plana", "bool"),
        _f("level.prior_radiotherapy", "bool", "derived"),
        # a vertebral metastasis at the level: tissue-confirmed, or a tumour lesion on imaging
        # in a patient with known cancer (NICE 2008 is written for vertebral metastases)
        _f("level.metastasis", "bool", "derived"),
        _f("level.plasmacytoma", "bool"),
        _f("level.comminuted", "bool"),
        _f("level.posterior_elements_resected", "bool"),
        _f("level.costovertebral_junction_removed", "bool"),
        _f("level.fluid_collection_on_path", "bool"),
        _f("level.hardware_failure", "bool"),
        _f("level.hardware_prohibits", "bool"),
        _f("assessment.disposition", "enum", "plan", values=_DISPOSITIONS),
        _f("assessment.augmentation_possible", "bool", "plan"),
        _f("level.treated", "bool", "plan"),
        # in the plan (treated, or offered) or could be: its work-up (imaging) is worth asking
        _f("level.needs_workup", "bool", "plan"),
    )
}
