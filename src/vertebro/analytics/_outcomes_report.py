"""The outcomes report as text for a clinician or registry lead: per technique, a completeness
table, then per measure three small tables (change from baseline, MCID responders, mean beside
the published pooled mean). Tables are at most 58 characters wide, so the report reads at 60
columns as well as at 80; prose wraps to the width. Every reference names its source, and the
report ends with the decision-support notice every vertebro output carries."""

from __future__ import annotations

from vertebro._format import interval, number
from vertebro.assess import NOTICE

from ._outcomes import SELECTION, IntervalOutcome, MeasureOutcome, OutcomesReport, TechniqueOutcomes
from ._paired import EXACT_MAX_N, MeanCI
from ._pooled import SORENSEN_SOURCE
from ._report import _Out

__all__ = ["render_outcomes_text"]

_SHORT = {"vertebroplasty": "PVP", "kyphoplasty": "KP"}
_SHORT_MEASURE = {"nrs": "NRS", "odi": "ODI", "kps": "KPS"}
_IV = 12  # width of the interval column: "preoperative"


def _num(x: float, signed: bool = False) -> str:
    return number(x, signed=signed)


def _ci(ci: tuple[float, float] | None, signed: bool = False) -> str:
    # the column says "mean (95% CI)": the interval in the one style (vertebro._format)
    if ci is None:
        return "(no CI)"
    return f"({interval(ci[0], ci[1])})"


def _p(p: float | None) -> str:
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _row(interval: str, n: int, *cells: str) -> str:
    return f"  {interval:<{_IV}} {n:>4}  " + "  ".join(cells)


def _mean_cell(m: MeanCI) -> str:
    return f"{_num(m.mean)} {_ci(m.ci95)}"


def _completeness(out: _Out, t: TechniqueOutcomes) -> None:
    out.para("Completeness (patients; nothing imputed)", indent="  ")
    out.lines.append(
        f"  {'interval':<{_IV}} {'seen':>5} {'NRS':>5} {'ODI':>5} {'KPS':>5}  died by then"
    )
    for c in t.completeness:
        out.lines.append(
            f"  {c.label:<{_IV}} {c.seen:>5} {c.recorded['nrs']:>5} {c.recorded['odi']:>5} "
            f"{c.recorded['kps']:>5}  {c.died:>12}"
        )
    out.para(
        "preoperative: patients with a baseline; other rows: patients seen (a death notice is "
        "not a visit) and with each measure recorded in that interval.",
        indent="  ",
    )
    out.blank()


def _change_table(out: _Out, m: MeasureOutcome) -> bool:
    """Returns whether an exact p-value was shown (for the footnote)."""
    out.para("Change from baseline (follow-up minus baseline)", indent="  ")
    out.lines.append(f"  {'interval':<{_IV}} {'n':>4}  {'mean (95% CI)':<20}  {'median':>6}  p")
    exact = False
    for iv in m.intervals:
        c = iv.change
        if c is None:
            out.lines.append(_row(iv.label, 0, "-"))
            continue
        mark = ""
        if c.wilcoxon.method == "exact":
            mark, exact = "*", True
        cell = f"{_num(c.mean, True)} {_ci(c.ci95, True)}"
        out.lines.append(
            _row(
                iv.label,
                c.n,
                f"{cell:<20}",
                f"{_num(c.median, True):>6}",
                _p(c.wilcoxon.p_value) + mark,
            )
        )
    return exact


def _responder_table(out: _Out, m: MeasureOutcome) -> None:
    out.para(f"Reached the MCID ({m.mcid_text})", indent="  ")
    out.lines.append(f"  {'interval':<{_IV}} {'n':>4}  {'reached':>7}  % (95% CI)")
    for iv in m.intervals:
        r = iv.responders
        if r is None:
            out.lines.append(_row(iv.label, 0, "-"))
            continue
        ci = f"({interval(100 * r.ci95[0], 100 * r.ci95[1])})"
        out.lines.append(_row(iv.label, r.n, f"{r.events:>7}", f"{100 * r.proportion:.1f} {ci}"))


def _reference_cell(iv: IntervalOutcome) -> str:
    r = iv.reference
    return "-" if r is None else f"{r.mean:.2f} ({r.n})"


def _level_table(out: _Out, m: MeasureOutcome) -> None:
    out.para(f"Mean at the interval, beside {SORENSEN_SOURCE} (reference)", indent="  ")
    out.lines.append(f"  {'interval':<{_IV}} {'n':>4}  {'mean (95% CI)':<18}  Sorensen (N)")
    for iv in m.intervals:
        if iv.level is None:
            out.lines.append(_row(iv.label, 0, f"{'-':<18}", _reference_cell(iv)))
        else:
            out.lines.append(
                _row(iv.label, iv.level.n, f"{_mean_cell(iv.level):<18}", _reference_cell(iv))
            )


