"""The structured form: coverage of the contract, form <-> JSON, errors by field, feedback,
levels added and removed, export; all through the rendered page, submitted as a browser with
scripting off would submit it (tests/web/_html_form.py)."""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from pydantic import BaseModel

from vertebro import assess
from vertebro.assess import AssessmentInput, report_view
from vertebro.scores import (
    ESCC_DESCRIPTIONS,
    genant_grade,
    height_loss_pct,
    sins_category,
    sins_from_level,
)
from vertebro.web._form import (
    PRIOR_RT,
    FormState,
    form_spec,
    input_from_state,
    state_from_form,
    state_from_input,
)

from ..assess.conftest import EXAMPLES
from ..assess.strategies import patients
from ._html_form import submitted

EXAMPLE_NAMES = ["aospine_case.json", "ajnr_instrumented_case.json"]


def _leaves(model: type[BaseModel], prefix: str = "") -> set[str]:
    out = set()
    for name, f in model.model_fields.items():
        ann = f.annotation
        sub = [a for a in (ann, *getattr(ann, "__args__", ())) if isinstance(a, type)]
        nested = [a for a in sub if issubclass(a, BaseModel)]
        if name == "levels":
            continue
        if nested:
            out |= _leaves(nested[0], f"{prefix}{name}.")
        else:
            out.add(prefix + name)
    return out


def _canonical(d: Any) -> Any:
    """The JSON with unknowns (null, empty blocks) left out: what the form gives back."""
    if isinstance(d, dict):
        out = {k: _canonical(v) for k, v in d.items() if v is not None}
        return {k: v for k, v in out.items() if v != {} or k == "levels"}
    if isinstance(d, list):
        return [_canonical(v) for v in d]
    return d


