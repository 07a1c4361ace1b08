"""The audit as text for a quality lead: one short block per group, no wide tables, so that it
reads at 60 columns as well as at 80; every threshold and reference names its source, and the
report ends with the decision-support notice every vertebro output carries."""

from __future__ import annotations

import textwrap

from vertebro._format import interval, percent
from vertebro.assess import NOTICE

from ._audit import AuditReport, Estimate, GroupAudit
from ._stats import FunnelLimits

__all__ = ["render_text"]

# Sorensen-SpineJ-2019's abbreviations, as `vertebro registry summary` uses them
_SHORT = {"vertebroplasty": "PVP", "kyphoplasty": "KP"}
_LABEL = 11  # width of the labels in a group block


def _pct(x: float) -> str:
    return percent(100 * x)


def _ci(e: Estimate) -> str:  # one interval style in every report (vertebro._format)
    return f"95% CI {interval(100 * e.ci95[0], 100 * e.ci95[1])}"


def _thr(x: float) -> str:
    return f"{100 * x:g}%"


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


class _Out:
    def __init__(self, width: int) -> None:
        self.width = max(40, width)
        self.lines: list[str] = []

    def para(self, text: str, indent: str = "", first: str | None = None) -> None:
        self.lines.extend(
            textwrap.wrap(
                " ".join(text.split()),
                self.width,
                initial_indent=indent if first is None else first,
                subsequent_indent=indent,
                break_on_hyphens=False,
            )
        )

    def field(self, label: str, text: str) -> None:
        self.para(text, indent=" " * (_LABEL + 2), first=f"  {label:<{_LABEL}}")

    def blank(self) -> None:
        self.lines.append("")


def _name(g: GroupAudit) -> str:
    return f"{_SHORT[g.group]} ({g.group})" if g.group in _SHORT else f"site {g.group}"


def _title(g: GroupAudit) -> str:
    if g.group == "all":
        return f"All procedures you may see: {g.n}"
    name = _name(g)
    return f"{name[0].upper()}{name[1:]}: {g.n} procedure{'s' if g.n != 1 else ''}"


def _glance(report: AuditReport) -> str:
    """One line naming the groups that need a look, so a long report is not needed to find
    them."""
    # the whole cohort first: it can be in alert when no single site is (3 x 14/100)
    groups = (report.cohort, *report.groups)

    def name(g: GroupAudit) -> str:
        return "all procedures" if g is report.cohort else _name(g)

    named = {
        st: [name(g) for g in groups if g.known and g.known.status == st]
        for st in ("alert", "alarm")
    }
    shaky = [
        name(g) for g in groups if g.known and g.possible and g.known.status != g.possible.status
    ]
    text = (
        f"Alarm: {', '.join(named['alarm']) or 'none'}. "
        f"Alert: {', '.join(named['alert']) or 'none'}."
    )
    if shaky:
        text += f" Could change with the unknown complications: {', '.join(shaky)}."
    return text


def _from(events: int | None, n: int) -> str:
    return "never at this n" if events is None else f"from {events} events ({_pct(events / n)})"


def _limits(lim: FunnelLimits) -> str:
    """The counts that are flagged (exact tail), then the drawn (interpolated) limits."""
    return (
        f"alert {_from(lim.alert_events, lim.n)}, alarm {_from(lim.alarm_events, lim.n)}; "
        f"funnel lines at {_pct(lim.upper_alert)} and {_pct(lim.upper_alarm)}"
    )


