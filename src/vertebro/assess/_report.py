"""The text report: what a tumour board reads on one screen, narrowest terminal first.

Disposition first, then what is missing, the patient (performance status, patient flags), the
plan per level, sessions, actions, why (rule statements with their sources), expected
outcomes, evidence and the decision-support notice. No wide tables: each level is a short
block, so the report reads on a 60-column terminal.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from vertebro.scores import KPS_ECOG_TABLES
from vertebro.spine import VERTEBRAE, vertebra_index

from ._rulebook import Rulebook, default_rulebook

__all__ = ["render_text", "report_renderable"]

_STYLE = {
    "candidate": "bold green",
    "refer_surgery": "bold red",
    "contraindicated": "bold red",
    "not_indicated": "bold yellow",
    "incomplete": "bold yellow",
}
_MEANING = {
    "candidate": "candidate for vertebral augmentation",
    "refer_surgery": "refer for spine surgery / radiation oncology evaluation",
    "contraindicated": "augmentation contraindicated",
    "not_indicated": "no level meets the indication",
    "incomplete": "cannot answer yet: facts that could change the answer are missing",
}
_TREAT = {True: "TREAT", False: "not treated", None: "treat if confirmed"}


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


def _human(code: str) -> str:
    return code.replace("_", " ")


_LEVEL_FIELD = re.compile(r"levels\[(\d+)\]\.(.+)")
_VERTEBRAE = frozenset(VERTEBRAE)


def _split_affect(affect: str) -> tuple[str, str | None]:
    """An entry of ``notes[].affects`` as (what, vertebra): the engine writes ``<what>``,
    ``<what> at <vertebra>`` or ``treatment of <vertebra>``."""
    for sep in (" at ", " of "):
        what, found, where = affect.rpartition(sep)
        if found and where in _VERTEBRAE:
            return what, where
    return affect, None


def _affect_text(what: str, rb: Rulebook) -> str:
    """What an unknown would settle, in the rulebook's words (the JSON keeps the codes)."""
    if what in rb.flags:
        return f"flag: {rb.flags[what].label}"
    if what in rb.actions:
        return f"action: {rb.actions[what]}"
    if what.startswith("guidelines."):
        return f"{what.removeprefix('guidelines.')} verdict"
    if what == "disposition (contraindicated)":
        return "absolute contraindication"
    if what == "disposition (refer_surgery)":
        return "red flag (spine surgery / radiation oncology referral)"
    if what == "impending":
        return "offer as an impending level"
    if what == "intervening":
        return "offer of intervening levels"
    return _human(what)  # treatment, technique, approach, needle, plan


def _affects(affects: Iterable[str], rb: Rulebook, implied: set[str]) -> str:
    """One phrase per thing affected, its vertebrae merged; vertebrae already named on the
    field side (``implied``) are not repeated."""
    where: dict[str, list[str]] = {}
    for a in affects:
        what, level = _split_affect(a)
        levels = where.setdefault(what, [])
        if level is not None and level not in levels:
            levels.append(level)
    parts = []
    for what, levels in where.items():
        text = _affect_text(what, rb)
        if levels and set(levels) != implied:
            text += f" ({', '.join(levels)})"
        parts.append(text)
    return "; ".join(parts)


def _vertebra_of(result: Mapping[str, Any]) -> dict[int, str]:
    # Input levels come first in the output, in input order (intervening ones are appended).
    return {i: lv["level"] for i, lv in enumerate(result["levels"])}


