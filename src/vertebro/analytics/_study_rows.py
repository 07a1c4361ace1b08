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
import statistics
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

from vertebro._version import __version__
from vertebro.errors import InvalidInput

from ._audit import _leaked
from ._outcomes import MEASURES, index_procedures, patient_value
from ._records import ProcedureRecord
from ._thresholds import Thresholds, default_thresholds

if TYPE_CHECKING:
    from vertebro.evidence import StudyRow

__all__ = ["REGISTRY_OUTCOMES", "registry_study_rows"]

#: registry measure -> outcome slug of the study format
REGISTRY_OUTCOMES: Final[dict[str, str]] = {"nrs": "pain_vas", "odi": "odi", "kps": "kps"}
_SCALES: Final = {"nrs": "NRS 0-10", "odi": "ODI %", "kps": "KPS 0-100"}
_ARMS: Final = {"vertebroplasty": "PVP", "kyphoplasty": "KP"}

By = Literal["site", "all"]


def _study(p: ProcedureRecord, by: By) -> str:
    return f"registry:{p.site if by == 'site' else 'all'}"


def _visits(p: ProcedureRecord, measure: str, interval: str, preop: str) -> int:
    """Records of ``measure`` in ``interval`` (for the note: visits, against patients)."""
    return sum(
        1
        for f in p.follow_ups
        if getattr(f, measure) is not None
        and (f.baseline if interval == preop else not f.baseline and f.interval == interval)
    )


def _outcome_rows(
    procs: Sequence[ProcedureRecord], by: By, common: dict[str, Any]
) -> Iterator[StudyRow]:
    from vertebro.evidence import INTERVALS, StudyRow

    preop = next(iter(INTERVALS))
    index = index_procedures(procs)
    studies = sorted({_study(p, by) for p in index})
    for study in studies:
        for arm in ("PVP", "KP"):
            arm_index = [p for p in index if _study(p, by) == study and _ARMS[p.technique] == arm]
            for measure in MEASURES:
                for interval, timepoint in INTERVALS.items():
                    values = [
                        v
                        for p in arm_index
                        if (v := patient_value(p, measure, interval)) is not None
                    ]
                    if not values:
                        continue
                    n = len(values)
                    visits = sum(_visits(p, measure, interval, preop) for p in arm_index)
                    rule = (
                        "baseline closest to the procedure"
                        if interval == preop
                        else "value nearest the interval's planned day"
                    )
                    note = (
                        f"registry cohort, index procedure; {_SCALES[measure]}; one value per "
                        f"patient, the {rule} ({n} patients, {visits} visits)"
                    )
                    sd: float | None = None
                    if n < 2:
                        note += "; no sd: n < 2"
                    elif (s := statistics.stdev(values)) > 0:
                        sd = s
                    else:
                        note += "; no sd: every value equal (the format needs sd > 0)"
                    yield StudyRow(
                        study=study,
                        technique=arm,
                        outcome=REGISTRY_OUTCOMES[measure],
                        statistic="mean",
                        timepoint=timepoint,
                        interval=interval,
                        n=n,
                        mean=statistics.fmean(values),
                        sd=sd,
                        unit="patient",
                        note=note,
                        **common,
                    )


def _leakage_rows(
    procs: Sequence[ProcedureRecord], by: By, th: Thresholds, common: dict[str, Any]
) -> Iterator[StudyRow]:
    from vertebro.evidence import StudyRow

    counts: dict[tuple[str, str], list[int]] = {}
    for p in procs:
        c = counts.setdefault((_study(p, by), _ARMS[p.technique]), [0, 0])
        c[0] += _leaked(p, th.counting_rule)
        c[1] += 1
    kinds = ", ".join(th.counting_rule.leak_types)
    for (study, arm), (events, denominator) in sorted(
        counts.items(), key=lambda kv: (kv[0][0], kv[0][1] != "PVP")
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


def _flag_synthetic(row: StudyRow, procs: Sequence[ProcedureRecord], by: By) -> StudyRow:
    # demo patients (``vertebro demo seed``) must never pass for real ones in a pooled analysis
    patients = {(p.site, p.patient) for p in procs if _study(p, by) == row.study}
    k = len({(p.site, p.patient) for p in procs if _study(p, by) == row.study and p.synthetic})
    if not k:
        return row
    flag = f"SYNTHETIC demo data: {k} of {len(patients)} patients"
    return row.model_copy(update={"note": f"{flag}; {row.note}"})


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
    if by not in ("site", "all"):
        raise InvalidInput.field("by", f"{by!r} is not one of site, all")
    procs = list(procedures)
    th = default_thresholds() if thresholds is None else thresholds
    common: dict[str, Any] = {
        "year": exported_on.year,
        "design": "prospective",
        "loe": "IV",
        "population": "cancer",
        "source": (
            f"vertebro registry export {exported_on.isoformat()} (vertebro {__version__}; "
            "research record stream; observational, not peer-reviewed)"
        ),
    }
    rows = [*_outcome_rows(procs, by, common), *_leakage_rows(procs, by, th, common)]
    return [_flag_synthetic(r, procs, by) for r in rows]
