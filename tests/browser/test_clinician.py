"""The clinician's side in a real browser: the form filled field by field, missing facts,
errors beside their fields, saving to the registry, reopening by URL, the PDF, dashboards;
screenshots at 1280 and 390 px (``shot`` fails if a page scrolls sideways at 390 px).

With ``VERTEBRO_DOC_SCREENSHOTS=1`` the screenshots of docs/web.md are refreshed in docs/img.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from vertebro.assess import NOTICE, report_view
from vertebro.web._form import state_from_input

from ..assess.conftest import EXAMPLES
from .conftest import LiveServer, keep_screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Page

Shot = Callable[["Page", str], tuple[Path, Path]]
SignIn = Callable[["Page", str], "Page"]


def _cli_disposition(name: str) -> dict[str, Any]:
    """What ``vertebro assess FILE --format json`` says (the CLI, not the library)."""
    exe = Path(sys.executable).parent / "vertebro"
    out = subprocess.run([str(exe), "assess", str(EXAMPLES / name), "--format", "json"],
                         capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def _fill(page: Page, data: dict[str, Any]) -> None:
    """Fill the blank form field by field with ``data`` (the JSON of docs/assessment.md), as a
    clinician would: add the level blocks, then answer each question."""
    state = state_from_input(data)
    for _ in range(state.levels - 1):
        with page.expect_navigation():
            page.click("button[name=_action][value=add_level]")
    for name, value in state.values.items():
        field = page.locator(f'[name="{name}"]')
        kind = field.first.evaluate("e => e.type || e.tagName.toLowerCase()")
        if kind == "radio":
            page.check(f'input[name="{name}"][value="{value}"]')
        elif kind.startswith("select"):
            field.select_option(value)
        elif value:
            field.fill(value)


def _assess(page: Page) -> None:
    with page.expect_navigation():
        page.click(".actions-bar button[name=_action][value=assess]")


def _label(page: Page) -> str:
    return page.inner_text(".disposition .label").strip()


@pytest.mark.parametrize("name", ["aospine_case.json", "ajnr_instrumented_case.json"])
def test_form_filled_by_hand_gives_the_cli_disposition(
    page: Page, shot: Shot, name: str
) -> None:
    data = json.loads((EXAMPLES / name).read_text())
    page.goto("/")
    _fill(page, data)
    if name == "aospine_case.json":
        form, _ = shot(page, "form-aospine")
        keep_screenshot(form, "form.png")
    _assess(page)
    expected = _cli_disposition(name)
    assert _label(page) == report_view(expected).disposition_label
    body = page.inner_text("body")
    for action in expected["actions"]:
        assert action["label"] in body
    assert NOTICE in body
    report, _ = shot(page, f"report-{name.removesuffix('.json')}")
    if name == "aospine_case.json":
        keep_screenshot(report, "report.png")


def test_unknown_that_matters_is_listed_missing(page: Page) -> None:
    data = json.loads((EXAMPLES / "aospine_case.json").read_text())
    page.goto("/")
    _fill(page, data)
    page.check('input[name="neurology.clinical_cord_compression"][value="unknown"]')
    _assess(page)
    assert _label(page) == "INCOMPLETE"
    missing = page.locator("h2:has-text('Missing: could change the answer') + ul.missing")
    assert "clinical spinal cord compression" in missing.inner_text()


def test_invalid_value_is_shown_beside_its_field(page: Page, shot: Shot) -> None:
    page.goto("/?example=aospine")
    page.fill('[name="pain.nrs"]', "11")
    page.fill('[name="levels[0].height_loss_pct"]', "140")
    with page.expect_navigation():
        page.click(".actions-bar button[name=_action][value=assess]")
    for name in ("pain.nrs", "levels[0].height_loss_pct"):
        box = page.locator(".q", has=page.locator(f'[name="{name}"]'))
        error = box.locator(f'p.error[data-error-for="{name}"]')
        assert error.is_visible(), name
        assert error.inner_text().strip(), name
        assert "invalid" in (box.get_attribute("class") or "")
    assert page.locator("section.errors").is_visible()
    shot(page, "form-errors")


# ---------------------------------------------------------------- saving and the PDF
@pytest.fixture
def patient(live_server: LiveServer) -> str:
    """A new patient of site A, entered by clin-a."""
    code = f"WEB-{dt.datetime.now().strftime('%H%M%S%f')}"
    with live_server.registry() as reg:
        # as the AOSpine-EBSJ-2012 case the test assesses: 66 years, male, renal
        reg.add_patient("clin-a", {"code": code, "birth_year": dt.date.today().year - 66,
                                   "sex": "male", "primary_cancer": "renal"})
    return code


def _pdf_text(path: Path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                         text=True, check=True).stdout
    return re.sub(r"\s+", " ", out)


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext is not installed")
def test_save_reopen_and_download_the_pdf(
    page: Page, sign_in: SignIn, shot: Shot, live_server: LiveServer, patient: str,
    tmp_path: Path, browser: Any,
) -> None:
    sign_in(page, "clin-a")
    page.goto(f"/?example=aospine&registry_patient={patient}")
    _assess(page)
    label = _label(page)
    box = page.locator("#save")
    assert box.locator("#f-registry_patient").input_value() == patient
    with page.expect_navigation():
        box.locator("button[type=submit]").click()
    m = re.search(r"/assessments/(\d+)$", page.url)
    assert m, page.url
    url = page.url
    with live_server.registry() as reg:
        saved = reg.get_assessment("clin-a", int(m[1]))
    assert saved["patient"] == patient and saved["run_by"] == "clin-a"

    page.goto("/")  # away, then back by the URL alone
    page.goto(url)
    assert _label(page) == label
    stored = page.inner_text("section.saved")
    assert patient in stored and "stored by clin-a" in stored
    saved_png, _ = shot(page, "saved-assessment")
    keep_screenshot(saved_png, "saved-assessment.png")
    # printable: on paper the toolbar and navigation are left off, the report stays
    page.emulate_media(media="print")
    assert not page.locator(".toolbar").first.is_visible()
    assert page.locator(".disposition").is_visible()
    page.emulate_media(media="screen")

    with page.expect_download() as dl:
        page.click("text=Download PDF")
    pdf = tmp_path / "report.pdf"
    dl.value.save_as(pdf)
    text = _pdf_text(pdf)
    assert label in text
    assert patient in text and "clin-a" in text
    assert NOTICE[:60] in text
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", str(pdf),
                        str(tmp_path / "page")], check=True)
        (first,) = tmp_path.glob("page*.png")
        keep_screenshot(first, "report-pdf.png")

    # another site's clinician: not found, nothing shown
    other = browser.new_context(base_url=live_server.url)
    try:
        p2 = other.new_page()
        sign_in(p2, "clin-b")
        response = p2.goto(url)
        assert response is not None and response.status == 404
        assert patient not in p2.inner_text("body")
    finally:
        other.close()


def test_nothing_is_stored_without_sign_in(page: Page, live_server: LiveServer) -> None:
    with live_server.registry() as reg:
        before = reg.counts()["assessment"]
    page.goto("/?example=aospine")
    _assess(page)
    assert "Sign in to save this assessment" in page.inner_text("#save")
    assert page.locator("form[action='/assessments']").count() == 0
    with live_server.registry() as reg:
        assert reg.counts()["assessment"] == before


# ---------------------------------------------------------------- dashboards
@pytest.fixture(scope="module")
def cohort(live_server: LiveServer) -> Iterator[None]:
    """A synthetic cohort at sites DEMO1 and DEMO2 (flagged synthetic, codes SYN-...), so the
    dashboards have something to show. Imported as records, as `vertebro demo seed` does but
    without its demo users: the live server's users stay the four of its contract; sites A
    and B are not touched."""
    from vertebro.registry.demo import demo_records
    from vertebro.registry.transfer import import_records

    with live_server.registry() as reg:
        if not any(p["site"] == "DEMO1" for p in reg.list_patients("admin")):
            records = demo_records(60, sites=2, seed=11, as_of=dt.date(2026, 11, 1))
            import_records(reg, "admin", [(f"record {i}", r) for i, r in enumerate(records, 1)])
    yield


@pytest.mark.parametrize("path", ["/dashboards", "/dashboards/audit", "/dashboards/outcomes",
                                  "/dashboards/completeness", "/dashboards/pooled"])
def test_dashboards_in_the_browser(page: Page, sign_in: SignIn, shot: Shot, cohort: None,
                                   path: str) -> None:
    sign_in(page, "researcher")
    page.goto(path)
    for img in page.locator("figure img").all():
        # the plot arrived and was decoded (a broken image has no natural width)
        assert img.evaluate("e => e.complete && e.naturalWidth > 0"), path
    if path != "/dashboards":
        assert page.locator("table.num").count() >= 1
    name = path.rsplit("/", 1)[1]
    wide, _ = shot(page, f"dashboard-{name}")
    if name == "audit":
        keep_screenshot(wide, "dashboard-audit.png")


def test_pooled_choices_change_the_plot(page: Page, sign_in: SignIn, cohort: None) -> None:
    sign_in(page, "researcher")
    page.goto("/dashboards/pooled")
    page.select_option("select[name=outcome]", "odi")
    page.select_option("select[name=technique]", "KP")
    with page.expect_navigation():
        page.click("form[action='/dashboards/pooled'] button")
    assert "outcome=odi" in page.url and "technique=KP" in page.url
    assert "ODI (%), kyphoplasty" in page.inner_text(".scope")