def _field_groups(
    entries: list[Mapping[str, Any]],
    names: Mapping[int, str],
    key: Callable[[Mapping[str, Any]], Hashable] | None = None,
) -> list[tuple[str, set[str], list[Mapping[str, Any]]]]:
    """Entries of ``missing``/``notes`` with the same per-level field (and the same ``key``)
    as one line: ``fracture_age_weeks at T7 (levels[0]), T9 (levels[1])``. Each input path
    stays recoverable, so the team knows exactly what to go and find."""
    groups: dict[Hashable, tuple[str, list[tuple[int, str]], list[Mapping[str, Any]]]] = {}
    for e in entries:
        m = _LEVEL_FIELD.fullmatch(e["field"])
        if m is None or int(m[1]) not in names:
            groups[("field", e["field"], id(e))] = (e["field"], [], [e])
            continue
        i, attr = int(m[1]), m[2]
        g = groups.setdefault(("level", attr, key(e) if key else None), (attr, [], []))
        g[1].append((i, names[i]))
        g[2].append(e)
    out: list[tuple[str, set[str], list[Mapping[str, Any]]]] = []
    for attr, at, members in groups.values():
        if not at:
            out.append((attr, set(), members))
            continue
        where = ", ".join(f"{name} (levels[{i}])" for i, name in at)
        out.append((f"{attr} at {where}", {name for _, name in at}, members))
    return out


def _note_key(note: Mapping[str, Any], names: Mapping[int, str]) -> Hashable:
    """Notes merge across levels when they say the same thing about their own level."""
    m = _LEVEL_FIELD.fullmatch(note["field"])
    own = names.get(int(m[1])) if m else None
    stripped = []
    for a in note["affects"]:
        what, level = _split_affect(a)
        if level is not None and level != own:
            return ("distinct", id(note))  # it affects another level: keep it on its own line
        stripped.append(what if level is not None else ("patient", what))
    return (note["why"], tuple(note["rules"]), tuple(stripped))


def _level_rows(
    levels: list[Mapping[str, Any]], flag_labels: Mapping[str, str], provisional: bool
) -> RenderableType:
    # A grid keeps each level's details aligned under its text, however narrow the terminal.
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=4, style="bold")
    grid.add_column(ratio=1)
    for lv in levels:
        head = Text(f"{lv.get('role') or 'role unknown'} · ")
        if lv.get("offer"):
            head.append(f"offered ({lv['offer']}, optional)", style="cyan")
        else:
            label = _TREAT[lv["treat"]]
            if provisional and lv["treat"]:
                label = "TREAT if the missing facts allow"
            head.append(label, style="bold green" if lv["treat"] else "")
        if lv["treat"] is not False or lv.get("offer"):
            tech = lv.get("technique") or "technique undetermined"
            needle = lv.get("needle") and f"{lv['needle']} needle"
            extra = ", ".join(_human(x) for x in (lv.get("approach"), needle) if x)
            head.append(f" · {tech}" + (f", {extra}" if extra else ""))
        sins = lv.get("sins")
        if sins:
            if sins["total"] is not None:
                head.append(f"\nSINS {sins['total']} {sins['category']}")
            else:
                lo, hi = sins["range"]
                head.append(
                    f"\nSINS {lo}-{hi}" + (f" {sins['category']}" if sins["category"] else "")
                )
        if lv.get("genant_grade") is not None:
            head.append(f" · Genant {lv['genant_grade']} ({lv['height_loss_pct']:g}% height loss)")
        for f in lv.get("flags") or ():
            head.append(f"\n! {flag_labels.get(f, f)}", style="yellow")
        grid.add_row(lv["level"], head)
    return grid


def _performance(ps: Mapping[str, Any]) -> Text:
    """KPS and ECOG as entered; with ECOG alone, the KPS range the rules read and its table."""
    kps, ecog, used, table = ps["kps"], ps["ecog"], ps["kps_range_used"], ps["table"]
    line = Text("performance status: ")
    if kps is None and ecog is None:
        line.append("not given (KPS or ECOG)", style="yellow")
        return line
    line.append(" · ".join(f"{k} {v}" for k, v in (("KPS", kps), ("ECOG", ecog)) if v is not None))
    if kps is not None and ecog is not None:
        line.append(" (the rules use the KPS)")
    elif table is not None and used is not None:
        lo, hi = used
        line.append(" → read as KPS " + (f"{lo}-{hi}" if hi != lo else f"{lo}"))
        known = KPS_ECOG_TABLES.get(table)
        line.append(f"\nKPS-ECOG table {table}" + (f": {known.citation}" if known else ""), "dim")
    return line


