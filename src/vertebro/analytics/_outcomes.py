"""The cohort outcomes report: did patients get better, by how much, how many reached a
clinically important change, and how that compares with the published pooled means.

Per technique (kyphoplasty if any level of the procedure used it) and per follow-up interval
of Sorensen-SpineJ-2019 Table 2 (DESIGN.md section 6), for NRS, ODI and KPS:

* the paired change from the preoperative baseline in patients with both values: n, mean with
  its t interval, median, Wilcoxon signed-rank test (:mod:`._paired` states the method);
* MCID responders (:func:`vertebro.scores.is_responder`, thresholds from
  ``scores/data/mcid.yaml``) with an exact Clopper-Pearson interval;
* the mean of every recorded value at the interval beside the Sorensen-SpineJ-2019 pooled
  mean (:mod:`._pooled`), labelled reference;
* completeness: patients with a baseline, seen (a visit: :func:`~._records.is_visit`, so a
  death or lost-to-follow-up notice is not one), and with each measure, per interval, and
  deaths recorded by then. Nothing is imputed: a missing value is counted as missing.

Which values enter, and why (:data:`SELECTION`): the unit is the patient, through the index
(first) procedure, so that each patient adds one independent value per interval, as the t
interval and the Wilcoxon test assume; one value per measure per interval is chosen by a rule
that never looks at the value (:func:`patient_value`, which the registry's study rows use
too, so that both say the same). Pure: it reads :class:`ProcedureRecord` values, never the
database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final, TypeVar

from vertebro.assess import NOTICE
from vertebro.scores import MCIDThreshold, is_responder, mcid_thresholds

from ._paired import EXACT_MAX_N, MeanCI, PairedChange, mean_ci, paired_change
from ._pooled import SORENSEN_SOURCE, PooledMean, sorensen_pooled_means
from ._records import FollowUpRecord, ProcedureRecord, is_visit
from ._stats import clopper_pearson

if TYPE_CHECKING:
    from vertebro.registry.reports import IntervalCounts, PatientCounts, ValueCount

_T = TypeVar("_T")

__all__ = [
    "MEASURES",
    "SELECTION",
    "Completeness",
    "IntervalOutcome",
    "MeasureOutcome",
    "OutcomesReport",
    "Responders",
    "TechniqueOutcomes",
    "baseline_value",
    "index_procedures",
    "interval_value",
    "outcomes",
    "outcomes_of_counts",
    "patient_value",
]

#: The measures of Sorensen-SpineJ-2019 Table 2, as the registry stores them.
MEASURES: Final = ("nrs", "odi", "kps")
MEASURE_LABELS: Final = {
    "nrs": "NRS pain (0-10 points)",
    "odi": "ODI (%, 0-100)",
    "kps": "KPS (0-100 points)",
}
# Sorensen-SpineJ-2019's technique order and abbreviations
TECHNIQUE_ORDER: Final = ("vertebroplasty", "kyphoplasty")

#: The rules that choose the values, with their reasons; shown in the report.
SELECTION: Final = {
    "unit": (
        "The patient, through the index (first) procedure and its follow-ups; later "
        "procedures of the same patient are counted but not analysed."
    ),
    "unit_why": (
        "One value per patient per interval keeps the observations independent, as the t "
        "interval and the Wilcoxon test assume; after a second procedure, pain and function "
        "reflect both."
    ),
    "baseline": (
        "The preoperative value recorded closest to the procedure (latest day; on the same "
        "day, the last entered)."
    ),
    "follow_up": (
        "Within an interval, the value recorded nearest the interval's planned day (2 weeks, "
        "6 weeks, 3 months, 6 months, 1 year; registry.intervals.SCHEDULE); on a tie, the "
        "earlier. Each measure is chosen among the visits that recorded it."
    ),
    "follow_up_why": (
        "The rule looks at the day, never the value, so it cannot pick the best or worst "
        "result; the planned day keeps each interval's time point comparable between patients."
    ),
    "change": "Change is follow-up minus baseline: negative is better for NRS and ODI, "
    "positive for KPS.",
    "missing": (
        "No imputation: a patient without a baseline, or not seen in an interval, is counted "
        "as missing there. Missing includes patients who died, were lost to follow-up or are "
        "not yet due."
    ),
}


@cache
def _intervals() -> tuple[tuple[str, str, int | None], ...]:
    """(code, label, planned day) of every interval, preoperative first."""
    # imported here: vertebro.registry loads the database layer, which pure use does not need
    from vertebro.registry.intervals import SCHEDULE
    from vertebro.registry.vocab import INTERVAL_LABELS, INTERVALS

    target = {v.interval: v.target_day for v in SCHEDULE}
    return tuple((code, INTERVAL_LABELS[code], target.get(code)) for code in INTERVALS)


def _value(f: FollowUpRecord, measure: str) -> float | None:
    v: float | None = getattr(f, measure)
    return v


def baseline_value(follow_ups: Sequence[FollowUpRecord], measure: str) -> float | None:
    """The preoperative value of ``measure``: the baseline recorded closest to the procedure
    (latest day; the last entered on the same day), or ``None``."""
    best: tuple[int, int, float] | None = None
    for i, f in enumerate(follow_ups):
        v = _value(f, measure)
        if not f.baseline or v is None:
            continue
        key = (f.day if f.day is not None else 0, i, v)
        if best is None or key[:2] > best[:2]:
            best = key
    return None if best is None else best[2]


def interval_value(
    follow_ups: Sequence[FollowUpRecord], measure: str, interval: str, target_day: int | None
) -> float | None:
    """The value of ``measure`` in ``interval``: the visit nearest ``target_day`` (the earlier
    on a tie; the first entered when days are unknown), or ``None``."""
    best: tuple[float, int, int, float] | None = None
    for i, f in enumerate(follow_ups):
        v = _value(f, measure)
        if f.baseline or f.interval != interval or v is None:
            continue
        day = f.day if f.day is not None else 0
        distance = abs(day - target_day) if target_day is not None else 0.0
        key = (distance, day, i, v)
        if best is None or key[:3] < best[:3]:
            best = key
    return None if best is None else best[3]


def patient_value(procedure: ProcedureRecord, measure: str, interval: str) -> float | None:
    """The one value of ``measure`` that ``procedure``'s patient gives at ``interval``
    (:data:`SELECTION`), or ``None``.

    The single selection rule of analytics: the outcomes report and the registry's study rows
    (:func:`vertebro.analytics.registry_study_rows`) both take their values here. The
    preoperative interval gives :func:`baseline_value`; a follow-up interval gives
    :func:`interval_value` at the interval's planned day (``registry.intervals.SCHEDULE``).

    Raises
    ------
    ValueError
        If ``interval`` is not one of the registry's interval codes.
    """
    intervals = _intervals()
    if interval == intervals[0][0]:
        return baseline_value(procedure.follow_ups, measure)
    target = {code: day for code, _, day in intervals}
    if interval not in target:
        raise ValueError(
            f"interval: {interval!r} is not one of {', '.join(code for code, _, _ in intervals)}"
        )
    return interval_value(procedure.follow_ups, measure, interval, target[interval])


def index_procedures(procedures: Iterable[ProcedureRecord]) -> list[ProcedureRecord]:
    """Each patient's index (first) procedure: the lowest ``number`` per site and patient, in
    the order the patients first appear. The unit of the outcomes analysis (:data:`SELECTION`).
    """
    index: dict[tuple[str, str], ProcedureRecord] = {}
    for p in procedures:
        who = (p.site, p.patient or p.key)
        if who not in index or p.number < index[who].number:
            index[who] = p
    return list(index.values())


@dataclass(frozen=True)
class Responders:
    """Patients whose change reached the MCID, of those with a paired change."""

    events: int
    n: int
    ci95: tuple[float, float]

    @property
    def proportion(self) -> float:
        return self.events / self.n

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "n": self.n,
            "proportion": self.proportion,
            "ci95": list(self.ci95),
            "ci_method": "exact (Clopper-Pearson)",
        }


@dataclass(frozen=True)
class IntervalOutcome:
    """One measure at one follow-up interval."""

    interval: str
    label: str
    level: MeanCI | None  # every patient with a value here, paired or not
    change: PairedChange | None  # patients with a baseline too
    responders: Responders | None
    reference: PooledMean | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "interval": self.interval,
            "label": self.label,
            "recorded": self.level.to_dict() if self.level else {"n": 0},
            "change": self.change.to_dict() if self.change else None,
            "responders": self.responders.to_dict() if self.responders else None,
            "reference": self.reference.to_dict() if self.reference else None,
        }


def _mcid_text(t: MCIDThreshold) -> str:
    text = f"{t.points:g} points"
    if t.percent is not None:
        text += f" or {t.percent:g}% of baseline"
    return f"{'decrease' if t.direction == 'decrease' else 'increase'} of {text}"


@dataclass(frozen=True)
class MeasureOutcome:
    """One measure for one technique: baseline and every follow-up interval."""

    measure: str
    label: str
    mcid: MCIDThreshold
    baseline: MeanCI | None
    baseline_reference: PooledMean | None
    intervals: tuple[IntervalOutcome, ...]

    @property
    def lower_is_better(self) -> bool:
        return self.mcid.direction == "decrease"

    @property
    def mcid_text(self) -> str:
        return _mcid_text(self.mcid)

    def to_dict(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "label": self.label,
            "better": "lower" if self.lower_is_better else "higher",
            "mcid": {
                "points": self.mcid.points,
                "percent": self.mcid.percent,
                "direction": self.mcid.direction,
                "says": self.mcid_text,
                "citation": self.mcid.citation,
            },
            "baseline": self.baseline.to_dict() if self.baseline else {"n": 0},
            "baseline_reference": (
                self.baseline_reference.to_dict() if self.baseline_reference else None
            ),
            "intervals": [iv.to_dict() for iv in self.intervals],
        }


@dataclass(frozen=True)
class Completeness:
    """How many patients have data at one interval (the preoperative row: a baseline)."""

    interval: str
    label: str
    seen: int  # a baseline (preop) or a visit (records.is_visit: no death or lost notice)
    recorded: Mapping[str, int]  # measure -> patients with a value
    paired: Mapping[str, int]  # measure -> patients with this value and a baseline
    died: int  # deaths recorded in this interval or before

    def to_dict(self) -> dict[str, Any]:
        return {
            "interval": self.interval,
            "label": self.label,
            "seen": self.seen,
            "recorded": dict(self.recorded),
            "paired": dict(self.paired),
            "died_by_then": self.died,
        }


@dataclass(frozen=True)
class TechniqueOutcomes:
    technique: str
    patients: int
    completeness: tuple[Completeness, ...]
    measures: tuple[MeasureOutcome, ...]

    def measure(self, name: str) -> MeasureOutcome:
        return next(m for m in self.measures if m.measure == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "technique": self.technique,
            "patients": self.patients,
            "completeness": [c.to_dict() for c in self.completeness],
            "measures": [m.to_dict() for m in self.measures],
        }


@dataclass(frozen=True)
class OutcomesReport:
    patients: int
    later_procedures: int  # procedures after a patient's index one: counted, not analysed
    techniques: tuple[TechniqueOutcomes, ...]

    def technique(self, name: str) -> TechniqueOutcomes:
        return next(t for t in self.techniques if t.technique == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "report": "outcomes",
            "unit": "patient (index procedure)",
            "selection": dict(SELECTION),
            "methods": {
                "change": "follow-up minus baseline, patients with both values",
                "ci95": "Student t, two-sided",
                "wilcoxon": "two-sided signed-rank; zero differences dropped (Wilcoxon "
                f"1945); exact, conditional on the tied midranks, when at most {EXACT_MAX_N} "
                "differences remain, else normal approximation with tie correction and no "
                "continuity correction (scipy.stats.wilcoxon)",
                "responders": "vertebro.scores.is_responder, MCIDs of scores/data/mcid.yaml; "
                "exact (Clopper-Pearson) 95% CI",
                "reference": f"{SORENSEN_SOURCE} (N-weighted pooled means), reference only",
            },
            "patients": self.patients,
            "later_procedures": self.later_procedures,
            "techniques": [t.to_dict() for t in self.techniques],
            "notice": NOTICE,
        }


@dataclass(frozen=True)
class _Selected:
    """One technique's index patients reduced to what the statistics read: the values chosen
    by :data:`SELECTION` (their order does not matter: every statistic is order-free)."""

    patients: int
    completeness: tuple[Completeness, ...]
    baseline: Mapping[str, Sequence[float]]  # measure -> baseline values
    values: Mapping[tuple[str, str], Sequence[float]]  # (measure, interval) -> values
    pairs: Mapping[tuple[str, str], Sequence[tuple[float, float]]]  # ... -> (baseline, value)


def _select(index: Sequence[ProcedureRecord]) -> _Selected:
    """:data:`SELECTION` applied to the records of one technique's index procedures."""
    intervals = _intervals()
    preop = intervals[0][0]
    base = {m: [patient_value(p, m, preop) for p in index] for m in MEASURES}
    completeness: list[Completeness] = []
    values: dict[tuple[str, str], list[float]] = {}
    pairs: dict[tuple[str, str], list[tuple[float, float]]] = {}
    died_at = [_death_interval(p.follow_ups, intervals) for p in index]
    for pos, (code, label, _) in enumerate(intervals):
        if code == preop:
            seen = sum(1 for p in index if any(f.baseline for f in p.follow_ups))
            recorded = {m: sum(v is not None for v in base[m]) for m in MEASURES}
            paired = dict(recorded)
        else:
            seen = sum(
                1
                for p in index
                if any(f.interval == code and is_visit(f) for f in p.follow_ups)
            )
            for m in MEASURES:
                chosen = [patient_value(p, m, code) for p in index]
                values[(m, code)] = [v for v in chosen if v is not None]
                pairs[(m, code)] = [
                    (b, v)
                    for b, v in zip(base[m], chosen, strict=True)
                    if b is not None and v is not None
                ]
            recorded = {m: len(values[(m, code)]) for m in MEASURES}
            paired = {m: len(pairs[(m, code)]) for m in MEASURES}
        died = sum(1 for d in died_at if d is not None and d <= pos)
        completeness.append(Completeness(code, label, seen, recorded, paired, died))
    baseline = {m: [v for v in base[m] if v is not None] for m in MEASURES}
    return _Selected(len(index), tuple(completeness), baseline, values, pairs)