def _post(client: TestClient, url: str, items: list[tuple[str, str]]) -> Any:
    """Post form fields in order, repeated names allowed, as a browser does."""
    return client.post(
        url,
        content=urlencode(items),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def _form_page(client: TestClient, state: FormState) -> str:
    """The form page showing ``state`` (via the no-script "check" round trip)."""
    items = [(k, v) for k, v in state.values.items()] + [("_action", "check")]
    r = _post(client, "/assess", items)
    assert r.status_code == 200, r.text
    return r.text


def _submit(client: TestClient, items: list[tuple[str, str]], action: str) -> Any:
    items = [(k, v) for k, v in items if k != "_action"] + [("_action", action)]
    return _post(client, "/assess", items)


def _page_state(page: str) -> FormState:
    return state_from_form(submitted(page))


def test_every_input_field_is_asked_once() -> None:
    patient_side = [f.path for s in form_spec() if s.id != "levels" for f in s.fields]
    level_side = [f.path for s in form_spec() if s.id == "levels" for f in s.fields]
    assert len(patient_side) == len(set(patient_side))
    assert len(level_side) == len(set(level_side))
    assert set(patient_side) == _leaves(AssessmentInput)
    from vertebro.assess import LevelInput

    assert set(level_side) == _leaves(LevelInput)


def test_clinical_facts_are_three_valued_and_default_to_unknown(client: TestClient) -> None:
    page = client.get("/").text
    level_fields = {f.path for s in form_spec() if s.id == "levels" for f in s.fields}
    tri = [f for s in form_spec() for f in s.fields if f.kind == "tri"]
    assert len(tri) > 20
    for f in tri:
        name = f"levels[0].{f.path}" if f.path in level_fields else f.path
        pattern = rf'<input type="radio" name="{re.escape(name)}" value="(\w+)"( checked)?'
        radios = re.findall(pattern, page)
        assert [v for v, _ in radios] == ["yes", "no", "unknown"], name
        assert [v for v, c in radios if c] == ["unknown"], name
    # Every choice offers "unknown" first, as the default.
    for m in re.finditer(r"<select name=\"([^\"]+)\"[^>]*>\s*<option value=\"\">(\w+)", page):
        assert m[2] in ("unknown", "choose"), m[1]
    # A blank form is no patient: it asks for the vertebra of its one level block.
    r = _submit(client, submitted(page), "assess")
    assert r.status_code == 422
    assert "levels[0].level" in html.unescape(r.text)


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_examples_round_trip_through_the_page(client: TestClient, name: str) -> None:
    data = json.loads((EXAMPLES / name).read_text())
    page = _form_page(client, state_from_input(data))
    assert input_from_state(_page_state(page)) == _canonical(data)
    # Exporting gives the same JSON, which assesses to the same answer as the CLI's input.
    r = _submit(client, submitted(page), "export")
    assert r.headers["content-type"].startswith("application/json")
    assert "attachment" in r.headers["content-disposition"]
    assert assess(r.json()) == assess(data)


@settings(max_examples=60, deadline=None)
@given(patients(p_unknown=0.4))
def test_form_json_form_json_is_the_identity(patient: dict[str, Any]) -> None:
    json1 = input_from_state(state_from_input(patient))
    assert json1 == _canonical(patient)
    state2 = state_from_input(json1)
    assert input_from_state(state2) == json1
    assert state2 == state_from_input(patient)


@settings(max_examples=15, deadline=None)
@given(patients(p_unknown=0.4))
def test_round_trip_through_the_rendered_form(client: TestClient, patient: dict[str, Any]) -> None:
    page = _form_page(client, state_from_input(patient))
    assert input_from_state(_page_state(page)) == _canonical(patient)


def _aospine_items(client: TestClient, **changes: str) -> list[tuple[str, str]]:
    page = client.get("/?example=aospine").text
    items = dict(submitted(page))
    items.update(changes)
    return list(items.items())


def test_assessing_the_form_is_assessing_its_json(client: TestClient) -> None:
    data = json.loads((EXAMPLES / "aospine_case.json").read_text())
    r = _submit(client, _aospine_items(client, guideline="snis2014"), "assess")
    assert r.status_code == 200
    view = report_view(assess(data, guideline="snis2014"))
    page = html.unescape(r.text)
    assert view.disposition_label in page and view.meaning in page
    assert "Patient</dt><dd>unsaved" in page and "not signed in" in page


def test_unknown_that_matters_is_listed_missing(client: TestClient) -> None:
    items = _aospine_items(client, **{"neurology.clinical_cord_compression": "unknown"})
    page = html.unescape(_submit(client, items, "assess").text)
    assert "INCOMPLETE" in page
    missing = page[page.index("Missing: could change the answer") :]
    assert "clinical spinal cord compression" in missing[: missing.index("</ul>")]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("pain.nrs", "11", "less than or equal to 10"),
        ("patient.age", "sixty", "'sixty' is not a number"),
        ("patient.kps", "55", "not a Karnofsky score"),
        ("patient.kps", "70.5", "not a whole number"),
        ("levels[1].level", "T7", "listed twice"),
        ("pain.mechanical", "maybe", "expected yes, no or unknown"),
        (PRIOR_RT, "yes", "name the levels"),
    ],
)
def test_error_beside_its_field(client: TestClient, field: str, value: str, reason: str) -> None:
    r = _submit(client, _aospine_items(client, **{field: value}), "assess")
    assert r.status_code == 422
    page = html.unescape(r.text)
    where = "levels" if field == "levels[1].level" else field
    beside = re.search(rf'data-error-for="{re.escape(where)}" role="alert">([^<]*)<', page)
    assert beside and reason in beside[1], page
    assert f"<code>{where}</code>:" in page  # and in the list at the top
    # The form keeps every answer, to be corrected (a radio can only show its three).
    if field != "pain.mechanical":
        assert _page_state(r.text).get(field) == value


def test_errors_found_together(client: TestClient) -> None:
    items = _aospine_items(client, **{"patient.age": "x", "pain.nrs": "12"})
    page = html.unescape(_submit(client, items, "assess").text)
    assert "'x' is not a number" in page and "less than or equal to 10" in page


