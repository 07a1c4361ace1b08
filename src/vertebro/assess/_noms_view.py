"""The NOMS section as plain lines for the text report and the web page (see ``_view.py``).

Decided once here from the ``noms`` block of the output, so that both renderers say the same.
Results stored before issue 14 have no ``noms`` block: they get no section.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vertebro._format import interval, number

from ._labels import FIELD_LABELS

__all__ = ["NomsView", "noms_view"]

_HUMAN_RT = {True: "", False: " (still open)"}


@dataclass(frozen=True)
class NomsView:
    """``rows`` are (label, text) for N, O, M, S, radiotherapy and life expectancy;
    ``scores`` one line per prognostic score; ``rules`` what each life-expectancy rule read."""

    rows: tuple[tuple[str, str], ...]
    scores: tuple[str, ...]
    rules: tuple[str, ...]
    estimate_caption: str
    source: str


def _range(r: list[int] | tuple[int, int]) -> str:
    return str(r[0]) if r[0] == r[1] else f"{r[0]}-{r[1]}"


def _neurologic(n: Mapping[str, Any]) -> str:
    escc = ", ".join(f"{lv} {g if g is not None else 'unknown'}" for lv, g in n["escc"].items())
    grade = {"high": "high grade (2-3)", "low": "low grade (0-1b)", None: "grade not settled"}
    parts = [f"ESCC {escc or 'not given'}: {grade[n['escc_grade']]}"]
    deficit = n.get("deficit")
    parts.append(f"deficit {deficit}" if deficit else "deficit unknown")
    if n.get("frankel"):
        parts.append(f"Frankel {n['frankel']}")
    return "; ".join(parts)


def _months(m: list[float | None]) -> str:
    lo, hi = m
    if hi is None or lo is None:
        return f"{number(lo, None)} months or more"
    return f"{number(lo, None)} months" if lo == hi else f"{interval(lo, hi, None)} months"


# the scores name their unknown inputs by argument (vertebro.scores); in words here, as the
# report names every other missing fact (the JSON keeps the names)
_SCORE_INPUTS = {"primary": "patient.primary_cancer", "frankel": "neurology.frankel"}


def _input_words(name: str) -> str:
    if name == "modified_bauer":
        return "modified Bauer score"
    path = _SCORE_INPUTS.get(name, f"patient.{name}")
    return FIELD_LABELS.get(path, name)


def _unknown(names: Any) -> str:
    return ", ".join(_input_words(n) for n in names)


def _estimate(e: Mapping[str, Any]) -> str:
    bands = e.get("bands") or [_months(e["months"])]
    said = bands[0] if len(bands) == 1 else f"from {bands[0]} to {bands[-1]}"
    out = f"{e.get('name', e['score'])} {_range(e['range'])}: {said}"
    if e.get("unknown"):
        out += f" (unknown: {_unknown(e['unknown'])})"
    return out


def _systemic(sy: Mapping[str, Any]) -> str:
    kps = sy.get("kps")
    if kps is None:
        head = "KPS not given"
    elif isinstance(kps, list):
        head = f"KPS {_range(kps)} (from the ECOG)"
    else:
        head = f"KPS {kps}"
    return f"{head}. {sy['text']}"


def noms_view(result: Mapping[str, Any]) -> NomsView | None:
    noms = result.get("noms")
    if not noms:
        return None
    onc, mech, rt, le = noms["oncologic"], noms["mechanical"], noms["radiotherapy"], noms[
        "life_expectancy"
    ]
    sens = onc["radiosensitivity"] or f"unknown ({onc['unknown_because']})"
    if mech["levels"]:
        sins = ", ".join(
            f"{m['level']} "
            + (str(m["total"]) if m["total"] is not None else _range(m["range"] or [0, 18]))
            for m in mech["levels"]
        )
        mech_text = f"SINS {sins}; " + (mech["text"] or "category not settled at every level")
    else:
        mech_text = "no level described"
    options = "; or ".join(o["text"] for o in rt["options"])
    rt_text = options + _HUMAN_RT[rt["decided"]]
    if rt["open_because"]:
        rt_text += f": {'; '.join(rt['open_because'])}"
    if le["stated_months"] is not None:
        le_text = f"stated: {number(le['stated_months'], None)} months (the rules read this value)"
    elif le["estimates"]:
        le_text = "not stated. ESTIMATE from the scores, not an input: " + "; ".join(
            _estimate(e) for e in le["estimates"]
        )
    else:
        le_text = "not stated; the scores give no survival estimate"
    rows = (
        ("N neurologic", _neurologic(noms["neurologic"])),
        ("O oncologic", f"primary {onc['primary'] or 'not given'}: {sens} (to cEBRT)"),
        ("M mechanical", mech_text),
        ("S systemic", _systemic(noms["systemic"])),
        ("radiotherapy", rt_text),
        ("life expectancy", le_text),
    )
    scores = []
    for s in noms["systemic"]["scores"].values():
        bands = "; ".join(b["label"] for b in s["bands"])
        line = f"{s['name']} {_range(s['range'])}: {bands}"
        if s["unknown"]:
            line += f" [unknown: {_unknown(s['unknown'])}]"
        scores.append(line)
    return NomsView(
        rows=rows,
        scores=tuple(scores),
        rules=tuple(r["text"] for r in le["rules"]),
        estimate_caption=(
            "survival bands of the published scores; a range when inputs are unknown; "
            "sources in the JSON (noms.systemic.scores[].reference)"
        ),
        source=noms["source"],
    )
