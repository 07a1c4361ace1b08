"""Saving an assessment to the registry from the report page, reopening it, its PDF.

The same path as ``vertebro registry assess`` (Registry.record_assessment with the signed-in
user as actor); another site's assessment is not found (404); nothing is stored without
sign-in or with invalid input; the PDF (read back with pdftotext) names the patient, the
author, the date, the disposition and carries the decision-support notice.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

import vertebro
from vertebro.assess import NOTICE, default_rulebook, report_view
from vertebro.errors import RegistryError
from vertebro.registry import Registry
from vertebro.registry.accounts import Accounts
from vertebro.web import create_app
from vertebro.web._assessments import mismatches

from ..assess.conftest import EXAMPLES
from ..registry.conftest import _new_database, populate_users
from .conftest import PASSWORD, SETTINGS, csrf_of, sign_in

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

AOSPINE = (EXAMPLES / "aospine_case.json").read_text()
AJNR = (EXAMPLES / "ajnr_instrumented_case.json").read_text()


@pytest.fixture(scope="module")
def patients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """One registry for the module (sites A and B, users admin, alice (A), bob (B), rita
    (researcher), patients P-001 and P-002 at A and Q-001 at B); the tests count what they
    add. Passwords are hashed with cheap Argon2 parameters: the hash carries its parameters,
    so each sign-in verifies cheaply; what is tested here is not the hashing."""
    dbs = _new_database(tmp_path_factory.mktemp("saved"))
    reg = Registry.create(next(dbs))
    populate_users(reg)
    acc = Accounts(reg, hasher=CHEAP)
    for name in ("admin", "alice", "bob", "rita"):
        acc.set_password(name, PASSWORD)
    # as the AOSpine-EBSJ-2012 case: 66 years (this year), male, renal
    reg.add_patient("alice", {"code": "P-001", "birth_year": dt.date.today().year - 66,
                              "sex": "male", "primary_cancer": "renal"})
    reg.add_patient("alice", {"code": "P-002"})
    reg.add_patient("bob", {"code": "Q-001"})
    yield reg
    reg.close()
    dbs.close()  # type: ignore[attr-defined]  # a generator: drops a PostgreSQL database


@pytest.fixture
def web(patients: Registry) -> Iterator[TestClient]:
    """A fresh browser (no cookies) on an app over :func:`patients`."""
    app = create_app(SETTINGS, registry=patients)
    app.state.accounts = Accounts(patients, hasher=CHEAP)
    with TestClient(app, base_url="https://testserver") as c:
        yield c


def _save(web: TestClient, text: str, patient: str, **extra: str) -> Any:
    data = {"patient": text, "guideline": "jnccn2012", "registry_patient": patient,
            "csrf_token": csrf_of(web, "/"), **extra}
    return web.post("/assessments", data=data, follow_redirects=False)


def _stored(reg: Registry) -> int:
    return reg.counts()["assessment"]


def _saved_id(r: Any) -> int:
    assert r.status_code == 303, r.text
    m = re.fullmatch(r"/assessments/(\d+)", r.headers["location"])
    assert m, r.headers["location"]
    return int(m[1])


def _text(r: Any) -> str:
    """The page's text as a reader sees it: no tags, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", r.text))).replace(" :", ":")


# ---------------------------------------------------------------- without sign-in
def test_report_without_sign_in_offers_no_saving(web: TestClient, patients: Registry) -> None:
    before = _stored(patients)
    r = web.post("/assess", data={"patient": AOSPINE, "guideline": "jnccn2012",
                                  "csrf_token": csrf_of(web, "/")})
    assert r.status_code == 200
    page = _text(r)
    assert "Sign in to save this assessment" in page
    assert 'action="/assessments"' not in r.text
    assert _stored(patients) == before


