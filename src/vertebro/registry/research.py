"""What a researcher sees: the research export and every researcher view, from one mapping.

No free text leaves the registry for research (DESIGN.md section 10): a value is kept only when
it is a code of a controlled vocabulary (anything else becomes ``other``), and text columns with
no vocabulary (override reason, biopsy result, the engine input's ``note``) are left out. The
research export (:func:`vertebro.registry.transfer.export_records`) and the service's researcher
views both go through :func:`research_value`, so a researcher reads the same thing everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from . import vocab

__all__ = ["DROPPED", "PRIMARY_CANCERS", "research_input", "research_output",
           "research_value"]

#: Primary cancers kept as codes: the groups of Sorensen-SpineJ-2019 Table 1 and the keys the
#: decision engine reads (vertebro.assess: primary bone tumours and other cancers).
PRIMARY_CANCERS: Final = frozenset({
    "myeloma", "breast", "lung", "prostate", "renal", "colorectal", "stomach", "liver",
    "lymphoma", "thyroid", "sarcoma", "other", "unknown", "melanoma", "bladder", "oesophageal",
    "esophageal", "gastric", "pancreatic", "ovarian", "cervical", "endometrial",
    "sarcoma_soft_tissue", "head_and_neck", "osteosarcoma", "chondrosarcoma", "ewing_sarcoma",
    "ewing", "chordoma", "primary_bone",
})
#: Instrument versions kept as codes: ODI 1.0, 2.0 and 2.1a (Fairbank JC, Pynsent PB, Spine
#: 2000;25:2940-52); RDQ-24 (Roland M, Morris R, Spine 1983;8:141-4) and its short forms.
ODI_VERSIONS: Final = frozenset({"1.0", "2.0", "2.1a"})
RDQ_VERSIONS: Final = frozenset({"RDQ-24", "RDQ-23", "RDQ-18"})
#: free-text columns a research record never carries (with the direct identifiers)
DROPPED: Final = frozenset({"override_reason", "biopsy_result", "birth_year",
                            "hospital_number_hash", "date"})

_GAUGE = re.compile(r"^\d{1,2}G$")
_VERSION = re.compile(r"^\d[0-9A-Za-z.+-]{0,31}$")


def _key(value: str) -> str:
    return value.strip().lower().replace(" ", "_").replace("-", "_")


def _coded(codes: frozenset[str] | tuple[str, ...]) -> Callable[[str], str]:
    def code(value: str) -> str:
        key = _key(value)
        return key if key in codes else "other"
    return code


def _exact(codes: frozenset[str]) -> Callable[[str], str]:
    return lambda value: value if value in codes else "other"


def _pattern(rx: re.Pattern[str]) -> Callable[[str], str]:
    return lambda value: value if rx.fullmatch(value) else "other"


_CODERS: Final[dict[str, Callable[[str], str]]] = {
    "cement_type": _coded(vocab.CEMENT_TYPES),
    "treatment": _coded(vocab.COMPLICATION_TREATMENTS),
    "complication_type": _coded(vocab.COMPLICATION_TYPES),
    "primary_cancer": _coded(PRIMARY_CANCERS),
    "needle": _pattern(_GAUGE),
    "odi_version": _exact(ODI_VERSIONS),
    "rdq_version": _exact(RDQ_VERSIONS),
    "rulebook_version": _pattern(_VERSION),
    "engine_version": _pattern(_VERSION),
    "guideline": _pattern(re.compile(r"^[a-z][a-z0-9_]{0,31}$")),
}


def research_value(column: str, value: Any) -> Any:
    """``value`` of a long-format ``column`` as research data shows it (None: left out).

    Empty values stay empty; columns without a coder are already codes, numbers or dates.
    """
    if column in DROPPED:
        return None
    coder = _CODERS.get(column)
    if coder is None or value is None or value == "":
        return value
    return coder(str(value))


def research_input(doc: Mapping[str, Any]) -> dict[str, Any]:
    """An engine input without its free text: no ``note``, the primary cancer as a code."""
    out = {k: v for k, v in doc.items() if k != "note"}
    patient = out.get("patient")
    if isinstance(patient, Mapping) and patient.get("primary_cancer"):
        out["patient"] = {**patient, "primary_cancer":
                          research_value("primary_cancer", patient["primary_cancer"])}
    return out


def _replace(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, Mapping):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return value


def research_output(output: Mapping[str, Any], engine_input: Mapping[str, Any]
                    ) -> dict[str, Any]:
    """An engine output as research data shows it: wherever it echoes the input's primary
    cancer as written (a value or inside a sentence), the code :func:`research_input` gives
    it instead (free text such as ``"Renal - Dr Jones"`` becomes ``"other"``)."""
    patient = engine_input.get("patient")
    written = patient.get("primary_cancer") if isinstance(patient, Mapping) else None
    if not isinstance(written, str) or not written:
        return dict(output)
    code = research_value("primary_cancer", written)
    return dict(output) if code == written else _replace(dict(output), written, code)
