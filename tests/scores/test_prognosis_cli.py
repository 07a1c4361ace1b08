"""``vertebro score tokuhashi|tomita|bauer|nesms``: JSON, ranges, exit 2 on bad input."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from vertebro.cli import app

runner = CliRunner()


def test_tokuhashi_json_full() -> None:
    r = runner.invoke(app, ["score", "tokuhashi", "--kps", "90", "--extraspinal", "0",
                            "--spinal", "1", "--visceral", "none", "--primary", "breast",
                            "--frankel", "E", "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["total"] == 15 and data["bands"][0]["code"] == "1_year_or_more"
    assert "Spine 2005;30(19):2186-91" in data["reference"]


def test_unknown_inputs_give_a_range_and_every_open_band() -> None:
    r = runner.invoke(app, ["score", "tomita", "--primary", "lung", "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["total"] is None and data["range"] == [5, 10]
    assert [b["code"] for b in data["bands"]] == [
        "middle_term_local_control", "short_term_palliation", "terminal_care"]
    text = runner.invoke(app, ["score", "tomita", "--primary", "lung"]).stdout
    assert "unknown inputs leave these bands open" in text


def test_nesms_and_bauer_text() -> None:
    r = runner.invoke(app, ["score", "nesms", "--primary", "breast", "--visceral", "none",
                            "--spinal", "1", "--extraspinal", "0", "--ambulatory",
                            "--albumin", "3.9"])
    assert r.exit_code == 0 and r.stdout.startswith("New England Spinal Metastasis Score")
    assert " 3: NESMS 3" in r.stdout or "NESMS) 3" in r.stdout
    r = runner.invoke(app, ["score", "bauer", "--primary", "lung", "--visceral", "untreatable"])
    assert r.exit_code == 0 and "mean survival 4.8 months" in r.stdout


def test_bad_input_exit_2() -> None:
    r = runner.invoke(app, ["score", "tokuhashi", "--kps", "55"])
    assert r.exit_code == 2 and "kps" in r.output
