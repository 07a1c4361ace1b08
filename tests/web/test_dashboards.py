"""The dashboards: signed-in only, scoped as the registry scopes, the same numbers as the
CLI's reports (``analytics audit``, ``analytics outcomes``, ``registry due``, ``evidence
from-registry`` + ``pool --n-weighted``), each plot an SVG of the report's own figure."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from vertebro import analytics
from vertebro import evidence as ev
from vertebro.registry import Registry
from vertebro.registry.accounts import Accounts
from vertebro.registry.demo import seed
from vertebro.web import create_app

from ..registry.conftest import _new_database
from .conftest import SETTINGS, csrf_of

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
SECRET = "dashboard-test-password"
PAGES = ["/dashboards", "/dashboards/audit", "/dashboards/outcomes", "/dashboards/completeness",
         "/dashboards/pooled"]
PLOTS = ["/dashboards/audit.svg", "/dashboards/outcomes.svg", "/dashboards/pooled.svg"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A synthetic cohort at sites DEMO1 and DEMO2 (clin-demo1, clin-demo2, researcher,
    admin), plus site EMPTY with a clinician and no patient."""
    dbs = _new_database(tmp_path_factory.mktemp("dash"))
    reg = Registry.create(next(dbs))
    seed(reg, 80, sites=2, seed=7, as_of=dt.date(2026, 11, 1))
    reg.add_site("admin", "EMPTY", "A site with no patient")
    reg.add_user("admin", "clin-empty", "clinician", "EMPTY")
    acc = Accounts(reg, hasher=CHEAP)
    for name in ("admin", "clin-demo1", "clin-demo2", "researcher", "clin-empty"):
        acc.set_password(name, SECRET)
    yield reg
    reg.close()
    dbs.close()  # type: ignore[attr-defined]


def _client(reg: Registry, who: str | None) -> TestClient:
    app = create_app(SETTINGS, registry=reg)
    app.state.accounts = Accounts(reg, hasher=CHEAP)
    c = TestClient(app, base_url="https://testserver")
    if who is not None:
        r = c.post("/login", data={"username": who, "password": SECRET,
                                   "csrf_token": csrf_of(c)}, follow_redirects=False)
        assert r.status_code == 303, r.text
    return c


@pytest.fixture(scope="module")
def researcher(demo: Registry) -> TestClient:
    return _client(demo, "researcher")


@pytest.fixture(scope="module")
def clinician(demo: Registry) -> TestClient:
    return _client(demo, "clin-demo1")


def _text(r: Any) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", r.text)))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _rows(page: str, label: str) -> list[str]:
    """The text of each table row of ``page`` whose first cell is ``label``."""
    return [re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", m)))
            for m in re.findall(r"<tr[^>]*>(.*?)</tr>", page, flags=re.S)
            if re.search(rf'data-label="[^"]*">(<strong>)?{re.escape(html.escape(label))}'
                         r'(</strong>)?</td>', m)]


def _table(page: str, name: str) -> str:
    """The table of ``page`` with ``aria-label="name"``."""
    m = re.search(rf'<table[^>]*aria-label="{re.escape(name)}">(.*?)</table>', page, flags=re.S)
    assert m, name
    return m[1]


