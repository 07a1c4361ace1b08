"""RDQ (Roland & Morris, Spine 1983: 24 statements) and pain NRS 0-10."""

from __future__ import annotations

import pytest

from vertebro.errors import InvalidInput
from vertebro.scores import rdq, validate_nrs


def test_rdq_count_and_answers() -> None:
    assert rdq(0) == 0
    assert rdq(24) == 24
    assert rdq([True] * 14 + [False] * 10) == 14


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (25, r"^rdq: 25 is not an RDQ score \(0-24\)"),
        (-1, "^rdq: -1 is not"),
        (True, "^rdq: True is not"),
        ([True] * 23, "^rdq: 23 answers given"),
        ([True] * 23 + [1], r"^rdq\[23\]: 1 is not a yes/no answer"),
        ("14", "^rdq: '14' is not"),
    ],
)
def test_rdq_rejects(value: object, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        rdq(value)  # type: ignore[arg-type]


def test_rdq_field_name() -> None:
    with pytest.raises(InvalidInput, match=r"^rdq_1m: 30 is not"):
        rdq(30, field="rdq_1m")


@pytest.mark.parametrize("value", [0, 0.0, 4, 7.5, 10])
def test_nrs_accepts(value: float) -> None:
    assert validate_nrs(value) == float(value)
    assert type(validate_nrs(value)) is float


@pytest.mark.parametrize("value", [11, -0.5, 10.01, True, False, "5", None, float("nan")])
def test_nrs_rejects(value: object) -> None:
    with pytest.raises(InvalidInput, match=r"^pain_nrs: .* is not a pain score \(a number 0-10\)"):
        validate_nrs(value, field="pain_nrs")
