"""The registry's own cohort as study-level rows, in the vertebro study CSV format.

The input is the analytics' :class:`ProcedureRecord` values (:func:`registry_procedures`
reads them through the registry's research record stream, so the acting user's access is the
registry's own), and every value is chosen by the outcomes report's rule
(:func:`patient_value`): ``vertebro evidence from-registry`` and ``vertebro analytics
outcomes`` read one parsing of the stream and one selection, so they cannot disagree. The
rows are :class:`vertebro.evidence.StudyRow` values (analytics may import evidence; evidence
never imports analytics or the registry).

What a row means (choices a reviewer should know):

* **Study**: one per site (``registry:A``), or the whole registry (``registry:all``).
* **Arm**: a procedure is kyphoplasty (``KP``) if any treated level used it, else
  vertebroplasty (``PVP``), as :meth:`vertebro.registry.Registry.summary` counts.
* **Outcomes** NRS (as ``pain_vas``, the slug of the curated VAS 0-10 rows of
  Sorensen-SpineJ-2019 Table 2), ODI and KPS, per follow-up interval of DESIGN.md section 6
  (the registry stores each visit's interval). Only each patient's **index (first)
  procedure** and its visits count (:func:`index_procedures`), and each patient gives **one
  value per interval**, the outcomes report's (:data:`SELECTION`): the baseline recorded
  closest to the procedure, and within a follow-up interval the value recorded nearest the
  interval's planned day (the earlier on a tie). So ``n`` counts patients, never visits, as
  pooled methods assume independent patients; the value is one real measurement (a mean of
  visits would shrink the sd and overstate the row's precision in inverse-variance pooling),
  chosen by its day, never by its value. Later procedures are left out of the outcome rows:
  visits after them are attached to them by the registry and reflect the second treatment.
* ``sd`` is the sample sd (ddof = 1). With ``n < 2``, or when every value is equal, it is left
  empty (the format requires sd > 0): such a row enters the N-weighted pooling of
  Sorensen-SpineJ-2019 (mean and n) but not inverse-variance pooling (measure MN), which
  skips it and says so.
* KPS rows are per arm, like every registry row; the curated Sorensen-SpineJ-2019 KPS rows
  are pooled over both techniques (``PVP+KP``), so the two never share an N-weighted cell.
* **Cement leakage**: procedures with at least one recorded leak, a complication of the
  counting rule's ``leak_types`` (``analytics/data/thresholds.yaml``, as the quality audit
  counts), over all procedures of the arm, ``unit`` = ``session`` (one procedure is one
  session). Every procedure counts here, not only the index one.
* ``design`` = ``prospective``: the registry records visits as care happens, at scheduled
  intervals (DESIGN.md section 7); it is observational and not peer-reviewed.
  ``loe`` = ``IV``: each row is one uncontrolled arm, which the levels of evidence for
  therapeutic studies (Wright JG et al., J Bone Joint Surg Am 2003;85(1):1-3, the scale
  AOSpine-EBSJ-2012 reports) grade as a case series; a PVP-vs-KP contrast between registry
  arms is non-randomised and confounded by indication (JNCCN-2012 favours kyphoplasty for
  collapsed and thoracolumbar-junction fractures).
* Provenance: ``source`` names the export date and the vertebro version (the rows depend on no
  rulebook), ``year`` is the export year. Rows with demo patients say ``SYNTHETIC``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Final, Literal

from vertebro._version import __version__
from vertebro.errors import InvalidInput

from ._audit import _leaked
from ._outcomes import MEASURES, index_procedures, patient_value
from ._records import ProcedureRecord
from ._thresholds import Thresholds, default_thresholds

if TYPE_CHECKING:
    from vertebro.evidence import StudyRow
    from vertebro.registry.reports import GroupCounts, IntervalCounts, PatientCounts, ValueCount

__all__ = ["REGISTRY_OUTCOMES", "registry_study_rows", "study_rows_of_counts"]

#: registry measure -> outcome slug of the study format
REGISTRY_OUTCOMES: Final[dict[str, str]] = {"nrs": "pain_vas", "odi": "odi", "kps": "kps"}
_SCALES: Final = {"nrs": "NRS 0-10", "odi": "ODI %", "kps": "KPS 0-100"}
_ARMS: Final = {"vertebroplasty": "PVP", "kyphoplasty": "KP"}

By = Literal["site", "all"]


def _study(site: str, by: By) -> str:
    return f"registry:{site if by == 'site' else 'all'}"


def _visits(p: ProcedureRecord, measure: str, interval: str, preop: str) -> int:
    """Records of ``measure`` in ``interval`` (for the note: visits, against patients)."""
    return sum(
        1
        for f in p.follow_ups
        if getattr(f, measure) is not None
        and (f.baseline if interval == preop else not f.baseline and f.interval == interval)
    )


@dataclass
class _Cells:
    """What the rows are made of, per study: the chosen values (one per index patient) and
    the records behind them per arm, measure and interval; procedures and leaks per arm; the
    study's patients and demo patients."""

    #: chosen value -> patients giving it (a frequency table: the database's counts as they
    #: come, so that a million patients are a few hundred entries, not a million floats)
    values: dict[tuple[str, str, str, str], Counter[float]] = field(default_factory=dict)
    visits: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    leaks: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # [events, procedures]
    patients: dict[str, list[int]] = field(default_factory=dict)  # [patients, synthetic]


