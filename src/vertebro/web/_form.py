"""The structured assessment form: its fields, and the two-way mapping form <-> input JSON.

A form's state is the submitted text of each field, keyed by the field's input path
(``pain.nrs``, ``levels[1].escc``): the same paths the validator names in its errors, so an
error lands beside its field without translation. Which questions are asked, in which order,
with which help text and source, is data (``data/form.yaml``); what *kind* of answer each takes
(yes/no/unknown, a choice, a number) is read from the input model, so the form cannot offer
a value the contract refuses or miss a choice it accepts.

Every clinical fact defaults to "unknown", which is absent from the JSON: an unanswered
question is never read as "no". The mapping is written by hand because the form's shape (a
flat list of named fields, levels as numbered blocks) has no library equivalent worth its
weight; pydantic does all of the validation.
"""

from __future__ import annotations

import math
import re
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel

from vertebro.assess import AssessmentInput, LevelInput, validate_input
from vertebro.errors import FieldError, InvalidInput
from vertebro.scores import ESCC_DESCRIPTIONS
from vertebro.spine import VERTEBRAE

__all__ = [
    "FieldSpec",
    "FormState",
    "Section",
    "add_level",
    "form_spec",
    "input_from_state",
    "raw_input",
    "remove_level",
    "state_from_form",
    "state_from_input",
]

Kind = Literal["tri", "choice", "integer", "number", "text", "levels"]
State = dict[str, str]

_YES, _NO, _UNKNOWN = "yes", "no", "unknown"
#: the list of prior-radiotherapy levels, typed beside its yes/no/unknown question
PRIOR_RT = "context.prior_radiotherapy_levels"
PRIOR_RT_LIST = PRIOR_RT + ".list"
_LEVEL_KEY = re.compile(r"levels\[(\d{1,2})\]\.(.+)")  # < 100 blocks: there are 29 vertebrae


@dataclass(frozen=True)
class FieldSpec:
    """One question. ``path`` is relative to its level for the level block (``escc``)."""

    path: str
    label: str
    kind: Kind
    help: str = ""
    source: str = ""
    choices: tuple[tuple[str, str], ...] = ()  # (value, label) besides "unknown"


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    fields: tuple[FieldSpec, ...]
    intro: str = ""


@dataclass
class FormState:
    """What the form shows: submitted text per input path, and how many level blocks."""

    values: State = field(default_factory=dict)
    levels: int = 1

    def get(self, name: str) -> str:
        return self.values.get(name, "")


def _strip_optional(ann: Any) -> Any:
    while True:
        origin = get_origin(ann)
        if origin is Annotated:
            ann = get_args(ann)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(ann) if a is not type(None)]
            ann = args[0]
        else:
            return ann


def _choice_label(path: str, value: str) -> str:
    if path == "escc":
        return f"{value}: {ESCC_DESCRIPTIONS[value]}"
    return value.replace("_", " ")


def _kind(model: type[BaseModel], name: str) -> tuple[Kind, tuple[tuple[str, str], ...]]:
    """The kind of answer a model field takes, from its annotation."""
    base = _strip_optional(model.model_fields[name].annotation)
    if name == "level":
        return "choice", tuple((v, v) for v in VERTEBRAE)
    if get_origin(base) is list:
        return "levels", ()
    if get_origin(base) is Literal:
        return "choice", tuple((str(v), _choice_label(name, str(v))) for v in get_args(base))
    kinds: dict[type, Kind] = {bool: "tri", int: "integer", float: "number", str: "text"}
    return kinds[base], ()


def _model_at(path: str) -> tuple[type[BaseModel], str]:
    """The model that declares ``path`` (relative to a level for level fields), and the name."""
    *parents, name = path.split(".")
    model: type[BaseModel] = AssessmentInput
    for p in parents:
        model = _strip_optional(model.model_fields[p].annotation)
    return model, name


@cache
def form_spec() -> tuple[Section, ...]:
    """The form's sections, from ``data/form.yaml``, each field's kind from the input model."""
    raw = yaml.safe_load((files("vertebro.web") / "data" / "form.yaml").read_text("utf-8"))
    out = []
    for s in raw["sections"]:
        fields = []
        for f in s["fields"]:
            if s["id"] == "levels":
                model, name = _level_model(f["path"])
            else:
                model, name = _model_at(f["path"])
            kind, choices = _kind(model, name)
            fields.append(
                FieldSpec(
                    f["path"],
                    f["label"],
                    kind,
                    f.get("help", ""),
                    f.get("source", ""),
                    choices,
                )
            )
        out.append(Section(s["id"], s["title"], tuple(fields), s.get("intro", "")))
    return tuple(out)


def _level_model(path: str) -> tuple[type[BaseModel], str]:
    *parents, name = path.split(".")
    model: type[BaseModel] = LevelInput
    for p in parents:
        model = _strip_optional(model.model_fields[p].annotation)
    return model, name


def _patient_fields() -> list[FieldSpec]:
    return [f for s in form_spec() if s.id != "levels" for f in s.fields]


def _level_fields() -> list[FieldSpec]:
    return [f for s in form_spec() if s.id == "levels" for f in s.fields]


# --- JSON -> form -------------------------------------------------------------------------


def _text(kind: Kind, value: Any) -> str:
    if value is None:
        return _UNKNOWN if kind == "tri" else ""
    if kind == "tri":
        return _YES if value else _NO
    return str(value)  # numbers as Python writes them: 45 stays 45, 45.5 stays 45.5


