"""web/_response.py: the fast JSON answer writes what JSONResponse wrote, and refuses
non-finite numbers as it did."""

from __future__ import annotations

import gc
import json
import math
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from starlette.responses import JSONResponse

from vertebro.web._response import FastJSONResponse

# JSON values as the engine returns them: str keys, finite floats, any text but lone
# surrogates (refused at the input, web/_json.py), including "NaN" and "Infinity" as words,
# which take the slow path and must come out the same
_text = st.one_of(st.text(st.characters(exclude_categories=("Cs",))),
                  st.sampled_from(["NaN", "Infinity", "-Infinity", "a NaN b"]))
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_text, inner, max_size=5),
    max_leaves=30)


@given(_json)
def test_the_same_json_as_jsonresponse(value: Any) -> None:
    fast, slow = FastJSONResponse(value).body, JSONResponse(value).body
    # the same value for any reader; floats may be spelt differently (1e16 vs 1e+16)
    assert json.loads(fast) == json.loads(slow) == value
    if not _has_float(value):
        assert fast == slow  # and byte for byte when there is no float to spell


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_number_is_refused_not_sent(bad: float) -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        FastJSONResponse({"levels": [{"score": bad}]})


def test_the_assessment_answer_is_byte_for_byte_what_json_dumps_wrote(
        client: TestClient) -> None:
    from ..assess.conftest import EXAMPLES

    body = (EXAMPLES / "aospine_case.json").read_bytes()
    got = client.post("/api/assess", content=body,
                      headers={"content-type": "application/json"})
    assert got.status_code == 200
    assert got.content == JSONResponse(json.loads(got.content)).body


def test_start_up_freezes_the_objects_it_made() -> None:
    # start-up objects out of the collector's sight, so that a full collection does not
    # scan them (it was the load test's tail); once per process, so unfreeze first
    from vertebro.web import create_app

    from .conftest import SETTINGS

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    with TestClient(create_app(SETTINGS), base_url="https://testserver"):
        assert gc.get_freeze_count() > 1000
