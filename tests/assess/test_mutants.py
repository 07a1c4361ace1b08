"""The issue-9 properties can fail: each check catches a deliberately broken rulebook (or, for
the sessions, the engine's old chunking), on one patient that the property then rejects.

If a check stopped catching its mutant, the hypothesis property built on it could no longer
fail either.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from vertebro import assess
from vertebro.assess import _engine, load_rulebook

from .conftest import base_patient
from .test_properties import (
    plan_violations,
    red_flag_violations,
    session_violations,
    treat_violations,
)


def _mutant(tmp_path: Path, name: str, edit: Callable[[dict[str, Any]], None]) -> Any:
    for entry in resources.files("vertebro.rulebook").iterdir():
        if entry.name.endswith(".yaml") and not (tmp_path / entry.name).exists():
            (tmp_path / entry.name).write_bytes(entry.read_bytes())
    data = yaml.safe_load((tmp_path / name).read_text())
    edit(data)
    (tmp_path / name).write_text(yaml.safe_dump(data, sort_keys=False))
    return load_rulebook(tmp_path)


def _rule(data: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(r for r in data["rules"] if r["id"] == rule_id)


def test_red_flag_check_catches_a_flag_without_its_action(tmp_path: Path) -> None:
    p = base_patient()
    p["levels"][0]["escc"] = "3"
    assert not red_flag_violations(p, assess(p))
    rb = _mutant(
        tmp_path,
        "bilsky2010.yaml",
        lambda d: _rule(d, "bilsky2010.red_flag.high_grade_escc")["then"].pop("actions"),
    )
    assert red_flag_violations(p, assess(p, rulebook=rb))


def test_plan_check_catches_the_transpedicular_default_at_a_screwed_sacrum(
    tmp_path: Path,
) -> None:
    p = base_patient()
    p["levels"][0].update(level="S1", instrumentation="bilateral_screws")
    assert not plan_violations(p, assess(p))

    def edit(d: dict[str, Any]) -> None:
        d["rules"] = [r for r in d["rules"] if r["id"] != "sorensen2019.technique.sacroplasty"]

    rb = _mutant(tmp_path, "sorensen2019.yaml", edit)
    rb = _mutant(
        tmp_path,
        "aospine2012.yaml",
        lambda d: _rule(d, "aospine2012.approach.transpedicular").update(when={"always": True}),
    )
    assert plan_violations(p, assess(p, rulebook=rb))


def test_session_check_catches_optional_levels_that_add_a_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p = base_patient()
    lv = p["levels"][0]
    p["levels"] = [dict(lv, level=x) for x in ("T7", "T9", "T11")]
    assert not session_violations(assess(p), 3)

    def old(required: list[str], optional: list[str], size: int) -> Any:
        planned = sorted(required + optional, key=_engine.vertebra_index)
        return [planned[j : j + size] for j in range(0, len(planned), size)], []

    monkeypatch.setattr(_engine, "_sessions", old)
    assert session_violations(assess(p), 3)  # T7, T8*, T9 | T10*, T11


def test_treat_check_catches_treat_despite_an_unknown_contraindication(tmp_path: Path) -> None:
    p = base_patient()
    del p["contraindications"]["uncorrectable_coagulopathy"]
    full = base_patient()
    full["contraindications"]["uncorrectable_coagulopathy"] = True
    assert not treat_violations(assess(p), assess(full))
    # A mutant that reads the contraindication only when known "yes" treats while it is unknown.
    rb = _mutant(
        tmp_path,
        "snis2014.yaml",
        lambda d: _rule(d, "snis2014.contraindication.absolute.bleeding_diathesis").update(
            when={
                "all": [
                    {"field": "contraindications.uncorrectable_coagulopathy", "known": True},
                    {"field": "contraindications.uncorrectable_coagulopathy", "is": True},
                ]
            }
        ),
    )
    assert treat_violations(assess(p, rulebook=rb), assess(full, rulebook=rb))
