"""The assess command as a user runs it: text report, JSON, batch."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from vertebro.cli import app

from .conftest import EXAMPLES, base_patient

runner = CliRunner()


def test_json_output_is_byte_identical_between_runs() -> None:
    args = ["assess", str(EXAMPLES / "aospine_case.json"), "--format", "json"]
    first, second = runner.invoke(app, args), runner.invoke(app, args)
    assert first.exit_code == 0
    assert first.stdout == second.stdout
    result = json.loads(first.stdout)
    assert result["disposition"] == "candidate"
    assert result["notice"].startswith("Decision support")


def test_text_report_fits_a_narrow_terminal() -> None:
    for name in ("aospine_case.json", "ajnr_instrumented_case.json"):
        out = runner.invoke(app, ["assess", str(EXAMPLES / name), "--width", "60"]).stdout
        lines = out.splitlines()
        assert lines[1].startswith("DISPOSITION: CANDIDATE"), "disposition comes first"
        assert max(len(line) for line in lines) <= 60
        order = [out.index(h) for h in ("PLAN PER LEVEL", "ACTIONS", "WHY", "EXPECTED OUTCOMES")]
        assert order == sorted(order)
        assert "not a decision" in out


def test_text_report_names_what_is_missing(tmp_path: Path) -> None:
    p = base_patient()
    del p["neurology"]["clinical_cord_compression"]
    src = tmp_path / "p.json"
    src.write_text(json.dumps(p))
    out = runner.invoke(app, ["assess", str(src), "--width", "70"]).stdout
    assert "DISPOSITION: INCOMPLETE" in out
    # named in words for the reader (issue 13.8); the JSON keeps the path
    assert "clinical spinal cord compression" in out.split("PLAN PER LEVEL")[0]
    assert "neurology.clinical_cord_compression" not in out


def test_batch_writes_one_result_per_patient(tmp_path: Path) -> None:
    patients = [base_patient(), json.loads((EXAMPLES / "aospine_case.json").read_text())]
    patients[0]["contraindications"]["spinal_infection"] = True
    src = tmp_path / "cohort.jsonl"
    src.write_text("\n".join(json.dumps(p) for p in patients) + "\n\n")
    out = tmp_path / "results.jsonl"  # its folder must exist (tests/cli/test_batch.py)
    result = runner.invoke(app, ["assess", "--batch", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in rows] == [1, 2]
    assert [r["disposition"] for r in rows] == ["contraindicated", "candidate"]
    assert "assessed 2 patients" in result.stderr


def test_stdin_input() -> None:
    result = runner.invoke(
        app,
        ["assess", "-", "--format", "json"],
        input=(EXAMPLES / "ajnr_instrumented_case.json").read_text(),
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["levels"][0]["technique"] == "vertebroplasty"


def test_rules_list_show_and_check(tmp_path: Path) -> None:
    listed = runner.invoke(app, ["rules", "list", "--source", "SNIS-2014", "--format", "json"])
    rules = json.loads(listed.stdout)["rules"]
    assert rules and all(r["source"]["id"] == "SNIS-2014" for r in rules)
    # sources by short name: a seed file name is not something a user has (issue 9.9)
    assert all("seed" not in r["source"] for r in rules)
    assert ".txt" not in listed.stdout
    shown = runner.invoke(app, ["rules", "show", "sins2010.red_flag.unstable"])
    assert "level.sins_total >= 13" in shown.stdout and "Fisher" in shown.stdout
    bad = runner.invoke(app, ["rules", "show", "sins2010.red_flag.unstabl"])
    assert bad.exit_code == 2 and "did you mean 'sins2010.red_flag.unstable'" in bad.stderr
    assert runner.invoke(app, ["rules", "list", "--source", "XYZ"]).exit_code == 2
