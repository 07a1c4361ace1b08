"""The NOMS section (issue 14): radiotherapy per Laufer 2013 Figure 1, the survival estimate
shown as an estimate, and rules that read life expectancy reading only the stated value."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vertebro import assess
from vertebro.assess import render_text, report_view

BASE: dict[str, Any] = {
    "patient": {"age": 70, "primary_cancer": "lung", "cancer_history": True, "kps": 40,
                "visceral_metastases": "untreatable", "extraspinal_bone_metastases": 3,
                "spinal_metastases": 4, "ambulatory": False, "albumin_g_dl": 2.8},
    "pain": {"nrs": 8, "mechanical": True, "concordant_exam": True},
    "neurology": {"deficit": "none", "clinical_cord_compression": False},
    "contraindications": {k: False for k in ("active_systemic_infection", "spinal_infection",
                                             "uncorrectable_coagulopathy",
                                             "unfit_for_anaesthesia", "cement_allergy")},
    "levels": [{"level": "L1", "index": True, "mri_edema": True, "height_loss_pct": 30,
                "lesion": "lytic", "escc": "0", "alignment": "normal",
                "posterolateral": "none", "posterior_wall": "intact",
                "instrumentation": "none"}],
}


def _case(**patient: Any) -> dict[str, Any]:
    case = copy.deepcopy(BASE)
    case["patient"].update(patient)
    return case


@pytest.mark.parametrize(
    ("primary", "escc", "option"),
    [
        # Laufer 2013, Figure 1: low-grade ESCC + radiosensitive -> cEBRT; radioresistant -> SRS;
        # high-grade + radiosensitive -> cEBRT; radioresistant -> separation surgery then SRS
        ("breast", "0", "cebrt"),
        ("renal", "1a", "srs"),
        ("lymphoma", "2", "cebrt"),
        ("melanoma", "3", "separation_surgery_srs"),
    ],
)
def test_radiotherapy_follows_noms(primary: str, escc: str, option: str) -> None:
    case = _case(primary_cancer=primary)
    case["levels"][0]["escc"] = escc
    rt = assess(case)["noms"]["radiotherapy"]
    assert rt["decided"] and [o["option"] for o in rt["options"]] == [option]


def test_unknown_histology_or_1c_keeps_branches_open() -> None:
    rt = assess(_case(primary_cancer="lung"))["noms"]["radiotherapy"]  # SCLC or NSCLC?
    assert not rt["decided"] and {o["option"] for o in rt["options"]} == {"cebrt", "srs"}
    onc = assess(_case(primary_cancer="lung"))["noms"]["oncologic"]
    assert onc["radiosensitivity"] is None and "small_cell_lung" in onc["unknown_because"]
    case = _case(primary_cancer="renal")
    case["levels"][0]["escc"] = "1c"
    rt = assess(case)["noms"]["radiotherapy"]
    assert {o["option"] for o in rt["options"]} == {"srs", "separation_surgery_srs"}


def test_estimate_is_shown_but_never_fills_the_input() -> None:
    out = assess(_case())
    le = out["noms"]["life_expectancy"]
    assert le["stated_months"] is None and le["estimate_is_input"] is False
    toku = next(e for e in le["estimates"] if e["score"] == "tokuhashi")
    # KPS 40 0 + >=3 extraspinal 0 + >=3 vertebral 0 + unremovable 0 + lung 0 + Frankel E 2
    assert toku["range"] == [2, 2] and toku["months"] == [0, 6]
    # the CAFE rule needs a stated life expectancy: a short estimate does not raise its flag
    assert "short_life_expectancy" not in out["flags"]
    rule = next(r for r in le["rules"] if r["rule"] == "cafe2011.flag.short_life_expectancy")
    assert rule["reads"] == "nothing" and rule["holds"] is None
    text = render_text(out, width=300)
    assert "ESTIMATE from the scores, not an input" in text
    assert "read nothing" in text


def test_stated_life_expectancy_is_what_the_rule_reads() -> None:
    out = assess(_case(life_expectancy_months=2))
    le = out["noms"]["life_expectancy"]
    assert le["estimates"] == []
    rule = next(r for r in le["rules"] if r["rule"] == "cafe2011.flag.short_life_expectancy")
    assert rule["reads"] == "stated" and rule["holds"] is True
    assert "short_life_expectancy" in out["flags"]


def test_old_results_without_noms_still_render() -> None:
    out = assess(_case())
    del out["noms"]
    assert report_view(out).noms is None
    assert "NOMS" not in render_text(out, width=60)


PROGNOSTIC = st.fixed_dictionaries({}, optional={
    "visceral_metastases": st.sampled_from(["none", "treatable", "untreatable"]),
    "extraspinal_bone_metastases": st.integers(0, 5),
    "spinal_metastases": st.integers(1, 8),
    "ambulatory": st.booleans(),
    "albumin_g_dl": st.floats(1.0, 5.5),
    "kps": st.sampled_from([10, 30, 50, 70, 90]),
})


@settings(max_examples=15, deadline=None)
@given(PROGNOSTIC)
def test_prognostic_inputs_change_no_decision(extra: dict[str, Any]) -> None:
    """The scores' inputs feed the NOMS section only: disposition, flags, actions, missing
    and notes are those of the same patient without them (KPS aside, which rules read)."""
    kps = extra.pop("kps", 40)
    plain = assess(_case(kps=kps, visceral_metastases=None, extraspinal_bone_metastases=None,
                         spinal_metastases=None, ambulatory=None, albumin_g_dl=None))
    rich = assess(_case(kps=kps, **extra))
    for key in ("disposition", "guidelines", "flags", "actions", "missing", "notes", "levels"):
        assert rich[key] == plain[key], key


def test_unknown_score_inputs_are_named_in_words_in_the_report() -> None:
    # every score input unknown: the text names them as the report names other missing facts
    blank = dict.fromkeys(
        ("kps", "visceral_metastases", "extraspinal_bone_metastases", "spinal_metastases",
         "ambulatory", "albumin_g_dl", "primary_cancer")
    )
    out = assess(_case(**blank))
    names = {n for s in out["noms"]["systemic"]["scores"].values() for n in s["unknown"]}
    assert {"kps", "visceral_metastases", "albumin_g_dl"} <= names  # the JSON keeps the names
    text = " ".join(render_text(out, width=300).split())
    assert "number of extraspinal bone metastases" in text and "serum albumin (g/dL)" in text
    for name in names:
        assert f" {name}," not in text and f" {name})" not in text and f" {name}]" not in text
