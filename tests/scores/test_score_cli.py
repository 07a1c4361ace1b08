"""``vertebro score``: the CLI group on top of vertebro.scores (exit 2 on invalid input)."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest
from typer.testing import CliRunner

from vertebro.cli import app

runner = CliRunner()

SINS_T9 = [
    "score", "sins", "--level", "T9", "--pain", "mechanical", "--lesion", "lytic",
    "--alignment", "normal", "--height-loss", "45", "--posterolateral", "none",
]  # fmt: skip


def _json(args: list[str]) -> Any:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_sins_text() -> None:
    result = runner.invoke(app, SINS_T9)
    assert result.exit_code == 0, result.output
    assert "SINS 8 (indeterminate) at T9" in result.stdout  # by hand: 1+3+2+0+2+0


def test_sins_json() -> None:
    data = _json(SINS_T9)
    assert data["total"] == 8
    assert data["category"] == "indeterminate"
    assert data["points"]["location"] == 1
    assert data["descriptors"]["collapse"] == "under_50"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["score", "escc", "1B"], {"grade": "1b", "high_grade": False}),
        (["score", "escc", "3"], {"grade": "3", "high_grade": True}),
        (["score", "genant", "--height-loss", "45"], {"grade": 3, "morphology": None}),
        (
            shlex.split("score genant --anterior 11 --middle 16 --posterior 19 --reference 20"),
            {"grade": 3, "height_loss_pct": 45.0, "morphology": "wedge"},
        ),
        (["score", "kps", "70"], {"ecog": 1, "table": "conventional", "self_care": True}),
        (["score", "kps", "60", "--table", "ma2010"], {"ecog": 2, "self_care": False}),
        (["score", "ecog", "1"], {"kps_range": [70, 80]}),
        (["score", "odi", "2", "2", "2", "2", "2", "2", "2", "1", "1", "0"], {"odi_percent": 32.0}),
        (["score", "rdq", "14"], {"rdq": 14}),
        (
            ["score", "responder", "--measure", "nrs", "--baseline", "8", "--follow-up", "3"],
            {"responder": True, "mcid_points": 2.0, "mcid_percent": 30.0},
        ),
        (
            shlex.split("score responder --measure nrs --baseline 8 --follow-up 6.5 --points 1.5"),
            {"responder": True, "mcid_points": 1.5, "mcid_percent": None},
        ),
    ],
)
def test_json_outputs(args: list[str], expected: dict[str, Any]) -> None:
    data = _json(args)
    assert {k: data[k] for k in expected} == expected


def test_odi_with_unanswered_section() -> None:
    # DESIGN.md section 5: 16 / 45 = 35.6%.
    result = runner.invoke(app, ["score", "odi", "2", "2", "2", "2", "2", "2", "2", "-", "1", "1"])
    assert result.exit_code == 0, result.output
    assert "ODI 35.6% (9 of 10 sections answered)" in result.stdout


def test_kps_text_names_the_table() -> None:
    result = runner.invoke(app, ["score", "kps", "70"])
    assert result.exit_code == 0, result.output
    assert "KPS 70 -> ECOG 1 (table: conventional)" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["score", "kps", "55"], "kps: 55 is not a Karnofsky score"),
        (["score", "kps", "70", "--table", "nope"], "table: 'nope'"),
        (["score", "ecog", "6"], "ecog: 6 is not an ECOG"),
        (["score", "escc", "1d"], "escc: '1d' is not a Bilsky ESCC grade"),
        (["score", "rdq", "25"], "rdq: 25 is not an RDQ score"),
        (["score", "odi", "1", "2", "x"], "sections[2]: 'x' is not an ODI section score"),
        (["score", "odi", "1", "2", "3"], "sections: 3 answers given"),
        (["score", "genant", "--anterior", "10"], "missing (middle, posterior, reference)"),
        ([*SINS_T9[:3], "T13", *SINS_T9[4:]], "level: 'T13' is not a vertebra"),
        (
            ["score", "responder", "--measure", "nrs", "--baseline", "11", "--follow-up", "3"],
            "baseline: 11.0 is not a valid nrs score",
        ),
    ],
)
def test_invalid_input_exits_2_and_names_the_field(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.stderr