def _technique(
    name: str,
    selected: _Selected,
    mcids: Mapping[str, MCIDThreshold],
    refs: Mapping[tuple[str, str, str], PooledMean],
) -> TechniqueOutcomes:
    intervals = _intervals()
    measures: list[MeasureOutcome] = []
    for m in MEASURES:
        b_values = selected.baseline[m]
        per_interval: list[IntervalOutcome] = []
        for code, label, _ in intervals[1:]:
            recorded_values = selected.values.get((m, code), ())
            pairs = selected.pairs.get((m, code), ())
            change = responders = None
            if pairs:
                before = [b for b, _ in pairs]
                after = [v for _, v in pairs]
                change = paired_change(before, after)
                # the rule once per distinct pair (a few hundred), not once per patient
                events = sum(n * is_responder(m, b, v, thresholds=mcids)
                             for (b, v), n in Counter(pairs).items())
                responders = Responders(events, len(pairs), clopper_pearson(events, len(pairs)))
            per_interval.append(
                IntervalOutcome(
                    interval=code,
                    label=label,
                    level=mean_ci(recorded_values) if recorded_values else None,
                    change=change,
                    responders=responders,
                    reference=refs.get((m, name, code)),
                )
            )
        measures.append(
            MeasureOutcome(
                measure=m,
                label=MEASURE_LABELS[m],
                mcid=mcids[m],
                baseline=mean_ci(b_values) if b_values else None,
                baseline_reference=refs.get((m, name, intervals[0][0])),
                intervals=tuple(per_interval),
            )
        )
    return TechniqueOutcomes(name, selected.patients, selected.completeness, tuple(measures))