def _lookup(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def state_from_input(data: Mapping[str, Any]) -> FormState:
    """The form showing a patient given as input JSON (absent or null: unknown)."""
    values: State = {}
    for f in _patient_fields():
        v = _lookup(data, f.path)
        if f.kind == "levels":
            values[f.path] = _UNKNOWN if v is None else (_YES if v else _NO)
            values[PRIOR_RT_LIST] = ", ".join(v or ())
        else:
            values[f.path] = _text(f.kind, v)
    levels = list(data.get("levels") or ())
    for i, lv in enumerate(levels):
        for f in _level_fields():
            values[f"levels[{i}].{f.path}"] = _text(f.kind, _lookup(lv, f.path))
    return FormState(values, len(levels))


# --- form -> JSON -------------------------------------------------------------------------


def _number(text: str, integer: bool) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a number")
    if integer:
        raise ValueError(f"{text!r} is not a whole number")
    return value


def _parse(f: FieldSpec, text: str) -> Any:
    """The JSON value of one answer; ``None`` for unknown. Raises ValueError with the reason."""
    text = text.replace("\r\n", "\n")
    if f.kind == "tri":
        if text in ("", _UNKNOWN):
            return None
        if text not in (_YES, _NO):
            raise ValueError(f"{text!r}: expected yes, no or unknown")
        return text == _YES
    if text.strip() == "":
        return None
    if f.kind in ("integer", "number"):
        return _number(text.strip(), f.kind == "integer")
    return text  # choices are checked by the model, with the contract's own message


def _prior_rt(state: FormState) -> list[str] | None:
    answer, listed = state.get(PRIOR_RT) or _UNKNOWN, state.get(PRIOR_RT_LIST)
    names = [n.upper() for n in re.split(r"[\s,;]+", listed) if n]
    if answer == _UNKNOWN:
        return None
    if answer == _NO:
        if names:
            raise ValueError("answered no, but levels are listed: answer yes or clear the list")
        return []
    if answer != _YES:
        raise ValueError(f"{answer!r}: expected yes, no or unknown")
    if not names:
        raise ValueError("answered yes: name the levels (e.g. T9, T10), or answer unknown")
    return names


def _put(out: dict[str, Any], path: str, value: Any) -> None:
    *parents, name = path.split(".")
    node = out
    for p in parents:
        node = node.setdefault(p, {})
    node[name] = value


_BLOCKS = ("patient", "pain", "neurology", "contraindications", "context")


def _raw_input(state: FormState) -> tuple[dict[str, Any], list[FieldError]]:
    out: dict[str, Any] = {}
    errors: list[FieldError] = []
    for f in _patient_fields():
        try:
            value = _prior_rt(state) if f.kind == "levels" else _parse(f, state.get(f.path))
        except ValueError as exc:
            errors.append(FieldError(f.path, str(exc)))
            continue
        if value is not None:
            _put(out, f.path, value)
    levels = []
    for i in range(state.levels):
        lv: dict[str, Any] = {}
        for f in _level_fields():
            name = f"levels[{i}].{f.path}"
            try:
                value = _parse(f, state.get(name))
            except ValueError as exc:
                errors.append(FieldError(name, str(exc)))
                continue
            if value is not None:
                _put(lv, f.path, value)
        # Kept even when blank (the validator then asks for its vertebra), so that block i
        # of the form is levels[i] of the JSON and every error path lands on its own block.
        levels.append(lv)
    ordered = {k: out[k] for k in ("note", *_BLOCKS[:-1]) if k in out}
    ordered["levels"] = levels
    if "context" in out:
        ordered["context"] = out["context"]
    return ordered, errors


def input_from_state(state: FormState) -> dict[str, Any]:
    """The input JSON (docs/assessment.md) of a filled-in form, validated.

    Raises :class:`InvalidInput` naming each field by its input path, with every problem: the
    form's own (not a number, yes/no/unknown) and the contract's (range, vocabulary, levels).
    """
    data, errors = _raw_input(state)
    if not errors:
        validate_input(data)
        return data
    # Report the contract's problems with the rest too, so that one round fixes everything.
    try:
        validate_input(data)
    except InvalidInput as exc:
        errors += exc.errors
    raise InvalidInput(errors)


# --- the submitted form -------------------------------------------------------------------


def state_from_form(form: Iterable[tuple[str, object]]) -> FormState:
    """The state of a submitted form (``request.form().multi_items()``); other keys ignored."""
    known = {f.path for f in _patient_fields()} | {PRIOR_RT_LIST}
    level_keys = {f.path for f in _level_fields()}
    values: State = {}
    levels = 0
    for key, value in form:
        if not isinstance(value, str):
            continue
        m = _LEVEL_KEY.fullmatch(key)
        if m and m[2] in level_keys:
            levels = max(levels, int(m[1]) + 1)
            values[key] = value
        elif key in known:
            values[key] = value
    return FormState(values, levels)


def add_level(state: FormState) -> FormState:
    return FormState(dict(state.values), state.levels + 1)


def remove_level(state: FormState, i: int) -> FormState:
    """The form without level block ``i``; the blocks after it move up one place."""
    values: State = {}
    for key, value in state.values.items():
        m = _LEVEL_KEY.fullmatch(key)
        if not m or int(m[1]) < i:
            values[key] = value
        elif int(m[1]) > i:
            values[f"levels[{int(m[1]) - 1}].{m[2]}"] = value
    return FormState(values, max(state.levels - 1, 0))


def raw_input(state: FormState) -> dict[str, Any]:
    """The form's answers as input JSON, not validated (for the JSON box of a form that is
    still being filled in); answers that do not parse are left out."""
    return _raw_input(state)[0]
