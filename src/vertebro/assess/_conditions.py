"""The rule condition language: parsed data, never ``eval``'d.

A condition is a mapping with exactly one key::

    {all: [c, ...]}  {any: [c, ...]}  {not: c}  {always: true}
    {field: pain.nrs, gte: 4}          # gte gt lte lt: numbers and intervals
    {field: level.escc, in: ["2", "3"]}
    {field: contraindications.spinal_infection, is: true}
    {field: level.level, between: [C1, T3]}   # vertebrae in skull-to-sacrum order, inclusive
    {field: level.mri_edema, known: false}    # tests whether the fact is known; never unknown

Evaluation is three-valued (Kleene): ``True``, ``False`` or ``None`` (unknown). A condition is
``True`` only if it holds for every value the unknown facts could take, ``False`` only if it
fails for every such value; otherwise ``None``. That is what makes the engine's answer never
depend on an unknown fact. Interval facts (SINS total with unknown components, KPS from ECOG)
are ``(low, high)`` tuples and compare as intervals.

Written by hand because no library offers Kleene logic over partially known clinical facts
with per-leaf explanations; conditions compile to closures once, at rulebook load.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from dataclasses import field as dataclass_field
from functools import cached_property
from typing import Any

from vertebro.errors import RulebookError
from vertebro.spine import is_vertebra, vertebra_index

from ._fields import FIELDS, Field

__all__ = ["Condition", "Explanation", "Facts", "Truth", "compile_condition"]

Truth = bool | None
Facts = Mapping[str, Any]
_Fn = Callable[[Facts], Truth]

_NUMERIC_OPS = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<"}
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "gte": operator.ge,
    "gt": operator.gt,
    "lte": operator.le,
    "lt": operator.lt,
}
_LEAF_OPS = {*_NUMERIC_OPS, "is", "in", "between", "known"}


@dataclass
class Explanation:
    """Why a condition came out as it did: which facts were unknown, which tests failed."""

    value: Truth
    unknown: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Condition:
    """A compiled condition: call it on facts for the three-valued answer."""

    fn: _Fn
    kind: str  # all | any | not | leaf | always
    children: tuple[Condition, ...] = ()
    field: str = ""
    text: str = ""
    # Explanations depend only on the values of the condition's own facts; many patients
    # share them, so they are memoised (bounded: facts take few distinct values).
    _memo: dict[tuple[Any, ...], tuple[str, ...]] = dataclass_field(
        default_factory=dict, compare=False
    )

    def __call__(self, facts: Facts) -> Truth:
        return self.fn(facts)

    def unknown_fields(self, facts: Facts) -> tuple[str, ...]:
        """The unknown facts that keep this condition open (cached form of ``explain``)."""
        key = tuple(facts[f] for f in self.fields)
        hit = self._memo.get(key)
        if hit is None:
            hit = tuple(dict.fromkeys(self.explain(facts).unknown))
            if len(self._memo) < 4096:
                self._memo[key] = hit
        return hit

    @cached_property
    def fields(self) -> tuple[str, ...]:
        if self.kind == "leaf":
            return (self.field,)
        return tuple(dict.fromkeys(f for c in self.children for f in c.fields))

    def explain(self, facts: Facts) -> Explanation:
        """Slow path: the unknown facts that keep the answer open, or the failed tests."""
        value = self.fn(facts)
        out = Explanation(value)
        if self.kind == "leaf":
            if value is None:
                out.unknown.append(self.field)
            elif value is False:
                out.failed.append(self.text)
            return out
        for child in self.children:
            sub = child.explain(facts)
            # Only children that can still change the answer are worth naming.
            if value is None and sub.value is None:
                out.unknown.extend(sub.unknown)
            if value is False:
                if self.kind == "all" and sub.value is False:
                    out.failed.extend(sub.failed)
                elif self.kind in ("any", "not"):
                    out.failed.extend(
                        sub.failed or ([child.describe()] if self.kind == "any" else [])
                    )
        if self.kind == "not" and value is False:
            out.failed = [f"not ({self.children[0].describe()})"]
        return out

    def describe(self) -> str:
        """Plain text a clinician can review, e.g. ``pain.nrs >= 4 and pain.mechanical is true``."""
        if self.kind in ("leaf", "always"):
            return self.text
        if self.kind == "not":
            return f"not ({self.children[0].describe()})"
        joiner = " and " if self.kind == "all" else " or "
        parts = [c.describe() for c in self.children]
        return joiner.join(f"({p})" if (" and " in p or " or " in p) else p for p in parts)


def _err(rule_id: str, msg: str) -> RulebookError:
    return RulebookError(f"rule {rule_id}: {msg}")


def compile_condition(spec: Any, rule_id: str, allow_plan: bool, scope: str) -> Condition:
    """Parse and validate a condition; errors name the rule and what is wrong."""
    if not isinstance(spec, Mapping):
        raise _err(rule_id, f"a condition must be a mapping, got {spec!r}")
    if "field" in spec:
        return _leaf(spec, rule_id, allow_plan, scope)
    if len(spec) != 1:
        raise _err(
            rule_id, f"a condition needs exactly one of all/any/not/always/field: {dict(spec)!r}"
        )
    ((key, arg),) = spec.items()
    if key == "always":
        if arg is not True:
            raise _err(rule_id, "always: must be true")
        return Condition(lambda f: True, "always", text="always")
    if key == "not":
        child = compile_condition(arg, rule_id, allow_plan, scope)
        cf = child.fn

        def not_fn(f: Facts) -> Truth:
            v = cf(f)
            return None if v is None else not v

        return Condition(not_fn, "not", (child,))
    if key in ("all", "any"):
        if not isinstance(arg, Sequence) or isinstance(arg, str) or not arg:
            raise _err(rule_id, f"{key}: needs a non-empty list of conditions")
        children = tuple(compile_condition(c, rule_id, allow_plan, scope) for c in arg)
        fns = tuple(c.fn for c in children)
        return Condition(_kleene(fns, decisive=key == "any"), key, children)
    raise _err(rule_id, f"unknown condition key {key!r} (expected all, any, not, always or field)")


def _kleene(fns: tuple[_Fn, ...], decisive: bool) -> _Fn:
    """Kleene and (decisive False) / or (decisive True): one decisive child settles it."""

    def fn(f: Facts) -> Truth:
        unknown = False
        for g in fns:
            v = g(f)
            if v is decisive:
                return decisive
            if v is None:
                unknown = True
        return None if unknown else not decisive

    return fn


def _leaf(spec: Mapping[str, Any], rule_id: str, allow_plan: bool, scope: str) -> Condition:
    name = spec["field"]
    fld = FIELDS.get(name)
    if fld is None:
        raise _err(rule_id, f"condition on unknown field {name!r}")
    if fld.phase == "plan" and not allow_plan:
        raise _err(
            rule_id, f"{name} is known only after the disposition; only plan rules may use it"
        )
    if fld.scope == "level" and scope != "level":
        raise _err(rule_id, f"{name} is a level fact; the rule must have scope: level")
    ops = [k for k in spec if k != "field"]
    if len(ops) != 1 or ops[0] not in _LEAF_OPS:
        raise _err(
            rule_id, f"condition on {name} needs exactly one of {sorted(_LEAF_OPS)}, got {ops}"
        )
    op, arg = ops[0], spec[ops[0]]
    fn, text = _LEAF_BUILDERS[op](fld, arg, rule_id)
    return Condition(fn, "leaf", field=name, text=text)


def _check_value(fld: Field, value: Any, rule_id: str) -> None:
    ok = {
        "bool": isinstance(value, bool),
        "enum": value in fld.values,
        "text": isinstance(value, str),
        "vertebra": isinstance(value, str) and is_vertebra(value),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "interval": isinstance(value, int | float) and not isinstance(value, bool),
    }[fld.kind]
    if not ok:
        allowed = f" (one of {', '.join(fld.values)})" if fld.kind == "enum" else ""
        raise _err(rule_id, f"{value!r} is not a valid value for {fld.name} ({fld.kind}){allowed}")


def _build_is(fld: Field, arg: Any, rule_id: str) -> tuple[_Fn, str]:
    _check_value(fld, arg, rule_id)
    if fld.kind == "interval":
        return _build_between(fld, [arg, arg], rule_id)
    name = fld.name

    def is_fn(f: Facts) -> Truth:
        v = f[name]
        return None if v is None else bool(v == arg)

    shown = str(arg).lower() if isinstance(arg, bool) else arg
    return is_fn, f"{name} is {shown}"


def _build_in(fld: Field, arg: Any, rule_id: str) -> tuple[_Fn, str]:
    if not isinstance(arg, list) or not arg:
        raise _err(rule_id, f"in: on {fld.name} needs a non-empty list")
    for a in arg:
        _check_value(fld, a, rule_id)
    if fld.kind in ("number", "interval", "bool"):
        raise _err(rule_id, f"in: is for enumerated fields, not {fld.kind} ({fld.name})")
    name, values = fld.name, frozenset(arg)

    def in_fn(f: Facts) -> Truth:
        v = f[name]
        return None if v is None else v in values

    return in_fn, f"{name} in {{{', '.join(map(str, arg))}}}"


def _build_numeric(op: str) -> Callable[[Field, Any, str], tuple[_Fn, str]]:
    def build(fld: Field, arg: Any, rule_id: str) -> tuple[_Fn, str]:
        if fld.kind not in ("number", "interval"):
            raise _err(rule_id, f"{op}: needs a numeric field, {fld.name} is {fld.kind}")
        _check_value(fld, arg, rule_id)
        name, x = fld.name, float(arg)
        text = f"{name} {_NUMERIC_OPS[op]} {arg}"
        if fld.kind == "interval":
            # (lo, hi): true if every value in the interval passes, false if none does.
            tests: dict[str, _Fn] = {
                "gte": lambda f: True if f[name][0] >= x else (False if f[name][1] < x else None),
                "gt": lambda f: True if f[name][0] > x else (False if f[name][1] <= x else None),
                "lte": lambda f: True if f[name][1] <= x else (False if f[name][0] > x else None),
                "lt": lambda f: True if f[name][1] < x else (False if f[name][0] >= x else None),
            }
            return tests[op], text

        cmp = _COMPARE[op]

        def num_fn(f: Facts) -> Truth:
            v = f[name]
            return None if v is None else bool(cmp(v, x))

        return num_fn, text

    return build


def _build_between(fld: Field, arg: Any, rule_id: str) -> tuple[_Fn, str]:
    if not isinstance(arg, list) or len(arg) != 2:
        raise _err(rule_id, f"between: on {fld.name} needs [low, high]")
    for a in arg:
        _check_value(fld, a, rule_id)
    name = fld.name
    if fld.kind == "vertebra":
        lo_i, hi_i = vertebra_index(arg[0]), vertebra_index(arg[1])
        if lo_i > hi_i:
            raise _err(rule_id, f"between: {arg[0]} comes below {arg[1]}")
        inside = frozenset(range(lo_i, hi_i + 1))

        def vert_fn(f: Facts) -> Truth:
            v = f[name]
            return None if v is None else vertebra_index(v) in inside

        return vert_fn, f"{name} in {arg[0]}-{arg[1]}"
    if fld.kind not in ("number", "interval"):
        raise _err(rule_id, f"between: needs a numeric or vertebra field, {fld.name} is {fld.kind}")
    lo, hi = float(arg[0]), float(arg[1])
    if fld.kind == "interval":

        def ival_fn(f: Facts) -> Truth:
            a, b = f[name]
            if lo <= a and b <= hi:
                return True
            return False if (b < lo or a > hi) else None

        text = f"{name} = {arg[0]}" if lo == hi else f"{name} in {arg[0]}-{arg[1]}"
        return ival_fn, text

    def num_fn(f: Facts) -> Truth:
        v = f[name]
        return None if v is None else lo <= v <= hi

    return num_fn, f"{name} in {arg[0]}-{arg[1]}"


def _build_known(fld: Field, arg: Any, rule_id: str) -> tuple[_Fn, str]:
    if not isinstance(arg, bool):
        raise _err(rule_id, f"known: must be true or false ({fld.name})")
    name = fld.name
    if fld.kind == "interval":
        return (
            lambda f: (f[name][0] == f[name][1]) is arg
        ), f"{name} is {'known' if arg else 'unknown'}"
    return (lambda f: (f[name] is not None) is arg), f"{name} is {'known' if arg else 'unknown'}"


_LEAF_BUILDERS: dict[str, Callable[[Field, Any, str], tuple[_Fn, str]]] = {
    "is": _build_is,
    "in": _build_in,
    "between": _build_between,
    "known": _build_known,
    **{op: _build_numeric(op) for op in _NUMERIC_OPS},
}