def _death_interval(
    follow_ups: Sequence[FollowUpRecord], intervals: Sequence[tuple[str, str, int | None]]
) -> int | None:
    """Position in ``intervals`` of the first death recorded, or ``None``."""
    order = {code: i for i, (code, _, _) in enumerate(intervals)}
    found = [order.get(f.interval, 0) for f in follow_ups if f.vital_status == "dead"]
    return min(found) if found else None


def outcomes(
    procedures: Iterable[ProcedureRecord],
    *,
    thresholds: Mapping[str, MCIDThreshold] | None = None,
    references: Mapping[tuple[str, str, str], PooledMean] | None = None,
) -> OutcomesReport:
    """The outcomes report of ``procedures`` (as :func:`registry_procedures` reads them).

    Parameters
    ----------
    procedures : iterable of ProcedureRecord
        With their follow-ups; the first procedure of each patient (lowest ``number``) is the
        one analysed.
    thresholds : mapping, optional
        MCIDs to use instead of the shipped ones (:func:`vertebro.scores.mcid_thresholds`).
    references : mapping, optional
        Pooled means to show instead of :func:`sorensen_pooled_means`.

    References
    ----------
    Sorensen-SpineJ-2019 (intervals, Table 2); Ostelo RW et al. Spine 2008;33(1):90-4 and
    SNIS-2014 (MCIDs, via scores/data/mcid.yaml); Wilcoxon F. Biometrics Bulletin
    1945;1(6):80-3; Clopper CJ, Pearson ES. Biometrika 1934;26(4):404-13.
    """
    mcids = mcid_thresholds() if thresholds is None else thresholds
    refs = sorensen_pooled_means() if references is None else references
    procs = list(procedures)
    index = index_procedures(procs)
    total = len(procs)
    techniques = tuple(
        _technique(tech, _select([p for p in index if p.technique == tech]), mcids, refs)
        for tech in TECHNIQUE_ORDER
        if any(p.technique == tech for p in index)
    )
    return OutcomesReport(len(index), total - len(index), techniques)