def test_saving_needs_sign_in(web: TestClient, patients: Registry) -> None:
    before = _stored(patients)
    r = _save(web, AOSPINE, "P-001")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert _stored(patients) == before
    # reopening too
    r = web.get("/assessments/1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


# ---------------------------------------------------------------- saving
@pytest.mark.parametrize(("text", "code"), [(AOSPINE, "P-001"), (AJNR, "P-002")],
                         ids=["aospine", "ajnr"])
def test_save_is_registry_assess(web: TestClient, patients: Registry, text: str,
                                 code: str) -> None:
    sign_in(web, "alice")
    report = web.post("/assess", data={"patient": text, "guideline": "jnccn2012"})
    assert 'action="/assessments"' in report.text  # the save box
    assert f'value="{code}"' in report.text and 'value="Q-001"' not in report.text  # own site

    before = _stored(patients)
    when = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    r = _save(web, text, code, assessed_on=when)
    aid = _saved_id(r)
    assert _stored(patients) == before + 1
    saved = patients.get_assessment("alice", aid)
    expected = vertebro.assess(json.loads(text), guideline="jnccn2012")
    assert saved["patient"] == code and saved["site"] == "A"
    assert saved["run_by"] == "alice"
    assert saved["assessed_on"] == when
    assert saved["input"] == json.loads(text)
    assert saved["disposition"] == expected["disposition"]
    assert saved["rulebook_version"] == expected["rulebook_version"] == default_rulebook().version
    assert saved["engine_version"] == expected["engine_version"] == vertebro.__version__
    # the patient's timeline lists it (webreg renders it and links to /assessments/{id})
    events = patients.timeline("alice", code)["events"]
    assert aid in [e["assessment_id"] for e in events if e["event"] == "assessment"]

    page = web.get(f"/assessments/{aid}")
    assert page.status_code == 200
    text_ = _text(page)
    view = report_view(expected)
    assert view.disposition_label in text_ and view.meaning in text_
    assert "Stored in the registry: assessment" in text_
    assert f"patient {code} (site A)" in text_ and "stored by alice" in text_
    assert f"assessed on {when}" in text_
    assert NOTICE in text_
    assert f'href="/registry/patients/A/{code}"' in page.text
    assert f'href="/assessments/{aid}.pdf"' in page.text
    assert "Stored with rulebook" not in text_  # the same rulebook as now


def test_answers_contradicting_the_patient_record_need_confirming(
    web: TestClient, patients: Registry
) -> None:
    sign_in(web, "alice")
    before = _stored(patients)
    r = _save(web, AJNR, "P-001")  # a 62-year-old man with melanoma; P-001: 66, renal
    assert r.status_code == 422
    m = re.search(r'<p class="error" id="e-registry_patient" role="alert">([^<]*)</p>', r.text)
    assert m, r.text
    reason = html.unescape(m[1])
    assert "primary cancer 'melanoma' in the answers, 'renal' in the registry" in reason
    assert "age 62 in the answers, born" in reason
    assert "sex" not in reason  # both male: no contradiction
    assert 'name="confirm_patient" value="yes"' in r.text
    assert _stored(patients) == before
    aid = _saved_id(_save(web, AJNR, "P-001", confirm_patient="yes"))
    assert patients.get_assessment("alice", aid)["patient"] == "P-001"
    # unknown on one side is no contradiction
    assert _saved_id(_save(web, AJNR, "P-002"))


def test_save_defaults_to_today(web: TestClient, patients: Registry) -> None:
    sign_in(web, "alice")
    aid = _saved_id(_save(web, AOSPINE, "P-002"))
    assert patients.get_assessment("alice", aid)["assessed_on"] == dt.date.today().isoformat()


def test_admin_saves_with_site_and_code(web: TestClient, patients: Registry) -> None:
    sign_in(web, "admin")
    report = web.post("/assess", data={"patient": AOSPINE, "guideline": "jnccn2012"})
    assert 'value="A/P-001"' in report.text and 'value="B/Q-001"' in report.text
    aid = _saved_id(_save(web, AOSPINE, "B/Q-001"))
    saved = patients.get_assessment("bob", aid)
    assert (saved["patient"], saved["site"], saved["run_by"]) == ("Q-001", "B", "admin")


@pytest.mark.parametrize(
    ("who", "patient", "date", "field", "reason"),
    [
        ("alice", "P-999", "", "registry_patient", "no patient 'P-999' visible to alice"),
        ("bob", "P-001", "", "registry_patient", "no patient 'P-001' visible to bob"),
        ("alice", "", "", "registry_patient", "give the registry patient's code"),
        ("alice", "P-001", "30/11/2026", "assessed_on", "'30/11/2026' is not a date"),
        ("alice", "P-001", "2999-01-01", "assessed_on", "2999-01-01 is in the future"),
    ],
)
def test_refused_save_is_shown_beside_its_field_and_stores_nothing(
    web: TestClient, patients: Registry, who: str, patient: str, date: str, field: str,
    reason: str,
) -> None:
    sign_in(web, who)
    before = _stored(patients)
    r = _save(web, AOSPINE, patient, assessed_on=date)
    assert r.status_code == 422
    assert _stored(patients) == before
    m = re.search(rf'<p class="error" id="e-{field}" role="alert">([^<]*)</p>', r.text)
    assert m, r.text
    assert reason in html.unescape(m[1])
    assert f'aria-describedby="e-{field}"' in r.text
    # the report is still there, with what was typed kept
    assert report_view(vertebro.assess(json.loads(AOSPINE))).disposition_label in r.text


def test_researcher_is_told_they_do_not_store(web: TestClient, patients: Registry) -> None:
    sign_in(web, "rita")
    r = web.post("/assess", data={"patient": AOSPINE, "guideline": "jnccn2012"})
    assert "A researcher reads the registry and does not store assessments" in _text(r)
    assert 'action="/assessments"' not in r.text
    before = _stored(patients)
    r = _save(web, AOSPINE, "P-001")
    assert r.status_code == 403
    assert "does not store assessments" in _text(r)
    assert _stored(patients) == before


def test_invalid_answers_are_not_stored(web: TestClient, patients: Registry) -> None:
    sign_in(web, "alice")
    bad = json.loads(AOSPINE)
    bad["pain"]["nrs"] = 11
    before = _stored(patients)
    r = _save(web, json.dumps(bad), "P-001")
    assert r.status_code == 422
    assert "pain.nrs" in r.text
    assert _stored(patients) == before


def test_form_opened_for_a_patient_carries_it_to_the_save_box(
    web: TestClient, patients: Registry
) -> None:
    sign_in(web, "alice")
    form = web.get("/?example=aospine&registry_patient=P-002")
    assert 'name="registry_patient" value="P-002"' in form.text
    r = web.post("/assess", data={"patient": AOSPINE, "guideline": "jnccn2012",
                                  "registry_patient": "P-002", "_action": "assess_json"})
    assert r.status_code == 200
    assert re.search(r'id="f-registry_patient" name="registry_patient" value="P-002"', r.text)


# ---------------------------------------------------------------- reopening
def test_another_sites_assessment_is_not_found(web: TestClient, patients: Registry) -> None:
    aid = patients.record_assessment("alice", "P-001", json.loads(AOSPINE))["assessment_id"]
    sign_in(web, "bob")
    for path in (f"/assessments/{aid}", f"/assessments/{aid}.pdf", "/assessments/9999"):
        r = web.get(path)
        assert r.status_code == 404, path
        assert "P-001" not in r.text
    with pytest.raises(RegistryError, match="no assessment"):
        patients.get_assessment("bob", aid)


def test_researcher_reopens_pseudonymised(web: TestClient, patients: Registry) -> None:
    data = json.loads(AOSPINE)
    data["note"] = "seen by Dr Example on the ward"
    aid = patients.record_assessment("alice", "P-001", data)["assessment_id"]
    saved = patients.get_assessment("rita", aid)
    assert saved["patient"] == patients.pseudonym("A", "P-001")
    assert not {"assessed_on", "run_by", "stored_at"} & set(saved)  # the export has none
    assert "note" not in saved["input"]
    sign_in(web, "rita")
    r = web.get(f"/assessments/{aid}")
    assert r.status_code == 200
    assert saved["patient"] in r.text
    for secret in ("P-001", "Dr Example", "alice", dt.date.today().isoformat()):
        assert secret not in r.text, secret


def test_the_stored_output_is_shown_not_a_fresh_run(web: TestClient, patients: Registry) -> None:
    data = json.loads(AOSPINE)
    output = vertebro.assess(data)
    output["rulebook_version"] = "2020.1.0"
    aid = patients.store_assessment("alice", "P-001", data, output)["assessment_id"]
    sign_in(web, "alice")
    page = _text(web.get(f"/assessments/{aid}"))
    assert "rulebook 2020.1.0" in page
    now = default_rulebook().version
    assert f"Stored with rulebook 2020.1.0; the rulebook is now {now}" in page


# ---------------------------------------------------------------- the PDF
needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                     reason="pdftotext (poppler-utils) is not installed")


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    assert pdf.startswith(b"%PDF-")
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                         capture_output=True, text=True).stdout
    return re.sub(r"\s+", " ", out)


