"""The comparative-effectiveness report as text: cohort and exclusions, the propensity model
and its weights, balance before and after, then per measure the change from baseline by
interval (unadjusted beside IPTW-adjusted), then survival and new fractures with numbers at
risk. Tables are at most 58 characters wide (reads at 60 columns); prose wraps."""

from __future__ import annotations

from vertebro.assess import NOTICE
from vertebro.registry.vocab import INTERVAL_LABELS

from ._compare import CompareReport, Difference, SurvivalComparison
from ._report import _Out

__all__ = ["render_compare_text"]

_MEASURE = {"nrs": "NRS pain (0-10)", "odi": "ODI (%)", "kps": "KPS"}
_OUTCOME = {"survival": "Survival", "new_fracture": "Free of a recorded new fracture"}


def _d(x: Difference | None) -> str:
    if x is None:
        return "-"
    lo, hi = x.ci95
    return f"{x.estimate:+.1f} [{lo:.1f}, {hi:.1f}]"


def _p(x: Difference | None) -> str:
    if x is None or x.p != x.p:
        return "-"
    return "<0.001" if x.p < 0.001 else f"{x.p:.3f}"


def _survival(out: _Out, comp: SurvivalComparison, days: list[int]) -> None:
    title = f"{_OUTCOME[comp.outcome]} by {comp.by}"
    if comp.logrank_p is not None:
        title += f" (log-rank p={comp.logrank_p:.3f})"
    out.para(title, indent="  ")
    if not comp.curves:
        out.para("no follow-up time recorded", indent="    ")
        return
    out.lines.append("    " + f"{'at risk, day':<16}" + "".join(f"{d:>6}" for d in days))
    for c in comp.curves:
        out.lines.append("    " + f"{c.group[:16]:<16}" + "".join(f"{n:>6}" for _, n in c.at_risk))
    for c in comp.curves:
        median = f"{c.median_days:.0f} days" if c.median_days is not None else "not reached"
        out.para(f"{c.group}: n={c.n}, events {c.events}, median {median}", indent="    ")
    if comp.left_out:
        out.para(f"left out: {comp.left_out} (no time after the procedure"
                 + (" or no band" if comp.by == "band" else "") + ")", indent="    ")


def _step(times: tuple[float, ...], values: tuple[float, ...], day: int, start: float) -> float:
    """A step function's value by ``day`` (its last step at or before it)."""
    seen = [v for t, v in zip(times, values, strict=True) if t <= day]
    return seen[-1] if seen else start


def _incidence(out: _Out, report: CompareReport, days: list[int]) -> None:
    if not report.new_fracture_incidence:
        return
    km = {
        c.group: c
        for comp in report.survival
        if comp.outcome == "new_fracture" and comp.by == "technique"
        for c in comp.curves
    }
    out.para("New fracture by technique, death competing: cumulative incidence "
             "(Aalen-Johansen) beside 1 - Kaplan-Meier, %", indent="  ")
    out.lines.append("    " + f"{'day':<16}" + "".join(f"{d:>6}" for d in days))
    for c in report.new_fracture_incidence:
        out.lines.append("    " + c.group[:52])
        out.lines.append("    " + f"{'  Aalen-Johansen':<16}" + "".join(
            f"{100 * _step(c.times, c.incidence, d, 0.0):>6.1f}" for d in days))
        if c.group in km:
            k = km[c.group]
            out.lines.append("    " + f"{'  1 - KM':<16}" + "".join(
                f"{100 * (1 - _step(k.times, k.survival, d, 1.0)):>6.1f}" for d in days))
    for c in report.new_fracture_incidence:
        out.para(f"{c.group}: n={c.n}, new fractures {c.events}, deaths first {c.competing}",
                 indent="    ")


