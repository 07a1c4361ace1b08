"""The text report: what a tumour board reads on one screen, narrowest terminal first.

Disposition first, then what is missing, the patient (performance status, patient flags), the
plan per level, sessions, actions, why (rule statements with their sources), expected
outcomes, evidence and the decision-support notice. No wide tables: each level is a short
block, so the report reads on a 60-column terminal. What to say is decided in ``_view.py``
(shared with the web page); this module only lays it out with rich.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ._view import NOTES_CAPTION, LevelView, ReportView, report_view

__all__ = ["render_text", "report_renderable"]

_STYLE = {
    "candidate": "bold green",
    "refer_surgery": "bold red",
    "contraindicated": "bold red",
    "not_indicated": "bold yellow",
    "incomplete": "bold yellow",
}
_STATUS_STYLE = {"treat": "bold green", "offer": "cyan", "": ""}


def _heading(title: str) -> Text:
    return Text(title.upper(), style="bold underline")


def _bullets(lines: list[Text]) -> RenderableType:
    # A two-column grid gives wrapped lines a hanging indent under their bullet.
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=2, justify="right")
    grid.add_column(ratio=1)
    for line in lines:
        grid.add_row("•", line)
    return grid


def _level_rows(levels: tuple[LevelView, ...]) -> RenderableType:
    # A grid keeps each level's details aligned under its text, however narrow the terminal.
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=4, style="bold")
    grid.add_column(ratio=1)
    for lv in levels:
        head = Text(f"{lv.role} · ")
        head.append(lv.status, style=_STATUS_STYLE[lv.status_kind])
        if lv.plan is not None:
            head.append(f" · {lv.plan}")
        if lv.sins is not None:
            head.append(f"\n{lv.sins}")
        if lv.genant is not None:
            head.append(f" · {lv.genant}")
        for flag in lv.flags:
            head.append(f"\n! {flag}", style="yellow")
        grid.add_row(lv.level, head)
    return grid


def _patient(view: ReportView) -> list[Text]:
    lines: list[Text] = []
    ps = view.performance
    if ps is not None:
        line = Text("performance status: ")
        if ps.text is None:
            line.append("not given (KPS or ECOG)", style="yellow")
        else:
            line.append(ps.text)
        if ps.table is not None:
            line.append(f"\n{ps.table}", "dim")
        lines.append(line)
        if ps.warning:
            lines.append(Text(f"! {ps.warning}", style="yellow"))
    lines += [Text(flag, style="yellow") for flag in view.patient_flags]
    return lines


def _noms_block(view: ReportView) -> list[RenderableType]:
    """NOMS (issue 14): one labelled line each, then the scores and what the rules read."""
    n = view.noms
    assert n is not None
    out: list[RenderableType] = [Text(""), _heading("NOMS: radiotherapy and surgery")]
    out.append(_bullets([Text.assemble((f"{label}: ", "bold"), text) for label, text in n.rows]))
    out.append(Padding(Text(n.estimate_caption, style="dim"), (0, 0, 0, 1)))
    out.append(_bullets([Text(s) for s in n.scores] + [Text(r, style="dim") for r in n.rules]))
    out.append(Padding(Text(n.source, style="dim"), (0, 0, 0, 1)))
    return out


def report_renderable(result: Mapping[str, Any]) -> RenderableType:
    view = report_view(result)
    out: list[RenderableType] = []

    title = Text("vertebro · ", style="dim")
    title.append("decision support, not a decision", style="dim italic")
    out.append(title)
    line = Text("DISPOSITION: ", style="bold")
    line.append(view.disposition_label, style=_STYLE[view.disposition])
    out.append(line)
    # Indented lines are padded, so that wrapped text keeps the indent on a narrow terminal.
    out.append(Padding(Text(f"{view.meaning} (guideline {view.guideline})"), (0, 0, 0, 2)))
    verdicts = Text("guidelines: ")
    for j, (g, v) in enumerate(view.verdicts):
        if j:
            verdicts.append(" · ")
        verdicts.append(f"{g} ")
        verdicts.append(v, style=_STYLE[v].replace("bold ", ""))
    out.append(Padding(verdicts, (0, 0, 0, 2)))
    if view.readings:
        out.append(Text("  this answer rests on a reading of its source:", style="yellow"))
        for r in view.readings:
            out.append(Padding(Text(r, style="yellow"), (0, 0, 0, 4)))
    if view.disagreements:
        out.append(Text("  the guidelines disagree:", style="yellow"))
        for d in view.disagreements:
            out.append(
                Padding(Text(f"{d.guideline} {d.verdict}: {d.why}", style="yellow"), (0, 0, 0, 4))
            )

    if view.missing:
        out += [Text(""), _heading("Missing: could change the answer")]
        out.append(
            _bullets(
                [Text.assemble((label, "bold yellow"), f": {why}") for label, why in view.missing]
            )
        )

    if view.has_patient:
        out += [Text(""), _heading("Patient"), _bullets(_patient(view))]

    out += [Text(""), _heading("Plan per level")]
    out.append(_level_rows(view.levels) if view.levels else Text(" no levels given"))
    if view.sessions:
        sess = Text(" sessions: ")
        for j, s in enumerate(view.sessions, 1):
            sess.append(
                f"{'  ' if j > 1 else ''}{j}) "
                + ", ".join(x + ("*" if offered else "") for x, offered in s)
            )
        if view.any_offered:
            sess.append("   (* optional)", style="dim")
        out.append(sess)
    if view.offers_without_session:
        out.append(
            Padding(
                Text(
                    f"offered, no room in these sessions: {', '.join(view.offers_without_session)}",
                    style="dim",
                ),
                (0, 0, 0, 1),
            )
        )

    if view.noms is not None:
        out += _noms_block(view)

    if view.actions:
        out += [Text(""), _heading("Actions")]
        out.append(
            _bullets(
                [
                    Text.assemble(
                        a.label,
                        (f" ({', '.join(a.levels)})" if a.levels else ""),
                        (f"  [{a.rule}]", "dim"),
                    )
                    for a in view.actions
                ]
            )
        )

    if view.why:
        out += [Text(""), _heading("Why")]
        lines = []
        for w in view.why:
            where = f"{', '.join(w.levels)}: " if w.levels else ""
            t = Text.assemble((f"[{w.source}] ", "cyan"), where, w.text)
            for failed in w.failed:
                t.append(f" {failed}", style="yellow")
            t.append(f"  ({w.rule})", style="dim")
            lines.append(t)
        out.append(_bullets(lines))

    if view.notes:
        out += [Text(""), _heading(f"Unknown, not changing the {view.guideline} answer")]
        out.append(Padding(Text(NOTES_CAPTION, style="dim"), (0, 0, 0, 1)))
        out.append(
            _bullets([Text.assemble((n.field, "bold"), f" → {n.affects}") for n in view.notes])
        )

    for o in view.outcomes:
        out += [Text(""), _heading(f"Expected outcomes: {o.technique}")]
        out.append(Padding(Text(o.caption, style="dim"), (0, 0, 0, 1)))
        out.append(_bullets([Text(x) for x in o.lines]))

    if view.evidence:
        out += [Text(""), _heading("Evidence")]
        out.append(
            _bullets(
                [
                    Text.assemble((e.grade, "bold"), f" ({e.source}): {e.statement}")
                    for e in view.evidence
                ]
            )
        )

    out += [
        Text(""),
        Text(f"rulebook {view.rulebook_version} · engine {view.engine_version}", style="dim"),
    ]
    out.append(Text(view.notice, style="italic"))
    return Group(*out)


def render_text(result: Mapping[str, Any], width: int | None = None, color: bool = False) -> str:
    """Render an assessment as text (plain by default) at the given width."""
    console = Console(
        width=width or 80,
        record=True,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        file=io.StringIO(),
    )
    console.print(report_renderable(result))
    return (
        "\n".join(line.rstrip() for line in console.export_text(styles=color).splitlines()) + "\n"
    )
