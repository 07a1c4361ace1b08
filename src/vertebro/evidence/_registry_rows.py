"""The registry's own cohort as study-level rows, in the vertebro study CSV format.

The input is the registry's neutral record stream (one dict of strings per record, as
:func:`vertebro.registry.transfer.export_records` yields it in its research form), so this
module never touches the database: the read happens at the edge (:func:`registry_records`,
which imports the registry lazily, as ``vertebro.analytics._records`` does), and the acting
user's access is the registry's own.

What a row means (choices a reviewer should know):

* **Study**: one per site (``registry:A``), or the whole registry (``registry:all``).
* **Arm**: a procedure is kyphoplasty (``KP``) if any treated level used it, else
  vertebroplasty (``PVP``), as :meth:`vertebro.registry.Registry.summary` counts.
* **Outcomes** NRS (as ``pain_vas``, the slug of the curated VAS 0-10 rows of
  Sorensen-SpineJ-2019 Table 2), ODI and KPS, per follow-up interval of DESIGN.md section 6
  (the registry stores each visit's interval). Only each patient's **index (first)
  procedure** and its visits count, and each patient gives **one value per interval: the
  last** recorded. So ``n`` counts patients, never visits, as pooled methods assume
  independent patients; the last value is one real measurement (a mean of visits would shrink
  the sd and overstate the row's precision in inverse-variance pooling), and for the
  preoperative interval it is the state closest to treatment. Later procedures are left out
  of the outcome rows: visits after them are attached to them by the registry and reflect
  the second treatment.
* ``sd`` is the sample sd (ddof = 1). With ``n < 2``, or when every value is equal, it is left
  empty (the format requires sd > 0): such a row enters the N-weighted pooling of
  Sorensen-SpineJ-2019 (mean and n) but not inverse-variance pooling (measure MN), which
  skips it and says so.
* **Cement leakage**: procedures with at least one recorded ``cement_leak`` complication
  (the registry's and the quality audit's definition) over all procedures of the arm,
  ``unit`` = ``session`` (one procedure is one session). Every procedure counts here, not only
  the index one.
* ``design`` = ``prospective``: the registry records visits as care happens, at scheduled
  intervals (DESIGN.md section 7); it is observational and not peer-reviewed.
  ``loe`` = ``IV``: each row is one uncontrolled arm, which the levels of evidence for
  therapeutic studies (Wright JG et al., J Bone Joint Surg Am 2003;85(1):1-3, the scale
  AOSpine-EBSJ-2012 reports) grade as a case series; a PVP-vs-KP contrast between registry
  arms is non-randomised and confounded by indication (JNCCN-2012 favours kyphoplasty for
  collapsed and thoracolumbar-junction fractures).
* Provenance: ``source`` names the export date and the vertebro version (the rows depend on no
  rulebook), ``year`` is the export year.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from vertebro._version import __version__
from vertebro.errors import EvidenceError

from ._studies import StudyRow
from ._weighted import INTERVALS

if TYPE_CHECKING:
    from vertebro.registry import Registry

__all__ = ["REGISTRY_OUTCOMES", "registry_records", "registry_study_rows"]

#: registry follow-up column -> outcome slug of the study format
REGISTRY_OUTCOMES: dict[str, str] = {"nrs": "pain_vas", "odi": "odi", "kps": "kps"}
_SCALES = {"nrs": "NRS 0-10", "odi": "ODI %", "kps": "KPS 0-100"}
_ARMS = {"vertebroplasty": "PVP", "kyphoplasty": "KP"}
# the complication type the registry summary and the quality audit count as a leak
# (analytics/data/thresholds.yaml, leak_types)
_LEAK = "cement_leak"

By = Literal["site", "all"]


@dataclass
class _Procedure:
    study: str
    patient: tuple[str, str]
    index: bool
    techniques: set[str] = field(default_factory=set)
    leaked: bool = False
    # (day, position in the stream, interval, column, value) of every recorded score
    visits: list[tuple[int, int, str, str, float]] = field(default_factory=list)

    @property
    def arm(self) -> str | None:
        # kyphoplasty if any level used it (Registry.summary); a procedure without levels
        # cannot be stored (ProcedureIn.levels has min_length=1) and is left out
        if "kyphoplasty" in self.techniques:
            return "KP"
        return "PVP" if "vertebroplasty" in self.techniques else None


def _float(raw: str | None) -> float | None:
    raw = (raw or "").strip()
    return float(raw) if raw else None


def _group(
    records: Iterable[Mapping[str, str]], by: By
) -> tuple[dict[tuple[str, str, str], _Procedure], set[tuple[str, str]]]:
    procs: dict[tuple[str, str, str], _Procedure] = {}
    synthetic: set[tuple[str, str]] = set()
    for pos, r in enumerate(records):
        kind = r.get("record_type")
        if kind == "patient" and r.get("synthetic", "").strip().lower() == "true":
            synthetic.add((r["site"], r["patient"]))
        if kind not in ("procedure", "level", "complication", "follow_up"):
            continue
        key = (r["site"], r["patient"], r["procedure"])
        if kind == "procedure":
            study = f"registry:{r['site'] if by == 'site' else 'all'}"
            # the stream numbers a patient's procedures by date: "1" is the index procedure
            procs[key] = _Procedure(study, key[:2], index=r["procedure"] == "1")
            continue
        p = procs.get(key)
        if p is None:
            raise EvidenceError(f"record stream: {kind} before its procedure {'/'.join(key)}")
        if kind == "level":
            p.techniques.add(r["technique"])
        elif kind == "complication":
            p.leaked = p.leaked or r.get("complication_type") == _LEAK
        else:
            if r.get("interval") not in INTERVALS:
                raise EvidenceError(
                    f"record stream: follow-up interval {r.get('interval')!r} is not one of "
                    f"{', '.join(INTERVALS)}"
                )
            day = _float(r.get("day"))
            for col in REGISTRY_OUTCOMES:
                value = _float(r.get(col))
                if value is not None:
                    p.visits.append(
                        (int(day) if day is not None else 0, pos, r["interval"], col, value)
                    )
    return procs, synthetic


def _outcome_rows(procs: list[_Procedure], common: dict[str, Any]) -> Iterator[StudyRow]:
    # (study, arm, column, interval) -> patient -> (sort key, value); all values kept for notes
    last: dict[tuple[str, str, str, str], dict[tuple[str, str], tuple[tuple[int, int], float]]]
    last = {}
    visits: dict[tuple[str, str, str, str], int] = {}
    for p in procs:
        arm = p.arm
        if not p.index or arm is None:
            continue
        for day, pos, interval, col, value in p.visits:
            cell = (p.study, arm, col, interval)
            visits[cell] = visits.get(cell, 0) + 1
            seen = last.setdefault(cell, {})
            # the last visit: latest day, then latest in the stream (date, then entry order)
            if p.patient not in seen or (day, pos) >= seen[p.patient][0]:
                seen[p.patient] = ((day, pos), value)
    order = {iv: i for i, iv in enumerate(INTERVALS)}
    cols = list(REGISTRY_OUTCOMES)
    for study, arm, col, interval in sorted(
        last, key=lambda c: (c[0], c[1] != "PVP", cols.index(c[2]), order[c[3]])
    ):
        values = [v for _, v in last[(study, arm, col, interval)].values()]
        n = len(values)
        mean = statistics.fmean(values)
        sd: float | None = None
        note = (
            f"registry cohort, index procedure; {_SCALES[col]}; last value per patient in the "
            f"interval ({n} patients, {visits[(study, arm, col, interval)]} visits)"
        )
        if n < 2:
            note += "; no sd: n < 2"
        elif (s := statistics.stdev(values)) > 0:
            sd = s
        else:
            note += "; no sd: every value equal (the format needs sd > 0)"
        yield StudyRow(
            study=study,
            technique=arm,
            outcome=REGISTRY_OUTCOMES[col],
            statistic="mean",
            timepoint=INTERVALS[interval],
            interval=interval,
            n=n,
            mean=mean,
            sd=sd,
            unit="patient",
            note=note,
            **common,
        )


def _leakage_rows(procs: list[_Procedure], common: dict[str, Any]) -> Iterator[StudyRow]:
    counts: dict[tuple[str, str], list[int]] = {}
    for p in procs:
        arm = p.arm
        if arm is None:
            continue
        c = counts.setdefault((p.study, arm), [0, 0])
        c[0] += p.leaked
        c[1] += 1
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
                "registry cohort; procedures with any recorded cement leak over all "
                "procedures (every procedure, not only the index one; leaks seen on imaging "
                "or clinically, as recorded)"
            ),
            **common,
        )


def registry_study_rows(
    records: Iterable[Mapping[str, str]], *, exported_on: dt.date, by: By = "site"
) -> list[StudyRow]:
    """The registry cohort as study rows (see the module docstring for every choice).

    Parameters
    ----------
    records
        The registry's record stream, research form (``export_records(..., research=True)``).
    exported_on
        The export date, written into ``year`` and ``source``.
    by
        ``"site"``: one study per site; ``"all"``: the whole registry as one study.

    Returns
    -------
    list of StudyRow
        Outcome rows (NRS as ``pain_vas``, ODI, KPS; per study, arm and interval) then cement
        leakage rows (per study and arm). Empty if the stream holds no procedure.

    References
    ----------
    Sorensen-SpineJ-2019 (follow-up intervals, Table 2; N-weighted pooling of study means).
    """
    if by not in ("site", "all"):
        raise EvidenceError(f"by: {by!r} is not one of site, all")
    grouped, synthetic = _group(records, by)
    procs = list(grouped.values())
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
    rows = [*_outcome_rows(procs, common), *_leakage_rows(procs, common)]
    return [_flag_synthetic(r, procs, synthetic) for r in rows]


def _flag_synthetic(
    row: StudyRow, procs: list[_Procedure], synthetic: set[tuple[str, str]]
) -> StudyRow:
    # demo patients (``vertebro demo seed``) must never pass for real ones in a pooled analysis
    patients = {p.patient for p in procs if p.study == row.study}
    k = len(patients & synthetic)
    if not k:
        return row
    flag = f"SYNTHETIC demo data: {k} of {len(patients)} patients"
    return row.model_copy(update={"note": f"{flag}; {row.note}"})


def registry_records(registry: Registry, actor: str) -> list[dict[str, str]]:
    """Every record ``actor`` may see, research form (pseudonymised, days not dates).

    Raises
    ------
    RegistryError
        If ``actor`` is not an active user.
    """
    # imported here so that the evidence maths never loads the database layer
    from vertebro.registry.transfer import export_records

    return list(export_records(registry, actor, research=True))
