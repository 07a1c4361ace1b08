"""The rulebook loader rejects malformed rules with a clear error (issue #2, point 3)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from vertebro.assess import assess, default_rulebook, load_rulebook
from vertebro.cli import app
from vertebro.errors import RulebookError


@pytest.fixture
def book(tmp_path: Path) -> Path:
    src = resources.files("vertebro.rulebook")
    for entry in src.iterdir():
        if entry.name.endswith(".yaml"):
            (tmp_path / entry.name).write_bytes(entry.read_bytes())
    return tmp_path


def _edit(book: Path, name: str, fn) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load((book / name).read_text())
    fn(data)
    (book / name).write_text(yaml.safe_dump(data, sort_keys=False))


def test_bundled_rulebook_loads_and_every_rule_cites_a_source() -> None:
    rb = default_rulebook()
    assert len(rb.rules) >= 40
    seeds = {p.name for p in (Path(__file__).parents[3] / "shared" / "seeds").glob("*.txt")}
    for r in rb.rules:
        assert r.says and r.section and r.source.citation
        if r.source.seed and seeds:
            assert r.source.seed in seeds, r.id
    assert rb.version.startswith("2026.11.0+")
    assert set(rb.profiles) == {"jnccn2012", "nice2008", "snis2014"}


def test_copy_loads_with_same_version(book: Path) -> None:
    assert load_rulebook(book).version == default_rulebook().version


def test_edit_changes_version(book: Path) -> None:
    _edit(book, "sins2010.yaml", lambda d: d["rules"][0].update(says="edited"))
    assert load_rulebook(book).version != default_rulebook().version


@pytest.mark.parametrize(
    ("name", "mutate", "message"),
    [
        ("snis2014.yaml", lambda d: d["rules"][0].update(whenn={"always": True}), "whenn"),
        ("snis2014.yaml", lambda d: d["rules"].append(dict(d["rules"][0])), "duplicate rule id"),
        (
            "sins2010.yaml",
            lambda d: d["rules"][0]["when"].update(field="level.sins"),
            "unknown field 'level.sins'",
        ),
        (
            "bilsky2010.yaml",
            lambda d: d["rules"][0]["when"].update({"in": ["2", "4"]}),
            "'4' is not a valid value",
        ),
        (
            "aospine2012.yaml",
            lambda d: d["rules"][2]["then"].update(flag="nope"),
            "unknown flag 'nope'",
        ),
        (
            "jnccn2012.yaml",
            lambda d: d["rules"][0].update(when={"field": "level.treated", "is": True}),
            "only plan rules",
        ),
        (
            "nice2008.yaml",
            lambda d: d["rules"][0]["then"].update(indicates="nice2009"),
            "unknown profile",
        ),
        (
            "cafe2011.yaml",
            lambda d: d["rules"][0].update(
                when={"field": "patient.life_expectancy_months", "eval": "x"}
            ),
            "needs exactly one of",
        ),
        ("sins2010.yaml", lambda d: d["rules"][0].update(scope="patient"), "level fact"),
    ],
)
def test_malformed_rules_are_rejected(book: Path, name: str, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    _edit(book, name, mutate)
    with pytest.raises(RulebookError, match=message.replace("(", r"\(")):
        load_rulebook(book)


def test_missing_file_and_cli_check(book: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["rules", "check", str(book)]).exit_code == 0
    (book / "cafe2011.yaml").unlink()
    with pytest.raises(RulebookError, match=r"cafe2011\.yaml is missing"):
        load_rulebook(book)
    result = runner.invoke(app, ["rules", "check", str(book)])
    assert result.exit_code == 1 and "cafe2011.yaml" in result.stderr


def test_engine_uses_the_rulebook_it_is_given(book: Path) -> None:
    # Drop SINS 13 as a red flag in a copy: an unstable level is then no longer referred.
    _edit(book, "sins2010.yaml", lambda d: d["rules"][0]["when"].update(gte=19))
    patient = yaml.safe_load((Path(__file__).parent / "vignettes" / "_base.yaml").read_text())
    patient["levels"][0].update(
        level="T12", height_loss_pct=60, alignment="deformity", posterolateral="bilateral"
    )
    assert assess(patient)["disposition"] == "refer_surgery"
    assert assess(patient, rulebook=load_rulebook(book))["disposition"] != "refer_surgery"


def test_fast_yaml_reader_reads_every_bundled_table_as_safe_load_does() -> None:
    # vertebro._yaml uses libyaml's loader for start-up speed; it must not change a value.
    from vertebro._yaml import load_yaml

    tables = [
        p for pkg in ("vertebro.rulebook", "vertebro.assess", "vertebro.scores")
        for p in _yaml_files(resources.files(pkg))
    ]
    assert len(tables) >= 3
    for node in tables:
        raw = node.read_bytes()
        assert load_yaml(raw) == yaml.safe_load(raw), node.name


def _yaml_files(node: Any) -> list[Any]:
    out = []
    for child in node.iterdir():
        if child.is_dir():
            out += _yaml_files(child)
        elif child.name.endswith((".yaml", ".yml")):
            out.append(child)
    return out
