"""The registry's form parsing (web/_registry_forms.py) and its chart (web/_chart.py), pure."""

from __future__ import annotations

import datetime as dt
import math
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from vertebro.registry.schemas import FollowUpIn, ProcedureIn, parse
from vertebro.registry.vocab import TECHNIQUES
from vertebro.web._chart import MEASURES, NARROW, Point, outcome_chart
from vertebro.web._registry_forms import (
    LEVEL_FIELDS,
    field_label,
    follow_up_form,
    patient_form,
    procedure_form,
)

FOLLOW_UP_INPUTS = ("followed_on", "baseline", "procedure_id", "nrs", "rdq", "kps", "ecog",
                    "analgesic_class", "new_fracture", "new_fracture_level", "vital_status",
                    "lost_to_follow_up", *(f"odi_sections[{i}]" for i in range(10)))
_text = st.one_of(st.sampled_from(["", " ", "0", "5", "10", "1e309", "inf", "NaN", "-1", "2,5",
                                   "70", "yes", "no", "unknown", "2026-01-31", "L1", "alive",
                                   "9" * 40, "\x00", "\ud800"]),
                  st.text(max_size=12))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(FOLLOW_UP_INPUTS), _text))
def test_follow_up_form_never_crashes_and_places_every_error(form: dict[str, str]) -> None:
    parsed = follow_up_form(form)
    for e in parsed.errors:
        assert e.field in FOLLOW_UP_INPUTS or e.field == "odi_sections", e
        assert e.reason
    if not parsed.errors:
        model = parse(FollowUpIn, parsed.data)  # what the service gets is valid input
        for v in (model.nrs, model.kps, model.rdq):
            assert v is None or math.isfinite(v)


def test_blank_is_not_given_and_unknown_is_none() -> None:
    parsed = follow_up_form({k: "" for k in FOLLOW_UP_INPUTS} | {"followed_on": "2026-03-01",
                                                                 "new_fracture": "unknown"})
    assert parsed.errors == []
    assert parsed.data == {"followed_on": dt.date(2026, 3, 1),
                           "baseline": False, "lost_to_follow_up": False}
    parsed = follow_up_form({"followed_on": "2026-03-01", "nrs": "0", "new_fracture": "no"})
    assert parsed.data["nrs"] == 0.0 and parsed.data["new_fracture"] is False


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["T12", "l1", "S1", ""]),
                          st.sampled_from([*TECHNIQUES, ""]),
                          st.sampled_from(["", "4", "4.5", "x"])), max_size=5))
def test_procedure_rows_are_renumbered_and_errors_follow_them(
    rows: list[tuple[str, str, str]]
) -> None:
    form = {"performed_on": "2026-05-01"}
    for i, (level, technique, volume) in enumerate(rows):
        form |= {f"levels[{i}].level": level, f"levels[{i}].technique": technique,
                 f"levels[{i}].cement_volume_ml": volume}
    parsed = procedure_form(form)
    filled = [r for r in rows if any(r)]
    assert len(parsed.data.get("levels", [])) == len(filled)
    for e in parsed.errors:
        m = re.fullmatch(r"levels\[(\d+)\]\.(\w+)", e.field)
        assert e.field == "levels" or (m and int(m.group(1)) < len(filled)
                                       and m.group(2) in LEVEL_FIELDS), e
    for j, (level, technique, volume) in enumerate(filled):
        # the values shown again are the row's own, at its new position
        assert parsed.values[f"levels[{j}].level"] == level
        assert parsed.values[f"levels[{j}].technique"] == technique
        assert parsed.values[f"levels[{j}].cement_volume_ml"] == volume
    if not parsed.errors:
        model = parse(ProcedureIn, parsed.data)
        assert [lv.level for lv in model.levels] == [r[0].upper() for r in filled]


def test_patient_code_message_in_words() -> None:
    parsed = patient_form({"code": "a b"})
    (e,) = parsed.errors
    assert e.field == "code" and "letters, digits" in e.reason and "^[" not in e.reason


def test_field_labels() -> None:
    assert field_label("levels[1].technique") == "Level 2: Technique"
    assert field_label("odi_sections[3]") == "ODI section 4"
    assert field_label("nrs") == "Pain NRS" and field_label("zzz") == "zzz"


# ------------------------------------------------------------------ the chart
def _circles(svg: str) -> list[tuple[float, float, str]]:
    return [(float(x), float(y), t) for x, y, t in re.findall(
        r'<circle cx="([\d.]+)" cy="([\d.]+)" r="4" fill="[^"]+"><title>([^<]*)</title>', svg)]


def test_no_scores_no_chart() -> None:
    assert outcome_chart([]) is None
    assert outcome_chart([Point(3, {"nrs": None}, "day 3")]) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-30, 800),
                          st.one_of(st.none(), st.integers(0, 20).map(lambda k: k / 2)),
                          st.one_of(st.none(), st.integers(0, 10).map(lambda k: 10.0 * k))),
                min_size=1, max_size=8))
def test_chart_draws_each_score_once_on_its_scale(
    visits: list[tuple[int, float | None, float | None]]
) -> None:
    points = [Point(d, {"nrs": n, "kps": k}, f"day {d}") for d, n, k in visits]
    svg = outcome_chart(points, width=NARROW)
    given_scores = [v for _, n, k in visits for v in (n, k) if v is not None]
    if not given_scores:
        assert svg is None
        return
    assert svg is not None
    circles = _circles(str(svg))
    assert len(circles) == len(given_scores)
    panels = [m for m in MEASURES if any(p.values.get(m.key) is not None for p in points)]
    for m in panels:
        mine = sorted((c for c in circles if c[2].startswith(m.label + " ")),
                      key=lambda c: float(c[2].split()[-1]))
        days = [float(c[2].split()[-1]) for c in mine]
        xs = [c[0] for c in mine]
        assert xs == sorted(xs) and len(set(days)) <= len(xs)  # later is further right
        values = [float(c[2].removeprefix(m.label + " ").split(" on ")[0]) for c in mine]
        top = min(c[1] for c in mine)
        high = max(values)
        assert all(c[1] == top for c, v in zip(mine, values, strict=True) if v == high)
    viewbox = re.search(r'viewBox="0 0 (\d+) (\d+)"', str(svg))
    assert viewbox and int(viewbox.group(1)) == NARROW
    assert all(0 <= c[0] <= NARROW for c in circles)


def test_chart_escapes_labels() -> None:
    svg = str(outcome_chart([Point(1, {"nrs": 3}, "<script>")], title="a & <b>"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "a &amp; &lt;b&gt;" in svg