def _series(block: Mapping[str, Any]) -> str:
    return " → ".join(f"{row['mean']:g}" for row in block["by_interval"])


def report_renderable(result: Mapping[str, Any]) -> RenderableType:
    rb = default_rulebook()
    flag_labels = {k: v.label for k, v in rb.flags.items()}
    names = _vertebra_of(result)
    disp = result["disposition"]
    out: list[RenderableType] = []

    title = Text("vertebro · ", style="dim")
    title.append("decision support, not a decision", style="dim italic")
    out.append(title)
    line = Text("DISPOSITION: ", style="bold")
    line.append(disp.upper().replace("_", " "), style=_STYLE[disp])
    out.append(line)
    # Indented lines are padded, so that wrapped text keeps the indent on a narrow terminal.
    out.append(Padding(Text(f"{_MEANING[disp]} (guideline {result['guideline']})"), (0, 0, 0, 2)))
    verdicts = Text("guidelines: ")
    for j, (g, v) in enumerate(result["guidelines"].items()):
        if j:
            verdicts.append(" · ")
        verdicts.append(f"{g} ")
        verdicts.append(v, style=_STYLE[v].replace("bold ", ""))
    out.append(Padding(verdicts, (0, 0, 0, 2)))
    if len(set(result["guidelines"].values())) > 1:
        out.append(Text("  the guidelines disagree:", style="yellow"))
        for g, v in result["guidelines"].items():
            if v == disp:
                continue
            needs = [
                label
                for label, _, _ in _field_groups(
                    [n for n in result["notes"] if f"guidelines.{g}" in n["affects"]], names
                )
            ]
            why = (
                f"needs {'; '.join(needs)}"
                if needs
                else f"its own indication; run with --guideline {g} for its reasons"
            )
            out.append(Padding(Text(f"{g} {v}: {why}", style="yellow"), (0, 0, 0, 4)))

    if result["missing"]:
        out += [Text(""), _heading("Missing: could change the answer")]
        out.append(
            _bullets(
                [
                    Text.assemble((label, "bold yellow"), f": {ms[0]['why']}")
                    for label, _, ms in _field_groups(
                        result["missing"], names, key=lambda m: m["why"]
                    )
                ]
            )
        )

    patient: list[Text] = []
    if result.get("performance_status"):  # absent from results stored before it was added
        patient.append(_performance(result["performance_status"]))
        warning = result["performance_status"].get("warning")  # absent in older results
        if warning:
            patient.append(Text(f"! {warning['text']}", style="yellow"))
    patient += [Text(flag_labels.get(f, f), style="yellow") for f in result["flags"]]
    if patient:
        out += [Text(""), _heading("Patient"), _bullets(patient)]

    out += [Text(""), _heading("Plan per level")]
    by_spine = sorted(result["levels"], key=lambda lv: vertebra_index(lv["level"]))
    provisional = disp == "incomplete"
    out.append(
        _level_rows(by_spine, flag_labels, provisional) if by_spine else Text(" no levels given")
    )
    if result["sessions"]:
        offered = {lv["level"] for lv in result["levels"] if lv.get("offer")}
        sess = Text(" sessions: ")
        for j, s in enumerate(result["sessions"], 1):
            sess.append(
                f"{'  ' if j > 1 else ''}{j}) "
                + ", ".join(x + ("*" if x in offered else "") for x in s)
            )
        if offered:
            sess.append("   (* optional)", style="dim")
        out.append(sess)

    if result["actions"]:
        out += [Text(""), _heading("Actions")]
        out.append(
            _bullets(
                [
                    Text.assemble(
                        a["label"],
                        (f" ({', '.join(a['levels'])})" if a.get("levels") else ""),
                        (f"  [{a['rule']}]", "dim"),
                    )
                    for a in result["actions"]
                ]
            )
        )

    # One line per rule, with every level it fired at; actions already name their rule.
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for f in result["findings"]:
        if f["effect"] != "action":
            grouped.setdefault((f["rule"], f["effect"]), []).append(f)
    if grouped:
        out += [Text(""), _heading("Why")]
        lines = []
        for (rule, _), fs in grouped.items():
            levels = [f["level"] for f in fs if f.get("level")]
            where = f"{', '.join(levels)}: " if levels else ""
            t = Text.assemble((f"[{fs[0]['source']}] ", "cyan"), where, fs[0]["text"])
            for f in fs:
                if f.get("failed"):
                    t.append(
                        f" Not met{' at ' + f['level'] if f.get('level') else ''}: "
                        f"{'; '.join(f['failed'])}.",
                        style="yellow",
                    )
            t.append(f"  ({rule})", style="dim")
            lines.append(t)
        out.append(_bullets(lines))

    if result["notes"]:
        out += [Text(""), _heading(f"Unknown, not changing the {result['guideline']} answer")]
        out.append(Padding(Text("field → what knowing it would settle", style="dim"), (0, 0, 0, 1)))
        lines = []
        for label, implied, ns in _field_groups(
            result["notes"], names, key=lambda n: _note_key(n, names)
        ):
            affects = _affects((a for n in ns for a in n["affects"]), rb, implied)
            lines.append(Text.assemble((label, "bold"), f" → {affects}"))
        out.append(_bullets(lines))

    for tech, o in result["expected_outcomes"].items():
        out += [Text(""), _heading(f"Expected outcomes: {tech}")]
        out.append(
            Padding(
                Text(
                    "pooled means, preop → <4 wk → ≤6 wk → <6 mo → <1 y → ≥1 y "
                    "(Sorensen-SpineJ-2019, Table 2); each interval pools different studies "
                    "(N per interval in the JSON)",
                    style="dim",
                ),
                (0, 0, 0, 1),
            )
        )
        sc = o["symptomatic_complications"]
        lo, hi = sc["ci95_percent"]
        leak = "; ".join(
            f"{x['percent']:g}% of {x['unit']}s ({x['source'].split(',')[0]})"
            for x in o["leakage"][:2]
        )
        lines = [
            Text(f"NRS {_series(o['nrs'])}"),
            Text(f"ODI {_series(o['odi'])}"),
            Text(f"KPS {_series(o['kps'])} (both techniques)"),
            Text(f"cement leakage {leak}"),
            Text(
                f"symptomatic complications {sc['events']}/{sc['n']} = {sc['percent']:g}% "
                f"(95% CI {lo:g}-{hi:g}, Wilson)"
            ),
        ]
        lines += [
            Text(f"{c['measure']}: {c['percent']:g}% ({c['source'].split(',')[0]})")
            for c in o["other_complications"]
        ]
        lines += [
            Text(
                f"{t['trial']}: {t['outcome']}: "
                + (
                    f"{t['effect']:+g} (95% CI {t['ci95'][0]:g} to {t['ci95'][1]:g})"
                    if "effect" in t
                    else f"{_fmt(t['kyphoplasty'])} vs {_fmt(t['control'])}"
                )
            )
            for t in o["trials"]
        ]
        out.append(_bullets(lines))

    if result["evidence"]:
        out += [Text(""), _heading("Evidence")]
        out.append(
            _bullets(
                [
                    Text.assemble(
                        (
                            f"Class {e['class']}, level {e['level']}"
                            if e.get("class")
                            else f"strength {e['strength']}",
                            "bold",
                        ),
                        f" ({e['source']}): {e['statement']}",
                    )
                    for e in result["evidence"]
                ]
            )
        )

    out += [
        Text(""),
        Text(
            f"rulebook {result['rulebook_version']} · engine {result['engine_version']}",
            style="dim",
        ),
    ]
    out.append(Text(result["notice"], style="italic"))
    return Group(*out)


def _fmt(v: Any) -> str:
    return f"{v[0]}/{v[1]}" if isinstance(v, list) else f"{v:g}"


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
