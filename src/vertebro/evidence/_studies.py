"""Study-level rows: the vertebro CSV format, its validation, and plain metafor-style CSVs.

vertebro format (one row per study x arm x outcome x time point; empty cell = not reported):

* ``study``, ``year``: first author or trial name; publication year.
* ``design``: rct, prospective, retrospective, case_series, systematic_review, meta_analysis.
* ``loe``: level of evidence as the source states it (I-V); ``population``: cancer, myeloma,
  osteoporotic, mixed.
* ``technique``, ``comparator``: PVP, KP, PVP+KP, conservative, sham (comparator for two-arm
  effects only).
* ``outcome``: a slug (pain_vas, odi, kps, rdq, cement_leakage, symptomatic_complications ...);
  ``statistic``: mean, weighted_mean, median, proportion, mean_difference, smd, odds_ratio,
  pct_change.
* ``timepoint``: as reported; ``interval``: Sorensen-SpineJ-2019 code (preop, lt4w, le6w, lt6m,
  lt1y, ge1y).
* ``n`` (>= 1), ``mean``, ``sd`` (> 0); ``events`` (0..denominator) of ``denominator`` counted per
  ``unit`` (patient, level, session).
* ``estimate``, ``ci_lower``, ``ci_upper``, ``p``: a reported effect or percentage (percent for
  proportions), its 95% CI and its p as printed.
* ``source``: seed file and table, e.g. "002_c667adca4bd45f0f.txt (Sorensen-SpineJ-2019) Table 2";
  ``note``: what a reader should know (rounding, inconsistencies in the source).

Plain CSVs with metafor's column names (``ai,bi,ci,di``; ``ai,n1i,ci,n2i``; ``xi,ni``;
``mi,sdi,ni``; ``m1i,sd1i,n1i,m2i,sd2i,n2i``; ``yi,vi``; ``yi,sei``; optional ``study``, ``year``,
``subgroup``) are read by :func:`read_metafor_csv`. Every problem in a file is collected and
raised together as one :class:`~vertebro.errors.InvalidInput`, each naming line, column and reason.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from vertebro.errors import FieldError, InvalidInput

from ._measures import MEASURES, Effects, escalc
from ._weighted import INTERVALS

__all__ = [
    "COLUMNS",
    "DESIGNS",
    "MetaforData",
    "StudyRow",
    "check_consistency",
    "effects_from_studies",
    "format_studies",
    "is_metafor_header",
    "parse_studies",
    "read_metafor_csv",
    "read_studies",
    "read_study_files",
]

Design = Literal[
    "rct", "prospective", "retrospective", "case_series", "systematic_review", "meta_analysis"
]
DESIGNS: tuple[str, ...] = (
    "rct",
    "prospective",
    "retrospective",
    "case_series",
    "systematic_review",
    "meta_analysis",
)
LOES = ("I", "II", "III", "IV", "V")
POPULATIONS = ("cancer", "myeloma", "osteoporotic", "mixed")
TECHNIQUES = ("PVP", "KP", "PVP+KP", "conservative", "sham")
STATISTICS = (
    "mean",
    "weighted_mean",
    "median",
    "proportion",
    "mean_difference",
    "smd",
    "odds_ratio",
    "pct_change",
)
UNITS = ("patient", "level", "session")
COLUMNS: tuple[str, ...] = (
    "study",
    "year",
    "design",
    "loe",
    "population",
    "technique",
    "comparator",
    "outcome",
    "statistic",
    "timepoint",
    "interval",
    "n",
    "mean",
    "sd",
    "events",
    "denominator",
    "unit",
    "estimate",
    "ci_lower",
    "ci_upper",
    "p",
    "source",
    "note",
)
_REQUIRED = ("study", "design", "outcome", "source")
_INTS = ("year", "n", "events", "denominator")
_FLOATS = ("mean", "sd", "estimate", "ci_lower", "ci_upper")
_CHOICES: dict[str, tuple[str, ...]] = {
    "design": DESIGNS,
    "loe": LOES,
    "population": POPULATIONS,
    "technique": TECHNIQUES,
    "comparator": TECHNIQUES,
    "statistic": STATISTICS,
    "interval": tuple(INTERVALS),
    "unit": UNITS,
}


class StudyRow(BaseModel):
    """One validated row of the vertebro study format (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    study: str
    year: int | None = None
    design: str
    loe: str | None = None
    population: str | None = None
    technique: str | None = None
    comparator: str | None = None
    outcome: str
    statistic: str | None = None
    timepoint: str | None = None
    interval: str | None = None
    n: int | None = None
    mean: float | None = None
    sd: float | None = None
    events: int | None = None
    denominator: int | None = None
    unit: str | None = None
    estimate: float | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None
    p: str | None = None
    source: str
    note: str | None = None
    line: int = 0

    @property
    def proportion(self) -> float | None:
        if self.events is None or not self.denominator:
            return None
        return self.events / self.denominator


def _num(raw: str, col: str, where: str, errors: list[FieldError], integer: bool) -> Any:
    try:
        val = float(raw)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        errors.append(FieldError(col, f"{raw!r} is not {kind}", where))
        return None
    if not math.isfinite(val):
        errors.append(FieldError(col, f"{raw!r} is not a finite number", where))
        return None
    if integer:
        if val != int(val):
            errors.append(FieldError(col, f"{raw!r} is not a whole number", where))
            return None
        return int(val)
    return val


def _check_row(raw: dict[str, str], line: int, errors: list[FieldError]) -> StudyRow | None:
    where = f"line {line}"
    start = len(errors)
    vals: dict[str, Any] = {"line": line}
    for col in COLUMNS:
        cell = (raw.get(col) or "").strip()
        if cell == "":
            if col in _REQUIRED:
                errors.append(FieldError(col, "is required", where))
            continue
        if col in _INTS:
            vals[col] = _num(cell, col, where, errors, integer=True)
        elif col in _FLOATS:
            vals[col] = _num(cell, col, where, errors, integer=False)
        elif col in _CHOICES and cell not in _CHOICES[col]:
            errors.append(
                FieldError(col, f"{cell!r} is not one of {', '.join(_CHOICES[col])}", where)
            )
        else:
            vals[col] = cell
    # value rules
    n, sd, ev, den = vals.get("n"), vals.get("sd"), vals.get("events"), vals.get("denominator")
    if n is not None and n < 1:
        errors.append(
            FieldError("n", f"{n} is below 1 (a study needs at least one patient)", where)
        )
    if sd is not None and sd <= 0:
        errors.append(FieldError("sd", f"{sd:g} must be > 0", where))
    if ev is not None and ev < 0:
        errors.append(FieldError("events", f"{ev} is negative", where))
    if den is not None and den < 1:
        errors.append(FieldError("denominator", f"{den} is below 1", where))
    if ev is not None and den is not None and ev > den:
        errors.append(FieldError("events", f"{ev} exceeds the denominator {den}", where))
    year = vals.get("year")
    if year is not None and not 1900 <= year <= 2100:
        errors.append(FieldError("year", f"{year} is not a plausible publication year", where))
    lo, hi, est = vals.get("ci_lower"), vals.get("ci_upper"), vals.get("estimate")
    if lo is not None and hi is not None and lo > hi:
        errors.append(FieldError("ci_lower", f"{lo:g} is above ci_upper {hi:g}", where))
    elif est is not None and lo is not None and hi is not None and not lo <= est <= hi:
        errors.append(
            FieldError("estimate", f"{est:g} lies outside its CI [{lo:g}, {hi:g}]", where)
        )
    if (lo is None) != (hi is None):
        errors.append(FieldError("ci_lower", "ci_lower and ci_upper go together", where))
    if len(errors) > start:
        return None
    return StudyRow(**vals)


def parse_studies(text: str, name: str = "<text>") -> list[StudyRow]:
    """Parse and validate vertebro-format CSV text; raises InvalidInput listing every problem."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    errors: list[FieldError] = []
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        errors.append(
            FieldError(
                "header",
                f"unknown column(s) {', '.join(unknown)}; expected {', '.join(COLUMNS)}",
                name,
            )
        )
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        errors.append(
            FieldError("header", f"missing required column(s) {', '.join(missing)}", name)
        )
    if errors:
        raise InvalidInput(errors)
    rows: list[StudyRow] = []
    for i, raw in enumerate(reader, start=2):
        if None in raw:
            errors.append(FieldError("", "has more cells than the header", f"line {i}"))
            continue
        row = _check_row(raw, i, errors)
        if row is not None:
            rows.append(row)
    if errors:
        raise InvalidInput(errors)
    return rows


def read_studies(path: str | Path) -> list[StudyRow]:
    """Read and validate a vertebro-format CSV file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInput.field(str(p), f"cannot be read ({exc.strerror})") from None
    return parse_studies(text, p.name)


def read_study_files(paths: Sequence[str | Path]) -> list[tuple[str, list[StudyRow]]]:
    """Read and validate several vertebro-format CSV files together: every problem in every
    file is raised at once, each naming its file. Returns ``(file name, rows)`` per file."""
    out: list[tuple[str, list[StudyRow]]] = []
    errors: list[FieldError] = []
    for path in paths:
        p = Path(path)
        try:
            out.append((p.name, read_studies(p)))
        except InvalidInput as exc:
            errors += [FieldError(e.field, e.reason, _in_file(p, e)) for e in exc.errors]
    if errors:
        raise InvalidInput(errors)
    return out


def _in_file(p: Path, e: FieldError) -> str:
    if p.name in e.where or p.name in e.field:
        return e.where
    return f"{p.name}, {e.where}" if e.where else p.name


def format_studies(rows: Iterable[StudyRow]) -> str:
    """Vertebro-format CSV text of ``rows``, every column in order (the inverse of
    :func:`parse_studies`; numbers written in full, so that they read back unchanged)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        cells = [getattr(r, c) for c in COLUMNS]
        writer.writerow(
            ["" if v is None else repr(v) if isinstance(v, float) else str(v) for v in cells]
        )
    return buf.getvalue()


def check_consistency(rows: Iterable[StudyRow], tolerance: float = 1.0) -> list[str]:
    """Warnings for proportion rows whose events/denominator disagree with the printed percentage
    by more than ``tolerance`` percentage points (rows with a CI are model-based pooled estimates
    and are not checked). These flag errors in sources, not in the file."""
    out = []
    for r in rows:
        if (
            r.statistic == "proportion"
            and r.events is not None
            and r.denominator
            and r.estimate is not None
            and r.ci_lower is None
        ):
            crude = 100 * r.events / r.denominator
            if abs(crude - r.estimate) > tolerance:
                out.append(
                    f"line {r.line}: {r.study} {r.outcome} ({r.technique}): "
                    f"{r.events}/{r.denominator} = {crude:.2f}% but {r.estimate:g}% is printed"
                )
    return out


# ---------------------------------------------------------------- metafor-style CSVs
_METAFOR_SETS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("ai", "bi", "ci", "di"), ("RR", "OR", "RD")),
    (("ai", "n1i", "ci", "n2i"), ("RR", "OR", "RD")),
    (("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"), ("MD", "SMD", "ROM")),
    (("xi", "ni"), ("PR", "PLO", "PAS", "PFT")),
    (("xi", "ti"), ("IR", "IRLN")),
    (("x1i", "t1i", "x2i", "t2i"), ("IRR",)),
    (("ri", "ni"), ("COR", "ZCOR")),
    (("mi", "sdi", "ni"), ("MN",)),
    (("yi", "vi"), ("GEN",)),
    (("yi", "sei"), ("GEN",)),
)
_OPTIONAL = ("study", "year", "subgroup")
#: columns that label a study, in order of preference (metafor's slab; dat.bcg has author)
LABEL_COLUMNS = ("slab", "study", "author", "trial")
#: cells read as missing (R writes NA)
_MISSING = ("", "NA", "na", "NaN")
_COUNTS = ("ai", "bi", "ci", "di", "n1i", "n2i", "xi", "ni", "x1i", "x2i")


@dataclass
class MetaforData:
    """Effects computed from a metafor-style CSV, with labels, years and subgroups."""

    effects: Effects
    study: list[str]
    year: list[int | None]
    subgroup: list[str] | None
    columns: tuple[str, ...] = field(default_factory=tuple)
    #: lines left out because a cell the measure needs is missing (as metafor's na.omit)
    omitted: list[int] = field(default_factory=list)


def is_metafor_header(header: Sequence[str]) -> bool:
    return any(all(c in header for c in cols) for cols, _ in _METAFOR_SETS)


def read_metafor_csv(path: str | Path, measure: str) -> MetaforData:
    """Read a plain CSV with metafor's column names and compute ``measure`` (escalc)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInput.field(str(p), f"cannot be read ({exc.strerror})") from None
    return parse_metafor_csv(text, measure, p.name)


def parse_metafor_csv(text: str, measure: str, name: str = "<text>") -> MetaforData:
    """Effects from a CSV with metafor's column names. A row with a missing (empty or NA) cell
    that the measure needs is left out and its line listed in ``omitted``, as metafor omits it
    with a warning; a cell that is present but not valid is an error."""
    m = measure.upper()
    if m not in MEASURES:
        raise InvalidInput.field("--measure", f"{measure!r} is not one of {', '.join(MEASURES)}")
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(h.strip() for h in (reader.fieldnames or []))
    cols = next((c for c, ms in _METAFOR_SETS if m in ms and all(x in header for x in c)), None)
    if cols is None:
        need = " or ".join(",".join(c) for c, ms in _METAFOR_SETS if m in ms)
        raise InvalidInput(
            FieldError(
                "header", f"measure {m} needs columns {need}; found {', '.join(header)}", name
            )
        )
    errors: list[FieldError] = []
    data: dict[str, list[float]] = {c: [] for c in cols}
    labels: list[str] = []
    years: list[int | None] = []
    groups: list[str] = []
    omitted: list[int] = []
    label_col = next((c for c in LABEL_COLUMNS if c in header), None)
    for i, raw0 in enumerate(reader, start=2):
        raw = {(k or "").strip(): (v or "").strip() for k, v in raw0.items() if k is not None}
        where = f"line {i}"
        start = len(errors)
        vals: dict[str, float] = {}
        if any(raw.get(c, "") in _MISSING for c in cols):
            omitted.append(i)
            continue
        for c in cols:
            cell = raw.get(c, "")
            val = _num(cell, c, where, errors, integer=c in _COUNTS)
            if val is not None:
                vals[c] = float(val)
        for c, val in vals.items():
            if c in _COUNTS and val < 0:
                errors.append(FieldError(c, f"{val:g} is negative", where))
            if c in ("ni", "n1i", "n2i") and val < 1:
                errors.append(FieldError(c, f"{val:g} is below 1", where))
            if c in ("sdi", "sd1i", "sd2i", "vi", "sei", "ti", "t1i", "t2i") and val <= 0:
                errors.append(FieldError(c, f"{val:g} must be > 0", where))
            if c == "ri" and not -1 <= val <= 1:
                errors.append(FieldError(c, f"{val:g} is not a correlation (-1 to 1)", where))
            if c in ("m1i", "m2i") and m == "ROM" and val <= 0:
                errors.append(FieldError(c, f"{val:g} must be > 0 for the ratio of means", where))
        for ev, tot in (("ai", "n1i"), ("ci", "n2i"), ("xi", "ni")):
            if ev in vals and tot in vals and vals[ev] > vals[tot]:
                errors.append(FieldError(ev, f"{vals[ev]:g} exceeds {tot} {vals[tot]:g}", where))
        year_raw = raw.get("year", "")
        year = _num(year_raw, "year", where, errors, integer=True) if year_raw else None
        if len(errors) > start:
            continue
        for c in cols:
            data[c].append(vals[c])
        labels.append((raw.get(label_col) if label_col else None) or str(i - 1))
        years.append(year)
        groups.append(raw.get("subgroup", ""))
    if errors:
        raise InvalidInput(errors)
    if not labels:
        why = "has no data rows" if not omitted else "has no row without a missing value"
        raise InvalidInput(FieldError("", why, name))
    arrays = {c: np.asarray(v, float) for c, v in data.items()}
    try:
        eff = escalc(m, **arrays)  # type: ignore[arg-type]
    except Exception as exc:  # pragma: no cover - validated above
        raise InvalidInput(FieldError("", str(exc), name)) from None
    if not (np.all(np.isfinite(eff.yi)) and np.all(np.isfinite(eff.vi)) and np.all(eff.vi > 0)):
        bad = [
            labels[j] for j in range(len(labels)) if not (np.isfinite(eff.yi[j]) and eff.vi[j] > 0)
        ]
        raise InvalidInput(
            FieldError(
                "", f"measure {m} is not defined for study {', '.join(bad)} (zero variance?)", name
            )
        )
    has_groups = "subgroup" in header
    return MetaforData(eff, labels, years, groups if has_groups else None, cols, omitted)


# ---------------------------------------------------------------- vertebro rows -> effects
def effects_from_studies(rows: Iterable[StudyRow], measure: str) -> tuple[Effects, list[StudyRow]]:
    """Effects from vertebro-format rows: events/denominator for PR, PLO, PAS, PFT; mean, sd and
    n for MN; estimate with its 95% CI (on the reported scale) for GEN. Rows without the needed
    cells are skipped; the rows used are returned with the effects."""
    m = measure.upper()
    used: list[StudyRow] = []
    if m in ("PR", "PLO", "PAS", "PFT"):
        used = [r for r in rows if r.events is not None and r.denominator is not None]
        if not used:
            raise InvalidInput.field("--measure", f"{m} needs rows with events and denominator")
        eff = escalc(
            m,
            xi=np.array([r.events for r in used], float),
            ni=np.array([r.denominator for r in used], float),
        )
        return eff, used
    if m == "MN":
        used = [r for r in rows if r.mean is not None and r.sd is not None and r.n is not None]
        if not used:
            raise InvalidInput.field("--measure", "MN needs rows with mean, sd and n")
        eff = escalc(
            "MN",
            mi=np.array([r.mean for r in used], float),
            sdi=np.array([r.sd for r in used], float),
            ni=np.array([r.n for r in used], float),
        )
        return eff, used
    if m == "GEN":
        used = [
            r
            for r in rows
            if r.estimate is not None and r.ci_lower is not None and r.ci_upper is not None
        ]
        if not used:
            raise InvalidInput.field(
                "--measure", "GEN needs rows with estimate, ci_lower, ci_upper"
            )
        sei = [(r.ci_upper - r.ci_lower) / (2 * 1.959963984540054) for r in used]  # type: ignore[operator]
        return escalc("GEN", yi=np.array([r.estimate for r in used], float), sei=sei), used
    raise InvalidInput.field(
        "--measure",
        f"{m} needs two-arm data; use a metafor-style CSV (ai,bi,ci,di or m1i,sd1i,n1i,...)",
    )
