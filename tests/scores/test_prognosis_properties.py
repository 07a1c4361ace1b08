"""Invariants of the prognostic scores (hypothesis), independent of any one paper's numbers.

- Unknowns: the range of a partly known patient is exactly the lowest and highest total over
  every completion of the unknown inputs, and its bands are exactly the completions' bands
  (unknown is never scored as a particular answer, and the range is not wider than it must be).
- Monotone: making one input more favourable never moves a score towards a worse prognosis
  (Tokuhashi, Bauer, NESMS: higher is better; Tomita: lower is better).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from vertebro.scores import PrognosticScore, modified_bauer, nesms, tokuhashi, tomita

# Each input's values, worst prognosis first. The primary sites stand for every point level of
# each table (Tokuhashi 0-5, Tomita 1/2/4, Bauer's two primary items), so that enumerating them
# reaches every value an unknown primary can take.
LEVELS: dict[str, Sequence[Any]] = {
    "kps": list(range(10, 101, 10)),
    "extraspinal_bone_metastases": [3, 2, 1, 0],
    "spinal_metastases": [3, 2, 1],
    "visceral_metastases": ["untreatable", "treatable", "none"],
    "frankel": list("ABCDE"),
    "ambulatory": [False, True],
    "albumin_g_dl": [3.0, 3.5, 4.2],
}
PRIMARIES = {
    "tokuhashi": ["lung", "liver", "other", "kidney", "rectum", "breast"],  # 0..5
    "tomita": ["lung", "kidney", "breast"],  # 4, 2, 1 (worst first)
    "modified_bauer": ["lung", "prostate", "breast"],  # 0+0, 1+0, 1+1
    "nesms": ["lung", "prostate", "breast"],
}
INPUTS = {
    "tokuhashi": ("kps", "extraspinal_bone_metastases", "spinal_metastases",
                  "visceral_metastases", "primary", "frankel"),
    "tomita": ("primary", "visceral_metastases", "extraspinal_bone_metastases",
               "spinal_metastases"),
    "modified_bauer": ("primary", "visceral_metastases", "extraspinal_bone_metastases",
                       "spinal_metastases"),
    "nesms": ("primary", "visceral_metastases", "extraspinal_bone_metastases",
              "spinal_metastases", "ambulatory", "albumin_g_dl"),
}
FN: dict[str, Callable[..., PrognosticScore]] = {
    "tokuhashi": tokuhashi, "tomita": tomita, "modified_bauer": modified_bauer, "nesms": nesms,
}
HIGHER_IS_BETTER = {"tokuhashi": True, "tomita": False, "modified_bauer": True, "nesms": True}


def _levels(score: str, name: str) -> Sequence[Any]:
    return PRIMARIES[score] if name == "primary" else LEVELS[name]


@st.composite
def _patient(draw: st.DrawFn, score: str) -> dict[str, Any]:
    return {n: draw(st.sampled_from(list(_levels(score, n)))) for n in INPUTS[score]}


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_range_is_exactly_the_completions_of_the_unknowns(data: st.DataObject) -> None:
    score = data.draw(st.sampled_from(list(FN)))
    full = data.draw(_patient(score))
    hidden = data.draw(st.sets(st.sampled_from(INPUTS[score]), max_size=3))
    partial = {k: (None if k in hidden else v) for k, v in full.items()}
    part = FN[score](**partial)
    completions = [
        FN[score](**{**partial, **dict(zip(sorted(hidden), values, strict=True))})
        for values in itertools.product(*(_levels(score, h) for h in sorted(hidden)))
    ]
    totals = [c.total for c in completions]
    assert None not in totals
    assert part.range == (min(totals), max(totals))  # type: ignore[type-var]
    assert {b.code for b in part.bands} == {b.code for c in completions for b in c.bands}
    assert set(part.unknown) <= set(hidden) | {"primary"}
    if part.total is not None:
        assert set(totals) == {part.total}


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_a_more_favourable_input_never_worsens_the_score(data: st.DataObject) -> None:
    score = data.draw(st.sampled_from(list(FN)))
    patient = data.draw(_patient(score))
    # unknowns too: the ranges' ends must move the same way
    for k in data.draw(st.sets(st.sampled_from(INPUTS[score]), max_size=2)):
        patient[k] = None
    name = data.draw(st.sampled_from([n for n in INPUTS[score] if patient[n] is not None]))
    levels = list(_levels(score, name))
    i = levels.index(patient[name])
    j = data.draw(st.integers(i, len(levels) - 1))
    worse = FN[score](**patient)
    better = FN[score](**{**patient, name: levels[j]})
    if HIGHER_IS_BETTER[score]:
        assert better.range[0] >= worse.range[0] and better.range[1] >= worse.range[1]
    else:
        assert better.range[0] <= worse.range[0] and better.range[1] <= worse.range[1]
