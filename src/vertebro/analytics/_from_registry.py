"""The reports read from a registry through SQL: the database counts, analytics does the
statistics.

:mod:`vertebro.registry.reports` aggregates in the database (counts per site and technique,
the frequency of each value chosen per patient and interval) with the acting user's access;
the functions here hand it the analytics' own rules (the counting rule of
``data/thresholds.yaml``, :func:`is_visit`), then build the same reports as the record-stream
path (:func:`registry_procedures` with :func:`audit`, :func:`outcomes` and
:func:`registry_study_rows`), which stays as the reference the equality tests compare with.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ._audit import AuditReport, audit_of_counts, clinically_evident, is_leak
from ._compare import CompareReport, compare
from ._compare_data import compare_records
from ._outcomes import OutcomesReport, outcomes_of_counts
from ._pooled import PooledMean
from ._records import ComplicationRecord, FollowUpRecord, is_visit
from ._study_rows import By, study_rows_of_counts
from ._thresholds import CountingRule, Thresholds, default_thresholds

if TYPE_CHECKING:
    from vertebro.evidence import StudyRow
    from vertebro.registry import Registry
    from vertebro.registry.reports import ComplicationKind, FollowUpKind, GroupCounts
    from vertebro.scores import MCIDThreshold

__all__ = ["registry_audit", "registry_compare", "registry_outcomes", "study_rows_from_registry"]


def _complication(k: ComplicationKind) -> ComplicationRecord:
    return ComplicationRecord(type=k.type, symptomatic=k.symptomatic,
                              severity_grade=k.severity_grade)


def _visit(k: FollowUpKind) -> bool:
    return is_visit(FollowUpRecord(interval="", baseline=k.baseline, vital_status=k.vital_status,
                                   lost_to_follow_up=k.lost_to_follow_up))


def _group_counts(registry: Registry, actor: str, rule: CountingRule) -> list[GroupCounts]:
    from vertebro.registry import reports

    return reports.audit_counts(
        registry,
        actor,
        evident=lambda k: clinically_evident(_complication(k), rule),
        leak=lambda k: is_leak(_complication(k), rule),
        visit=_visit,
    )


def registry_audit(
    registry: Registry, actor: str, *, by: str = "site", thresholds: Thresholds | None = None
) -> AuditReport:
    """The quality audit of what ``actor`` may see, counted in the database: equal to
    ``audit(registry_procedures(registry, actor), by=by)``.

    Raises
    ------
    RegistryError
        If ``actor`` is not an active user.
    """
    th = thresholds or default_thresholds()
    audit_of_counts([], by=by, thresholds=th)  # a bad ``by`` is refused before any query
    return audit_of_counts(_group_counts(registry, actor, th.counting_rule), by=by,
                           thresholds=th)


def registry_outcomes(
    registry: Registry,
    actor: str,
    *,
    thresholds: Mapping[str, MCIDThreshold] | None = None,
    references: Mapping[tuple[str, str, str], PooledMean] | None = None,
) -> OutcomesReport:
    """The outcomes report of what ``actor`` may see, values chosen in the database: equal
    to ``outcomes(registry_procedures(registry, actor))``."""
    from vertebro.registry import reports

    patients, intervals, values = reports.outcome_counts(registry, actor, visit=_visit)
    return outcomes_of_counts(patients, intervals, values, thresholds=thresholds,
                              references=references)


def study_rows_from_registry(
    registry: Registry,
    actor: str,
    *,
    exported_on: dt.date,
    by: By = "site",
    thresholds: Thresholds | None = None,
) -> list[StudyRow]:
    """The registry's cohort as study rows, counted in the database: equal to
    ``registry_study_rows(registry_procedures(registry, actor), ...)``."""
    from vertebro.registry import reports

    th = default_thresholds() if thresholds is None else thresholds
    study_rows_of_counts([], [], [], [], exported_on=exported_on, by=by, thresholds=th)
    rule = th.counting_rule
    patients, intervals, values, groups = reports.study_counts(
        registry, actor, evident=lambda k: clinically_evident(_complication(k), rule),
        leak=lambda k: is_leak(_complication(k), rule), visit=_visit)
    return study_rows_of_counts(patients, intervals, values, groups, exported_on=exported_on,
                                by=by, thresholds=th)


def registry_compare(registry: Registry, actor: str) -> CompareReport:
    """Kyphoplasty vs vertebroplasty in what ``actor`` may see (issue 14): one row per index
    procedure read in SQL (:func:`compare_records`), then :func:`compare`."""
    records, no_technique = compare_records(registry, actor)
    return compare(records, no_technique=no_technique)
