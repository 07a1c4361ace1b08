"""Tables that fit (issue 13.7): at 60 and 80 columns, wrapped or stacked, never cut."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._cli import run
from vertebro.cli import _output


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('reg') / 'demo.db'}"
    code, _, err = run("demo", "seed", "--patients", "40", "--sites", "2", "--seed", "1",
                       "--db", url)
    assert code == 0, err
    return url


@pytest.fixture(params=[60, 80])
def columns(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setenv("COLUMNS", str(request.param))
    _output.console.cache_clear()  # the console reads the width once
    yield request.param
    _output.console.cache_clear()


def _check(out: str, width: int) -> None:
    assert out.strip()
    assert "…" not in out, "no data cut with an ellipsis"
    lines = out.splitlines()
    assert not [line for line in lines if line != line.rstrip()], "no trailing padding"
    assert "None" not in out and "{" not in out, "no Python None or raw JSON"
    assert max(len(line) for line in lines) <= width


def test_rules_list(columns: int) -> None:
    code, out, _ = run("rules", "list")
    assert code == 0
    _check(out, columns)
    # every effect and source whole
    assert "snis2014.contraindication.absolute.systemic_infection" in out
    assert "absolute contraindications" in " ".join(out.split())


def test_registry_summary(db: str, columns: int) -> None:
    code, out, _ = run("registry", "summary", "--as", "researcher", "--db", db)
    assert code == 0
    _check(out, columns)
    assert "≥1 y" in out


def test_registry_audit(db: str, columns: int) -> None:
    code, out, _ = run("registry", "audit", "SYN-00001", "--as", "clin-demo1", "--db", db)
    assert code == 0
    _check(out, columns)
    assert "code: SYN-00001" in out
    # the whole timestamp, to the second
    assert any(len(w) == 8 and w.count(":") == 2 for w in out.split())


def test_registry_due_footer_counts_missed_apart(db: str, columns: int) -> None:
    code, out, _ = run("registry", "due", "--as", "clin-demo1", "--all", "--today",
                       "2030-01-01", "--db", db)
    assert code == 0
    _check(out, columns)
    footer = out.splitlines()[-1]
    assert footer.startswith("follow-ups:") and "missed" in footer
    assert "due or overdue" not in out


def test_key_value_output_has_no_json(db: str, columns: int) -> None:
    code, out, _ = run("registry", "add-patient", f"NEW-{columns}", "--as", "clin-demo1",
                       "--db", db)
    assert code == 0, out
    _check(out, columns)


def test_assess_report_piped(columns: int) -> None:
    # the text report to a pipe: wrapped to the terminal's width, no rich padding at line ends
    code, out, _ = run("assess", "examples/aospine_case.json")
    assert code == 0
    _check(out, columns)
    assert "DISPOSITION: CANDIDATE" in out