def _group(out: _Out, g: GroupAudit, threshold: float, source: str) -> None:
    out.para(_title(g))
    assert g.known is not None and g.possible is not None and g.limits is not None
    k, m = g.known, g.possible
    if g.events_unknown:
        out.field(
            "events",
            f"{k.events} known, up to {m.events} ({g.events_unknown} "
            "with complications of unknown status)",
        )
        out.field("rate", f"{_pct(k.rate)} ({_ci(k)}), up to {_pct(m.rate)} ({_ci(m)})")
        out.field(
            f"vs {_thr(threshold)}",
            f"{_p(k.p_value)}, up to {_p(m.p_value)} (one-sided exact, {source})",
        )
    else:
        out.field("events", str(k.events))
        out.field("rate", f"{_pct(k.rate)} ({_ci(k)})")
        out.field(f"vs {_thr(threshold)}", f"{_p(k.p_value)} (one-sided exact, {source})")
    out.field("limits", _limits(g.limits))
    status = (
        f"{k.status.upper()}: review local practice ({source})"
        if k.status != "within"
        else "within limits"
    )
    if k.rate > threshold and k.status == "within":
        status += f" (above {_thr(threshold)}, but within what chance allows at this n)"
    if m.status != k.status:
        status += f"; {m.status} if every unknown were an event"
    out.field("status", status)
    if g.no_follow_up:
        out.field(
            "follow-up",
            f"none recorded after {g.no_follow_up} of {g.n} "
            "procedures: complications after discharge may be missed",
        )
    if g.reference is not None:
        r = g.reference
        out.field(
            "reference",
            f"symptomatic complications {r.events}/{r.n} "
            f"({_pct(r.rate)}) of patients, {r.source.seed} (not a threshold)",
        )
    out.blank()


def render_text(report: AuditReport, width: int = 80) -> str:
    """The audit as plain text wrapped to ``width`` columns."""
    th = report.thresholds
    t = th.threshold
    out = _Out(width)
    out.para("Quality audit: clinically evident complications")
    out.para(
        f"Threshold: {_thr(t.rate)} for {t.population} fractures ({t.source}); unit: procedure.",
        indent="  ",
        first="",
    )
    out.blank()
    if report.cohort.n == 0:
        out.para("No procedures recorded that you may see: nothing to audit.")
        out.blank()
        out.para(NOTICE)
        return "\n".join(out.lines) + "\n"

    out.para(_glance(report))
    out.blank()
    _group(out, report.cohort, t.rate, t.source.seed)
    if len(report.groups) > 1 or (report.groups and report.by == "technique"):
        out.para(f"By {report.by}")
        out.blank()
        for g in report.groups:
            _group(out, g, t.rate, t.source.seed)

    out.para("Cement leakage (reference rates, not thresholds)")
    for lk in report.leakage:
        text = (
            f"{lk.events} of {lk.n} procedures, {_pct(lk.rate)} "
            f"(95% CI {interval(100 * lk.ci95[0], 100 * lk.ci95[1])})"
        )
        if lk.reference is not None:
            text += (
                f"; {lk.reference.source.seed}: {lk.reference.percent:g}% of {lk.reference.unit}s"
            )
        out.field(_SHORT.get(lk.technique, lk.technique), text)
    out.blank()

    rule = th.counting_rule
    out.para("What is counted")
    out.para(rule.says, indent="  ")
    out.para(f"Why: {rule.why}", indent="  ")
    out.blank()
    out.para("How to read it")
    out.para(th.control_limits.says, indent="  ")
    out.para(
        "Procedures with no follow-up recorded may hide complications: a low rate "
        "there may be low ascertainment.",
        indent="  ",
    )
    out.blank()
    out.para("Sources")
    refs: dict[str, list[str]] = {}
    for r in th.references:
        what = r.measure.replace("_", " ")
        if what not in refs.setdefault(str(r.source), []):
            refs[str(r.source)].append(what)
    for line in (
        f"Threshold: {t.source} ({_thr(t.rate)}, {t.population} fractures).",
        f"Counting rule: {rule.citation}",
        f"Control limits: {th.control_limits.citation}",
        "Interval: Clopper CJ, Pearson ES. Biometrika 1934;26(4):404-13.",
        *(
            f"Reference rates, not thresholds: {src} ({', '.join(what)})."
            for src, what in refs.items()
        ),
    ):
        out.para(line, indent="    ", first="  - ")
    out.blank()
    out.para(NOTICE)
    return "\n".join(out.lines) + "\n"
