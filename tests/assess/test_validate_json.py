"""``validate_json`` parses with pydantic's Rust parser first (batch speed, issue 13.6): it must
accept exactly what ``json.loads`` + ``model_validate`` accepts, give the same model, and keep
that path's messages for everything it refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from vertebro.assess import AssessmentInput, validate_json
from vertebro.assess._input import to_invalid_input
from vertebro.errors import InvalidInput

from .strategies import patients


def _reference(text: str) -> AssessmentInput | list[tuple[str, str]]:
    """The model, or the (field, reason) list, that ``json.loads`` + validation gives."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return _outcome(text)  # refused before validation: the messages are the old path's
    if not isinstance(data, dict):
        return [("(input)", "not an object")]
    try:
        return AssessmentInput.model_validate(data)
    except ValidationError as exc:
        return [(e.field, e.reason) for e in to_invalid_input(exc).errors]


def _outcome(text: str) -> AssessmentInput | list[tuple[str, str]]:
    try:
        return validate_json(text, where="line 1")
    except InvalidInput as exc:
        return [(e.field, e.reason) for e in exc.errors]


@settings(max_examples=100, deadline=None)
@given(patients(p_unknown=0.3))
def test_valid_patients_give_the_model_of_the_python_path(patient: dict[str, Any]) -> None:
    text = json.dumps(patient)
    assert validate_json(text) == AssessmentInput.model_validate(json.loads(text))


@settings(max_examples=100, deadline=None)
@given(
    patients(p_unknown=0.3),
    st.sampled_from(["patient", "pain", "neurology", "contraindications", "context"]),
    st.text(min_size=1, max_size=12),
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5), st.just([])
    ),
)
def test_any_field_value_is_judged_as_the_python_path_does(
    patient: dict[str, Any], block: str, key: str, value: Any
) -> None:
    # a wrong type, a misspelt key or an out-of-range number: the same answer either way
    patient.setdefault(block, {})[key] = value
    first = next(iter(patient[block]))
    patient[block][first] = value
    text = json.dumps(patient)
    assert _outcome(text) == _reference(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"patient": {"age": 50, "age": 60}}',  # the last of a repeated key, as json.loads
        '{"patient": {"primary_cancer": "\\ud800"}}',  # a lone surrogate: json.loads takes it
        '{"pain": {"nrs": NaN}}',
        '{"pain": {"nrs": 1e400}}',
        '{"patient": {"age": 3.0}}',
        '  {"patient": {}}  \n',
    ],
)
def test_edge_cases_match_the_python_path(text: str) -> None:
    assert _outcome(text) == _reference(text)


def test_malformed_json_still_names_line_and_column() -> None:
    with pytest.raises(InvalidInput, match=r"malformed JSON: .* line 1 column 13"):
        validate_json('{"patient": }')
    with pytest.raises(InvalidInput, match="not accepted"):
        validate_json('{"patient": {"age": ' + "9" * 5000 + "}}")
    with pytest.raises(InvalidInput, match="expected a JSON object"):
        validate_json("[1, 2]")