def _weights_and_balance(out: _Out, report: CompareReport) -> None:
    t, c = report.treated, report.control
    lo, hi = report.weight_bounds
    out.para(
        f"Weights: stabilised ATE, truncated at percentiles {report.trim_percentiles[0]:g} "
        f"and {report.trim_percentiles[1]:g} ({lo:.2f} and {hi:.2f}); "
        f"{report.trimmed} weights truncated; effective sample size "
        + ", ".join(f"{k} {v:.0f}" for k, v in report.effective_n.items()) + ".",
        indent="  ",
    )
    out.blank()
    out.para(f"Balance: standardised mean difference, {t} minus {c} "
             f"(|SMD| < {report.balance_threshold:g} balanced)", indent="  ")
    out.lines.append(f"  {'covariate':<34} {'before':>7} {'after':>7}")
    for b in report.balance:
        before = f"{b.smd_before:+.3f}" if b.smd_before == b.smd_before else "-"
        after = f"{b.smd_after:+.3f}" if b.smd_after == b.smd_after else "-"
        off = b.smd_after == b.smd_after and abs(b.smd_after) >= report.balance_threshold
        flag = " !" if off else ""
        out.lines.append(f"  {b.label[:34]:<34} {before:>7} {after:>7}{flag}")
    out.blank()


def render_compare_text(
    report: CompareReport, width: int = 80, days: list[int] | None = None
) -> str:
    out = _Out(width)
    days = days or [a for a, _ in (report.survival[0].curves[0].at_risk
                                   if report.survival and report.survival[0].curves else ())]
    t, c = report.treated, report.control
    out.para(f"Comparative effectiveness: {t} vs {c} (observational; adjusted by IPTW)")
    out.blank()
    out.para(
        f"Index procedures: {report.patients} with a technique"
        + (f" ({report.no_technique} without a treated level left out)"
           if report.no_technique else "")
        + f"; complete covariates for the propensity model: {report.adjusted_n}.",
        indent="  ",
    )
    if report.missing_covariates:
        out.para("Covariates not recorded (patients): " + ", ".join(
            f"{k} {v}" for k, v in report.missing_covariates.items()), indent="  ")
    if report.dropped_covariates:
        out.para("Constant in this cohort, left out of the model: "
                 + ", ".join(report.dropped_covariates), indent="  ")
    for n in report.notes:
        out.para(f"note: {n}", indent="  ")
    if report.adjusted_n:
        _weights_and_balance(out, report)
    else:
        out.blank()
    for measure in dict.fromkeys(e.measure for e in report.effects):
        out.para(f"{_MEASURE.get(measure, measure)}: change from baseline, {t} minus {c}",
                 indent="  ")
        out.lines.append(f"  {'interval':<10}{'n KP/VP':>8}  {'unadjusted':<19}{'IPTW'}")
        for e in report.effects:
            if e.measure != measure:
                continue
            out.lines.append(
                f"  {INTERVAL_LABELS.get(e.interval, e.interval):<10}"
                f"{f'{e.n_treated}/{e.n_control}':>8}  {_d(e.unadjusted):<19}{_d(e.adjusted)}"
            )
        out.blank()
    out.para("Differences with [95% CI] (robust HC1 errors); '-' where a technique has fewer "
             f"than {report.min_group} patients. For NRS and ODI a negative difference "
             "favours kyphoplasty; for KPS a positive one. Patients with the value at the "
             "interval and a baseline; nothing imputed.", indent="  ")
    out.blank()
    for comp in report.survival:
        _survival(out, comp, days)
        out.blank()
    if report.new_fracture_incidence:
        _incidence(out, report, days)
        out.blank()
    out.para("Kaplan-Meier from the index procedure. The new-fracture curve censors a patient "
             "at death, as if they could still fracture later, so 1 - Kaplan-Meier overstates "
             "the risk of a new fracture when patients die first; the Aalen-Johansen "
             "cumulative incidence counts death before a recorded fracture as a competing "
             "event. Methods: Rosenbaum & Rubin 1983; Austin & Stuart 2015; Cole & Hernan "
             "2008; Kaplan & Meier 1958; Aalen & Johansen 1978. An observational comparison: "
             "unmeasured confounding remains possible.", indent="  ")
    out.blank()
    out.para(NOTICE)
    return "\n".join(line.rstrip() for line in out.lines) + "\n"