def _measure(out: _Out, m: MeasureOutcome, technique: str) -> bool:
    better = "lower" if m.lower_is_better else "higher"
    out.para(f"{m.label}, {better} is better", indent="  ")
    base = (
        "no baseline recorded"
        if m.baseline is None
        else (f"mean {_mean_cell(m.baseline)}, n {m.baseline.n}")
    )
    ref = m.baseline_reference
    text = f"Baseline: {base}"
    if ref is not None:
        pooled = "" if ref.pooled_over == technique else f", {ref.pooled_over} pooled"
        text += f"; {SORENSEN_SOURCE.split(',')[0]}: {ref.mean:.2f} (N {ref.n}{pooled}), reference"
    out.para(text + ".", indent="    ", first="  ")
    out.blank()
    exact = _change_table(out, m)
    out.blank()
    _responder_table(out, m)
    out.blank()
    _level_table(out, m)
    out.blank()
    return exact


def _title(t: TechniqueOutcomes) -> str:
    plural = "s" if t.patients != 1 else ""
    return f"{_SHORT[t.technique]} ({t.technique}): {t.patients} patient{plural}"


def render_outcomes_text(report: OutcomesReport, width: int = 80) -> str:
    """The outcomes report as plain text wrapped to ``width`` columns (60 and up)."""
    out = _Out(width)
    out.para("Outcomes report: change from the preoperative baseline")
    out.para(
        "NRS, ODI and KPS by technique and follow-up interval (Sorensen-SpineJ-2019 "
        "intervals); unit: patient (index procedure).",
        indent="  ",
        first="  ",
    )
    out.blank()
    if report.patients == 0:
        out.para("No patients recorded that you may see: nothing to report.")
        out.blank()
        out.para(NOTICE)
        return "\n".join(out.lines) + "\n"

    later = (
        f"; {report.later_procedures} later procedure"
        f"{'s' if report.later_procedures != 1 else ''} of the same patients not analysed"
        if report.later_procedures
        else ""
    )
    out.para(f"Patients you may see: {report.patients}{later}.")
    out.blank()
    exact = False
    for t in report.techniques:
        out.para(_title(t))
        out.blank()
        _completeness(out, t)
        for m in t.measures:
            exact = _measure(out, m, t.technique) or exact

    out.para("How to read it")
    for line in (
        SELECTION["change"],
        "p: two-sided Wilcoxon signed-rank test of the change, zero changes dropped, tied "
        "changes given their mean rank"
        + (
            f"; * exact (at most {EXACT_MAX_N} changes: every sign pattern of the ranks "
            "counted, ties included)"
            if exact
            else f"; exact only with at most {EXACT_MAX_N} changes"
        )
        + f"; above {EXACT_MAX_N}, normal approximation with tie correction, no continuity "
        "correction.",
        "CI: 95%, Student t for means; exact (Clopper-Pearson) for the share reaching the "
        "MCID (minimal clinically important difference).",
        f"Reference: {SORENSEN_SOURCE} pooled study means weighted by N, from other cohorts "
        "and other follow-up times within each interval: context, not a target. KPS is pooled "
        "over PVP and KP; pain was VAS 0-10.",
        f"Unit: {SELECTION['unit']} {SELECTION['unit_why']}",
        f"Baseline: {SELECTION['baseline']}",
        f"Follow-up: {SELECTION['follow_up']} {SELECTION['follow_up_why']}",
        f"Missing: {SELECTION['missing']}",
    ):
        out.para(line, indent="    ", first="  - ")
    out.blank()

    out.para("Sources")
    mcid_sources: dict[str, list[str]] = {}
    for m in report.techniques[0].measures if report.techniques else ():
        mcid_sources.setdefault(m.mcid.citation, []).append(_SHORT_MEASURE[m.measure])
    for line in (
        f"Intervals and pooled means: {SORENSEN_SOURCE} (via the curated evidence dataset, "
        "vertebro/evidence/data/studies.csv).",
        *(f"MCID, {' and '.join(measures)}: {cite}" for cite, measures in mcid_sources.items()),
        "Wilcoxon F. Individual comparisons by ranking methods. Biometrics Bulletin "
        "1945;1(6):80-3.",
        "Clopper CJ, Pearson ES. Biometrika 1934;26(4):404-13.",
    ):
        out.para(line, indent="    ", first="  - ")
    out.blank()
    out.para(NOTICE)
    return "\n".join(out.lines) + "\n"