@pytest.mark.parametrize("path", PAGES + PLOTS)
def test_signed_in_only(demo: Registry, path: str) -> None:
    r = _client(demo, None).get(path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")


# ---------------------------------------------------------------- quality audit
@pytest.mark.parametrize("who", ["researcher", "clin-demo1"])
def test_audit_numbers_are_the_reports(demo: Registry, who: str) -> None:
    report = analytics.registry_audit(demo, who, by="site")
    page = _client(demo, who).get("/dashboards/audit")
    assert page.status_code == 200
    text = _text(page)
    th = report.thresholds.threshold
    assert f"{_pct(th.rate)} of procedures" in text and "SNIS-2014" in text
    shown = {g.group for g in report.groups if g.n}
    assert shown == ({"DEMO1", "DEMO2"} if who == "researcher" else {"DEMO1"})
    for g in report.groups:
        assert g.known is not None
        (row,) = _rows(page.text, g.group)
        lo, hi = g.known.ci95
        assert f" {g.n} " in row
        assert f"{_pct(g.known.rate)} ({100 * lo:.1f}-{100 * hi:.1f}%)" in row
        assert g.known.status in row
    if who == "clin-demo1":
        assert "DEMO2" not in page.text  # another site is not even named
    for lk in report.leakage:
        if lk.n:
            (row,) = _rows(page.text, lk.technique)
            assert f" {lk.n} " in row and f" {lk.events} " in row and _pct(lk.rate) in row


def test_plots_are_svg_of_the_reports_figures(researcher: TestClient) -> None:
    for path in PLOTS:
        r = researcher.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"] == "image/svg+xml"
        assert r.content.lstrip().startswith(b"<?xml") and b"<svg" in r.content[:2000]
        assert r.headers["cache-control"] == "no-store"
        assert researcher.get(path).content == r.content  # the same numbers, the same bytes
    page = researcher.get("/dashboards/audit").text
    assert '<img src="/dashboards/audit.svg"' in page


# ---------------------------------------------------------------- outcomes
def test_outcomes_numbers_are_the_reports(demo: Registry, researcher: TestClient) -> None:
    report = analytics.registry_outcomes(demo, "researcher")
    page = researcher.get("/dashboards/outcomes").text
    text = _text(researcher.get("/dashboards/outcomes"))
    checked = 0
    for t in report.techniques:
        assert f"{t.technique} ({t.patients} patients)" in text
        for m in t.measures:
            for iv in m.intervals:
                if iv.change is None or iv.change.ci95 is None:
                    continue
                lo, hi = iv.change.ci95
                assert f"{iv.change.mean:+.2f} [{lo:.2f}, {hi:.2f}], {iv.change.n}" in text
                if iv.reference is not None:
                    assert f"{iv.reference.mean:.2f} (N = {iv.reference.n})" in text
                checked += 1
    assert checked >= 10
    assert '<img src="/dashboards/outcomes.svg"' in page
    assert analytics.SORENSEN_SOURCE in text


# ---------------------------------------------------------------- completeness
def test_completeness_is_the_reports(demo: Registry, clinician: TestClient) -> None:
    report = analytics.registry_outcomes(demo, "clin-demo1")
    page = clinician.get("/dashboards/completeness")
    text = _text(page)
    for t in report.techniques:
        for c in t.completeness:
            assert f"{c.seen} of {t.patients} ({100 * c.seen / t.patients:.0f}%)" in text
    due = Counter((r["interval"], r["status"]) for r in demo.due("clin-demo1",
                                                                 include_missed=True))
    from vertebro.registry.vocab import INTERVAL_LABELS

    for code, label in INTERVAL_LABELS.items():
        if not any(k[0] == code for k in due):
            continue
        (row,) = _rows(_table(page.text, "visits due"), label)
        assert row.split()[-3:] == [str(due[(code, s)]) for s in ("due", "overdue", "missed")]


# ---------------------------------------------------------------- with the literature
def test_pooled_is_the_n_weighted_mean_of_registry_and_literature(
    demo: Registry, researcher: TestClient
) -> None:
    r = researcher.get("/dashboards/pooled?outcome=pain_vas&technique=KP&interval=lt4w")
    assert r.status_code == 200
    text = _text(r)
    rows = [x for x in analytics.study_rows_from_registry(demo, "researcher",
                                                          exported_on=dt.date.today())
            if x.outcome == "pain_vas" and x.technique == "KP" and x.interval == "lt4w"]
    assert {x.study for x in rows} == {"registry:DEMO1", "registry:DEMO2"}
    # Sorensen-SpineJ-2019 Table 2, KP, < 4 weeks: VAS 2.96, N = 814
    pairs = [(x.mean, x.n) for x in rows] + [(2.96, 814)]
    expected = sum(m * n for m, n in pairs) / sum(n for _, n in pairs)
    assert f"{expected:.2f}" in text.split("Registry with the literature")[1][:300]
    assert "Sorensen-SpineJ-2019, Table 2" in text
    assert ".txt" not in text  # no seed file names
    for x in rows:
        assert f"{x.n} {x.mean:.2f} {x.sd:.2f}" in text
    # the random-effects pool of the sites, as `evidence pool --measure MN` fits it
    eff, _ = ev.effects_from_studies(rows, "MN")
    fit = ev.RMA("REML").fit(eff.yi, eff.vi, measure="MN", ni=eff.ni)
    assert f"{fit.estimate:.2f} [{fit.ci_lb:.2f}, {fit.ci_ub:.2f}]" in text


def test_pooled_clinician_sees_own_site_only(clinician: TestClient) -> None:
    text = _text(clinician.get("/dashboards/pooled?outcome=odi&technique=PVP&interval=lt4w"))
    assert "registry:DEMO1" in text and "registry:DEMO2" not in text


@pytest.mark.parametrize(
    ("query", "field"),
    [("outcome=kps", "outcome"), ("technique=BKP", "technique"), ("interval=2w", "interval")],
)
def test_pooled_refuses_unknown_choices(researcher: TestClient, query: str, field: str) -> None:
    for path in ("/dashboards/pooled", "/dashboards/pooled.svg"):
        r = researcher.get(f"{path}?{query}")
        assert r.status_code == 422
        assert field in r.text and "is not one of" in r.text


# ---------------------------------------------------------------- an empty scope
def test_empty_scope_says_so(demo: Registry) -> None:
    c = _client(demo, "clin-empty")
    for path in PAGES:
        r = c.get(path)
        assert r.status_code == 200, path
        assert "DEMO1" not in r.text and "SYN-" not in r.text
    assert "nothing to plot" in _text(c.get("/dashboards/audit"))
    assert "nothing to plot" in _text(c.get("/dashboards/outcomes"))
    assert c.get("/dashboards/audit.svg").status_code == 422
