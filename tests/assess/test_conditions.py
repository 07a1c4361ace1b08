"""Kleene three-valued logic of the condition language, checked against its truth tables."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vertebro.assess._conditions import compile_condition
from vertebro.errors import RulebookError

VALUES = (True, False, None)


def _leaf(name: str) -> dict[str, object]:
    return {"field": name, "is": True}


A, B = "pain.mechanical", "pain.concordant_exam"


@pytest.mark.parametrize(("a", "b"), list(itertools.product(VALUES, VALUES)))
def test_truth_tables(a: bool | None, b: bool | None) -> None:
    facts = {A: a, B: b}
    both = compile_condition({"all": [_leaf(A), _leaf(B)]}, "t", False, "patient")
    either = compile_condition({"any": [_leaf(A), _leaf(B)]}, "t", False, "patient")
    neg = compile_condition({"not": _leaf(A)}, "t", False, "patient")
    # Kleene: the answer is decided iff every completion of the unknowns agrees.
    completions = [
        (x, y)
        for x in ((a,) if a is not None else (True, False))
        for y in ((b,) if b is not None else (True, False))
    ]

    def expected(f: object) -> bool | None:
        outs = {f(x, y) for x, y in completions}  # type: ignore[operator]
        return outs.pop() if len(outs) == 1 else None

    assert both(facts) == expected(lambda x, y: x and y)
    assert either(facts) == expected(lambda x, y: x or y)
    assert neg(facts) == expected(lambda x, y: not x)


@given(st.integers(0, 18), st.integers(0, 18), st.integers(0, 18))
def test_interval_comparison_is_exact(lo: int, width: int, threshold: int) -> None:
    hi = min(18, lo + width)
    cond = compile_condition({"field": "level.sins_total", "gte": threshold}, "t", False, "level")
    outcomes = {v >= threshold for v in range(lo, hi + 1)}
    want = outcomes.pop() if len(outcomes) == 1 else None
    assert cond({"level.sins_total": (lo, hi)}) == want


def test_explain_names_unknown_and_failed() -> None:
    cond = compile_condition(
        {"all": [{"field": "pain.nrs", "gte": 4}, _leaf(A), _leaf(B)]}, "t", False, "patient"
    )
    e = cond.explain({"pain.nrs": 7, A: None, B: True})
    assert e.value is None and e.unknown == [A] and not e.failed
    e = cond.explain({"pain.nrs": 2, A: None, B: True})
    assert e.value is False and e.failed == ["pain.nrs >= 4"]


def test_vertebra_between_and_known() -> None:
    cond = compile_condition(
        {"field": "level.level", "between": ["T11", "L1"]}, "t", False, "level"
    )
    assert [cond({"level.level": v}) for v in ("T10", "T11", "T12", "L1", "L2", None)] == [
        False,
        True,
        True,
        True,
        False,
        None,
    ]
    known = compile_condition({"field": "level.escc", "known": False}, "t", False, "level")
    assert known({"level.escc": None}) is True and known({"level.escc": "0"}) is False


def test_bad_conditions() -> None:
    with pytest.raises(RulebookError, match="below"):
        compile_condition({"field": "level.level", "between": ["L1", "T11"]}, "t", False, "level")
    with pytest.raises(RulebookError, match="numeric"):
        compile_condition({"field": "level.lesion", "gte": 1}, "t", False, "level")
    with pytest.raises(RulebookError, match="exactly one"):
        compile_condition({"all": [], "any": []}, "t", False, "level")
