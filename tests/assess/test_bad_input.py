"""Bad input: every case exits 2, names the field and writes nothing (issue #2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vertebro.assess import validate_input, validate_json
from vertebro.cli import app
from vertebro.errors import InvalidInput

from .conftest import base_patient

runner = CliRunner()


def _with(path: str, value: object) -> dict[str, object]:
    p = base_patient()
    obj: object = p
    parts = path.split(".")
    for part in parts[:-1]:
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]  # type: ignore[index]
    if isinstance(obj, list):
        obj[int(parts[-1])] = value
    else:
        obj[parts[-1]] = value  # type: ignore[index]
    return p


CASES = [
    ("wrong type", _with("pain.nrs", "eight"), "pain.nrs"),
    ("bool for a number", _with("pain.nrs", True), "pain.nrs"),
    ("NRS 11", _with("pain.nrs", 11), "pain.nrs"),
    ("KPS 55", _with("patient.kps", 55), "patient.kps"),
    ("level T13", _with("levels.0.level", "T13"), "levels[0].level"),
    ("ESCC 4", _with("levels.0.escc", "4"), "levels[0].escc"),
    ("height loss 140%", _with("levels.0.height_loss_pct", 140), "levels[0].height_loss_pct"),
    ("misspelt key", {**base_patient(), "contraindication": {}}, "contraindication"),
    ("misspelt nested key", _with("pain.mechnical", True), "pain.mechnical"),
    ("unknown enum", _with("levels.0.lesion", "lytik"), "levels[0].lesion"),
    ("sins_total contradicts components", _with("levels.0.sins_total", 2), "levels[0].sins_total"),
    (
        "two height measures",
        _with(
            "levels.0.heights_mm", {"anterior": 10, "middle": 14, "posterior": 24, "reference": 25}
        ),
        "levels[0]: give height_loss_pct or heights_mm",
    ),
]


@pytest.mark.parametrize(("label", "patient", "field"), CASES, ids=[c[0] for c in CASES])
def test_invalid_patient_exits_2_naming_the_field(
    label: str, patient: dict[str, object], field: str, tmp_path: Path
) -> None:
    src = tmp_path / "p.json"
    src.write_text(json.dumps(patient))
    before = sorted(tmp_path.iterdir())
    result = runner.invoke(app, ["assess", str(src), "--format", "json"])
    assert result.exit_code == 2, result.output
    assert field in result.stderr
    assert result.stdout == ""
    assert sorted(tmp_path.iterdir()) == before


def test_malformed_json(tmp_path: Path) -> None:
    src = tmp_path / "p.json"
    src.write_text('{"patient": {"age": 66,}')
    result = runner.invoke(app, ["assess", str(src)])
    assert result.exit_code == 2
    assert "malformed JSON" in result.stderr and "line 1" in result.stderr


def test_misspelt_key_suggests_the_right_one(tmp_path: Path) -> None:
    src = tmp_path / "p.json"
    src.write_text(json.dumps(_with("pain.mechnical", True)))
    result = runner.invoke(app, ["assess", str(src)])
    assert "did you mean 'mechanical'" in result.stderr


def test_batch_with_bad_lines_lists_each_and_writes_nothing(tmp_path: Path) -> None:
    good = json.dumps(base_patient())
    lines = [
        good,
        json.dumps(_with("pain.nrs", 11)),
        good,
        "{not json",
        json.dumps(_with("levels.0.level", "T13")),
    ]
    src = tmp_path / "cohort.jsonl"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "results.jsonl"
    result = runner.invoke(app, ["assess", "--batch", str(src), "--out", str(out)])
    assert result.exit_code == 2
    for n, field in ((2, "pain.nrs"), (4, "(json)"), (5, "levels[0].level")):
        assert f"line {n}: {field}" in result.stderr
    assert "line 1: " not in result.stderr and "line 3: " not in result.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["cohort.jsonl"]


def test_unknown_guideline_and_session_size(tmp_path: Path) -> None:
    src = tmp_path / "p.json"
    src.write_text(json.dumps(base_patient()))
    r1 = runner.invoke(app, ["assess", str(src), "--guideline", "nice2009"])
    assert r1.exit_code == 2 and "guideline" in r1.stderr
    r2 = runner.invoke(app, ["assess", str(src), "--max-levels-per-session", "0"])
    assert r2.exit_code == 2 and "max_levels_per_session" in r2.stderr


def test_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["assess", str(tmp_path / "nope.json")])
    assert result.exit_code == 2 and "nope.json" in result.stderr


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"pain": {"medical_therapy_weeks": Infinity}}', "pain.medical_therapy_weeks"),
        ('{"pain": {"nrs": NaN}}', "pain.nrs"),
        (
            '{"levels": [{"level": "T8", "fracture_age_weeks": 1e309}]}',
            "levels[0].fracture_age_weeks",
        ),
        ('{"patient": {"life_expectancy_months": 5000}}', "patient.life_expectancy_months"),
        ('{"patient": {"age": ' + "9" * 5000 + "}}", "(json)"),
    ],
)
def test_non_finite_and_absurd_numbers_are_refused_by_field(text: str, field: str) -> None:
    # issue 11: neither the CLI nor the web API may crash on these
    with pytest.raises(InvalidInput) as exc:
        validate_json(text)
    assert field in str(exc.value)


def test_a_huge_integer_in_a_mapping_is_refused_by_field() -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_input({"patient": {"life_expectancy_months": 10**5000}})
    assert "patient.life_expectancy_months" in str(exc.value)
