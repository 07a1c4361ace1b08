"""Clinical vignettes: each file states a patient, the expected answer and its source.

One parametrised test runs them all; a second test fails if any rule of the rulebook is
exercised by no vignette.
"""

from __future__ import annotations

from typing import Any

import pytest

from vertebro import assess
from vertebro.assess import default_rulebook

from .conftest import fired_rules, load_vignettes, vignette_input

VIGNETTES = load_vignettes()


def _check_level(result: dict[str, Any], name: str, want: dict[str, Any]) -> None:
    levels = {lv["level"]: lv for lv in result["levels"]}
    assert name in levels, f"level {name} not in the plan: {sorted(levels)}"
    lv = levels[name]
    for key, value in want.items():
        if key == "flags_include":
            assert set(value) <= set(lv["flags"]), (name, lv["flags"])
        elif key == "flags_exclude":
            assert not set(value) & set(lv["flags"]), (name, lv["flags"])
        elif key == "sins_total":
            assert lv["sins"]["total"] == value, (name, lv["sins"])
        elif key == "sins_range":
            assert lv["sins"].get("range") == value, (name, lv["sins"])
        elif key == "sins_category":
            assert lv["sins"]["category"] == value, (name, lv["sins"])
        else:
            assert lv[key] == value, f"{name}.{key}: expected {value!r}, got {lv[key]!r}"


@pytest.mark.parametrize(("name", "spec"), VIGNETTES, ids=[v[0] for v in VIGNETTES])
def test_vignette(name: str, spec: dict[str, Any]) -> None:
    assert spec.get("source"), f"{name}: every vignette cites where its expectation comes from"
    result = assess(vignette_input(spec), **spec.get("options", {}))
    want = spec["expect"]
    assert result["disposition"] == want["disposition"], result["findings"]
    for g, verdict in want.get("guidelines", {}).items():
        assert result["guidelines"][g] == verdict, (g, result["guidelines"])
    for lname, lwant in want.get("levels", {}).items():
        _check_level(result, lname, lwant)
    if "levels_exactly" in want:
        assert [lv["level"] for lv in result["levels"]] == want["levels_exactly"]
    if "sessions" in want:
        assert result["sessions"] == want["sessions"]
    if "levels_offered_without_session" in want:
        assert result["offers_without_session"] == want["levels_offered_without_session"]
    codes = [a["code"] for a in result["actions"]]
    if "actions_exactly" in want:
        assert codes == want["actions_exactly"], codes
    by_code = {a["code"]: a for a in result["actions"]}
    for code, words in want.get("action_label_contains", {}).items():
        assert code in by_code and words in by_code[code]["label"], by_code.get(code)
    for code, where in want.get("action_levels", {}).items():
        assert code in by_code and by_code[code].get("levels") == where, by_code.get(code)
    if "readings" in want:
        assert [r["rule"] for r in result["readings"]] == want["readings"], result["readings"]
    assert set(want.get("actions_include", [])) <= set(codes), codes
    assert not set(want.get("actions_exclude", [])) & set(codes), codes
    missing = [m["field"] for m in result["missing"]]
    if "missing" in want:
        assert sorted(missing) == sorted(want["missing"]), missing
    assert set(want.get("missing_include", [])) <= set(missing), missing
    notes = {n["field"]: n for n in result["notes"]}
    assert set(want.get("notes_include", [])) <= set(notes), sorted(notes)
    for path, affects in want.get("note_affects", {}).items():
        assert path in notes, (path, sorted(notes))
        assert set(affects) <= set(notes[path]["affects"]), notes[path]
    assert set(want.get("flags_include", [])) <= set(result["flags"]), result["flags"]
    assert not set(want.get("flags_exclude", [])) & set(result["flags"]), result["flags"]
    fired = fired_rules(result)
    assert set(want.get("rules_fired", [])) <= fired, sorted(set(want["rules_fired"]) - fired)
    assert not set(want.get("rules_not_fired", [])) & fired
    for key, value in want.get("performance_status", {}).items():
        got = result["performance_status"][key]
        if isinstance(value, dict):  # e.g. the warning: the keys a reviewer checks, not its text
            assert got is not None and {k: got[k] for k in value} == value, got
        else:
            assert got == value, (key, got)
    if "expected_outcomes" in want:
        assert sorted(result["expected_outcomes"]) == sorted(want["expected_outcomes"])
    # Invariants every vignette must satisfy.
    if result["disposition"] == "incomplete":
        assert result["missing"], "an incomplete answer names what is missing"
    else:
        assert not result["missing"]


def test_every_rule_is_exercised_by_a_vignette() -> None:
    fired: set[str] = set()
    for _, spec in VIGNETTES:
        fired |= fired_rules(assess(vignette_input(spec), **spec.get("options", {})))
    never = sorted(r.id for r in default_rulebook().rules if r.id not in fired)
    assert not never, f"rules no vignette exercises: {never}"


def test_there_are_at_least_27_vignettes() -> None:
    # the two seed cases plus at least 25 more (issue #2)
    assert len(VIGNETTES) >= 27
