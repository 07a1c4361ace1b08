"""Kleene three-valued logic of the condition language, checked against its truth tables."""

from __future__ import annotations

import itertools
import operator

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


_OPS = {"gte": operator.ge, "gt": operator.gt, "lte": operator.le, "lt": operator.lt}


@given(st.sampled_from(sorted(_OPS)), st.integers(0, 18), st.integers(0, 18), st.integers(0, 18))
def test_interval_comparison_is_exact(op: str, lo: int, width: int, threshold: int) -> None:
    hi = min(18, lo + width)
    cond = compile_condition({"field": "level.sins_total", op: threshold}, "t", False, "level")
    outcomes = {_OPS[op](v, threshold) for v in range(lo, hi + 1)}
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


# -- compiled conditions against a plain two-valued reading of the same condition data --------

C, NRS = "pain.radicular_exceeds_axial", "pain.nrs"
_LEAVES = st.sampled_from(
    [
        _leaf(A),
        {"field": B, "is": False},
        _leaf(C),
        {"field": NRS, "gte": 4},
        {"field": NRS, "lt": 7},
        {"field": NRS, "between": [3, 5]},
        {"field": A, "known": True},
    ]
)
_CONDITIONS = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.builds(lambda c: {"not": c}, inner),
        st.lists(inner, min_size=1, max_size=4).map(lambda cs: {"all": cs}),
        st.lists(inner, min_size=1, max_size=4).map(lambda cs: {"any": cs}),
    ),
    max_leaves=12,
)
_FACTS = st.fixed_dictionaries(
    {
        A: st.sampled_from(VALUES),
        B: st.sampled_from(VALUES),
        C: st.sampled_from(VALUES),
        NRS: st.one_of(st.none(), st.integers(0, 10)),
    }
)


def _plain(spec: dict[str, object], facts: dict[str, object], known: dict[str, bool]) -> bool:
    """Two-valued reading of a condition on complete facts (``known`` says which were given)."""
    if "not" in spec:
        return not _plain(spec["not"], facts, known)  # type: ignore[arg-type]
    if "all" in spec:
        return all(_plain(c, facts, known) for c in spec["all"])  # type: ignore[attr-defined]
    if "any" in spec:
        return any(_plain(c, facts, known) for c in spec["any"])  # type: ignore[attr-defined]
    v = facts[spec["field"]]  # type: ignore[index]
    if "known" in spec:
        return known[spec["field"]] is spec["known"]  # type: ignore[index]
    if "is" in spec:
        return v == spec["is"]
    if "gte" in spec:
        return v >= spec["gte"]  # type: ignore[operator]
    if "lt" in spec:
        return v < spec["lt"]  # type: ignore[operator]
    lo, hi = spec["between"]  # type: ignore[misc]
    return bool(lo <= v <= hi)


def _completions(facts: dict[str, object]) -> list[dict[str, object]]:
    choices = [
        [(k, v)] if v is not None else [(k, x) for x in (range(11) if k == NRS else (True, False))]
        for k, v in facts.items()
    ]
    return [dict(c) for c in itertools.product(*choices)]


@given(_CONDITIONS, _FACTS)
def test_compiled_condition_is_sound_for_every_completion(
    spec: dict[str, object], facts: dict[str, object]
) -> None:
    cond = compile_condition(spec, "t", False, "patient")
    value = cond(facts)
    known = {k: v is not None for k, v in facts.items()}
    answers = {_plain(spec, full, known) for full in _completions(facts)}
    if value is not None:
        assert answers == {value}  # a settled answer holds however the unknowns turn out
    if all(known.values()):
        assert value is answers.pop()  # with nothing unknown, it is plain logic
