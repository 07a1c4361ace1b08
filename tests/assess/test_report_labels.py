"""The text report speaks the rulebook's labels, never its codes, and keeps every input path.

The JSON keeps the codes (``notes[].affects``: ``chronic_fracture at T7``); the report shows
the label, grouped per field across levels, with each ``levels[i]`` position still named so
the team knows exactly what to go and find.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings

from vertebro import assess
from vertebro.assess import default_rulebook, render_text

from .conftest import EXAMPLES
from .strategies import patients

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RB = default_rulebook()
WIDE = 400  # no wrapping, so that each bullet is one line


def _section(text: str, heading: str) -> list[str]:
    """The bullets under a heading, each flattened onto one line."""
    if f"\n{heading}" not in text:
        return []
    body = text.split(f"\n{heading}", 1)[1].split("\n\n", 1)[0]
    return [" ".join(b.split()) for b in body.split(" • ")[1:]]


def _notes(text: str, guideline: str = "JNCCN2012") -> list[str]:
    return _section(text, f"UNKNOWN, NOT CHANGING THE {guideline} ANSWER")


def _aospine() -> dict[str, Any]:
    return assess(json.loads((EXAMPLES / "aospine_case.json").read_text()))


def test_aospine_notes_show_labels_grouped_by_field() -> None:
    result = _aospine()
    # The JSON contract keeps the codes.
    affects = {a for n in result["notes"] for a in n["affects"]}
    assert {"chronic_fracture at T7", "chronic_fracture at T9", "radicular_pain"} <= affects
    for width in (80, 60):
        out = render_text(result, width=width)
        assert max(len(line) for line in out.splitlines()) <= width
        notes = _notes(out)
        assert (
            "fracture_age_weeks at T7 (levels[0]), T9 (levels[1]) → flag: "
            + RB.flags["chronic_fracture"].label
        ) in notes
        assert f"pain.radicular_exceeds_axial → flag: {RB.flags['radicular_pain'].label}" in notes
        assert (
            f"context.prior_radiotherapy_levels → flag: {RB.flags['prior_radiotherapy'].label}"
            " (T7, T9)"
        ) in notes
        assert "pain.medical_therapy_weeks → snis2014 verdict" in notes
        joined = "\n".join(notes)
        for raw in ("chronic_fracture", "radicular_pain", "prior_radiotherapy at"):
            assert raw not in joined


@SETTINGS
@given(patients(p_unknown=0.3))
def test_no_code_reaches_the_reader_and_every_path_stays_named(p: dict[str, Any]) -> None:
    result = assess(p)
    out = render_text(result, width=WIDE)
    names = {i: lv["level"] for i, lv in enumerate(p["levels"])}
    shown = _notes(out) + _section(out, "MISSING: COULD CHANGE THE ANSWER")
    for bullet in _notes(out):
        _, _, settles = bullet.partition(" → ")
        assert settles, bullet
        # Codes are snake_case (one-word codes such as 'osteoblastic' are words of labels too).
        assert not re.search(r"\b[a-z0-9]+_[a-z0-9_]+\b", settles), bullet
    for entry in result["notes"] + result["missing"]:
        field = entry["field"]
        m = re.fullmatch(r"levels\[(\d+)\]\.(.+)", field)
        if m is None:
            assert any(b.startswith(f"{field}:") or b.startswith(f"{field} →") for b in shown)
        else:
            i, attr = int(m[1]), m[2]
            where = re.compile(rf"^{re.escape(attr)} at .*\b{names[i]} \(levels\[{i}\]\)")
            assert any(where.search(b) for b in shown), (field, shown)