def _expand(counts: Iterable[tuple[_T, int]]) -> list[_T]:
    return [x for x, n in counts for _ in range(n)]


def _select_counts(
    patients: int, intervals: Sequence[IntervalCounts], values: Sequence[ValueCount]
) -> _Selected:
    """:class:`_Selected` from the database's counts of one technique (summed over sites)."""
    order = _intervals()
    preop = order[0][0]
    seen: dict[str, int] = {}
    first_death: dict[str, int] = {}
    for c in intervals:
        seen[c.interval] = seen.get(c.interval, 0) + c.seen
        first_death[c.interval] = first_death.get(c.interval, 0) + c.first_death
    chosen: dict[tuple[str, str], list[tuple[float, int]]] = {}
    paired: dict[tuple[str, str], list[tuple[tuple[float, float], int]]] = {}
    for v in values:
        chosen.setdefault((v.measure, v.interval), []).append((v.value, v.patients))
        if v.interval != preop and v.baseline is not None:
            paired.setdefault((v.measure, v.interval), []).append(
                ((v.baseline, v.value), v.patients)
            )
    completeness: list[Completeness] = []
    died = 0
    for code, label, _ in order:
        died += first_death.get(code, 0)
        recorded = {m: sum(n for _, n in chosen.get((m, code), ())) for m in MEASURES}
        pairs = (
            dict(recorded)
            if code == preop
            else {m: sum(n for _, n in paired.get((m, code), ())) for m in MEASURES}
        )
        completeness.append(Completeness(code, label, seen.get(code, 0), recorded, pairs, died))
    return _Selected(
        patients,
        tuple(completeness),
        {m: _expand(chosen.get((m, preop), ())) for m in MEASURES},
        {k: _expand(vc) for k, vc in chosen.items() if k[1] != preop},
        {k: _expand(pc) for k, pc in paired.items()},
    )


