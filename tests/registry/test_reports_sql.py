"""The SQL reports (vertebro.registry.reports and the analytics read through it) give exactly
what today's Python path gives, on the demo cohort, for every user role, on SQLite and (with
VERTEBRO_TEST_DATABASE_URL) on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from vertebro import analytics
from vertebro.registry import Registry, demo, reports
from vertebro.registry import _reports_baseline as baseline

USERS = ("researcher", "clin-demo1", "admin")
AS_OF = dt.date(2026, 6, 1)


@pytest.fixture(scope="module")
def demo_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """One demo store for the module: a SQLite file, or a database on the PostgreSQL server of
    ``VERTEBRO_TEST_DATABASE_URL`` (created and dropped here)."""
    import os

    from tests.registry.conftest import _new_database

    os.environ.setdefault("VERTEBRO_REGISTRY_KEY", "test-key-not-secret")
    for url in _new_database(tmp_path_factory.mktemp("demo")):
        reg = Registry.create(url)
        demo.seed(reg, 150, sites=3, seed=1, as_of=AS_OF)
        yield reg
        reg.close()


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
