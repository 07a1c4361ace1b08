"""ODI: Fairbank JC, Pynsent PB. Spine 2000;25(22):2940-52; worked examples in DESIGN.md s5."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vertebro.errors import InvalidInput
from vertebro.scores import ODI_SECTIONS, odi_percent

TOL = {"odi": 1e-9}


def test_all_answered_16_of_50() -> None:
    # DESIGN.md section 5: 16 / 50 = 32%.
    assert odi_percent([2, 2, 2, 2, 2, 2, 2, 1, 1, 0]) == pytest.approx(32.0, abs=TOL["odi"])


def test_one_missing_16_of_45() -> None:
    # DESIGN.md section 5: one section missing, 16 / 45 = 35.6% (to one decimal).
    odi = odi_percent([2, 2, 2, 2, 2, 2, 2, None, 1, 1])
    assert odi == pytest.approx(1600 / 45, abs=TOL["odi"])
    assert round(odi, 1) == 35.6


def test_two_missing_refused_by_default_allowed_on_request() -> None:
    answers = [2, 2, 2, 2, 2, 2, None, None, 2, 2]
    with pytest.raises(InvalidInput, match=r"^sections: 2 sections unanswered; at most 1"):
        odi_percent(answers)
    assert odi_percent(answers, max_missing=2) == pytest.approx(40.0, abs=TOL["odi"])


@pytest.mark.parametrize(
    ("answers", "match"),
    [
        ([0] * 9, "^sections: 9 answers given"),
        ([0] * 11, "^sections: 11 answers given"),
        ([6] + [0] * 9, r"^sections\[0\]: 6 is not an ODI section score"),
        ([0] * 9 + [-1], r"^sections\[9\]: -1 is not"),
        ([0] * 4 + [True] + [0] * 5, r"^sections\[4\]: True is not"),
        ([0] * 4 + [2.5] + [0] * 5, r"^sections\[4\]: 2.5 is not"),
    ],
)
def test_rejects(answers: list[int | None], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        odi_percent(answers)


def test_field_name_and_non_sequence() -> None:
    with pytest.raises(InvalidInput, match=r"^odi_sections\[1\]: 7 is not"):
        odi_percent([0, 7, 0, 0, 0, 0, 0, 0, 0, 0], field="odi_sections")
    with pytest.raises(InvalidInput, match=r"^sections: 32 is not a list"):
        odi_percent(32)  # type: ignore[arg-type]


def test_extremes() -> None:
    assert odi_percent([0] * ODI_SECTIONS) == 0.0
    assert odi_percent([5] * ODI_SECTIONS) == 100.0


_sections = st.lists(st.integers(0, 5), min_size=ODI_SECTIONS, max_size=ODI_SECTIONS)


@given(_sections, st.one_of(st.none(), st.integers(0, ODI_SECTIONS - 1)))
def test_in_range(answers: list[int], gap: int | None) -> None:
    given_answers: list[int | None] = list(answers)
    if gap is not None:
        given_answers[gap] = None
    assert 0.0 <= odi_percent(given_answers) <= 100.0


@given(st.lists(st.integers(0, 5), min_size=ODI_SECTIONS - 1, max_size=ODI_SECTIONS - 1),
       st.integers(0, ODI_SECTIONS - 1), st.integers(0, ODI_SECTIONS - 1))  # fmt: skip
def test_invariant_to_which_section_is_unanswered(answered: list[int], i: int, j: int) -> None:
    first: list[int | None] = list(answered)
    first.insert(i, None)
    second: list[int | None] = list(answered)
    second.insert(j, None)
    assert odi_percent(first) == pytest.approx(odi_percent(second), abs=TOL["odi"])
