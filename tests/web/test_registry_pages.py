"""The registry pages (issue 11 point 2) through the app, signed in as each role.

Every check here asks the registry itself (through :class:`Registry`) what was written, so a
page that only looks right cannot pass. The browser flows are in ``tests/browser``.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import re
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from vertebro.registry import Registry
from vertebro.registry.models import AuditLog

from ..assess.conftest import EXAMPLES
from .conftest import csrf_of, sign_in

TODAY = dt.date.today()


def _ago(n: int) -> str:
    return (TODAY - dt.timedelta(days=n)).isoformat()


def _client(web: TestClient, username: str | None) -> TestClient:
    c = TestClient(web.app, base_url="https://testserver")
    return sign_in(c, username) if username else c


@pytest.fixture
def alice(web: TestClient) -> TestClient:
    return sign_in(web, "alice")


def _clinical(reg: Registry) -> dict[str, int]:
    """Row counts of the clinical tables (sign-ins add audit and session rows)."""
    keep = ("patient", "assessment", "procedure", "procedure_level", "complication",
            "follow_up", "site", "app_user")
    return {k: v for k, v in reg.counts().items() if k in keep}


def _errors_beside(page: str) -> dict[str, str]:
    """``{input id: message}`` of the messages shown beside inputs."""
    return {m.group(1): html.unescape(m.group(2)) for m in re.finditer(
        r'<p class="error" id="(f-[\w-]+)-error" role="alert">([^<]*)</p>', page)}


def _with_procedure(reg: Registry, code: str = "P1", days_ago: int = 20,
                    actor: str = "alice") -> None:
    reg.add_patient(actor, {"code": code, "birth_year": 1950})
    site = "A" if actor == "alice" else "B"
    reg.add_procedure(actor, f"{site}/{code}", {"performed_on": _ago(days_ago), "levels": [
        {"level": "L1", "technique": "kyphoplasty"}]})


# ------------------------------------------------------------------ sign-in and scope
def test_pages_ask_to_sign_in(web: TestClient) -> None:
    for path in ("/registry", "/registry/worklist", "/registry/patients/A/P1",
                 "/registry/admin", "/registry/exports"):
        r = web.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_patient_list_is_the_users_scope_and_searchable(reg: Registry, web: TestClient
                                                        ) -> None:
    reg.add_patient("alice", {"code": "A-MYE", "primary_cancer": "myeloma"})
    reg.add_patient("alice", {"code": "A-BRE", "primary_cancer": "breast"})
    reg.add_patient("bob", {"code": "B-LUN", "primary_cancer": "lung"})
    page = _client(web, "alice").get("/registry").text
    assert "A-MYE" in page and "A-BRE" in page and "B-LUN" not in page
    page = _client(web, "alice").get("/registry", params={"q": "myel"}).text
    assert "A-MYE" in page and "A-BRE" not in page
    page = _client(web, "admin").get("/registry").text
    assert all(c in page for c in ("A-MYE", "A-BRE", "B-LUN"))
    page = _client(web, "rita").get("/registry").text
    assert not re.search(r"[AB]-(MYE|BRE|LUN)", page)
    for site, code in (("A", "A-MYE"), ("B", "B-LUN")):
        assert reg.pseudonym(site, code) in page


def test_another_sites_patient_is_404_on_every_page_and_post(reg: Registry, web: TestClient
                                                             ) -> None:
    _with_procedure(reg, "B1", actor="bob")
    before = _clinical(reg)
    c = _client(web, "alice")
    base = "/registry/patients/B/B1"
    for path in ("", "/audit", "/procedures/new", "/complications/new", "/follow-ups/new"):
        r = c.get(base + path)
        assert r.status_code == 404, path
        # the same answer as for a patient that does not exist: nothing about the record
        none = c.get("/registry/patients/B/NO1" + path)
        assert none.status_code == 404 and none.text.replace("NO1", "B1") == r.text
    posts = {"/follow-ups": {"followed_on": _ago(1), "nrs": "3"},
             "/complications": {"type": "infection"},
             "/procedures": {"performed_on": _ago(1), "levels[0].level": "L1",
                             "levels[0].technique": "kyphoplasty"}}
    for path, data in posts.items():
        assert c.post(base + path, data=data).status_code == 404, path
    assert _clinical(reg) == before


def test_a_post_without_csrf_token_is_refused(reg: Registry, web: TestClient) -> None:
    c = _client(web, "alice")
    c.headers.pop("x-csrf-token")
    r = c.post("/registry/patients", data={"code": "NOCSRF"})
    assert r.status_code == 403 and "CSRF" in r.text
    r = c.post("/registry/patients", data={"code": "NOCSRF", "csrf_token": "0" * 64})
    assert r.status_code == 403
    token = csrf_of(c, "/registry/patients/new")
    assert c.post("/registry/patients", data={"code": "WITHCSRF", "csrf_token": token},
                  follow_redirects=False).status_code == 303
    codes = {p["patient"] for p in reg.list_patients("admin")}
    assert "NOCSRF" not in codes and "WITHCSRF" in codes


# ------------------------------------------------------------------ forms
def test_add_patient_and_its_field_errors(reg: Registry, alice: TestClient) -> None:
    r = alice.post("/registry/patients", data={"code": "P-9", "birth_year": "1949",
                                               "sex": "male", "primary_cancer": "Renal",
                                               "hospital_number": "H123"},
                   follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/registry/patients/A/P-9?saved=patient"
    p = reg.get_patient("alice", "A/P-9")
    assert (p["birth_year"], p["sex"], p["primary_cancer"], p["hospital_number_hashed"]) == \
        (1949, "male", "renal", True)
    before = _clinical(reg)
    r = alice.post("/registry/patients", data={"code": "no spaces", "birth_year": "1e3",
                                               "sex": "dog", "primary_cancer": "x" * 65})
    assert r.status_code == 422
    beside = _errors_beside(r.text)
    assert set(beside) == {"f-code", "f-birth-year", "f-sex", "f-primary-cancer"}
    assert "'1e3' is not a whole number" in beside["f-birth-year"]
    assert 'value="no spaces"' in r.text  # what was typed comes back
    # the service's own check (a duplicate code) lands beside its field too
    r = alice.post("/registry/patients", data={"code": "P-9"})
    assert r.status_code == 422 and "exists" in _errors_beside(r.text)["f-code"]
    # and the same hospital number under another code
    r = alice.post("/registry/patients", data={"code": "P-10", "hospital_number": "H123"})
    assert "already registered" in _errors_beside(r.text)["f-hospital-number"]
    assert _clinical(reg) == before


def test_clinician_cannot_add_to_another_site(reg: Registry, alice: TestClient) -> None:
    r = alice.post("/registry/patients", data={"code": "X1", "site": "B"})
    assert r.status_code == 403
    assert all(p["patient"] != "X1" for p in reg.list_patients("admin"))


def test_procedure_levels_rows_without_script(reg: Registry, alice: TestClient) -> None:
    reg.add_patient("alice", {"code": "P2"})
    url = "/registry/patients/A/P2/procedures"
    page = alice.get(url + "/new").text
    assert page.count('<fieldset class="level"') == 3
    form = {"performed_on": _ago(3), "levels[0].level": "T12",
            "levels[0].technique": "vertebroplasty", "_action": "add_level", "_rows": "3"}
    r = alice.post(url, data=form)
    assert r.status_code == 200 and r.text.count('<fieldset class="level"') == 4
    assert reg.timeline("alice", "A/P2")["events"] == []  # nothing written
    # a blank first row is dropped; the filled rows are renumbered and shown so
    form = {"performed_on": _ago(3), "levels[1].level": "L1", "levels[1].technique": "laser",
            "levels[2].level": "L2", "levels[2].technique": "kyphoplasty",
            "levels[2].cement_volume_ml": "inf"}
    r = alice.post(url, data=form)
    assert r.status_code == 422
    beside = _errors_beside(r.text)
    assert set(beside) == {"f-levels-0-technique", "f-levels-1-cement-volume-ml"}
    assert "'inf' is not a number" in beside["f-levels-1-cement-volume-ml"]
    form.update({"levels[1].technique": "vertebroplasty", "levels[2].cement_volume_ml": "3,5"})
    r = alice.post(url, data=form, follow_redirects=False)
    assert r.status_code == 303
    (proc,) = [e for e in reg.timeline("alice", "A/P2")["events"] if e["event"] == "procedure"]
    assert [(lv["level"], lv["technique"], lv["cement_volume_ml"]) for lv in proc["levels"]] == \
        [("L1", "vertebroplasty", None), ("L2", "kyphoplasty", 3.5)]


def test_procedure_checked_against_the_stored_assessment(reg: Registry, alice: TestClient
                                                         ) -> None:
    reg.add_patient("alice", {"code": "P3"})
    patient = json.loads((EXAMPLES / "aospine_case.json").read_text())
    a = reg.record_assessment("alice", "A/P3", patient, assessed_on=TODAY - dt.timedelta(5))
    page = alice.get("/registry/patients/A/P3/procedures/new").text
    assessed = sorted({lv["level"] for lv in patient["levels"]})
    for lv in assessed:
        assert f'<option value="{lv}" selected>' in page  # rows prefilled with its levels
    r = alice.post("/registry/patients/A/P3/procedures", data={
        "performed_on": _ago(1), "levels[0].level": "C2", "levels[0].technique": "kyphoplasty"})
    assert r.status_code == 422
    assert "was not in the assessment" in _errors_beside(r.text)["f-levels-0-level"]
    timeline = alice.get("/registry/patients/A/P3").text
    assert f'href="/assessments/{a["assessment_id"]}"' in timeline


def test_follow_up_numbers_only_and_errors_by_field(reg: Registry, alice: TestClient) -> None:
    _with_procedure(reg, "P4", days_ago=30)
    url = "/registry/patients/A/P4/follow-ups"
    page = alice.get(url + "/new").text
    assert page.count('name="odi_sections[') == 10
    before = _clinical(reg)
    bad = {"followed_on": "2026-02-30", "nrs": "NaN", "kps": "75", "ecog": "9", "rdq": "25",
           "analgesic_class": "4", "odi_sections[0]": "6", "odi_sections[1]": "-1",
           "vital_status": "zombie", "new_fracture": "maybe"}
    r = alice.post(url, data=bad)
    assert r.status_code == 422
    beside = _errors_beside(r.text)
    assert set(beside) == {"f-followed-on", "f-nrs", "f-kps", "f-ecog", "f-rdq",
                           "f-analgesic-class", "f-odi-sections-0", "f-odi-sections-1",
                           "f-vital-status", "f-new-fracture"}
    assert _clinical(reg) == before
    # two blank sections: the ODI cannot be scored (Fairbank & Pynsent 2000 allow one)
    r = alice.post(url, data={"followed_on": _ago(10),
                              **{f"odi_sections[{i}]": "2" for i in range(8)}})
    assert r.status_code == 422 and "f-odi-sections" in r.text
    assert "odi_sections" in html.unescape(r.text)
    r = alice.post(url, data={"followed_on": _ago(10), "nrs": "4.5", "kps": "70",
                              "rdq": "12", "new_fracture": "unknown",
                              **{f"odi_sections[{i}]": "2" for i in range(9)}},
                   follow_redirects=False)
    assert r.status_code == 303
    (fu,) = [e for e in reg.timeline("alice", "A/P4")["events"] if e["event"] == "follow_up"]
    assert fu["nrs"] == 4.5 and fu["kps"] == 70 and fu["rdq"] == 12
    assert fu["odi_sections"] == [2] * 9 + [None] and fu["odi"] == pytest.approx(40.0)
    assert fu["new_fracture"] is None  # unknown stays unknown, never "no"
    assert fu["interval"] == "lt4w"


def test_complication_form(reg: Registry, alice: TestClient) -> None:
    _with_procedure(reg, "P5")
    url = "/registry/patients/A/P5/complications"
    r = alice.post(url, data={"type": "infection", "leak_site": "disc"})
    assert r.status_code == 422 and "not a cement leak" in _errors_beside(r.text)["f-leak-site"]
    r = alice.post(url, data={"type": "cement_leak", "level": "T4", "leak_site": "venous"})
    assert "not treated" in _errors_beside(r.text)["f-level"]
    r = alice.post(url, data={"type": "cement_leak", "level": "l1", "leak_site": "venous",
                              "symptomatic": "no", "severity_grade": "1"},
                   follow_redirects=False)
    assert r.status_code == 303
    (c,) = [e for e in reg.timeline("alice", "A/P5")["events"] if e["event"] == "complication"]
    assert (c["level"], c["leak_site"], c["symptomatic"], c["severity_grade"]) == \
        ("L1", "venous", False, 1)


def test_forms_need_a_procedure_first(reg: Registry, alice: TestClient) -> None:
    reg.add_patient("alice", {"code": "P6"})
    for path in ("follow-ups", "complications"):
        page = alice.get(f"/registry/patients/A/P6/{path}/new").text
        assert "has no procedure yet" in page
        assert 'action="/registry/patients/A/P6' not in page


# ------------------------------------------------------------------ reading pages
def test_timeline_chart_and_table_show_the_recorded_numbers(reg: Registry, alice: TestClient
                                                             ) -> None:
    _with_procedure(reg, "P7", days_ago=100)
    visits = [(-1, 8.0, 60, True), (14, 5.0, 70, False), (90, 2.5, None, False)]
    for day, nrs, kps, baseline in visits:
        reg.add_follow_up("alice", "A/P7", {"followed_on": _ago(100 - day), "nrs": nrs,
                                            "kps": kps, "baseline": baseline})
    page = alice.get("/registry/patients/A/P7").text
    wide = page.split('class="chart chart-wide"', 1)[1].split("</svg>", 1)[0]
    tips = re.findall(r"<circle[^>]*><title>([^<]*)</title>", wide)
    assert len(tips) == 5  # 3 NRS + 2 KPS, no ODI panel
    assert 'aria-label="ODI %"' not in wide and 'aria-label="KPS"' in wide
    assert any(t.startswith("Pain NRS 2.5 on ") for t in tips)
    table = page.split('<table class="follow-ups', 1)[1].split("</table>", 1)[0]
    assert "ODI" not in table and ">2.5<" in table and ">70<" in table


def test_researcher_view_is_pseudonymised(reg: Registry, web: TestClient) -> None:
    _with_procedure(reg, "P8", days_ago=50)
    reg.add_follow_up("alice", "A/P8", {"followed_on": _ago(10), "nrs": 3})
    rita = _client(web, "rita")
    pseudonym = reg.pseudonym("A", "P8")
    page = rita.get(f"/registry/patients/A/{pseudonym}").text
    assert "P8" not in page.replace(pseudonym, "") and _ago(50) not in page
    assert "day 40" in page and "1950" not in page
    assert rita.get("/registry/patients/A/P8").status_code == 404  # codes are not pseudonyms
    assert rita.get(f"/registry/patients/A/{pseudonym}/audit").status_code == 403
    r = rita.post(f"/registry/patients/A/{pseudonym}/follow-ups",
                  data={"followed_on": _ago(1), "nrs": "2"})
    assert r.status_code == 403
    r = rita.post("/registry/exports", data={"format": "csv"})  # research, always
    assert r.status_code == 200 and "P8" not in r.text and pseudonym in r.text
    assert r.headers["content-disposition"] == 'attachment; filename="registry-research.csv"'


def test_audit_trail_page(reg: Registry, alice: TestClient) -> None:
    reg.add_patient("alice", {"code": "P9", "birth_year": 1950, "hospital_number": "H-77"})
    reg.update_patient("alice", "A/P9", {"birth_year": 1951})
    page = html.unescape(alice.get("/registry/patients/A/P9/audit").text)
    rows = re.findall(r"<tr>\s*<td data-label=\"When\"", page)
    assert len(rows) == len(reg.audit_trail("alice", "A/P9")) >= 2
    assert "birth_year: 1950 → 1951" in page
    assert "hospital_number_hash=(hashed)" in page
    assert reg.hash_hospital_number("H-77") not in page


def test_worklist_statuses_per_interval(reg: Registry, alice: TestClient) -> None:
    _with_procedure(reg, "W1", days_ago=20)   # 2-week visit due
    _with_procedure(reg, "W2", days_ago=35)   # 2-week visit missed, 6-week due
    page = alice.get("/registry/worklist").text
    rows = {m.group(2): m.group(1) for m in re.finditer(
        r'status-(\w+)">\w+</span></td>\s*<td data-label="Patient"><a href="[^"]+">([\w-]+)',
        page)}
    due = {(d["patient"], d["interval"], d["status"])
           for d in reg.due("alice", include_missed=True)}
    assert ("W1", "lt4w", "due") in due and ("W2", "lt4w", "missed") in due
    assert len(re.findall(r'<tr>\s*<td data-label="Status">', page)) == len(due)
    assert set(rows) == {"W1", "W2"}
    r = alice.post("/registry/patients/A/W1/follow-ups",
                   data={"followed_on": _ago(5), "nrs": "2"}, follow_redirects=False)
    assert r.status_code == 303
    page = alice.get("/registry/worklist", params={"status": "due"}).text
    assert ">W1<" not in page and ">W2<" in page


# ------------------------------------------------------------------ exports
def test_exports_as_downloads(reg: Registry, alice: TestClient) -> None:
    _with_procedure(reg, "E1")
    _with_procedure(reg, "EB", actor="bob")
    r = alice.post("/registry/exports", data={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["patient"] for row in rows if row["patient"]} == {"E1"}
    r = alice.post("/registry/exports", data={"format": "redcap"})
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert r.headers["content-type"] == "application/zip" and len(names) >= 2
    r = alice.post("/registry/exports", data={"format": "fhir", "research": "on"})
    bundle = json.loads(r.content)
    assert bundle["resourceType"] == "Bundle" and "E1" not in r.text
    with reg.session("alice") as (s, _):  # each download is an audit event
        events = [a.after for a in s.scalars(select(AuditLog).where(
            AuditLog.action == "export", AuditLog.actor == "alice"))]
    assert [{k: e[k] for k in ("format", "research", "sites", "via")} for e in events] == [
        {"format": f, "research": r, "sites": "A", "via": "web"}
        for f, r in (("csv", False), ("redcap", False), ("fhir", True))]
    assert all(e["records"] > 0 and "E1" not in json.dumps(e) for e in events)
    r = alice.post("/registry/exports", data={"format": "xlsx"})
    assert r.status_code == 422 and "xlsx" in html.unescape(r.text)


# ------------------------------------------------------------------ admin
def test_admin_page_is_for_admins(web: TestClient) -> None:
    for user in ("alice", "rita"):
        assert _client(web, user).get("/registry/admin").status_code == 403
    r = _client(web, "alice").post("/registry/admin/sites", data={"code": "Z", "name": "Z"})
    assert r.status_code == 403


def test_admin_adds_sites_and_users_and_refuses_bad_input(reg: Registry, web: TestClient
                                                          ) -> None:
    admin = _client(web, "admin")
    r = admin.post("/registry/admin/sites", data={"code": "C", "name": "Site C"},
                   follow_redirects=False)
    assert r.status_code == 303
    assert {"code": "C", "name": "Site C"} in reg.list_sites("admin")
    r = admin.post("/registry/admin/users", data={"username": "carol", "role": "clinician",
                                                  "site": "C"}, follow_redirects=False)
    assert r.status_code == 303
    assert {"username": "carol", "role": "clinician", "site": "C", "active": True} in \
        reg.list_users("admin")
    before = _clinical(reg)
    r = admin.post("/registry/admin/users", data={"username": "dan", "role": "clinician"})
    assert r.status_code == 422 and "belongs to a site" in _errors_beside(r.text)["f-site"]
    r = admin.post("/registry/admin/users", data={"username": "bad name!", "role": "boss"})
    assert set(_errors_beside(r.text)) == {"f-username", "f-role"}
    r = admin.post("/registry/admin/sites", data={"code": "C", "name": "again"})
    assert r.status_code == 422 and "exists" in _errors_beside(r.text)["f-code"]
    r = admin.post("/registry/admin/users/carol/password",
                   data={"password": "long enough pw 1", "password_again": "different"})
    assert r.status_code == 422 and "differ" in r.text
    r = admin.post("/registry/admin/users/carol/password",
                   data={"password": "short", "password_again": "short"})
    assert r.status_code == 422 and "12 characters" in r.text
    assert "short" not in r.text.split("</h1>", 1)[1].replace("shorter", "")  # not echoed
    assert _clinical(reg) == before


def test_deactivation_ends_the_users_session(reg: Registry, web: TestClient) -> None:
    admin = _client(web, "admin")
    r = admin.post("/registry/admin/users/carl/password",
                   data={"password": "pw-for-carl-2026", "password_again": "pw-for-carl-2026"})
    assert r.status_code == 404  # no such user
    bob = _client(web, "bob")
    assert bob.get("/registry").status_code == 200
    r = admin.post("/registry/admin/users/bob/deactivate", follow_redirects=False)
    assert r.status_code == 303
    r = bob.get("/registry", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert {"username": "bob", "role": "clinician", "site": "B", "active": False} in \
        reg.list_users("admin")
    # an admin cannot lock themselves out
    assert admin.post("/registry/admin/users/admin/deactivate").status_code == 403


def test_admin_sets_a_password_that_then_signs_in(reg: Registry, web: TestClient) -> None:
    reg.add_user("admin", "erin", "researcher", None)
    admin = _client(web, "admin")
    r = admin.post("/registry/admin/users/erin/password",
                   data={"password": "erin's new pw 2026", "password_again": "erin's new pw 2026"},
                   follow_redirects=False)
    assert r.status_code == 303
    c = TestClient(web.app, base_url="https://testserver")
    r = c.post("/login", data={"username": "erin", "password": "erin's new pw 2026",
                               "csrf_token": csrf_of(c)}, follow_redirects=False)
    assert r.status_code == 303


@pytest.fixture
def pages(reg: Registry, web: TestClient) -> Iterator[dict[str, Any]]:
    _with_procedure(reg, "N1")
    yield {"alice": _client(web, "alice"), "admin": _client(web, "admin")}


def test_every_page_links_home_and_has_the_nav(pages: dict[str, Any]) -> None:
    for path in ("/registry", "/registry/patients/A/N1", "/registry/worklist",
                 "/registry/exports", "/registry/patients/new",
                 "/registry/patients/A/N1/follow-ups/new", "/registry/patients/A/N1/audit"):
        page = pages["alice"].get(path).text
        assert '<nav class="main' in page and 'href="/registry"' in page, path
        assert "http://" not in page and "https://" not in page.replace(
            "http://www.w3.org/2000/svg", ""), path
    assert "Sites and users" in pages["admin"].get("/registry").text
    assert "Sites and users" not in pages["alice"].get("/registry").text