def test_levels_added_and_removed_without_script(client: TestClient) -> None:
    page = client.get("/?example=aospine").text
    page2 = _submit(client, submitted(page), "add_level").text
    state = _page_state(page2)
    assert state.levels == 3 and state.get("levels[2].level") == ""
    assert state.get("levels[2].index") == "unknown"
    items = dict(submitted(page2))
    items["levels[2].level"] = "T12"
    items["levels[2].escc"] = "1b"
    page3 = _submit(client, list(items.items()), "remove:0").text
    data = input_from_state(_page_state(page3))
    assert [lv["level"] for lv in data["levels"]] == ["T9", "T12"]
    assert data["levels"][1] == {"level": "T12", "escc": "1b"}


def test_load_json_into_the_form(client: TestClient) -> None:
    text = (EXAMPLES / "ajnr_instrumented_case.json").read_text()
    r = client.post("/assess", data={"patient": text, "_action": "load_json"})
    assert r.status_code == 200
    assert input_from_state(_page_state(r.text)) == _canonical(json.loads(text))
    r = client.post("/assess", data={"patient": '{"pain": {"nrs": 11}}', "_action": "load_json"})
    assert r.status_code == 422 and "<code>pain.nrs</code>:" in r.text


def _fb(client: TestClient, items: list[tuple[str, str]]) -> dict[str, Any]:
    r = _post(client, "/form/feedback", items)
    assert r.status_code == 200
    out: dict[str, Any] = r.json()
    return out


def test_feedback_scores_are_the_published_scores(client: TestClient) -> None:
    # T9 of the AOSpine example: mechanical pain, lytic, normal alignment, 45% collapse, no
    # posterolateral involvement; SINS by the scores module (Fisher 2010), Genant 3 (> 40%).
    expected = sins_from_level(
        "T9",
        pain="mechanical",
        lesion="lytic",
        alignment="normal",
        height_loss_pct=45,
        posterolateral="none",
    )
    fb = _fb(client, _aospine_items(client))
    t9 = fb["levels"]["levels[1]"]
    assert f"SINS {expected.total} {expected.category}" in t9
    assert f"Genant {genant_grade(45)}" in t9
    assert ESCC_DESCRIPTIONS["0"] in t9
    assert fb["summary"].startswith("So far: CANDIDATE")
    # Heights instead of a percentage; lesion unknown: a SINS range, and the ESCC meaning.
    h = {"anterior": "14", "middle": "16", "posterior": "24", "reference": "26"}
    changes = {f"levels[1].heights_mm.{k}": v for k, v in h.items()}
    changes |= {"levels[1].height_loss_pct": "", "levels[1].lesion": "", "levels[1].escc": "1c"}
    t9 = _fb(client, _aospine_items(client, **changes))["levels"]["levels[1]"]
    loss = height_loss_pct(**{k: float(v) for k, v in h.items()})
    assert f"Genant {genant_grade(loss)} ({round(loss, 1):g}% height loss)" in t9  # one decimal
    lo, hi = expected.total - 2, expected.total  # lytic 2 .. blastic 0 (Fisher 2010)
    # 6-8 spans stable and indeterminate: no category is claimed.
    assert sins_category(lo) != sins_category(hi)
    assert f"SINS {lo}-{hi} ·" in t9
    assert ESCC_DESCRIPTIONS["1c"] in t9


def test_feedback_errors_by_field(client: TestClient) -> None:
    fb = _fb(client, _aospine_items(client, **{"pain.nrs": "11", "levels[0].escc": "2"}))
    assert "less than or equal to 10" in fb["errors"]["pain.nrs"]
    assert fb["summary"] == ""
    assert ESCC_DESCRIPTIONS["2"] in fb["levels"]["levels[0]"]  # still said while invalid


def test_check_without_script_shows_the_same_feedback(client: TestClient) -> None:
    items = _aospine_items(client)
    fb = _fb(client, items)
    page = html.unescape(_submit(client, items, "check").text)
    assert fb["levels"]["levels[1]"] in page
    assert fb["summary"] in page


def test_form_script_is_served_from_here(client: TestClient) -> None:
    page = client.get("/").text
    assert '<script src="/static/form.js" defer></script>' in page
    r = client.get("/static/form.js")
    assert r.status_code == 200 and "/form/feedback" in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