@needs_pdftotext
def test_saved_pdf_names_patient_author_date(web: TestClient, patients: Registry,
                                             tmp_path: Path) -> None:
    aid = patients.record_assessment("alice", "P-001", json.loads(AJNR),
                                     assessed_on=dt.date(2026, 11, 30))["assessment_id"]
    sign_in(web, "alice")
    r = web.get(f"/assessments/{aid}.pdf")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert f"vertebro-assessment-{aid}.pdf" in r.headers["content-disposition"]
    text = _pdf_text(r.content, tmp_path)
    label = report_view(vertebro.assess(json.loads(AJNR))).disposition_label
    assert label in text
    assert "P-001 (site A)" in text
    assert "2026-11-30" in text
    assert "alice" in text
    assert f"registry assessment {aid}" in text
    # the notice in the running footer of every page and in the last part
    pages = text.count("page ")
    assert pages >= 1 and text.count(NOTICE[:60]) >= pages


@needs_pdftotext
def test_unsaved_pdf_says_unsaved(client: TestClient, tmp_path: Path) -> None:
    r = client.post("/report.pdf", data={"patient": AOSPINE, "guideline": "jnccn2012"})
    assert r.status_code == 200
    text = _pdf_text(r.content, tmp_path)
    assert "unsaved" in text and "not signed in" in text
    assert report_view(vertebro.assess(json.loads(AOSPINE))).disposition_label in text
    assert NOTICE[:60] in text


