"""The registry pages in a real browser, as registry staff use them (issue 11 point 2).

Each test uses its own patient codes: the live server is shared by the whole session.
Screenshots at 1280 and 390 px go to ``screenshot_dir``; the ``shot`` fixture fails a page that
scrolls sideways on a phone.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .conftest import LiveServer, keep_screenshot, password

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    SignIn = Callable[[Page, str], Page]
    Shot = Callable[[Page, str], tuple[Path, Path]]
TODAY = dt.date.today()


def _days_ago(n: int) -> str:
    return (TODAY - dt.timedelta(days=n)).isoformat()


def _submit(page: Page, button: str) -> None:
    with page.expect_navigation():
        page.click(f"button[type=submit]:has-text('{button}')")


def _worklist_rows(page: Page, live_server: LiveServer, code: str) -> list[str]:
    page.goto(live_server.url + "/registry/worklist")
    return [r.inner_text() for r in page.locator("table.worklist tbody tr").all()
            if code in r.inner_text()]


def test_clinician_enters_a_patient_procedure_and_follow_ups(
    page: Page, sign_in: SignIn, live_server: LiveServer, shot: Shot
) -> None:
    sign_in(page, "clin-a")
    assert page.url.endswith("/registry")
    page.click("text=Add a patient")
    page.fill("#f-code", "BRW-101")
    page.fill("#f-birth-year", "1951")
    page.select_option("#f-sex", "female")
    page.fill("#f-primary-cancer", "myeloma")
    _submit(page, "Add the patient")
    assert "/registry/patients/A/BRW-101" in page.url
    assert "Patient saved" in page.inner_text("[role=status]")

    # a procedure 20 days ago: the 2-week visit is due
    page.click("text=Add a procedure")
    page.fill("#f-performed-on", _days_ago(20))
    page.select_option("#f-anaesthesia", "local")
    page.select_option("#f-levels-0-level", "L1")
    page.select_option("#f-levels-0-technique", "kyphoplasty")
    page.fill("#f-levels-0-cement-volume-ml", "4.5")
    _submit(page, "Add a level row")  # one more row, nothing written yet
    assert page.locator("fieldset.level").count() == 4
    assert page.input_value("#f-levels-0-cement-volume-ml") == "4.5"
    page.select_option("#f-levels-1-level", "T12")
    page.select_option("#f-levels-1-technique", "vertebroplasty")
    _submit(page, "Save the procedure")
    assert "Procedure saved" in page.inner_text("[role=status]")
    assert "L1 kyphoplasty" in page.inner_text("section.proc")
    assert "T12 vertebroplasty" in page.inner_text("section.proc")

    due = _worklist_rows(page, live_server, "BRW-101")
    assert len(due) == 1 and "due" in due[0] and "< 4 weeks" in due[0]

    # the baseline and the 2-week visit, entered from the worklist's link
    page.goto(live_server.url + "/registry/patients/A/BRW-101/follow-ups/new")
    page.fill("#f-followed-on", _days_ago(21))
    page.check("#f-baseline")
    page.fill("#f-nrs", "8")
    page.select_option("#f-kps", "60")
    for i, v in enumerate("4343343434"):
        page.fill(f"#f-odi-sections-{i}", v)
    _submit(page, "Save the follow-up")
    assert "Follow-up saved" in page.inner_text("[role=status]")

    page.goto(live_server.url + "/registry/worklist")
    page.click("tr:has-text('BRW-101') >> text=record")
    page.fill("#f-followed-on", _days_ago(6))
    page.fill("#f-nrs", "3")
    page.select_option("#f-kps", "80")
    for i, v in enumerate("2121121210"):
        page.fill(f"#f-odi-sections-{i}", v)
    page.fill("#f-rdq", "9")
    _submit(page, "Save the follow-up")
    table = page.inner_text("table.follow-ups")
    assert "baseline" in table and "70.0" in table and "26.0" in table  # ODI % computed
    assert page.locator("svg.chart-wide circle").count() == 6  # NRS, ODI, KPS at two visits
    shot(page, "timeline")

    assert _worklist_rows(page, live_server, "BRW-101") == []  # the visit is recorded

    page.goto(live_server.url + "/registry?q=brw-101")
    assert page.locator("table.patients tbody tr").count() == 1
    with page.expect_navigation():
        page.click("nav.main button:has-text('Sign out')")
    assert page.url.endswith("/login")
    page.goto(live_server.url + "/registry")
    assert "/login" in page.url  # signed out: the pages ask to sign in again


def test_bad_input_is_refused_field_by_field_and_nothing_is_written(
    page: Page, sign_in: SignIn, live_server: LiveServer, shot: Shot
) -> None:
    with live_server.registry() as reg:
        reg.add_patient("clin-a", {"code": "BRW-102"})
        reg.add_procedure("clin-a", "A/BRW-102", {"performed_on": _days_ago(30),
                                                  "levels": [{"level": "T8",
                                                              "technique": "vertebroplasty"}]})
        before = {k: v for k, v in reg.counts().items() if k != "audit_log"}  # sign-ins are
    sign_in(page, "clin-a")
    page.goto(live_server.url + "/registry/patients/A/BRW-102/follow-ups/new")
    page.fill("#f-followed-on", _days_ago(40))  # before the procedure
    page.fill("#f-nrs", "11")
    page.fill("#f-odi-sections-0", "7")
    page.fill("#f-rdq", "1e309")
    page.select_option("#f-new-fracture-level", "L2")
    page.check("input[name=new_fracture][value=no]")
    _submit(page, "Save the follow-up")
    assert "please correct 3 problems" in page.inner_text("#errors").lower()
    beside = {f: page.inner_text(f"#f-{f}-error") for f in ("nrs", "rdq", "odi-sections-0")}
    assert "11" in beside["nrs"]
    assert "not a number" in beside["rdq"] or "whole number" in beside["rdq"]
    assert "7" in beside["odi-sections-0"]
    assert page.input_value("#f-nrs") == "11"  # what was typed comes back
    shot(page, "follow-up-errors")

    # the form-level problems fixed, the service's own checks answer beside their fields
    page.fill("#f-nrs", "5")
    page.fill("#f-odi-sections-0", "")
    page.fill("#f-rdq", "")
    _submit(page, "Save the follow-up")
    assert "before the procedure" in page.inner_text("#f-followed-on-error")
    assert "new_fracture" in page.inner_text("#errors")
    with live_server.registry() as reg:
        assert {k: v for k, v in reg.counts().items() if k != "audit_log"} == before


def test_clinician_of_site_a_gets_404_for_site_b(
    page: Page, sign_in: SignIn, live_server: LiveServer
) -> None:
    with live_server.registry() as reg:
        reg.add_patient("clin-b", {"code": "BRW-B1"})
    sign_in(page, "clin-a")
    for path in ("", "/audit", "/follow-ups/new", "/procedures/new", "/complications/new"):
        response = page.goto(live_server.url + "/registry/patients/B/BRW-B1" + path)
        assert response is not None and response.status == 404, path
        assert "Not found" in page.inner_text("h1")
    page.goto(live_server.url + "/registry?q=BRW-B1")
    assert "No patient matches" in page.inner_text("body")
    response = page.goto(live_server.url + "/registry/admin")
    assert response is not None and response.status == 403


def test_a_post_without_the_csrf_token_is_refused(
    page: Page, sign_in: SignIn, live_server: LiveServer
) -> None:
    sign_in(page, "clin-a")
    page.goto(live_server.url + "/registry/patients/new")
    # the same form, its hidden token removed: what a forged cross-site post looks like
    page.evaluate("document.querySelector("
                  "'form[action=\"/registry/patients\"] input[name=csrf_token]').remove()")
    page.fill("#f-code", "BRW-CSRF")
    with page.expect_navigation():
        page.click("button[type=submit]:has-text('Add the patient')")
    assert "CSRF" in page.inner_text("body")
    response = page.request.post(live_server.url + "/registry/patients",
                                 form={"code": "BRW-CSRF"}, max_redirects=0)
    assert response.status == 403
    with live_server.registry() as reg:
        assert all(p["patient"] != "BRW-CSRF" for p in reg.list_patients("admin"))


def test_a_deactivated_users_session_ends(
    browser: Browser, page: Page, sign_in: SignIn, live_server: LiveServer, shot: Shot
) -> None:
    sign_in(page, "admin")
    page.goto(live_server.url + "/registry/admin")
    page.fill("#f-username", "clin-tmp")
    page.select_option("#f-role", "clinician")
    page.select_option("#f-site", "A")
    _submit(page, "Add the user")
    assert "clin-tmp added" in page.inner_text("[role=status]")
    row = page.locator("#user-clin-tmp")
    row.locator("input[name=password]").fill(password("clin-tmp"))
    row.locator("input[name=password_again]").fill(password("clin-tmp"))
    with page.expect_navigation():
        row.locator("button:has-text('Set')").click()
    assert "password set for clin-tmp" in page.inner_text("[role=status]").lower()

    other = browser.new_context(base_url=live_server.url)
    try:
        theirs = other.new_page()
        sign_in(theirs, "clin-tmp")
        theirs.goto(live_server.url + "/registry")
        assert "clin-tmp" in theirs.inner_text("nav.main")
        with page.expect_navigation():
            page.locator("#user-clin-tmp button:has-text('Deactivate')").click()
        assert "deactivated" in page.inner_text("#user-clin-tmp")
        shot(page, "admin")
        theirs.goto(live_server.url + "/registry")
        assert "/login" in theirs.url  # the session ended with the account
    finally:
        other.close()
    events = page.inner_text("table.events")
    assert "deactivated" in events and "sign in" in events


def test_researcher_sees_pseudonymised_records_only(
    page: Page, sign_in: SignIn, live_server: LiveServer
) -> None:
    with live_server.registry() as reg:
        reg.add_patient("clin-a", {"code": "BRW-RES", "birth_year": 1960})
        reg.add_procedure("clin-a", "A/BRW-RES", {"performed_on": _days_ago(100), "levels": [
            {"level": "L3", "technique": "kyphoplasty"}]})
        reg.add_follow_up("clin-a", "A/BRW-RES", {"followed_on": _days_ago(60), "nrs": 4})
        pseudonym = reg.pseudonym("A", "BRW-RES")
    sign_in(page, "researcher")
    page.goto(live_server.url + "/registry?q=" + pseudonym)
    body = page.inner_text("body")
    assert pseudonym in body and "BRW-RES" not in body
    assert "1960" not in body  # no birth year (DESIGN.md section 10)
    with page.expect_navigation():
        page.click(f"table.patients a:has-text('{pseudonym}')")
    body = page.inner_text("body")
    assert "day 0" in body and "day 40" in body  # days from the procedure, no dates
    assert _days_ago(100) not in body and "Audit trail" not in body
    assert "Record a follow-up" not in body
    response = page.goto(page.url + "/audit")
    assert response is not None and response.status == 403
    page.goto(live_server.url + "/registry")
    assert not re.search(r"\bBRW-", page.inner_text("table.patients"))


def test_exports_download(page: Page, sign_in: SignIn, live_server: LiveServer,
                          shot: Shot) -> None:
    with live_server.registry() as reg:
        reg.add_patient("clin-a", {"code": "BRW-EXP"})
    sign_in(page, "clin-a")
    page.goto(live_server.url + "/registry/exports")
    shot(page, "exports")
    with page.expect_download() as got:
        page.click("button:has-text('Download')")
    text = Path(got.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert any(r["patient"] == "BRW-EXP" for r in rows)
    assert {r["site"] for r in rows} == {"A"}  # clin-a's site only

    page.check("input[name=research]")
    page.check("input[name=format][value=fhir]")
    with page.expect_download() as got:
        page.click("button:has-text('Download')")
    assert got.value.suggested_filename == "registry-research-fhir.json"
    assert "BRW-EXP" not in Path(got.value.path()).read_text(encoding="utf-8")


def test_pages_at_desktop_and_phone_width(
    page: Page, sign_in: SignIn, live_server: LiveServer, shot: Shot
) -> None:
    """A patient with a year of visits, and every main page photographed (no sideways
    scrolling at 390 px); with VERTEBRO_DOC_SCREENSHOTS=1 they are kept in docs/img."""
    with live_server.registry() as reg:
        reg.add_patient("clin-a", {"code": "DEMO-7", "birth_year": 1948, "sex": "male",
                                   "primary_cancer": "prostate"})
        reg.add_procedure("clin-a", "A/DEMO-7", {
            "performed_on": _days_ago(200), "anaesthesia": "sedation", "biopsy_taken": True,
            "levels": [{"level": "T11", "technique": "kyphoplasty", "cement_volume_ml": 5.0},
                       {"level": "L2", "technique": "kyphoplasty", "cement_volume_ml": 4.0}]})
        reg.add_complication("clin-a", "A/DEMO-7", {"type": "cement_leak", "level": "T11",
                                                    "leak_site": "disc", "symptomatic": False})
        for day, nrs, odi, kps, baseline in ((-2, 8, "4444434443", 60, True),
                                             (13, 4, "3232232322", 70, False),
                                             (45, 3, "2222122212", 80, False),
                                             (95, 2, "1211121111", 80, False),
                                             (185, 2, "1111011101", 90, False)):
            reg.add_follow_up("clin-a", "A/DEMO-7", {
                "followed_on": _days_ago(200 - day), "baseline": baseline, "nrs": nrs,
                "kps": kps, "odi_sections": [int(c) for c in odi]})
        # a worklist with each status: 2-week visit due, 6-week due, 6-week missed, 3-month
        # overdue
        for code, days, cancer in (("DEMO-8", 20, "breast"), ("DEMO-9", 50, "myeloma"),
                                   ("DEMO-10", 70, "lung"), ("DEMO-11", 120, "renal")):
            reg.add_patient("clin-a", {"code": code, "primary_cancer": cancer,
                                       "birth_year": 1940 + days // 5})
            reg.add_procedure("clin-a", f"A/{code}", {"performed_on": _days_ago(days),
                                                      "levels": [{"level": "T7",
                                                                  "technique": "vertebroplasty"}]})
    sign_in(page, "clin-a")
    pages = {"patients": "/registry", "patient": "/registry/patients/A/DEMO-7",
             "follow-up-form": "/registry/patients/A/DEMO-7/follow-ups/new",
             "procedure-form": "/registry/patients/A/DEMO-7/procedures/new",
             "worklist": "/registry/worklist", "audit": "/registry/patients/A/DEMO-7/audit"}
    for name, path in pages.items():
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 200, path
        wide, phone = shot(page, name)
        keep_screenshot(wide, f"registry-{name}.png")
        if name == "patient":
            keep_screenshot(phone, "registry-patient-phone.png")
    sign_in(page, "admin")
    page.goto(live_server.url + "/registry/admin")
    wide, _ = shot(page, "admin-page")
    keep_screenshot(wide, "registry-admin.png")


def test_the_forms_work_with_scripting_off(
    browser: Browser, sign_in: SignIn, live_server: LiveServer
) -> None:
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    try:
        pg = context.new_page()
        sign_in(pg, "clin-a")
        pg.goto(live_server.url + "/registry/patients/new")
        pg.fill("#f-code", "BRW-NOJS")
        _submit(pg, "Add the patient")
        pg.goto(live_server.url + "/registry/patients/A/BRW-NOJS/procedures/new")
        pg.fill("#f-performed-on", _days_ago(2))
        for i in range(4):  # more levels than rows: add rows without a script
            if i >= pg.locator("fieldset.level").count():
                _submit(pg, "Add a level row")
            pg.select_option(f"#f-levels-{i}-level", ["T9", "T10", "T11", "T12"][i])
            pg.select_option(f"#f-levels-{i}-technique", "vertebroplasty")
        _submit(pg, "Save the procedure")
        assert "Procedure saved" in pg.inner_text("[role=status]")
        assert pg.inner_text("section.proc").count("vertebroplasty") == 4
    finally:
        context.close()
