"""Bilsky ESCC grades: Bilsky MH et al. J Neurosurg Spine 2010;13(3):324-8."""

from __future__ import annotations

import pytest

from vertebro.errors import InvalidInput
from vertebro.scores import ESCC_DESCRIPTIONS, ESCC_GRADES, escc_high_grade, parse_escc


@pytest.mark.parametrize(
    ("raw", "grade"),
    [("0", "0"), (0, "0"), ("1A", "1a"), (" 1b ", "1b"), ("1c", "1c"), (2, "2"), ("3", "3")],
)
def test_parse(raw: str | int, grade: str) -> None:
    assert parse_escc(raw) == grade


@pytest.mark.parametrize("raw", ["4", 4, "1d", "1", 1, "", "2a", True, -1])
def test_parse_rejects(raw: str | int) -> None:
    with pytest.raises(InvalidInput, match=r"^escc: .* is not a Bilsky ESCC grade \(0, 1a"):
        parse_escc(raw)


def test_high_grade_is_2_and_3_only() -> None:
    # Bilsky 2010: grades 2 and 3 are high-grade compression.
    assert [g for g in ESCC_GRADES if escc_high_grade(g)] == ["2", "3"]


def test_every_grade_described() -> None:
    assert tuple(ESCC_DESCRIPTIONS) == ESCC_GRADES
    assert all(ESCC_DESCRIPTIONS[g] for g in ESCC_GRADES)