# ---------------------------------------------------------------- the wrong-patient check
_SEX = st.sampled_from(["male", "female", "other", "unknown"])
_CANCER = st.sampled_from(["renal", "breast", "myeloma", "lung", "unknown"])


@settings(max_examples=60, deadline=None)
@given(sex=_SEX, cancer=_CANCER, born=st.integers(1900, 2020),
       on=st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31)), had_birthday=st.booleans(),
       drop=st.sets(st.sampled_from(["sex", "primary_cancer", "age", "birth_year"])))
def test_the_patients_own_record_never_contradicts(
    sex: str, cancer: str, born: int, on: dt.date, had_birthday: bool, drop: set[str]
) -> None:
    """Answers taken from the registry record agree with it, whatever is left unknown on
    either side; and a changed sex or primary cancer is always caught when both are known."""
    registered: dict[str, Any] = {"sex": sex, "primary_cancer": cancer, "birth_year": born}
    age = on.year - born - (0 if had_birthday else 1)
    answers: dict[str, Any] = {"sex": sex, "primary_cancer": cancer.upper(), "age": age}
    for key in drop:
        registered.pop(key, None)
        answers.pop(key, None)
    assert mismatches(registered, {"patient": answers}, on) == []
    if {"sex"} - drop and sex not in ("unknown",):
        other = "female" if sex != "female" else "male"
        found = mismatches(registered, {"patient": {**answers, "sex": other}}, on)
        assert any(f.startswith("sex ") for f in found)
    if {"primary_cancer"} - drop and cancer != "unknown":
        found = mismatches(registered, {"patient": {**answers, "primary_cancer": "thyroid"}},
                           on)
        assert any(f.startswith("primary cancer ") for f in found)
