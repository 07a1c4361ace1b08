"""Small things a user notices (issue 13.8), each as the user meets it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._cli import run


def test_rules_check_on_a_missing_folder_says_so(tmp_path: Path) -> None:
    code, _, err = run("rules", "check", str(tmp_path / "nowhere"))
    assert code == 2 and "no such folder" in err
    (tmp_path / "file.yaml").write_text("x: 1\n")
    code, _, err = run("rules", "check", str(tmp_path / "file.yaml"))
    assert code == 2 and "not a folder" in err


@pytest.mark.parametrize(
    "args",
    [("assess", "missing.json"), ("rules", "show", "no.such.rule"), ("score", "kps", "71")],
)
def test_read_only_commands_do_not_say_nothing_was_written(args: tuple[str, ...]) -> None:
    code, _, err = run(*args)
    assert code == 2 and "invalid input" in err
    assert "nothing was written" not in err


def test_a_refused_write_says_nothing_was_written(tmp_path: Path) -> None:
    code, _, err = run("assess", "--batch", str(tmp_path / "none.jsonl"),
                       "--out", str(tmp_path / "r.jsonl"))
    assert code == 2 and "nothing was written" in err


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    code, _, err = run("demo", "seed", "--patients", "12", "--sites", "1", "--seed", "2",
                       "--db", url)
    assert code == 0, err
    return url


def test_export_and_plot_into_a_missing_folder_behave_alike(db: str, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    code_export, _, err_export = run("registry", "export", "--format", "csv", "--out",
                                     str(missing / "r.csv"), "--as", "researcher", "--research",
                                     "--db", db)
    code_plot, _, err_plot = run("analytics", "audit", "--plot", str(missing / "f.png"),
                                 "--as", "researcher", "--db", db)
    assert code_export == code_plot == 2
    assert "does not exist" in err_export and "does not exist" in err_plot
    assert not (tmp_path / "no").exists(), "no folder is created"
