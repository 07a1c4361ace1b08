"""The outcomes report read from a real registry, and `vertebro analytics outcomes`: the
acting user's access, the read path (days, intervals, a second procedure), exit codes, text
at 60 and 80 columns, JSON keys and the plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._cli import run
from vertebro.analytics import (
    outcomes,
    registry_procedures,
    render_outcomes_text,
    write_outcomes_plot,
)
from vertebro.assess import NOTICE
from vertebro.registry import Registry

from .conftest import add_patient, add_visit


@pytest.fixture
def changes(registry: Registry) -> Registry:
    """Site A (alice): NRS changes -5, -1, -1 at < 4 weeks (PVP), ODI 60 -> 40 in one patient;
    a second procedure of O3 that must not count. Site B (bob): one KP patient, NRS 8 -> 2."""
    add_patient(registry, "alice", "O1")
    add_visit(registry, "alice", "O1", "2025-01-02", baseline=True, nrs=9)
    add_visit(registry, "alice", "O1", "2025-01-09", baseline=True, nrs=8)  # closest: taken
    add_visit(registry, "alice", "O1", "2025-01-20", nrs=5)  # day 10
    add_visit(registry, "alice", "O1", "2025-01-25", nrs=3)  # day 15, nearest day 14: taken
    add_patient(registry, "alice", "O2")
    add_visit(registry, "alice", "O2", "2025-01-10", baseline=True, nrs=7, odi_sections=[3] * 10)
    add_visit(registry, "alice", "O2", "2025-01-24", nrs=6, odi_sections=[2] * 10)
    add_patient(registry, "alice", "O3")
    add_visit(registry, "alice", "O3", "2025-01-08", baseline=True, nrs=3)
    add_visit(registry, "alice", "O3", "2025-01-24", nrs=2)
    registry.add_procedure(
        "alice",
        "O3",
        {"performed_on": "2025-06-01", "levels": [{"level": "T12", "technique": "kyphoplasty"}]},
    )
    add_visit(registry, "alice", "O3", "2025-05-31", baseline=True, nrs=9)
    add_visit(registry, "alice", "O3", "2025-06-14", nrs=1)
    add_patient(registry, "alice", "O4")  # no baseline, seen
    add_visit(registry, "alice", "O4", "2025-01-24", nrs=4)
    add_patient(registry, "bob", "K1", ("L1", "kyphoplasty"))
    add_visit(registry, "bob", "K1", "2025-01-10", baseline=True, nrs=8, kps=50)
    add_visit(registry, "bob", "K1", "2025-02-20", nrs=2, kps=70)  # day 41: <= 6 weeks
    return registry


def test_known_changes_from_the_registry(changes: Registry) -> None:
    report = outcomes(registry_procedures(changes, "alice"))
    assert (report.patients, report.later_procedures) == (4, 1)
    assert [t.technique for t in report.techniques] == ["vertebroplasty"]  # O3's KP is later
    nrs = report.techniques[0].measure("nrs")
    lt4w = nrs.intervals[0]
    assert lt4w.change is not None and lt4w.change.n == 3
    assert lt4w.change.mean == pytest.approx(-7 / 3)  # -5 (8 -> 3), -1, -1
    assert lt4w.level is not None and lt4w.level.n == 4  # O4 too, unpaired
    assert lt4w.responders is not None and lt4w.responders.events == 2  # 8->3; 3->2 (33%)
    odi = report.techniques[0].measure("odi").intervals[0].change
    assert odi is not None and (odi.n, odi.mean) == (1, -20.0)  # ODI 60% -> 40%
    completeness = {c.interval: c for c in report.techniques[0].completeness}
    assert completeness["preop"].seen == 3 and completeness["lt4w"].seen == 4


def test_a_lost_notice_is_not_seen(registry: Registry) -> None:
    # baseline, then a lost-to-follow-up notice at day 14 and a death notice at day 50: the
    # patient was seen at neither interval (as Registry.due stops follow-up at both)
    add_patient(registry, "alice", "N1")
    add_visit(registry, "alice", "N1", "2025-01-09", baseline=True, nrs=8)
    add_visit(registry, "alice", "N1", "2025-01-24", lost_to_follow_up=True)
    add_visit(registry, "alice", "N1", "2025-03-01", vital_status="dead")
    add_patient(registry, "alice", "N2")  # an ordinary visit, for contrast
    add_visit(registry, "alice", "N2", "2025-01-09", baseline=True, nrs=7)
    add_visit(registry, "alice", "N2", "2025-01-24", nrs=3)
    report = outcomes(registry_procedures(registry, "alice"))
    completeness = {c.interval: c for c in report.technique("vertebroplasty").completeness}
    assert completeness["preop"].seen == 2
    assert completeness["lt4w"].seen == 1
    assert completeness["lt6m"].seen == 0 and completeness["lt6m"].died == 1


def test_clinician_sees_own_site_researcher_every_site(changes: Registry) -> None:
    bob = outcomes(registry_procedures(changes, "bob"))
    assert bob.patients == 1 and [t.technique for t in bob.techniques] == ["kyphoplasty"]
    kps = bob.techniques[0].measure("kps").intervals[1]  # <= 6 weeks
    assert kps.interval == "le6w" and kps.change is not None and kps.change.mean == 20
    for user in ("rita", "admin"):
        report = outcomes(registry_procedures(changes, user))
        assert report.patients == 5
        assert [(t.technique, t.patients) for t in report.techniques] == [
            ("vertebroplasty", 4),
            ("kyphoplasty", 1),
        ]


def test_reading_writes_nothing(changes: Registry) -> None:
    before = changes.counts()
    outcomes(registry_procedures(changes, "rita"))
    assert changes.counts() == before


@pytest.mark.parametrize("width", [60, 80])
def test_text_width_sources_and_notice(changes: Registry, width: int) -> None:
    text = render_outcomes_text(outcomes(registry_procedures(changes, "admin")), width)
    assert max(map(len, text.splitlines())) <= width
    flat = " ".join(text.split())
    for needle in (
        "PVP (vertebroplasty): 4 patients",
        "KP (kyphoplasty): 1 patient",
        "Sorensen-SpineJ-2019, Table 2",
        "Ostelo",
        "SNIS-2014",
        "Wilcoxon F.",
        "Clopper",
        "later procedure of the same patients not analysed",
        "No imputation",
    ):
        assert needle in flat, needle
    assert flat.endswith(NOTICE)


def test_cli_text_at_60_columns(changes: Registry, db_url: str, narrow: None) -> None:
    code, out, err = run("analytics", "outcomes", "--as", "rita", "--db", db_url)
    assert code == 0, err
    assert max(map(len, out.splitlines())) <= 60
    assert " ".join(out.split()).endswith(NOTICE)


def test_cli_json_keys(changes: Registry, db_url: str) -> None:
    code, out, err = run(
        "analytics", "outcomes", "--as", "alice", "--format", "json", "--db", db_url
    )
    assert code == 0, err
    data = json.loads(out)
    assert list(data) == [
        "report",
        "unit",
        "selection",
        "methods",
        "patients",
        "later_procedures",
        "techniques",
        "notice",
        "plot",
    ]
    assert data["patients"] == 4 and data["notice"] == NOTICE and data["plot"] is None
    t = data["techniques"][0]
    assert list(t) == ["technique", "patients", "completeness", "measures"]
    assert list(t["completeness"][0]) == [
        "interval",
        "label",
        "seen",
        "recorded",
        "paired",
        "died_by_then",
    ]
    nrs = t["measures"][0]
    assert list(nrs) == [
        "measure",
        "label",
        "better",
        "mcid",
        "baseline",
        "baseline_reference",
        "intervals",
    ]
    assert nrs["mcid"]["points"] == 2 and nrs["mcid"]["percent"] == 30
    iv = nrs["intervals"][0]
    assert list(iv) == ["interval", "label", "recorded", "change", "responders", "reference"]
    assert list(iv["change"]["wilcoxon"]) == [
        "statistic",
        "p_value",
        "method",
        "zero_method",
        "n_ranked",
        "zeros",
        "ties",
    ]
    assert iv["reference"]["kind"] == "reference, not a target"
    assert iv["reference"]["source"] == "Sorensen-SpineJ-2019, Table 2"
    assert iv["responders"]["ci_method"] == "exact (Clopper-Pearson)"


def test_cli_plot_is_written_as_png(changes: Registry, db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "outcomes.png"
    code, out, err = run(
        "analytics",
        "outcomes",
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
    assert "outcomes plot written" in err


def test_cli_bad_plot_path_exits_2_and_writes_nothing(
    changes: Registry, db_url: str, tmp_path: Path
) -> None:
    code, out, err = run(
        "analytics", "outcomes", "--as", "rita", "--plot", str(tmp_path / "o.svg"), "--db", db_url
    )
    assert code == 2 and "plot" in err and ".png" in err and out == ""
    assert not list(tmp_path.glob("o.*"))
    missing = str(tmp_path / "missing" / "o.png")
    code, out, err = run("analytics", "outcomes", "--as", "rita", "--plot", missing, "--db", db_url)
    assert code == 2 and "does not exist" in err and out == ""


def test_cli_bad_format_exits_2_naming_the_option(changes: Registry, db_url: str) -> None:
    code, out, err = run("analytics", "outcomes", "--as", "rita", "--format", "xml", "--db", db_url)
    assert code == 2 and "--format" in err and "xml" in err and out == ""


def test_cli_unknown_user_exits_1(changes: Registry, db_url: str) -> None:
    code, out, err = run("analytics", "outcomes", "--as", "mallory", "--db", db_url)
    assert code == 1 and "no active user" in err and out == ""


def test_cli_empty_registry_says_so(registry: Registry, db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "o.png"
    code, out, err = run(
        "analytics", "outcomes", "--as", "rita", "--plot", str(target), "--db", db_url
    )
    assert code == 0, err
    assert "nothing to report" in out and " ".join(out.split()).endswith(NOTICE)
    assert not target.exists() and "no outcomes plot written" in err
    code, out, err = run(
        "analytics", "outcomes", "--as", "rita", "--format", "json", "--db", db_url
    )
    assert code == 0 and json.loads(out)["patients"] == 0


def test_failed_plot_write_leaves_nothing(
    changes: Registry, tmp_path: Path, disk_full: None
) -> None:
    tmp_path = tmp_path / "out"  # the registry database lives in tmp_path itself
    tmp_path.mkdir()
    target = tmp_path / "outcomes.png"
    report = outcomes(registry_procedures(changes, "admin"))
    with pytest.raises(OSError, match="disk full"):
        write_outcomes_plot(report, target)
    assert list(tmp_path.iterdir()) == []  # no partial PNG, no temporary file
