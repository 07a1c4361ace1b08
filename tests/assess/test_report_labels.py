"""The text report speaks the rulebook's labels and the fields' words, never codes or paths.

The JSON keeps the codes (``notes[].affects``: ``chronic_fracture at T7``) and the input paths
(``levels[0].fracture_age_weeks``); the report shows the flag's label and the field's words,
grouped per field across levels, each level named by its vertebra (issue 13 point 8).
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings

from vertebro import assess
from vertebro.assess import AssessmentInput, default_rulebook, render_text
from vertebro.assess._labels import FIELD_LABELS, field_label

from .conftest import EXAMPLES
from .strategies import patients

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RB = default_rulebook()
WIDE = 400  # no wrapping, so that each bullet is one line


def _section(text: str, heading: str) -> list[str]:
    """The bullets under a heading, each flattened onto one line."""
    if f"\n{heading}" not in text:
        return []
    body = text.split(f"\n{heading}", 1)[1].split("\n\n", 1)[0]
    return [" ".join(b.split()) for b in body.split(" • ")[1:]]


def _notes(text: str, guideline: str = "JNCCN2012") -> list[str]:
    return _section(text, f"UNKNOWN, NOT CHANGING THE {guideline} ANSWER")


def _aospine() -> dict[str, Any]:
    return assess(json.loads((EXAMPLES / "aospine_case.json").read_text()))


def test_aospine_notes_show_labels_grouped_by_field() -> None:
    result = _aospine()
    # The JSON contract keeps the codes.
    affects = {a for n in result["notes"] for a in n["affects"]}
    assert {"chronic_fracture at T7", "chronic_fracture at T9", "radicular_pain"} <= affects
    for width in (80, 60):
        out = render_text(result, width=width)
        assert max(len(line) for line in out.splitlines()) <= width
        notes = _notes(out)
        assert (
            "fracture age in weeks at T7, T9 → flag: " + RB.flags["chronic_fracture"].label
        ) in notes
        assert (
            f"radicular pain exceeding axial pain → flag: {RB.flags['radicular_pain'].label}"
        ) in notes
        assert (
            f"levels given radiotherapy before → flag: {RB.flags['prior_radiotherapy'].label}"
            " (T7, T9)"
        ) in notes
        assert "weeks of medical therapy → snis2014 verdict" in notes
        assert "snis2014 incomplete: needs weeks of medical therapy" in " ".join(out.split())
        joined = "\n".join(notes)
        for raw in ("chronic_fracture", "radicular_pain", "prior_radiotherapy at"):
            assert raw not in joined


@SETTINGS
@given(patients(p_unknown=0.3))
def test_no_code_reaches_the_reader_and_every_path_stays_named(p: dict[str, Any]) -> None:
    result = assess(p)
    out = render_text(result, width=WIDE)
    names = {i: lv["level"] for i, lv in enumerate(p["levels"])}
    shown = _notes(out) + _section(out, "MISSING: COULD CHANGE THE ANSWER")
    for bullet in _notes(out):
        _, _, settles = bullet.partition(" → ")
        assert settles, bullet
        # Codes are snake_case (one-word codes such as 'osteoblastic' are words of labels too).
        assert not re.search(r"\b[a-z0-9]+_[a-z0-9_]+\b", settles), bullet
    for entry in result["notes"] + result["missing"]:
        field = entry["field"]
        if field != "levels":  # "levels" is also an English word of the report
            assert field not in out, field  # the path stays in the JSON
        m = re.fullmatch(r"levels\[(\d+)\]\.(.+)", field)
        if m is None:
            label = field_label(field)
            assert any(b.startswith(f"{label}:") or b.startswith(f"{label} →") for b in shown)
        else:
            i = int(m[1])
            where = re.compile(rf"^{re.escape(field_label(field))} at .*\b{names[i]}\b")
            assert any(where.search(b) for b in shown), (field, shown)


def _paths(model: type, prefix: str) -> list[str]:
    from pydantic import BaseModel

    out = []
    for name, f in model.model_fields.items():
        ann = f.annotation
        sub = [a for a in (ann, *getattr(ann, "__args__", ())) if isinstance(a, type)]
        nested = [a for a in sub if issubclass(a, BaseModel)]
        if nested and name != "levels" and name != "heights_mm":
            out += _paths(nested[0], f"{prefix}{name}.")
        else:
            out.append(f"{prefix}{name}")
    return out


def test_every_input_field_has_words() -> None:
    from vertebro.assess import LevelInput

    fields = _paths(AssessmentInput, "") + _paths(LevelInput, "")
    assert "pain.therapy_failed.prevents_ambulation" in fields and "escc" in fields
    assert not [f for f in fields if f not in FIELD_LABELS], "add the words to _labels.py"


def test_every_fact_a_rule_reads_has_words() -> None:
    # An offered level that is not in the input is reported by fact (issue 13 point 8): each
    # fact a rule can leave open must read as words, not as its dotted name.
    facts = {f for r in RB.rules for f in r.condition.fields}
    for fact in sorted(facts):
        label = field_label(f"C3 ({fact}, offered level not in the input)")
        assert label.endswith(" at C3 (offered level, not in the input)"), label
        words = label.removesuffix(" at C3 (offered level, not in the input)")
        assert fact not in words and "." not in words and "_" not in words, (fact, words)


def test_offered_level_fact_reads_as_words_in_the_report() -> None:
    # Screws at T4 (AJNR-instrumented): the engine offers T5, which the input does not
    # describe; its unknown facts must read as words, not "T5 (level.instrumentation, ...)".
    case = json.loads(
        '{"patient": {"age": 56, "sex": "female", "primary_cancer": "myeloma",'
        ' "cancer_history": true, "histology_confirmed": true},'
        ' "pain": {"nrs": 6, "mechanical": true, "radicular_exceeds_axial": false},'
        ' "levels": [{"level": "T10", "index": true, "mri_edema": false, "height_loss_pct": 30,'
        ' "lesion": "mixed", "posterior_wall": "retropulsion", "escc": "0",'
        ' "alignment": "normal", "instrumentation": "none", "fracture_age_weeks": 2},'
        ' {"level": "T6", "height_loss_pct": 10, "escc": "0", "alignment": "normal",'
        ' "posterolateral": "bilateral", "instrumentation": "none"},'
        ' {"level": "T4", "index": true, "mri_edema": true, "alignment": "normal",'
        ' "instrumentation": "bilateral_screws"}],'
        ' "context": {"mdt_agreed": false, "spine_surgery_available": true}}'
    )
    result = assess(case)
    offered = [e["field"] for e in result["notes"] + result["missing"]
               if "offered level not in the input" in e["field"]]
    assert offered, "the case must offer a level the input does not describe"
    out = " ".join(render_text(result, width=WIDE).split())
    for field in offered:
        assert field not in out and field_label(field) in out, field
    assert "offered level not in the input)" not in out
