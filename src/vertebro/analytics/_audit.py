"""The quality audit: complication rates against the published threshold, per group.

"Are our complication and leakage rates within published thresholds?" (DESIGN.md section 1).
For the whole cohort and per site (or per technique): the number of procedures ``n``, the
procedures with at least one clinically evident complication (the counting rule is data, in
``analytics/data/thresholds.yaml``), an exact 95% interval, a one-sided exact test against the
SNIS-2014 threshold and the funnel-plot status of Spiegelhalter 2005. A complication whose
status is not recorded is never counted as absent: events are a range, from the known ones to
all that could be, and both ends are tested. Cement leakage per technique is shown beside the
Sorensen-SpineJ-2019 rates, as a reference and not a threshold.

Pure: it reads :class:`ProcedureRecord` values, or counts per site and technique that the
database made (:func:`audit_of_counts`), and never the database itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from vertebro.assess import NOTICE
from vertebro.errors import InvalidInput

from ._records import ComplicationRecord, ProcedureRecord
from ._stats import (
    FunnelLimits,
    Status,
    classify,
    clopper_pearson,
    exceedance_p,
    funnel_limits,
)
from ._thresholds import CountingRule, Reference, Thresholds, default_thresholds

if TYPE_CHECKING:
    from vertebro.registry.reports import GroupCounts

__all__ = [
    "GROUPINGS",
    "TECHNIQUES",
    "AuditReport",
    "Estimate",
    "GroupAudit",
    "LeakageAudit",
    "audit",
    "audit_of_counts",
    "clinically_evident",
    "is_leak",
    "procedure_event",
]

Grouping = Literal["site", "technique"]
GROUPINGS: tuple[Grouping, ...] = ("site", "technique")
#: in the order Sorensen-SpineJ-2019 reports them
TECHNIQUES = ("vertebroplasty", "kyphoplasty")


def clinically_evident(c: ComplicationRecord, rule: CountingRule) -> bool | None:
    """Whether a complication counts under ``rule``: ``True``, ``False`` or ``None`` (unknown).

    Symptomatic, or graded at or above ``rule.severity_grade_at_least``: counts. Asymptomatic
    and graded below it: does not. Asymptomatic and ungraded: does not if it is a cement leak
    (``rule.leak_types``; leakage is reported separately), else unknown. Symptomatic status
    unknown and graded below the cut-off or ungraded: unknown (a low grade allows mild
    symptoms).
    """
    if c.symptomatic is True:
        return True
    if c.severity_grade is not None and c.severity_grade >= rule.severity_grade_at_least:
        return True
    if c.symptomatic is False and (c.severity_grade is not None or c.type in rule.leak_types):
        return False
    return None


def procedure_event(p: ProcedureRecord, rule: CountingRule) -> bool | None:
    """A procedure is an event if any complication counts; unknown if none does and some is
    unknown; else not an event (Kleene "or" over its complications)."""
    found: bool | None = False
    for c in p.complications:
        v = clinically_evident(c, rule)
        if v is True:
            return True
        if v is None:
            found = None
    return found


def is_leak(c: ComplicationRecord, rule: CountingRule) -> bool:
    """Whether a complication is a cement leak under ``rule`` (its ``leak_types``)."""
    return c.type in rule.leak_types


def _leaked(p: ProcedureRecord, rule: CountingRule) -> bool:
    return any(is_leak(c, rule) for c in p.complications)


@dataclass(frozen=True)
class Estimate:
    """One end of the event range: rate, exact 95% CI, one-sided p against the threshold and
    funnel status."""

    events: int
    rate: float
    ci95: tuple[float, float]
    p_value: float
    status: Status

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "rate": self.rate,
            "ci95": list(self.ci95),
            "p_value": self.p_value,
            "status": self.status,
        }


@dataclass(frozen=True)
class GroupAudit:
    """The audit of one group (the whole cohort, a site or a technique).

    ``known`` counts the procedures known to have had a clinically evident complication;
    ``possible`` adds those whose status is unknown, as if each were an event. Both are
    ``None`` when the group has no procedures.
    """

    group: str
    n: int
    events_known: int
    events_possible: int
    no_follow_up: int
    known: Estimate | None
    possible: Estimate | None
    limits: FunnelLimits | None
    reference: Reference | None = None

    @property
    def events_unknown(self) -> int:
        return self.events_possible - self.events_known

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "group": self.group,
            "n": self.n,
            "events_known": self.events_known,
            "events_possible": self.events_possible,
            "events_unknown": self.events_unknown,
            "no_follow_up": self.no_follow_up,
            "known": self.known.to_dict() if self.known else None,
            "possible": self.possible.to_dict() if self.possible else None,
            "limits": None
            if self.limits is None
            else {
                "lower_alarm": self.limits.lower_alarm,
                "lower_alert": self.limits.lower_alert,
                "upper_alert": self.limits.upper_alert,
                "upper_alarm": self.limits.upper_alarm,
                "alert_from_events": self.limits.alert_events,
                "alarm_from_events": self.limits.alarm_events,
            },
        }
        if self.reference is not None:
            out["reference"] = _reference_dict(self.reference)
        return out


@dataclass(frozen=True)
class LeakageAudit:
    """Procedures with any recorded cement leak, per technique, beside a published rate."""

    technique: str
    n: int
    events: int
    rate: float
    ci95: tuple[float, float]
    reference: Reference | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "technique": self.technique,
            "n": self.n,
            "events": self.events,
            "rate": self.rate,
            "ci95": list(self.ci95),
            "reference": (None if self.reference is None else _reference_dict(self.reference)),
        }


def _reference_dict(r: Reference) -> dict[str, Any]:
    return {
        "kind": "reference, not a threshold",
        "id": r.id,
        "source": str(r.source),
        "measure": r.measure,
        "technique": r.technique,
        "unit": r.unit,
        "events": r.events,
        "n": r.n,
        "rate": r.rate,
        "note": r.note,
    }


@dataclass(frozen=True)
class AuditReport:
    """The whole audit; :meth:`to_dict` is the JSON output of ``vertebro analytics audit``."""

    by: Grouping
    thresholds: Thresholds
    cohort: GroupAudit
    groups: tuple[GroupAudit, ...]
    leakage: tuple[LeakageAudit, ...]

    def to_dict(self) -> dict[str, Any]:
        t = self.thresholds.threshold
        rule = self.thresholds.counting_rule
        cl = self.thresholds.control_limits
        return {
            "audit": "clinically evident complications against a published threshold",
            "by": self.by,
            "threshold": {
                "id": t.id,
                "source": str(t.source),
                "population": t.population,
                "rate": t.rate,
                "counts": t.counts,
                "says": t.says,
            },
            "counting_rule": {
                "id": rule.id,
                "unit": rule.unit,
                "says": rule.says,
                "why": rule.why,
                "citation": rule.citation,
            },
            "control_limits": {
                "alert": cl.alert,
                "alarm": cl.alarm,
                "says": cl.says,
                "citation": cl.citation,
            },
            "cohort": self.cohort.to_dict(),
            "groups": [g.to_dict() for g in self.groups],
            "cement_leakage": [lk.to_dict() for lk in self.leakage],
            "notice": NOTICE,
        }


def _estimate(events: int, n: int, p0: float, limits: FunnelLimits) -> Estimate:
    return Estimate(
        events=events,
        rate=events / n,
        ci95=clopper_pearson(events, n),
        p_value=exceedance_p(events, n, p0),
        status=classify(events, n, limits),
    )


def _group(
    name: str, procs: Sequence[ProcedureRecord], th: Thresholds, reference: Reference | None = None
) -> GroupAudit:
    rule = th.counting_rule
    flags = [procedure_event(p, rule) for p in procs]
    known = sum(1 for f in flags if f is True)
    possible = known + sum(1 for f in flags if f is None)
    no_fu = sum(1 for p in procs if not p.followed_up)
    return _group_of_counts(name, len(procs), known, possible, no_fu, th, reference)


def _group_of_counts(
    name: str,
    n: int,
    known: int,
    possible: int,
    no_fu: int,
    th: Thresholds,
    reference: Reference | None = None,
) -> GroupAudit:
    if n == 0:
        return GroupAudit(name, 0, 0, 0, 0, None, None, None, reference)
    p0 = th.threshold.rate
    limits = funnel_limits(n, p0, th.control_limits.alert, th.control_limits.alarm)
    return GroupAudit(
        name,
        n,
        known,
        possible,
        no_fu,
        _estimate(known, n, p0, limits),
        _estimate(possible, n, p0, limits),
        limits,
        reference,
    )


def _leakage(technique: str, n: int, leaks: int, th: Thresholds) -> LeakageAudit:
    return LeakageAudit(
        technique,
        n,
        leaks,
        leaks / n,
        clopper_pearson(leaks, n),
        th.reference("cement_leakage", technique),
    )


def audit(
    procedures: Iterable[ProcedureRecord],
    *,
    by: str = "site",
    thresholds: Thresholds | None = None,
) -> AuditReport:
    """Audit complication rates of ``procedures`` against the SNIS-2014 threshold.

    Parameters
    ----------
    procedures : iterable of ProcedureRecord
        The procedures to audit (e.g. :func:`registry_procedures`).
    by : {"site", "technique"}
        How to split the cohort; the whole cohort is always audited too.
    thresholds : Thresholds, optional
        Defaults to the shipped ``analytics/data/thresholds.yaml``.

    Returns
    -------
    AuditReport

    References
    ----------
    SNIS-2014, "All complications" (10% threshold, neoplastic fractures). Spiegelhalter DJ.
    Stat Med 2005;24(8):1185-1202 (control limits). Clopper CJ, Pearson ES. Biometrika
    1934;26(4):404-13 (interval). Sorensen-SpineJ-2019, Table 1 (reference rates).
    """
    if by not in GROUPINGS:
        raise InvalidInput.field("by", f"{by!r} is not one of {', '.join(GROUPINGS)}")
    th = thresholds or default_thresholds()
    procs = list(procedures)
    rule = th.counting_rule
    cohort = _group("all", procs, th)
    if by == "site":
        names = sorted({p.site for p in procs})
        groups = tuple(_group(s, [p for p in procs if p.site == s], th) for s in names)
    else:
        groups = tuple(
            _group(
                t,
                [p for p in procs if p.technique == t],
                th,
                th.reference("symptomatic_complications", t),
            )
            for t in TECHNIQUES
            if any(p.technique == t for p in procs)
        )
    leakage = []
    for t in TECHNIQUES:
        sub = [p for p in procs if p.technique == t]
        if sub:
            leakage.append(_leakage(t, len(sub), sum(1 for p in sub if _leaked(p, rule)), th))
    return AuditReport(
        by=by if by == "technique" else "site",
        thresholds=th,
        cohort=cohort,
        groups=groups,
        leakage=tuple(leakage),
    )


def audit_of_counts(
    counts: Iterable[GroupCounts],
    *,
    by: str = "site",
    thresholds: Thresholds | None = None,
) -> AuditReport:
    """:func:`audit` from counts per site and technique, as the database computes them
    (:func:`vertebro.registry.reports.audit_counts`, with this counting rule): the same report
    as :func:`audit` of the procedures those counts describe."""
    if by not in GROUPINGS:
        raise InvalidInput.field("by", f"{by!r} is not one of {', '.join(GROUPINGS)}")
    th = thresholds or default_thresholds()
    cells = list(counts)

    def total(name: str, sub: list[GroupCounts], reference: Reference | None = None) -> GroupAudit:
        return _group_of_counts(
            name,
            sum(c.procedures for c in sub),
            sum(c.events_known for c in sub),
            sum(c.events_possible for c in sub),
            sum(c.no_follow_up for c in sub),
            th,
            reference,
        )

    by_technique = {t: [c for c in cells if c.technique == t] for t in TECHNIQUES}
    present = [t for t in TECHNIQUES if any(c.procedures for c in by_technique[t])]
    if by == "site":
        sites = sorted({c.site for c in cells if c.procedures})
        groups = tuple(total(s, [c for c in cells if c.site == s]) for s in sites)
    else:
        groups = tuple(
            total(t, by_technique[t], th.reference("symptomatic_complications", t))
            for t in present
        )
    leakage = tuple(
        _leakage(
            t,
            sum(c.procedures for c in by_technique[t]),
            sum(c.leaks for c in by_technique[t]),
            th,
        )
        for t in present
    )
    return AuditReport(
        by=by if by == "technique" else "site",
        thresholds=th,
        cohort=total("all", cells),
        groups=groups,
        leakage=leakage,
    )
