"""REDCap: a data dictionary, events, instrument-event mapping and a records file.

A longitudinal REDCap project with one arm and six events, the follow-up intervals of
Sorensen-SpineJ-2019 Table 2 (``preop_arm_1``, ``lt4w_arm_1``, ``le6w_arm_1``, ``lt6m_arm_1``,
``lt1y_arm_1``, ``ge1y_arm_1``). Instruments: ``patient`` (not repeating), and the repeating
instruments ``assessment``, ``procedure``, ``treated_level``, ``complication`` (preop event)
and ``follow_up`` (every event, binned by days since its procedure). Records are in REDCap's
flat "records" CSV layout (``record_id, redcap_event_name, redcap_repeat_instrument,
redcap_repeat_instance, ...``), which is what a REDCap project imports and what its
"Export records" (raw, CSV) produces, so :func:`read_records` imports a REDCap export.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

from vertebro.errors import FieldError, InvalidInput
from vertebro.spine import VERTEBRAE

from . import vocab
from .csvio import read_table, write_table
from .transfer import ODI_COLUMNS

__all__ = ["DICTIONARY_HEADER", "FORMS", "dictionary_rows", "read_records", "write_project"]

EVENTS: Final = {iv: f"{iv}_arm_1" for iv in vocab.INTERVALS}
EVENT_OF: Final = {v: k for k, v in EVENTS.items()}

DICTIONARY_HEADER: Final = (
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note",
    "Text Validation Type OR Show Slider Number", "Text Validation Min", "Text Validation Max",
    "Identifier?", "Branching Logic (Show field only if...)", "Required Field?",
    "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name", "Matrix Ranking?",
    "Field Annotation",
)

# (redcap field, neutral column, type, label, choices or validation, min, max)
Field = tuple[str, str, str, str, str, str, str]


def _choices(values: Iterable[str]) -> str:
    return " | ".join(f"{v}, {v.replace('_', ' ')}" for v in values)


_LEVELS = VERTEBRAE

FORMS: Final[dict[str, list[Field]]] = {
    "patient": [
        ("record_id", "", "text", "Record ID", "", "", ""),
        ("site", "site", "text", "Site code", "", "", ""),
        ("site_name", "site_name", "text", "Site name", "", "", ""),
        ("patient_code", "patient", "text", "Pseudonymous patient code", "", "", ""),
        ("birth_year", "birth_year", "text", "Birth year", "integer", "1880", "2200"),
        ("age_at_index", "age_at_index", "text", "Age at index procedure (research export)",
         "integer", "0", "120"),
        ("sex", "sex", "dropdown", "Sex", _choices(vocab.SEXES), "", ""),
        ("primary_cancer", "primary_cancer", "text", "Primary cancer", "", "", ""),
        ("hospital_number_hash", "hospital_number_hash", "text",
         "Keyed hash of the hospital number", "", "", ""),
        ("synthetic", "synthetic", "yesno", "Synthetic (demo) record", "", "", ""),
    ],
    "assessment": [
        ("asm_number", "assessment", "text", "Assessment number", "integer", "1", ""),
        ("asm_date", "date", "text", "Assessment date", "date_ymd", "", ""),
        ("asm_day", "day", "text", "Days from index procedure", "integer", "", ""),
        ("asm_guideline", "guideline", "text", "Guideline profile", "", "", ""),
        ("asm_disposition", "disposition", "dropdown", "Disposition",
         _choices(vocab.DISPOSITIONS), "", ""),
        ("asm_rulebook_version", "rulebook_version", "text", "Rulebook version", "", "", ""),
        ("asm_engine_version", "engine_version", "text", "Engine version", "", "", ""),
        ("asm_input_json", "input_json", "notes", "Engine input (JSON)", "", "", ""),
        ("asm_output_json", "output_json", "notes", "Engine output (JSON)", "", "", ""),
    ],
    "procedure": [
        ("proc_number", "procedure", "text", "Procedure number", "integer", "1", ""),
        ("proc_date", "date", "text", "Procedure date", "date_ymd", "", ""),
        ("proc_day", "day", "text", "Days from index procedure", "integer", "", ""),
        ("proc_assessment", "assessment", "text", "Assessment number it follows", "integer",
         "1", ""),
        ("proc_anaesthesia", "anaesthesia", "dropdown", "Anaesthesia",
         _choices(vocab.ANAESTHESIA), "", ""),
        ("proc_operator_role", "operator_role", "dropdown", "Operator role",
         _choices(vocab.OPERATOR_ROLES), "", ""),
        ("proc_override_reason", "override_reason", "notes",
         "Override reason (after a contraindicated assessment)", "", "", ""),
        ("proc_biopsy_taken", "biopsy_taken", "yesno", "Biopsy taken", "", "", ""),
        ("proc_biopsy_result", "biopsy_result", "notes", "Biopsy result", "", "", ""),
    ],
    "treated_level": [
        ("lvl_procedure", "procedure", "text", "Procedure number", "integer", "1", ""),
        ("lvl_level", "level", "dropdown", "Vertebra", _choices(_LEVELS), "", ""),
        ("lvl_technique", "technique", "dropdown", "Technique", _choices(vocab.TECHNIQUES),
         "", ""),
        ("lvl_approach", "approach", "dropdown", "Approach", _choices(vocab.APPROACHES), "", ""),
        ("lvl_needle", "needle", "text", "Needle", "", "", ""),
        ("lvl_cement_type", "cement_type", "dropdown", "Cement type",
         _choices(vocab.CEMENT_TYPES), "", ""),
        ("lvl_cement_volume_ml", "cement_volume_ml", "text", "Cement volume (ml)", "number",
         "0", "50"),
        ("lvl_balloon_used", "balloon_used", "yesno", "Balloon used", "", "", ""),
    ],
    "complication": [
        ("comp_procedure", "procedure", "text", "Procedure number", "integer", "1", ""),
        ("comp_type", "complication_type", "dropdown", "Complication type",
         _choices(vocab.COMPLICATION_TYPES), "", ""),
        ("comp_level", "level", "dropdown", "Vertebra", _choices(_LEVELS), "", ""),
        ("comp_leak_site", "leak_site", "dropdown", "Leak site", _choices(vocab.LEAK_SITES),
         "", ""),
        ("comp_symptomatic", "symptomatic", "yesno", "Symptomatic", "", "", ""),
        ("comp_severity_grade", "severity_grade", "text", "Severity grade", "integer", "1", "5"),
        ("comp_treatment", "treatment", "dropdown", "Treatment",
         _choices(vocab.COMPLICATION_TREATMENTS), "", ""),
    ],
    "follow_up": [
        ("fu_procedure", "procedure", "text", "Procedure number", "integer", "1", ""),
        ("fu_date", "date", "text", "Visit date", "date_ymd", "", ""),
        ("fu_day", "day", "text", "Days from index procedure", "integer", "", ""),
        ("fu_baseline", "baseline", "yesno", "Preoperative baseline", "", "", ""),
        ("fu_nrs", "nrs", "text", "Pain NRS (0-10)", "number", "0", "10"),
        ("fu_odi_version", "odi_version", "text", "ODI version", "", "", ""),
        *[(f"fu_{c}", c, "text", f"ODI section {c[4:]} (0-5)", "integer", "0", "5")
          for c in ODI_COLUMNS],
        ("fu_odi", "odi", "text", "ODI % (computed by vertebro)", "number", "0", "100"),
        ("fu_rdq_version", "rdq_version", "text", "RDQ version", "", "", ""),
        ("fu_rdq", "rdq", "text", "RDQ (0-24)", "integer", "0", "24"),
        ("fu_kps", "kps", "text", "Karnofsky performance status", "integer", "0", "100"),
        ("fu_ecog", "ecog", "text", "ECOG performance status", "integer", "0", "5"),
        ("fu_analgesic_class", "analgesic_class", "text", "Analgesic class (VERTOS 0-3)",
         "integer", "0", "3"),
        ("fu_new_fracture", "new_fracture", "yesno", "New fracture", "", "", ""),
        ("fu_new_fracture_level", "new_fracture_level", "dropdown", "New fracture level",
         _choices(_LEVELS), "", ""),
        ("fu_vital_status", "vital_status", "dropdown", "Vital status",
         _choices(vocab.VITAL_STATUS), "", ""),
        ("fu_lost", "lost_to_follow_up", "yesno", "Lost to follow-up", "", "", ""),
    ],
}
INSTRUMENT_OF: Final = {"patient": "patient", "assessment": "assessment",
                        "procedure": "procedure", "level": "treated_level",
                        "complication": "complication", "follow_up": "follow_up"}
RECORD_TYPE_OF: Final = {v: k for k, v in INSTRUMENT_OF.items()}
BOOLEAN_FIELDS: Final = {f[0] for fields in FORMS.values() for f in fields if f[2] == "yesno"}
HEADER: Final = ("record_id", "redcap_event_name", "redcap_repeat_instrument",
                 "redcap_repeat_instance",
                 *[f[0] for form in FORMS.values() for f in form if f[0] != "record_id"],
                 *[f"{form}_complete" for form in FORMS])


def dictionary_rows() -> list[dict[str, str]]:
    rows = []
    for form, fields in FORMS.items():
        for name, _, ftype, label, extra, lo, hi in fields:
            row = dict.fromkeys(DICTIONARY_HEADER, "")
            row.update({"Variable / Field Name": name, "Form Name": form, "Field Type": ftype,
                        "Field Label": label})
            if ftype == "dropdown":
                row["Choices, Calculations, OR Slider Labels"] = extra
            elif extra:
                row["Text Validation Type OR Show Slider Number"] = extra
                row["Text Validation Min"] = lo
                row["Text Validation Max"] = hi
            if name in ("patient_code", "hospital_number_hash", "asm_date", "proc_date",
                        "fu_date", "birth_year"):
                row["Identifier?"] = "y"
            rows.append(row)
    return rows


def write_project(folder: Path, records: Iterable[dict[str, str]]) -> int:
    """Write dictionary, events, mapping and records into ``folder``; returns record rows.

    The records are written first (each file whole or not at all): an export that fails
    leaves no new file, and no folder it created."""
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        n = write_table(folder / "records.csv", HEADER, _to_rows(records))
    except BaseException:
        if made and not any(folder.iterdir()):
            folder.rmdir()
        raise
    write_table(folder / "data_dictionary.csv", DICTIONARY_HEADER, dictionary_rows())
    write_table(folder / "events.csv", ("event_name", "arm_num", "unique_event_name"),
                [{"event_name": vocab.INTERVAL_LABELS[iv], "arm_num": "1",
                  "unique_event_name": ev} for iv, ev in EVENTS.items()])
    mapping = [{"arm_num": "1", "unique_event_name": EVENTS["preop"], "form": form}
               for form in FORMS]
    mapping += [{"arm_num": "1", "unique_event_name": ev, "form": "follow_up"}
                for iv, ev in EVENTS.items() if iv != "preop"]
    write_table(folder / "instrument_event_mapping.csv", ("arm_num", "unique_event_name",
                                                           "form"), mapping)
    write_table(folder / "repeating_instruments.csv",
                ("event_name", "form_name", "custom_form_label"),
                [{"event_name": EVENTS["preop"], "form_name": f, "custom_form_label": ""}
                 for f in FORMS if f != "patient"]
                + [{"event_name": ev, "form_name": "follow_up", "custom_form_label": ""}
                   for iv, ev in EVENTS.items() if iv != "preop"])
    return n


def _to_rows(records: Iterable[dict[str, str]]) -> Iterable[dict[str, str]]:
    site_names: dict[str, str] = {}
    instances: dict[tuple[str, str, str], int] = {}
    for rec in records:
        rtype = rec["record_type"]
        if rtype == "site":
            site_names[rec["site"]] = rec.get("site_name", "")
            continue
        record_id = f"{rec['site']}-{rec['patient']}"
        instrument = INSTRUMENT_OF[rtype]
        event = EVENTS[rec["interval"]] if rtype == "follow_up" else EVENTS["preop"]
        row = {"record_id": record_id, "redcap_event_name": event}
        if instrument != "patient":
            key = (record_id, event, instrument)
            instances[key] = instances.get(key, 0) + 1
            row["redcap_repeat_instrument"] = instrument
            row["redcap_repeat_instance"] = str(instances[key])
        else:
            row["site_name"] = site_names.get(rec["site"], "")
            row["site"] = rec["site"]
            row["patient_code"] = rec["patient"]
        for name, column, *_ in FORMS[instrument]:
            if column and column not in ("site", "patient", "site_name"):
                value = rec.get(column, "")
                if name in BOOLEAN_FIELDS and value:
                    value = "1" if value == "true" else "0"
                row[name] = value
        row[f"{instrument}_complete"] = "2"
        yield row


#: columns a REDCap records export may carry besides the project's own fields; their values
#: are REDCap's bookkeeping, not registry data
_REDCAP_SYSTEM: Final = frozenset({"redcap_data_access_group", "redcap_survey_identifier",
                                   *(f"{form}_timestamp" for form in FORMS)})
_KNOWN: Final = frozenset(HEADER) | _REDCAP_SYSTEM
_OWN: Final = {form: {f[0] for f in fields} | {f"{form}_complete"} for form, fields in
               FORMS.items()}
_ROW_COLUMNS: Final = {"record_id", "redcap_event_name", "redcap_repeat_instrument",
                       "redcap_repeat_instance", *_REDCAP_SYSTEM}


def read_records(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A REDCap records export (CSV, raw) as neutral records ``("row N", record)``, streamed.

    A column outside the project (a misspelled field) is an error, as is a value in a field
    of another instrument than the row's, a form in an event it is not mapped to, and a
    repeating row before its record's patient row. A follow-up's event is its interval: the
    import checks it against the visit's date.
    """
    patients: dict[str, tuple[str, str]] = {}
    sites: set[str] = set()
    errors: list[FieldError] = []
    for where, row in read_table(path, _KNOWN.__contains__, default_name="records.csv",
                                 required=("record_id", "redcap_event_name")):
        instrument = row.get("redcap_repeat_instrument") or "patient"
        if instrument not in FORMS:
            errors.append(FieldError("redcap_repeat_instrument", f"unknown instrument "
                                     f"{instrument!r}", where))
            continue
        event = row.get("redcap_event_name", "")
        if event not in EVENT_OF:
            errors.append(FieldError("redcap_event_name", f"unknown event {event!r}", where))
            continue
        if instrument != "follow_up" and event != EVENTS["preop"]:
            errors.append(FieldError("redcap_event_name", f"{instrument} belongs to "
                                     f"{EVENTS['preop']}, not {event}", where))
            continue
        foreign = sorted(k for k in row if k not in _ROW_COLUMNS and k not in _OWN[instrument])
        errors += [FieldError(k, f"not a field of the {instrument} instrument of this row "
                              "(it would not be imported)", where) for k in foreign]
        rid = row.get("record_id", "")
        if instrument == "patient":
            site, code = row.get("site", ""), row.get("patient_code", "")
            patients[rid] = (site, code)
            if site and row.get("site_name") and site not in sites:
                sites.add(site)
                yield where, {"record_type": "site", "site": site,
                              "site_name": row["site_name"]}
        elif rid not in patients:
            errors.append(FieldError("record_id", f"no patient row for record {rid!r} before "
                                     "this row", where))
            continue
        site, code = patients[rid]
        rec = {"record_type": RECORD_TYPE_OF[instrument], "site": site, "patient": code}
        if instrument == "follow_up":
            rec["interval"] = EVENT_OF[event]
        for name, column, *_ in FORMS[instrument]:
            value = (row.get(name) or "").strip()
            if not column or column in ("site", "patient", "site_name") or not value:
                continue
            if name in BOOLEAN_FIELDS:
                if value not in ("0", "1"):
                    errors.append(FieldError(name, f"{value!r} is not 0 or 1", where))
                    continue
                value = "true" if value == "1" else "false"
            rec[column] = value
        yield where, rec
    if errors:
        raise InvalidInput(errors)


def redcap_field(record_type: str, column: str) -> str:
    """The REDCap field name for a neutral column of a record type (for error messages)."""
    if column == "interval":
        return "redcap_event_name"
    for name, col, *_ in FORMS.get(INSTRUMENT_OF.get(record_type, ""), []):
        if col == column:
            return name
    return column
