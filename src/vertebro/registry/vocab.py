"""Controlled vocabularies of the registry (DESIGN.md sections 3, 6 and 7)."""

from __future__ import annotations

from typing import Final, Literal, get_args

from vertebro.assess import DISPOSITIONS as ENGINE_DISPOSITIONS

__all__ = [
    "ANAESTHESIA",
    "APPROACHES",
    "CEMENT_TYPES",
    "COMPLICATION_TREATMENTS",
    "COMPLICATION_TYPES",
    "DISPOSITIONS",
    "INTERVALS",
    "INTERVAL_LABELS",
    "LEAK_SITES",
    "OPERATOR_ROLES",
    "ROLES",
    "SEXES",
    "TECHNIQUES",
    "VITAL_STATUS",
]

# Each vocabulary is written once, as the Literal type the pydantic schemas validate with; the
# tuples used for database CHECK constraints are derived from it.
Role = Literal["clinician", "researcher", "admin"]
Sex = Literal["male", "female", "other", "unknown"]
Anaesthesia = Literal["local", "sedation", "general"]
OperatorRole = Literal[
    "interventional_radiologist",
    "spine_surgeon",
    "neurosurgeon",
    "orthopaedic_surgeon",
    "trainee",
    "other",
]
Technique = Literal["vertebroplasty", "kyphoplasty"]
Approach = Literal[
    "transpedicular", "parapedicular", "extrapedicular", "anterolateral", "transoral", "other"
]
#: Leak sites as listed in issue 3 / DESIGN.md section 7.
LeakSite = Literal["disc", "venous", "epidural", "foraminal", "paravertebral", "pulmonary"]
VitalStatus = Literal["alive", "dead", "unknown"]
#: Bone cements: PMMA, the cement of the series pooled by Sorensen-SpineJ-2019 and
#: AOSpine-EBSJ-2012; calcium phosphate and composite (bioactive) cements as reviewed by
#: Lewis G, J Biomed Mater Res B Appl Biomater 2006;76(2):456-68. No free text: "other".
CementType = Literal["pmma", "calcium_phosphate", "composite", "other"]
#: Complications: the potential complications SNIS-2014 lists for informed consent (cement
#: leakage; nerve or cord injury; pulmonary embolism by cement, air or fat; infection;
#: bleeding, with haematoma apart as its most reported form; rib, pedicle or vertebral
#: fracture; hypotension or myocardial depression; pneumothorax; worsened pain; anaphylaxis;
#: death). No free text: "other".
ComplicationType = Literal[
    "cement_leak", "neural_injury", "pulmonary_embolism", "infection", "bleeding", "haematoma",
    "fracture", "haemodynamic", "pneumothorax", "worsened_pain", "anaphylaxis", "death",
    "other",
]
#: What was done about a complication: observation or analgesia (SNIS-2014 minor
#: complications), antibiotics and surgical decompression (SNIS-2014: osteomyelitis without
#: prophylactic antibiotics; laminectomy for radiculopathy from a leak; emergency decompression
#: for haematoma), anticoagulation (symptomatic pulmonary cement embolism: Krueger A et al.,
#: Eur Spine J 2009;18(9):1264-71). No free text: "other".
ComplicationTreatment = Literal[
    "observation", "analgesia", "antibiotics", "anticoagulation", "surgical_decompression",
    "other",
]

ROLES: Final = get_args(Role)
SEXES: Final = get_args(Sex)
#: The engine's dispositions (DESIGN.md section 3).
DISPOSITIONS: Final = ENGINE_DISPOSITIONS
ANAESTHESIA: Final = get_args(Anaesthesia)
OPERATOR_ROLES: Final = get_args(OperatorRole)
TECHNIQUES: Final = get_args(Technique)
APPROACHES: Final = get_args(Approach)
LEAK_SITES: Final = get_args(LeakSite)
VITAL_STATUS: Final = get_args(VitalStatus)
CEMENT_TYPES: Final = get_args(CementType)
COMPLICATION_TYPES: Final = get_args(ComplicationType)
COMPLICATION_TREATMENTS: Final = get_args(ComplicationTreatment)

#: Follow-up intervals of Sorensen-SpineJ-2019 Table 2 (DESIGN.md section 6), as codes.
INTERVALS: Final = ("preop", "lt4w", "le6w", "lt6m", "lt1y", "ge1y")
INTERVAL_LABELS: Final[dict[str, str]] = {
    "preop": "preoperative",
    "lt4w": "< 4 weeks",
    "le6w": "<= 6 weeks",
    "lt6m": "< 6 months",
    "lt1y": "< 1 year",
    "ge1y": ">= 1 year",
}
