"""The SQL reports (vertebro.registry.reports and the analytics read through it) give exactly
what today's Python path gives, on the demo cohort, for every user role (SQLite here; the same
file runs on PostgreSQL with VERTEBRO_TEST_DATABASE_URL)."""

from __future__ import annotations

import datetime as dt

import pytest

from vertebro import analytics
from vertebro.registry import Registry, demo, reports
from vertebro.registry import _reports_baseline as baseline

USERS = ("researcher", "clin-demo1", "admin")
AS_OF = dt.date(2026, 6, 1)


@pytest.fixture(scope="module")
def demo_registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    import os

    from tests.registry.conftest import PG_URL

    if PG_URL:
        pytest.skip("module-scoped demo store: SQLite file")  # pragma: no cover
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'r.db'}"
    os.environ.setdefault("VERTEBRO_REGISTRY_KEY", "test-key-not-secret")
    reg = Registry.create(url)
    demo.seed(reg, 150, sites=3, seed=1, as_of=AS_OF)
    return reg


@pytest.mark.parametrize("who", USERS)
def test_summary_and_due(demo_registry: Registry, who: str) -> None:
    assert reports.summary(demo_registry, who) == baseline.summary(demo_registry, who)
    for today in (AS_OF, dt.date(2025, 1, 1), dt.date(2027, 3, 1)):
        for missed in (False, True):
            assert reports.due(demo_registry, who, today, include_missed=missed) == (
                baseline.due(demo_registry, who, today, include_missed=missed)
            )


@pytest.mark.parametrize("who", USERS)
def test_analytics(demo_registry: Registry, who: str) -> None:
    procs = analytics.registry_procedures(demo_registry, who)
    for by in ("site", "technique"):
        assert analytics.registry_audit(demo_registry, who, by=by).to_dict() == (
            analytics.audit(procs, by=by).to_dict()
        )
    assert analytics.registry_outcomes(demo_registry, who).to_dict() == (
        analytics.outcomes(procs).to_dict()
    )
    for by in ("site", "all"):
        assert analytics.study_rows_from_registry(
            demo_registry, who, exported_on=AS_OF, by=by  # type: ignore[arg-type]
        ) == analytics.registry_study_rows(procs, exported_on=AS_OF, by=by)  # type: ignore[arg-type]
