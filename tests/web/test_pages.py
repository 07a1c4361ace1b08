"""The pages: the form, the report (same content as the text report), escaping, errors."""

from __future__ import annotations

import html
import json
from importlib.resources import files
from typing import Any

import pytest
from fastapi.testclient import TestClient

from vertebro import assess
from vertebro.assess import NOTICE, default_rulebook, report_view

from ..assess.conftest import EXAMPLES

EXAMPLE_NAMES = ["aospine_case.json", "ajnr_instrumented_case.json"]


def _post(client: TestClient, text: str, guideline: str = "jnccn2012") -> Any:
    return client.post("/assess", data={"patient": text, "guideline": guideline})


def test_form_page(client: TestClient) -> None:
    r = client.get("/?example=aospine")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = html.unescape(r.text)
    assert '"primary_cancer": "renal"' in page  # the bundled example fills the JSON box
    for gid in default_rulebook().profiles:
        assert f'value="{gid}"' in page
    assert NOTICE in page
    assert "http://" not in r.text and "https://" not in r.text  # no external assets


def test_bundled_example_is_the_repository_example() -> None:
    shipped = files("vertebro.web") / "data" / "aospine_case.json"
    assert shipped.read_text(encoding="utf-8") == (EXAMPLES / "aospine_case.json").read_text()


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
@pytest.mark.parametrize("guideline", ["jnccn2012", "snis2014"])
def test_report_page(client: TestClient, name: str, guideline: str) -> None:
    text = (EXAMPLES / name).read_text()
    r = _post(client, text, guideline)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    page = html.unescape(r.text)
    result = assess(json.loads(text), guideline=guideline)
    view = report_view(result)
    assert view.disposition_label in page
    assert view.meaning in page
    for a in result["actions"]:
        assert a["rule"] in page and a["label"] in page
    for w in view.why:
        assert w.rule in page and w.source in page and w.text in page
    for n in view.notes:
        assert n.field in page and n.affects in page
    for lv in view.levels:
        assert lv.status in page
    assert result["notice"] in page
    # Disposition first: before any section of the report.
    assert page.index(view.disposition_label) < page.index("Plan per level")


def test_missing_section(client: TestClient) -> None:
    p = json.loads((EXAMPLES / "aospine_case.json").read_text())
    del p["neurology"]["clinical_cord_compression"]
    r = _post(client, json.dumps(p))
    page = html.unescape(r.text)
    assert "INCOMPLETE" in page
    assert "Missing: could change the answer" in page
    assert "clinical spinal cord compression" in page  # named in words, not by JSON path


def test_free_text_is_escaped(client: TestClient) -> None:
    p = json.loads((EXAMPLES / "aospine_case.json").read_text())
    p["patient"]["primary_cancer"] = "<script>alert('x')</script>renal"
    p["note"] = '<img src=x onerror="alert(1)">'
    r = _post(client, json.dumps(p))
    assert r.status_code == 200
    assert "<script>" not in r.text and "<img" not in r.text
    assert "&lt;script&gt;alert(" in r.text
    # The error path echoes the input too.
    r = _post(client, json.dumps(p) + "<script>")
    assert r.status_code == 422
    assert "<script>" not in r.text


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"pain": {"nrs": 11}}', "pain.nrs"),
        ('{"patient": {"kps": 55}}', "patient.kps"),
        ('{"levels": [{"level": "T13"}]}', "levels[0].level"),
        ('{"pain": {"mechnical": true}}', "pain.mechnical"),
        ('{"pain": ', "(json)"),
    ],
)
def test_form_errors(client: TestClient, text: str, field: str) -> None:
    r = _post(client, text)
    assert r.status_code == 422
    assert r.headers["cache-control"] == "no-store"
    page = html.unescape(r.text)
    assert "Invalid input" in page
    assert f"<code>{field}</code>:" in page
    assert text in page  # the form keeps what was typed, to be corrected
    assert 'name="patient"' in page


def test_form_bad_guideline(client: TestClient) -> None:
    r = _post(client, (EXAMPLES / "aospine_case.json").read_text(), guideline="nice2009")
    assert r.status_code == 422
    assert "<code>guideline</code>:" in r.text


def test_privacy_headers_everywhere(client: TestClient) -> None:
    for r in (client.get("/"), client.get("/api/health"), _post(client, "{")):
        assert r.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in r.headers["content-security-policy"]