def _cells_of_records(procs: Sequence[ProcedureRecord], by: By, th: Thresholds) -> _Cells:
    from vertebro.evidence import INTERVALS

    preop = next(iter(INTERVALS))
    cells = _Cells()
    for p in index_procedures(procs):
        study, arm = _study(p.site, by), _ARMS[p.technique]
        for measure in MEASURES:
            for interval in INTERVALS:
                key = (study, arm, measure, interval)
                v = patient_value(p, measure, interval)
                if v is not None:
                    cells.values.setdefault(key, Counter())[v] += 1
                cells.visits[key] = cells.visits.get(key, 0) + _visits(p, measure, interval, preop)
    for p in procs:
        c = cells.leaks.setdefault((_study(p.site, by), _ARMS[p.technique]), [0, 0])
        c[0] += _leaked(p, th.counting_rule)
        c[1] += 1
    people: dict[str, set[tuple[str, str]]] = {}
    demo: dict[str, set[tuple[str, str]]] = {}
    for p in procs:
        people.setdefault(_study(p.site, by), set()).add((p.site, p.patient))
        if p.synthetic:
            demo.setdefault(_study(p.site, by), set()).add((p.site, p.patient))
    cells.patients = {k: [len(v), len(demo.get(k, ()))] for k, v in people.items()}
    return cells


def _cells_of_counts(
    patients: Iterable[PatientCounts],
    intervals: Iterable[IntervalCounts],
    values: Iterable[ValueCount],
    groups: Iterable[GroupCounts],
    by: By,
) -> _Cells:
    cells = _Cells()
    for v in values:
        key = (_study(v.site, by), _ARMS[v.technique], v.measure, v.interval)
        cells.values.setdefault(key, Counter())[v.value] += v.patients
    for c in intervals:
        for measure, n in c.records.items():
            key = (_study(c.site, by), _ARMS[c.technique], measure, c.interval)
            cells.visits[key] = cells.visits.get(key, 0) + n
    for g in groups:
        acc = cells.leaks.setdefault((_study(g.site, by), _ARMS[g.technique]), [0, 0])
        acc[0] += g.leaks
        acc[1] += g.procedures
    sites: dict[str, tuple[int, int]] = {p.site: (p.patients, p.synthetic) for p in patients}
    for site, (n, k) in sites.items():
        acc = cells.patients.setdefault(_study(site, by), [0, 0])
        acc[0] += n
        acc[1] += k
    return cells


def _mean_sd(counts: Mapping[float, int]) -> tuple[int, float, float | None]:
    """Number, mean and sample standard deviation of the values a frequency table holds,
    equal to ``statistics.fmean`` and ``statistics.stdev`` of the expanded list: both are
    exactly rounded (fmean: the exactly rounded sum divided by n; stdev: the square root of
    the exact sample variance, rounded once), so they are computed exactly, with fractions,
    and rounded the same way. ``sd`` is None below two values."""
    n = sum(counts.values())
    total = sum((Fraction(v) * c for v, c in counts.items()), Fraction(0))
    mean = float(total) / n
    if n < 2:
        return n, mean, None
    centre = total / n
    ss = sum((c * (Fraction(v) - centre) ** 2 for v, c in counts.items()), Fraction(0))
    return n, mean, _sqrt_of_fraction(ss / (n - 1))


