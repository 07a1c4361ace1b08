"""A patient's outcomes over time as inline SVG, drawn on the server (no script needed).

Three small panels on one time axis, one per measure, each on its own fixed scale so that
panels of different patients compare at a glance: pain NRS 0-10 (lower is better), ODI
0-100 % (lower is better) and KPS 0-100 (higher is better). Time is days from the patient's
first procedure (day 0), the same axis for researchers, who see no dates. Every point carries
its value in a ``<title>`` (a tooltip) and the page shows the same numbers as a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["MEASURES", "Measure", "Point", "outcome_chart"]


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    lo: float
    hi: float
    ticks: tuple[float, ...]
    better: str  # "lower" or "higher"
    colour: str


#: The measures drawn, in panel order (ranges: vertebro.scores, DESIGN.md section 5).
MEASURES: tuple[Measure, ...] = (
    Measure("nrs", "Pain NRS", 0, 10, (0, 5, 10), "lower", "#b3261e"),
    Measure("odi", "ODI %", 0, 100, (0, 50, 100), "lower", "#0b5f7a"),
    Measure("kps", "KPS", 0, 100, (0, 50, 100), "higher", "#1e7b34"),
)


@dataclass(frozen=True)
class Point:
    """One follow-up: its day from the first procedure and the scores recorded."""

    day: int
    values: dict[str, float | None]
    label: str  # the date (or "day N") shown in tooltips


_LEFT, _RIGHT = 96, 16
_PANEL, _GAP, _TOP, _AXIS = 92, 22, 10, 34
#: the chart's width for a desktop page and for a phone (drawn at scale 1 there, so that its
#: text stays readable; the page shows one or the other by CSS, no script)
WIDE, NARROW = 640, 360


def _nice_step(span: float, max_ticks: int) -> int:
    for step in (7, 14, 28, 56, 91, 182, 365, 730):
        if span / step <= max_ticks:
            return step
    return 1461


def _day_label(day: int, step: int) -> str:
    if step < 28:
        return f"{day // 7} wk" if day else "0"
    if step < 365:
        return f"{round(day / 30.44)} mo" if day else "0"
    return f"{day / 365.25:g} y" if day else "0"


def outcome_chart(points: Sequence[Point], *, procedure_days: Sequence[int] = (0,),
                  title: str = "Outcomes over time", width: int = WIDE,
                  css_class: str = "chart") -> Markup | None:
    """The chart as an ``<svg>`` element ``width`` units wide, or ``None`` when no point has
    any score."""
    shown = [m for m in MEASURES if any(p.values.get(m.key) is not None for p in points)]
    if not shown:
        return None
    days = [*(p.day for p in points), *procedure_days]
    lo_day, hi_day = min(*days, 0), max(*days, 28)
    pad = max(3.0, (hi_day - lo_day) * 0.04)
    d0, d1 = lo_day - pad, hi_day + pad
    plot_w = width - _LEFT - _RIGHT
    height = _TOP + len(shown) * (_PANEL + _GAP) - _GAP + _AXIS

    def x(day: float) -> float:
        return _LEFT + (day - d0) / (d1 - d0) * plot_w

    parts: list[str] = []
    add = parts.append
    for i, m in enumerate(shown):
        top = _TOP + i * (_PANEL + _GAP)

        def y(v: float, m: Measure = m, top: int = top) -> float:
            return top + (m.hi - v) / (m.hi - m.lo) * _PANEL

        add(f'<g class="panel" aria-label="{escape(m.label)}">')
        add(f'<rect x="{_LEFT}" y="{top}" width="{plot_w}" height="{_PANEL}" fill="#fafafa" '
            'stroke="#d0d0d0"/>')
        for t in m.ticks:
            add(f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
                'stroke="#e4e4e4"/>')
            add(f'<text x="{_LEFT - 5}" y="{y(t) + 4:.1f}" text-anchor="end" '
                f'font-size="11" fill="#5a5a5a">{t:g}</text>')
        add(f'<text x="4" y="{top + 14}" font-size="12" font-weight="700" '
            f'fill="{m.colour}">{escape(m.label)}</text>')
        add(f'<text x="4" y="{top + 29}" font-size="10" fill="#5a5a5a">{m.better} is</text>')
        add(f'<text x="4" y="{top + 41}" font-size="10" fill="#5a5a5a">better</text>')
        for d in procedure_days:
            add(f'<line x1="{x(d):.1f}" x2="{x(d):.1f}" y1="{top}" y2="{top + _PANEL}" '
                'stroke="#1a1a1a" stroke-dasharray="3 3"/>')
        pts = [(p, p.values[m.key]) for p in sorted(points, key=lambda p: p.day)
               if p.values.get(m.key) is not None]
        if len(pts) > 1:
            path = " ".join(f"{x(p.day):.1f},{y(v):.1f}" for p, v in pts if v is not None)
            add(f'<polyline points="{path}" fill="none" stroke="{m.colour}" '
                'stroke-width="2"/>')
        for p, v in pts:
            assert v is not None
            add(f'<circle cx="{x(p.day):.1f}" cy="{y(v):.1f}" r="4" fill="{m.colour}">'
                f'<title>{escape(m.label)} {v:g} on {escape(p.label)}</title></circle>')
        add("</g>")
    base = _TOP + len(shown) * (_PANEL + _GAP) - _GAP
    step = _nice_step(d1 - d0, max(3, plot_w // 70))
    first = int((lo_day // step) * step)
    for t in range(first, int(d1) + 1, step):
        if t < d0:
            continue
        add(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{base}" y2="{base + 4}" '
            'stroke="#5a5a5a"/>')
        add(f'<text x="{x(t):.1f}" y="{base + 16}" text-anchor="middle" font-size="11" '
            f'fill="#5a5a5a">{_day_label(t, step)}</text>')
    add(f'<text x="{_LEFT + plot_w}" y="{base + 31}" text-anchor="end" font-size="11" '
        'fill="#5a5a5a">time from the first procedure (dashed)</text>')
    desc = "; ".join(
        f"{m.label}: " + ", ".join(f"{p.values[m.key]:g} ({p.label})" for p in points
                                   if p.values.get(m.key) is not None) for m in shown)
    ids = f"chart-{width}"
    return Markup(
        f'<svg class="{escape(css_class)}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-labelledby="{ids}-title {ids}-desc" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif">'
        f'<title id="{ids}-title">{escape(title)}</title>'
        f'<desc id="{ids}-desc">{escape(desc)}</desc>' + "".join(parts) + "</svg>")
