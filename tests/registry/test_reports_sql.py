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


def test_selection_ties_are_broken_as_the_python_path_breaks_them(registry: Registry) -> None:
    """Records at the same distance from the planned day, on the same day, and a nearer record
    without the measure: the SQL choice (``choices._is_chosen``, kept in
    ``follow_up_choice``) equals ``analytics.SELECTION`` in Python, measure by measure."""
    from .helpers import engine_output

    registry.add_patient("alice", {"code": "T1", "birth_year": 1950})
    registry.store_assessment("alice", "T1", {"levels": [{"level": "T9"}]},
                              engine_output("candidate", ["T9"]),
                              assessed_on=dt.date(2025, 1, 5))
    registry.add_procedure("alice", "T1", {"performed_on": "2025-01-10", "levels": [
        {"level": "T9", "technique": "vertebroplasty"}]})
    visits = [  # (day from the procedure, baseline, NRS, KPS)
        (-3, True, 9, 50), (-1, True, 7, None), (-1, True, 8, 60),  # latest, then last entered
        (10, False, 4, 70), (18, False, 2, 80),  # lt4w (planned day 14): 4 days either side
        (14, False, None, 90),  # nearest of all, without an NRS
        (40, False, 3, 70), (40, False, 5, 60),  # same day twice: the first entered
    ]
    for day, is_baseline, nrs, kps in visits:
        registry.add_follow_up("alice", "T1", {
            "followed_on": (dt.date(2025, 1, 10) + dt.timedelta(days=day)).isoformat(),
            "baseline": is_baseline, "nrs": nrs, "kps": kps})
    for who in ("alice", "rita", "admin"):
        procs = analytics.registry_procedures(registry, who)
        assert analytics.registry_outcomes(registry, who).to_dict() == (
            analytics.outcomes(procs).to_dict())
        assert analytics.study_rows_from_registry(registry, who, exported_on=AS_OF) == (
            analytics.registry_study_rows(procs, exported_on=AS_OF))
    counts = {(v.measure, v.interval): (v.value, v.baseline)
              for v in reports.outcome_counts(registry, "alice",
                                              visit=lambda k: not k.baseline)[2]}
    assert counts[("nrs", "preop")] == (8.0, None)  # day -1, entered last
    assert counts[("nrs", "lt4w")] == (4.0, 8.0)  # day 10 before day 18; day 14 has no NRS
    assert counts[("kps", "lt4w")] == (90.0, 60.0)
    assert counts[("nrs", "le6w")] == (3.0, 8.0)  # the first entered of day 40


def test_a_batch_sent_as_one_statement_gives_each_statement_its_own_rows(
        demo_registry: Registry) -> None:
    """``reports._Batch`` with ``together=True`` (PostgreSQL's path: one ``UNION ALL``) gives
    every statement exactly the rows it gives alone, whatever the columns' types and counts,
    also for a statement with no rows; on SQLite too, so the split is tested on both stores."""
    from sqlalchemy import func, select

    from vertebro.registry.models import FollowUp, Patient, Procedure

    queries = [
        select(Patient.site_id, func.count()).group_by(Patient.site_id),
        select(FollowUp.interval, func.count(FollowUp.nrs), func.max(FollowUp.odi),
               func.min(FollowUp.days_since_procedure)).group_by(FollowUp.interval),
        select(func.count(Procedure.id)),
        select(FollowUp.id, FollowUp.kps).where(FollowUp.id < 0),  # no rows
        select(Procedure.id, Procedure.performed_on).where(Procedure.id <= 5),
    ]
    answers = []
    for together in (False, True):
        with demo_registry._tx("admin", write=False) as (s, _who):
            batch = reports._Batch(s, together=together)
            parts = [batch.add(q) for q in queries]
            answers.append([sorted(batch.rows(p), key=repr) for p in parts])
    assert answers[0] == answers[1]
    assert answers[0][3] == [] and answers[0][2][0][0] > 0


def test_as_the_application_role_under_row_level_security_the_paths_agree() -> None:
    """On PostgreSQL the reports run as the application role, under row-level security and
    with the report transaction's planner settings (``reports._PG_REPORT_SETTINGS``): the SQL
    path still equals the Python path, for a researcher (every site) and a clinician (own
    site, where the policies' per-site condition is in force)."""
    import os
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from tests.registry.conftest import PG_URL
    from vertebro.registry.db import normalise_url
    from vertebro.registry.roles import grant_app_role

    if not PG_URL:
        pytest.skip("PostgreSQL only (VERTEBRO_TEST_DATABASE_URL)")
    os.environ.setdefault("VERTEBRO_REGISTRY_KEY", "test-key-not-secret")
    server = make_url(normalise_url(PG_URL))
    tag = uuid.uuid4().hex[:10]
    app, name = f"vt_rep_app_{tag}", f"vt_rep_{tag}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{app}" LOGIN'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        owner = Registry.create(server.set(database=name).render_as_string(hide_password=False))
        demo.seed(owner, 60, sites=2, seed=3, as_of=AS_OF)
        grant_app_role(owner.engine, app)
        owner.close()
        reg = Registry(server.set(username=app, database=name)
                       .render_as_string(hide_password=False))
        try:
            for who in ("researcher", "clin-demo1"):
                procs = analytics.registry_procedures(reg, who)
                assert procs
                assert reports.summary(reg, who) == baseline.summary(reg, who)
                assert analytics.registry_outcomes(reg, who).to_dict() == (
                    analytics.outcomes(procs).to_dict())
                assert analytics.study_rows_from_registry(reg, who, exported_on=AS_OF) == (
                    analytics.registry_study_rows(procs, exported_on=AS_OF))
        finally:
            reg.close()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{app}"'))
        admin.dispose()


def test_the_study_counts_read_the_kinds_of_follow_up_once(demo_registry: Registry) -> None:
    """``study_counts`` works out the visit rule's ``CASE`` once for its outcome and audit
    statements (the kinds are a scan of every follow-up), and its answer still equals the
    two reports' own."""
    from sqlalchemy import event

    seen: list[str] = []

    def note(_conn: object, _cur: object, statement: str, *_args: object) -> None:
        seen.append(" ".join(statement.split()))

    rules = {"evident": lambda k: k.type != "cement_leak" or k.symptomatic,
             "leak": lambda k: k.type == "cement_leak", "visit": lambda k: not k.baseline}
    event.listen(demo_registry.engine, "before_cursor_execute", note)
    try:
        together = reports.study_counts(demo_registry, "researcher", **rules)
    finally:
        event.remove(demo_registry.engine, "before_cursor_execute", note)
    kinds = [q for q in seen if q.startswith("SELECT DISTINCT follow_up.baseline")]
    assert len(kinds) == 1, kinds
    assert together == (*reports.outcome_counts(demo_registry, "researcher",
                                                visit=rules["visit"]),
                        reports.audit_counts(demo_registry, "researcher", **rules))
