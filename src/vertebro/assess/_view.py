"""The report as plain data: what a person reads, decided once for every renderer.

An engine output (JSON-ready dict) becomes a :class:`ReportView`: sections of short strings
in the order a tumour board reads them. The text report (``_report.py``, rich) and the web
page (``vertebro.web``, Jinja2) only lay these out; neither decides what to say, so the two
cannot drift apart. The view speaks the rulebook's labels (the JSON keeps the codes) and
groups a field unknown at several levels into one line that still names each input path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from vertebro._format import estimate, interval, number, percent
from vertebro.scores import KPS_ECOG_TABLES
from vertebro.spine import VERTEBRAE, vertebra_index

from ._labels import field_label
from ._noms_view import NomsView, noms_view
from ._rulebook import Rulebook, default_rulebook

__all__ = [
    "ActionView",
    "DisagreementView",
    "EvidenceView",
    "LevelView",
    "NoteView",
    "OutcomeView",
    "PerformanceView",
    "ReportView",
    "WhyView",
    "report_view",
]

MEANING = {
    "candidate": "candidate for vertebral augmentation",
    "refer_surgery": "refer for spine surgery / radiation oncology evaluation",
    "contraindicated": "augmentation contraindicated",
    "not_indicated": "no level meets the indication",
    "incomplete": "cannot answer yet: facts that could change the answer are missing",
}
_TREAT = {True: "TREAT", False: "not treated", None: "treat if confirmed"}
OUTCOMES_CAPTION = (
    "pooled means (VAS pain 0-10, ODI %, KPS), preop → <4 wk → ≤6 wk → <6 mo → <1 y → ≥1 y "
    "(Sorensen-SpineJ-2019, Table 2); each interval pools different studies "
    "(N per interval in the JSON)"
)
NOTES_CAPTION = "field → what knowing it would settle"


@dataclass(frozen=True)
class DisagreementView:
    """A guideline whose verdict differs from the disposition, and what it would need."""

    guideline: str
    verdict: str
    why: str


@dataclass(frozen=True)
class PerformanceView:
    """KPS and ECOG as entered (``text``), ``None`` when neither is given; with ECOG alone,
    the KPS range the rules read is in ``text`` and its conversion table in ``table``."""

    text: str | None
    table: str | None
    warning: str | None


@dataclass(frozen=True)
class LevelView:
    level: str
    role: str
    status: str  # TREAT, not treated, treat if confirmed, offered (...)
    status_kind: str  # "treat" | "offer" | "" (how strongly to show the status)
    plan: str | None  # technique, approach, needle
    sins: str | None
    genant: str | None
    flags: tuple[str, ...]


@dataclass(frozen=True)
class ActionView:
    label: str
    levels: tuple[str, ...]
    rule: str


@dataclass(frozen=True)
class WhyView:
    """One rule that fired, with every level it fired at and its unmet criteria."""

    source: str
    levels: tuple[str, ...]
    text: str
    failed: tuple[str, ...]  # "Not met at T9: ...." per level whose indication failed
    rule: str


@dataclass(frozen=True)
class NoteView:
    field: str
    affects: str


@dataclass(frozen=True)
class OutcomeView:
    technique: str
    lines: tuple[str, ...]
    caption: str = OUTCOMES_CAPTION  # what the series are and where they come from


@dataclass(frozen=True)
class EvidenceView:
    grade: str  # "Class IIa, level B" or "strength ..."
    source: str
    statement: str


@dataclass(frozen=True)
class ReportView:
    disposition: str  # the code, e.g. refer_surgery
    disposition_label: str  # REFER SURGERY
    meaning: str
    guideline: str
    verdicts: tuple[tuple[str, str], ...]
    disagreements: tuple[DisagreementView, ...]  # empty when every guideline agrees
    missing: tuple[tuple[str, str], ...]  # (field(s), why)
    performance: PerformanceView | None  # None in results stored before it was added
    patient_flags: tuple[str, ...]
    levels: tuple[LevelView, ...]  # in spinal order
    sessions: tuple[tuple[tuple[str, bool], ...], ...]  # (level, offered)
    actions: tuple[ActionView, ...]
    why: tuple[WhyView, ...]
    notes: tuple[NoteView, ...]
    outcomes: tuple[OutcomeView, ...]
    evidence: tuple[EvidenceView, ...]
    rulebook_version: str
    engine_version: str
    notice: str
    # added in issue 9 (defaults keep older renderers working):
    # readings of a source the disposition rests on ("SOURCE: the choice"), and offered
    # levels that found no room in the sessions
    readings: tuple[str, ...] = ()
    offers_without_session: tuple[str, ...] = ()
    # added in issue 14: the NOMS section (None for results stored before it)
    noms: NomsView | None = None

    @property
    def has_patient(self) -> bool:
        return self.performance is not None or bool(self.patient_flags)

    @property
    def any_offered(self) -> bool:
        return any(offered for s in self.sessions for _, offered in s)


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
    """Input position -> vertebra. Levels carry their input ``position`` (they are in spinal
    order); results stored before that had the input levels first, in input order."""
    levels = result["levels"]
    if levels and "position" in levels[0]:
        return {lv["position"]: lv["level"] for lv in levels if lv["position"] is not None}
    return {i: lv["level"] for i, lv in enumerate(levels)}


def _field_groups(
    entries: list[Mapping[str, Any]],
    names: Mapping[int, str],
    key: Callable[[Mapping[str, Any]], Hashable] | None = None,
) -> list[tuple[str, set[str], list[Mapping[str, Any]]]]:
    """Entries of ``missing``/``notes`` with the same per-level field (and the same ``key``)
    as one line in words: ``fracture age in weeks at T7, T9`` (the JSON keeps each path)."""
    groups: dict[Hashable, tuple[str, list[tuple[int, str]], list[Mapping[str, Any]]]] = {}
    for e in entries:
        m = _LEVEL_FIELD.fullmatch(e["field"])
        if m is None or int(m[1]) not in names:
            groups[("field", e["field"], id(e))] = (field_label(e["field"]), [], [e])
            continue
        i, attr = int(m[1]), m[2]
        g = groups.setdefault(
            ("level", attr, key(e) if key else None), (field_label(e["field"]), [], [])
        )
        g[1].append((i, names[i]))
        g[2].append(e)
    out: list[tuple[str, set[str], list[Mapping[str, Any]]]] = []
    for attr, at, members in groups.values():
        if not at:
            out.append((attr, set(), members))
            continue
        where = ", ".join(name for _, name in sorted(at, key=lambda x: vertebra_index(x[1])))
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


def _disagreements(
    result: Mapping[str, Any], names: Mapping[int, str]
) -> tuple[DisagreementView, ...]:
    if len(set(result["guidelines"].values())) <= 1:
        return ()
    out = []
    for g, v in result["guidelines"].items():
        if v == result["disposition"]:
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
        out.append(DisagreementView(g, v, why))
    return tuple(out)


def _performance(ps: Mapping[str, Any] | None) -> PerformanceView | None:
    """KPS and ECOG as entered; with ECOG alone, the KPS range the rules read and its table."""
    if not ps:
        return None
    warning = ps.get("warning")  # absent in older results
    warn = warning["text"] if warning else None
    kps, ecog, used, table = ps["kps"], ps["ecog"], ps["kps_range_used"], ps["table"]
    if kps is None and ecog is None:
        return PerformanceView(None, None, warn)
    text = " · ".join(f"{k} {v}" for k, v in (("KPS", kps), ("ECOG", ecog)) if v is not None)
    table_text = None
    if kps is not None and ecog is not None:
        text += " (the rules use the KPS)"
    elif table is not None and used is not None:
        lo, hi = used
        text += " → read as KPS " + (f"{lo}-{hi}" if hi != lo else f"{lo}")
        known = KPS_ECOG_TABLES.get(table)
        table_text = f"KPS-ECOG table {table}" + (f": {known.citation}" if known else "")
    return PerformanceView(text, table_text, warn)


def _level(lv: Mapping[str, Any], flag_labels: Mapping[str, str], provisional: bool) -> LevelView:
    if lv.get("offer"):
        status, kind = f"offered ({lv['offer']}, optional)", "offer"
    else:
        status = _TREAT[lv["treat"]]
        if provisional and lv["treat"]:
            status = "TREAT if the missing facts allow"
        kind = "treat" if lv["treat"] else ""
    plan = None
    if lv["treat"] is not False or lv.get("offer"):
        tech = lv.get("technique") or "technique undetermined"
        needle = lv.get("needle") and f"{lv['needle']} needle"
        extra = ", ".join(_human(x) for x in (lv.get("approach"), needle) if x)
        plan = tech + (f", {extra}" if extra else "")
    sins_text = None
    sins = lv.get("sins")
    if sins:
        if sins["total"] is not None:
            sins_text = f"SINS {sins['total']} {sins['category']}"
        else:
            lo, hi = sins["range"]
            sins_text = f"SINS {lo}-{hi}" + (f" {sins['category']}" if sins["category"] else "")
    genant = None
    if lv.get("genant_grade") is not None:
        # an entered percentage as entered; one computed from heights to one decimal
        loss = round(float(lv["height_loss_pct"]), 1)
        genant = f"Genant {lv['genant_grade']} ({percent(loss, None)} height loss)"
    return LevelView(
        level=lv["level"],
        role=lv.get("role") or "role unknown",
        status=status,
        status_kind=kind,
        plan=plan,
        sins=sins_text,
        genant=genant,
        flags=tuple(flag_labels.get(f, f) for f in lv.get("flags") or ()),
    )


def _why(result: Mapping[str, Any]) -> tuple[WhyView, ...]:
    # One line per rule, with every level it fired at; actions already name their rule.
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for f in result["findings"]:
        if f["effect"] != "action":
            grouped.setdefault((f["rule"], f["effect"]), []).append(f)
    return tuple(
        WhyView(
            source=fs[0]["source"],
            levels=tuple(sorted((f["level"] for f in fs if f.get("level")), key=vertebra_index)),
            text=fs[0]["text"],
            failed=tuple(
                f"Not met{' at ' + f['level'] if f.get('level') else ''}: {'; '.join(f['failed'])}."
                for f in fs
                if f.get("failed")
            ),
            rule=rule,
        )
        for (rule, _), fs in grouped.items()
    )


def _series(block: Mapping[str, Any]) -> str:
    return " → ".join(number(row["mean"], None) for row in block["by_interval"])


def _fmt(v: Any) -> str:
    return f"{v[0]}/{v[1]}" if isinstance(v, list) else number(v, None)


def _rate(x: Mapping[str, Any]) -> str:
    """One published rate in words: "3/98 = 3.1% of patients (Mendel 2009)"."""
    # published rates as their source prints them (digits=None)
    pct = f"< {percent(x['percent_below'], None)}" if "percent_below" in x else percent(
        x["percent"], None
    )
    counted = f"{x['events']}/{x['n']} = " if x.get("n") else ""
    ci = f", 95% CI {interval(x['ci95'][0], x['ci95'][1], None)}" if x.get("ci95") else ""
    return f"{x['measure']}: {counted}{pct} of {x['unit']}s{ci} ({x['source'].split(',')[0]})"


def _outcome(tech: str, o: Mapping[str, Any]) -> OutcomeView:
    sc = o["symptomatic_complications"]
    lo, hi = sc["ci95_percent"]
    lines = [
        # Sorensen-SpineJ-2019 Table 2 pools VAS pain scores (0-10); the JSON key is "nrs"
        f"VAS pain {_series(o['nrs'])}",
        f"ODI {_series(o['odi'])}",
        f"KPS {_series(o['kps'])} (both techniques)",
        f"symptomatic complications {sc['events']}/{sc['n']} = {percent(sc['percent'], None)} "
        f"(95% CI {interval(lo, hi, None)}, Wilson; {sc['source'].split(',')[0]})",
    ]
    # Every published rate, each with its own source: the series differ in unit (patient,
    # level) and design, so none is pooled or dropped here.
    lines += [_rate(x) for x in o["leakage"]]
    lines += [_rate(c) for c in o["other_complications"]]
    lines += [
        f"{t['trial']}: {t['outcome']}: "
        + (
            estimate(t["effect"], t["ci95"], None, signed=True)
            if "effect" in t
            else f"{_fmt(t['kyphoplasty'])} vs {_fmt(t['control'])}"
        )
        for t in o["trials"]
    ]
    return OutcomeView(tech, tuple(lines))


def report_view(result: Mapping[str, Any], rulebook: Rulebook | None = None) -> ReportView:
    """The report of an assessment (the output of :func:`vertebro.assess`) as plain data.

    Parameters
    ----------
    result
        An engine output, fresh or stored (keys added later may be absent).
    rulebook
        Where flag and action labels come from; the bundled rulebook by default.
    """
    rb = rulebook or default_rulebook()
    flag_labels = {k: v.label for k, v in rb.flags.items()}
    names = _vertebra_of(result)
    disp = result["disposition"]
    offered = {lv["level"] for lv in result["levels"] if lv.get("offer")}
    by_spine = sorted(result["levels"], key=lambda lv: vertebra_index(lv["level"]))
    return ReportView(
        disposition=disp,
        disposition_label=disp.upper().replace("_", " "),
        meaning=MEANING[disp],
        guideline=result["guideline"],
        verdicts=tuple(result["guidelines"].items()),
        disagreements=_disagreements(result, names),
        missing=tuple(
            (label, ms[0]["why"])
            for label, _, ms in _field_groups(result["missing"], names, key=lambda m: m["why"])
        ),
        performance=_performance(result.get("performance_status")),
        patient_flags=tuple(flag_labels.get(f, f) for f in result["flags"]),
        levels=tuple(_level(lv, flag_labels, disp == "incomplete") for lv in by_spine),
        sessions=tuple(tuple((x, x in offered) for x in s) for s in result["sessions"]),
        actions=tuple(
            ActionView(a["label"], tuple(a.get("levels") or ()), a["rule"])
            for a in result["actions"]
        ),
        why=_why(result),
        notes=tuple(
            NoteView(label, _affects((a for n in ns for a in n["affects"]), rb, implied))
            for label, implied, ns in _field_groups(
                result["notes"], names, key=lambda n: _note_key(n, names)
            )
        ),
        outcomes=tuple(_outcome(t, o) for t, o in result["expected_outcomes"].items()),
        evidence=tuple(
            EvidenceView(
                f"Class {e['class']}, level {e['level']}"
                if e.get("class")
                else f"strength {e['strength']}",
                e["source"],
                e["statement"],
            )
            for e in result["evidence"]
        ),
        rulebook_version=result["rulebook_version"],
        engine_version=result["engine_version"],
        notice=result["notice"],
        readings=tuple(f"{r['source']}: {r['reading']}" for r in result.get("readings", ())),
        offers_without_session=tuple(result.get("offers_without_session", ())),
        noms=noms_view(result),
    )