def _sqrt_of_fraction(x: Fraction) -> float:
    """The square root of ``x >= 0``, rounded once to the nearest float: round-to-odd on an
    integer square root with two guard bits beyond double precision, then one division
    (Python's ``int / int`` rounds correctly), as ``statistics`` does since Python 3.11."""
    num, den = x.numerator, x.denominator
    shift = (num.bit_length() - den.bit_length() - (2 * 53 + 3)) // 2

    def isqrt_odd(a: int, b: int) -> int:
        r = math.isqrt(a // b)
        return r | (r * r * b != a)

    if shift >= 0:
        return (isqrt_odd(num, den << 2 * shift) << shift) / 1
    return isqrt_odd(num << -2 * shift, den) / (1 << -shift)


def _outcome_rows(cells: _Cells, common: dict[str, Any]) -> Iterator[StudyRow]:
    from vertebro.evidence import INTERVALS, StudyRow

    preop = next(iter(INTERVALS))
    for study in sorted({key[0] for key in cells.values}):
        for arm in ("PVP", "KP"):
            for measure in MEASURES:
                for interval, timepoint in INTERVALS.items():
                    key = (study, arm, measure, interval)
                    values = cells.values.get(key)
                    if not values:
                        continue
                    n, mean, sd = _mean_sd(values)
                    visits = cells.visits.get(key, 0)
                    rule = (
                        "baseline closest to the procedure"
                        if interval == preop
                        else "value nearest the interval's planned day"
                    )
                    note = (
                        f"registry cohort, index procedure; {_SCALES[measure]}; one value per "
                        f"patient, the {rule} ({n} patients, {visits} visits)"
                    )
                    if n < 2:
                        note += "; no sd: n < 2"
                    elif sd == 0:
                        note += "; no sd: every value equal (the format needs sd > 0)"
                    yield StudyRow(
                        study=study,
                        technique=arm,
                        outcome=REGISTRY_OUTCOMES[measure],
                        statistic="mean",
                        timepoint=timepoint,
                        interval=interval,
                        n=n,
                        mean=mean,
                        sd=sd or None,
                        unit="patient",
                        note=note,
                        **common,
                    )


def _leakage_rows(cells: _Cells, th: Thresholds, common: dict[str, Any]) -> Iterator[StudyRow]:
    from vertebro.evidence import StudyRow

    kinds = ", ".join(th.counting_rule.leak_types)
    for (study, arm), (events, denominator) in sorted(
        cells.leaks.items(), key=lambda kv: (kv[0][0], kv[0][1] != "PVP")
    ):
        yield StudyRow(
            study=study,
            technique=arm,
            outcome="cement_leakage",
            statistic="proportion",
            events=events,
            denominator=denominator,
            unit="session",
            estimate=round(100 * events / denominator, 2),
            note=(
                f"registry cohort; procedures with any recorded leak ({kinds}) over all "
                "procedures (every procedure, not only the index one; leaks seen on imaging "
                "or clinically, as recorded)"
            ),
            **common,
        )


def _flag_synthetic(row: StudyRow, cells: _Cells) -> StudyRow:
    # demo patients (``vertebro demo seed``) must never pass for real ones in a pooled analysis
    patients, k = cells.patients.get(row.study, [0, 0])
    if not k:
        return row
    flag = f"SYNTHETIC demo data: {k} of {patients} patients"
    return row.model_copy(update={"note": f"{flag}; {row.note}"})


def _common(exported_on: dt.date) -> dict[str, Any]:
    return {
        "year": exported_on.year,
        "design": "prospective",
        "loe": "IV",
        "population": "cancer",
        "source": (
            f"vertebro registry export {exported_on.isoformat()} (vertebro {__version__}; "
            "research record stream; observational, not peer-reviewed)"
        ),
    }


def _rows(cells: _Cells, th: Thresholds, exported_on: dt.date) -> list[StudyRow]:
    common = _common(exported_on)
    rows = [*_outcome_rows(cells, common), *_leakage_rows(cells, th, common)]
    return [_flag_synthetic(r, cells) for r in rows]


def _check_by(by: str) -> None:
    if by not in ("site", "all"):
        raise InvalidInput.field("by", f"{by!r} is not one of site, all")


def study_rows_of_counts(
    patients: Iterable[PatientCounts],
    intervals: Iterable[IntervalCounts],
    values: Iterable[ValueCount],
    groups: Iterable[GroupCounts],
    *,
    exported_on: dt.date,
    by: By = "site",
    thresholds: Thresholds | None = None,
) -> list[StudyRow]:
    """:func:`registry_study_rows` from the counts the database makes
    (:func:`vertebro.registry.reports.outcome_counts` and
    :func:`~vertebro.registry.reports.audit_counts` with the same counting rule): the same
    rows as :func:`registry_study_rows` of the procedures those counts describe."""
    _check_by(by)
    th = default_thresholds() if thresholds is None else thresholds
    cells = _cells_of_counts(patients, intervals, values, groups, by)
    return _rows(cells, th, exported_on)


def registry_study_rows(
    procedures: Iterable[ProcedureRecord],
    *,
    exported_on: dt.date,
    by: By = "site",
    thresholds: Thresholds | None = None,
) -> list[StudyRow]:
    """The registry cohort as study rows (see the module docstring for every choice).

    Parameters
    ----------
    procedures
        As :func:`registry_procedures` reads them (the research record stream).
    exported_on
        The export date, written into ``year`` and ``source``.
    by
        ``"site"``: one study per site; ``"all"``: the whole registry as one study.
    thresholds
        The counting rule whose ``leak_types`` make a leak (default: the shipped
        :func:`default_thresholds`, as the quality audit uses).

    Returns
    -------
    list of StudyRow
        Outcome rows (NRS as ``pain_vas``, ODI, KPS; per study, arm and interval, values
        chosen by :func:`patient_value`) then cement leakage rows (per study and arm). Empty
        if there is no procedure.

    References
    ----------
    Sorensen-SpineJ-2019 (follow-up intervals, Table 2; N-weighted pooling of study means).
    """
    _check_by(by)
    th = default_thresholds() if thresholds is None else thresholds
    return _rows(_cells_of_records(list(procedures), by, th), th, exported_on)
