"""`vertebro assess --batch --jobs N` (issue 13.6): the same bytes whatever N, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._cli import run
from tests.assess.strategies import patients
from vertebro import assess
from vertebro.cli._output import dumps

from .conftest import cohort


def _batch(tmp_path: Path, lines: list[str], *extra: str) -> tuple[int, str, Path]:
    src = tmp_path / "cohort.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "results.jsonl"
    code, _, err = run("assess", "--batch", str(src), "--out", str(out), *extra)
    return code, err, out


def test_two_processes_write_the_bytes_of_one(tmp_path: Path) -> None:
    lines = [json.dumps(p) for p in cohort(90, seed=3)]
    lines.insert(17, "")  # a blank line keeps the numbering of the lines after it
    code1, _, out = _batch(tmp_path, lines, "--jobs", "1")
    one = out.read_bytes()
    code2, err, out = _batch(tmp_path, lines, "--jobs", "2")
    assert code1 == code2 == 0, err
    assert out.read_bytes() == one
    rows = [json.loads(x) for x in one.decode().splitlines()]
    assert [r["line"] for r in rows] == [n for n in range(1, 92) if n != 18]
    # each row is exactly the library's answer for that line, in input order
    for r in rows[:5]:
        patient = json.loads(lines[r["line"] - 1])
        assert {k: v for k, v in r.items() if k != "line"} == assess(patient)
    assert "assessed 90 patients" in err


@settings(max_examples=4, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(patients(), min_size=1, max_size=12), st.integers(1, 3))
def test_any_jobs_gives_the_sequential_answers(
    tmp_path: Path, cohort_: list[dict[str, Any]], jobs: int
) -> None:
    lines = [json.dumps(p) for p in cohort_]
    code, err, out = _batch(tmp_path, lines, "--jobs", str(jobs))
    assert code == 0, err
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert rows == [{"line": n, **_single(p)} for n, p in enumerate(cohort_, 1)]


def test_invalid_lines_anywhere_write_nothing_and_are_all_listed(tmp_path: Path) -> None:
    lines = [json.dumps(p) for p in cohort(80, seed=5)]
    bad = {3: {"levels": [{"level": "T13"}]}, 71: "{not json"}
    for n, value in bad.items():
        lines[n - 1] = value if isinstance(value, str) else json.dumps(value)
    out = tmp_path / "results.jsonl"
    out.write_text("earlier results\n")
    code, err, out = _batch(tmp_path, lines, "--jobs", "2")
    assert code == 2
    assert "line 3" in err and "'T13' is not a vertebra" in err
    assert "line 71" in err
    assert out.read_text() == "earlier results\n", "an existing file is left as it was"
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {"cohort.jsonl", "results.jsonl"}, "no temporary file is left behind"


def test_a_refused_option_is_said_once(tmp_path: Path) -> None:
    lines = [json.dumps(p) for p in cohort(40, seed=6)]
    code, err, out = _batch(tmp_path, lines, "--jobs", "2", "--guideline", "nice2009")
    assert code == 2 and not out.exists()
    assert err.count("is not a guideline profile") == 1


def test_jobs_needs_batch_and_a_positive_number(tmp_path: Path) -> None:
    code, _, err = run("assess", "examples/aospine_case.json", "--jobs", "2")
    assert code == 2 and "--jobs" in err and "only with --batch" in err
    code, _, _ = _batch(tmp_path, [json.dumps(cohort(1, seed=1)[0])], "--jobs", "0")
    assert code == 2


def test_out_in_a_missing_folder_is_refused_before_any_work(tmp_path: Path) -> None:
    src = tmp_path / "cohort.jsonl"
    src.write_text(json.dumps(cohort(1, seed=1)[0]) + "\n")
    out = tmp_path / "no" / "such" / "results.jsonl"
    code, _, err = run("assess", "--batch", str(src), "--out", str(out))
    assert code == 2 and "does not exist" in err
    assert not (tmp_path / "no").exists(), "no folder is created"


def _single(patient: dict[str, Any]) -> Any:
    """The result as one `vertebro assess --format json` prints it, parsed."""
    return json.loads(dumps(assess(patient)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(patients(p_unknown=0.3), min_size=1, max_size=4))
def test_a_batch_line_is_the_json_of_the_single_assessment(
    cohort_: list[dict[str, Any]],
) -> None:
    # the batch encodes with pydantic_core (cli/_batch._line): float spelling may differ from
    # json.dumps, never a value, and each line stays one line of strict JSON
    from vertebro.cli._batch import _line

    for n, p in enumerate(cohort_, 1):
        text = _line(n, assess(p))
        assert b"\n" not in text
        assert json.loads(text, parse_constant=_no_constant) == {"line": n, **_single(p)}


def test_the_benchmark_cohort_gives_the_single_assessments() -> None:
    # the patients of benchmarks/assess_bench.py: every disposition, many unknowns
    from benchmarks.assess_bench import generate

    from vertebro.cli._batch import _line

    for n, p in enumerate(generate(300, seed=13), 1):
        text = _line(n, assess(p))
        assert json.loads(text, parse_constant=_no_constant) == {"line": n, **_single(p)}


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} in a batch line (not JSON)")


def test_nan_or_infinity_is_never_written() -> None:
    from vertebro.cli._batch import _line

    result = assess(cohort(1, seed=5)[0])
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="Out of range float"):  # as dumps() refuses it
            _line(1, {**result, "odd": bad})
    # the words themselves in a string are data, encoded as usual
    odd = {**result, "note": "NaN or Infinity"}
    assert json.loads(_line(2, odd)) == {"line": 2, **json.loads(dumps(odd))}