def outcomes_of_counts(
    patients: Iterable[PatientCounts],
    intervals: Iterable[IntervalCounts],
    values: Iterable[ValueCount],
    *,
    thresholds: Mapping[str, MCIDThreshold] | None = None,
    references: Mapping[tuple[str, str, str], PooledMean] | None = None,
) -> OutcomesReport:
    """:func:`outcomes` from the counts the database makes
    (:func:`vertebro.registry.reports.outcome_counts`: index patients, completeness and the
    frequency of each chosen value per site and technique): the same report as
    :func:`outcomes` of the procedures those counts describe."""
    mcids = mcid_thresholds() if thresholds is None else thresholds
    refs = sorensen_pooled_means() if references is None else references
    p_rows, i_rows, v_rows = list(patients), list(intervals), list(values)
    index = {t: sum(p.index_patients for p in p_rows if p.technique == t) for t in TECHNIQUE_ORDER}
    techniques = tuple(
        _technique(
            tech,
            _select_counts(
                index[tech],
                [c for c in i_rows if c.technique == tech],
                [v for v in v_rows if v.technique == tech],
            ),
            mcids,
            refs,
        )
        for tech in TECHNIQUE_ORDER
        if index[tech]
    )
    n_index = sum(index.values())
    return OutcomesReport(n_index, sum(p.procedures for p in p_rows) - n_index, techniques)
