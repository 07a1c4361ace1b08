"""`vertebro analytics audit` on a real database: exit codes, output, JSON keys, the plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._cli import run
from vertebro.analytics import audit, registry_procedures, render_text, write_funnel_plot
from vertebro.assess import NOTICE
from vertebro.registry import Registry

from .conftest import SYMPTOMATIC_LEAK, add_case


def _ends_with_notice(out: str) -> bool:
    return " ".join(out.split()).endswith(NOTICE)


def test_text_report_names_sources_and_ends_with_the_notice(cohort: Registry, db_url: str) -> None:
    code, out, err = run("analytics", "audit", "--as", "rita", "--db", db_url)
    assert code == 0, err
    for needle in (
        "SNIS-2014",
        "Sorensen-SpineJ-2019",
        "Spiegelhalter",
        "Site A: 6",
        "Site B: 3",
        "2 known, up to 3",
        "not a verdict",
        "none recorded after 1",
    ):
        assert needle in " ".join(out.split()), needle
    assert _ends_with_notice(out)


def test_text_fits_60_columns(cohort: Registry, db_url: str, narrow: None) -> None:
    for by in ("site", "technique"):
        code, out, err = run("analytics", "audit", "--as", "admin", "--by", by, "--db", db_url)
        assert code == 0, err
        assert max(map(len, out.splitlines())) <= 60
        assert _ends_with_notice(out)


@pytest.mark.parametrize("width", [60, 80])
def test_render_text_width(cohort: Registry, width: int) -> None:
    add_case(cohort, "alice", "A7", complications=(SYMPTOMATIC_LEAK,))
    for by in ("site", "technique"):
        text = render_text(audit(registry_procedures(cohort, "admin"), by=by), width)
        assert max(map(len, text.splitlines())) <= width


def test_json_keys(cohort: Registry, db_url: str) -> None:
    code, out, err = run("analytics", "audit", "--as", "alice", "--format", "json", "--db", db_url)
    assert code == 0, err
    data = json.loads(out)
    assert list(data) == [
        "audit",
        "by",
        "threshold",
        "counting_rule",
        "control_limits",
        "cohort",
        "groups",
        "cement_leakage",
        "notice",
        "plot",
    ]
    assert data["threshold"]["source"] == "SNIS-2014, All complications"
    assert data["threshold"]["rate"] == 0.1
    assert [g["group"] for g in data["groups"]] == ["A"]  # alice sees her own site
    group = data["groups"][0]
    assert list(group) == [
        "group",
        "n",
        "events_known",
        "events_possible",
        "events_unknown",
        "no_follow_up",
        "known",
        "possible",
        "limits",
    ]
    assert list(group["known"]) == ["events", "rate", "ci95", "p_value", "status"]
    assert (group["n"], group["events_known"], group["events_possible"]) == (6, 2, 3)
    leak = data["cement_leakage"][0]
    assert leak["reference"]["kind"] == "reference, not a threshold"
    assert leak["reference"]["source"].startswith("Sorensen-SpineJ-2019")
    assert data["notice"] == NOTICE and data["plot"] is None


def test_bad_by_exits_2_naming_the_option(cohort: Registry, db_url: str) -> None:
    code, out, err = run("analytics", "audit", "--as", "rita", "--by", "ward", "--db", db_url)
    assert code == 2 and "--by" in err and "ward" in err and out == ""


def test_bad_plot_path_exits_2_and_writes_nothing(
    cohort: Registry, db_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "funnel.svg"
    code, out, err = run(
        "analytics", "audit", "--as", "rita", "--plot", str(target), "--db", db_url
    )
    assert code == 2 and "plot" in err and ".png" in err and out == ""
    assert not list(tmp_path.glob("funnel*"))
    code, _, err = run(
        "analytics",
        "audit",
        "--as",
        "rita",
        "--plot",
        str(tmp_path / "missing" / "f.png"),
        "--db",
        db_url,
    )
    assert code == 2 and "does not exist" in err


def test_unknown_user_exits_1(cohort: Registry, db_url: str) -> None:
    code, out, err = run("analytics", "audit", "--as", "mallory", "--db", db_url)
    assert code == 1 and "no active user" in err and out == ""


def test_plot_is_written_as_png(cohort: Registry, db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "funnel.png"
    code, out, err = run(
        "analytics",
        "audit",
        "--as",
        "rita",
        "--format",
        "json",
        "--plot",
        str(target),
        "--db",
        db_url,
    )
    assert code == 0, err
    assert json.loads(out)["plot"] == str(target)
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert "funnel plot written" in err


def test_empty_registry_says_so(registry: Registry, db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "funnel.png"
    code, out, err = run(
        "analytics", "audit", "--as", "rita", "--plot", str(target), "--db", db_url
    )
    assert code == 0, err
    assert "nothing to audit" in out and _ends_with_notice(out)
    assert not target.exists() and "no funnel plot written" in err
    code, out, err = run("analytics", "audit", "--as", "rita", "--format", "json", "--db", db_url)
    assert code == 0 and json.loads(out)["cohort"]["n"] == 0


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("audit", "funnel.png"),
        ("audit", "plots"),
        ("outcomes", "outcomes.png"),
        ("outcomes", "plots"),
    ],
)
def test_plot_path_that_is_a_folder_exits_2_naming_the_option(
    cohort: Registry, db_url: str, tmp_path: Path, command: str, name: str
) -> None:
    tmp_path = tmp_path / "out"  # the registry database lives in tmp_path itself
    tmp_path.mkdir()
    folder = tmp_path / name
    folder.mkdir()
    code, out, err = run(
        "analytics", command, "--as", "rita", "--plot", str(folder), "--db", db_url
    )
    assert code == 2 and "--plot" in err and "is a folder" in err and out == ""
    assert "Traceback" not in err and list(folder.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_failed_plot_write_leaves_nothing(
    cohort: Registry, tmp_path: Path, disk_full: None
) -> None:
    tmp_path = tmp_path / "out"  # the registry database lives in tmp_path itself
    tmp_path.mkdir()
    target = tmp_path / "funnel.png"
    target.write_bytes(b"old")
    report = audit(registry_procedures(cohort, "admin"))
    with pytest.raises(OSError, match="disk full"):
        write_funnel_plot(report, target)
    # the old file is untouched and no temporary file is left behind
    assert [p.name for p in tmp_path.iterdir()] == ["funnel.png"]
    assert target.read_bytes() == b"old"
