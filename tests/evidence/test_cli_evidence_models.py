"""``vertebro evidence multilevel`` and ``vertebro evidence glmm`` (cli/_evidence_models.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vertebro.evidence import RMAGLMM, RMAMV

from .test_cli_evidence import APP

runner = CliRunner()
EXAMPLES = Path(__file__).parents[2] / "examples"
KOSE = EXAMPLES / "kose2006_vas_intervals.csv"
NIELWEISE = EXAMPLES / "nielweise2007_treated.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def _json(args: list[str]) -> dict:
    res = runner.invoke(APP, ["evidence", *args, "--format", "json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_group_lists_both_commands():
    res = runner.invoke(APP, ["evidence", "--help"])
    assert res.exit_code == 0
    assert "multilevel" in res.stdout and "glmm" in res.stdout


@pytest.mark.parametrize(("method", "test", "level"), [("REML", "z", 95.0), ("ML", "t", 90.0)])
def test_multilevel_json_is_the_library_fit(method, test, level):
    rows = _rows(KOSE)
    out = _json(
        ["multilevel", str(KOSE), "--method", method, "--test", test, "--level", str(level)]
    )
    fit = RMAMV(method, test, level=level).fit(
        [float(r["yi"]) for r in rows],
        [float(r["vi"]) for r in rows],
        study=[r["study"] for r in rows],
        estimate=[r["estimate"] for r in rows],
    )
    assert out["k"] == 6 and out["nlvls"] == {"study": 2, "estimate": 6}
    assert out["estimate"] == fit.estimate and out["ci"] == [fit.ci_lb, fit.ci_ub]
    assert out["sigma2"] == {"study": fit.sigma2[0], "estimate": fit.sigma2[1]}
    assert out["dist"] == ("t(5)" if test == "t" else "z")
    assert out["omitted_lines"] == []


def test_multilevel_text_and_named_columns(tmp_path):
    p = tmp_path / "k.csv"
    p.write_text(
        "district,school,d,var\n"
        + "".join(f"{r['study']},{r['estimate']},{r['yi']},{r['vi']}\n" for r in _rows(KOSE))
    )
    args = ["--yi", "d", "--vi", "var", "--study", "district", "--estimate", "school"]
    res = runner.invoke(APP, ["evidence", "multilevel", str(p), *args])
    assert res.exit_code == 0, res.output
    assert "sigma^2.1" in res.stdout and "district/school" in res.stdout  # the columns
    assert "Prediction interval" in res.stdout


def test_multilevel_missing_cells_are_left_out_with_a_note(tmp_path):
    p = tmp_path / "k.csv"
    lines = KOSE.read_text().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + ",NA"  # line 4: vi missing
    p.write_text("\n".join(lines) + "\n")
    res = runner.invoke(APP, ["evidence", "multilevel", str(p), "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["k"] == 5 and out["omitted_lines"] == [4]
    assert "lines 4" in res.stderr


@pytest.mark.parametrize(
    ("edit", "names"),
    [
        (lambda t: t.replace("yi,vi", "y,vi", 1), ["--yi", "'yi' is not a column"]),
        (lambda t: t.replace("15.3", "fifteen", 1), ["yi", "line 2", "not a number"]),
        (lambda t: t.replace("0.72", "-0.72", 1), ["vi", "line 3", "> 0"]),
        (
            lambda t: "study,yi,vi\na,0.1,0.01\nb,0.2,0.02\nc,0.3,0.01\n",
            ["--study", "one estimate"],
        ),
    ],
)
def test_multilevel_bad_input_exit_2(tmp_path, edit, names):
    p = tmp_path / "bad.csv"
    p.write_text(edit(KOSE.read_text()))
    res = runner.invoke(APP, ["evidence", "multilevel", str(p)])
    assert res.exit_code == 2, res.output
    for n in names:
        assert n in res.output


def test_glmm_json_is_the_library_fit_with_zero_events():
    rows = _rows(NIELWEISE)
    out = _json(["glmm", str(NIELWEISE), "--level", "90"])
    fit = RMAGLMM(level=90).fit([int(r["xi"]) for r in rows], [int(r["ni"]) for r in rows])
    assert out["estimate"] == fit.estimate and out["tau2"] == fit.tau2
    assert out["ci"] == [fit.ci_lb, fit.ci_ub]
    assert out["zero_event_studies"] == sum(r["xi"] == "0" for r in rows) > 0
    assert out["studies"][0]["study"] == rows[0]["study"]


def test_glmm_text():
    res = runner.invoke(APP, ["evidence", "glmm", str(NIELWEISE), "--method", "EE"])
    assert res.exit_code == 0, res.output
    assert "Common-effect logistic model" in res.stdout
    assert "Back-transformed (proportion)" in res.stdout


@pytest.mark.parametrize(
    ("text", "args", "names"),
    [
        ("study,xi,ni\na,3,10\nb,12,10\n", [], ["xi", "line 3", "exceed"]),
        ("study,xi,ni\na,0,10\nb,0,12\n", [], ["--xi", "no study has an event"]),
        ("study,xi,ni\na,1.5,10\nb,2,12\n", [], ["xi", "line 2", "whole number"]),
        ("study,events,ni\na,1,10\nb,2,12\n", [], ["--xi", "'xi' is not a column"]),
        ("study,xi,ni\na,1,10\nb,2,12\n", ["--method", "REML"], ["--method"]),
    ],
)
def test_glmm_bad_input_exit_2(tmp_path, text, args, names):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    res = runner.invoke(APP, ["evidence", "glmm", str(p), *args])
    assert res.exit_code == 2, res.output
    for n in names:
        assert n in res.output


@pytest.mark.parametrize(
    "args",
    [
        [
            "multilevel",
            str(EXAMPLES / "konstantopoulos2011.csv"),
            "--study",
            "district",
            "--estimate",
            "school",
        ],
        ["glmm", str(NIELWEISE)],
    ],
)
def test_docs_show_what_the_commands_print(args):
    # docs/evidence.md, "Multilevel and GLMM models": the printed outputs are the commands' own
    docs = (Path(__file__).parents[2] / "docs" / "evidence.md").read_text()
    res = runner.invoke(APP, ["evidence", *args])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() in docs
