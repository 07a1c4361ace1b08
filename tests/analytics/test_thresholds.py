"""The thresholds file: its numbers against the seed papers, and its validation."""

from __future__ import annotations

import copy
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml

from vertebro.analytics import default_thresholds, load_thresholds, parse_thresholds
from vertebro.errors import InvalidInput


def _raw() -> dict[str, Any]:
    text = files("vertebro.analytics").joinpath("data", "thresholds.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def test_snis2014_thresholds() -> None:
    th = default_thresholds()
    # SNIS-2014, "All complications": 10% neoplastic, 2% osteoporotic
    rates = {t.population: (t.rate, t.source.seed) for t in th.thresholds}
    assert rates == {"neoplastic": (0.10, "SNIS-2014"), "osteoporotic": (0.02, "SNIS-2014")}
    assert th.threshold.population == "neoplastic"  # the product is for cancer-related VCF
    assert th.threshold.source.section == "All complications"


@pytest.mark.parametrize(
    ("measure", "technique", "events", "n", "rate"),
    [
        # Sorensen-SpineJ-2019, Table 1: cement leakage 1157 (37.9%) PVP, 206 (13.6%) KP
        ("cement_leakage", "vertebroplasty", 1157, None, 0.379),
        ("cement_leakage", "kyphoplasty", 206, None, 0.136),
        # Sorensen-SpineJ-2019, Table 1: symptomatic complications 35 (N 2024), 8 (N 909)
        ("symptomatic_complications", "vertebroplasty", 35, 2024, 35 / 2024),
        ("symptomatic_complications", "kyphoplasty", 8, 909, 8 / 909),
    ],
)
def test_sorensen2019_reference_rates(
    measure: str, technique: str, events: int, n: int | None, rate: float
) -> None:
    ref = default_thresholds().reference(measure, technique)
    assert ref is not None and ref.source.seed == "Sorensen-SpineJ-2019"
    assert (ref.events, ref.n) == (events, n)
    assert ref.rate == pytest.approx(rate)


def test_control_limits_are_spiegelhalters_95_and_99_8() -> None:
    cl = default_thresholds().control_limits
    assert (cl.alert, cl.alarm) == (0.975, 0.999)
    assert "Spiegelhalter" in cl.citation and "verdict" in cl.says


def test_counting_rule_is_stated_with_its_reason() -> None:
    rule = default_thresholds().counting_rule
    assert rule.unit == "procedure" and rule.severity_grade_at_least == 2
    assert rule.leak_types == ("cement_leak",)
    assert "SNIS-2014" in rule.why and "unknown" in rule.says


def _error(data: dict[str, Any]) -> str:
    with pytest.raises(InvalidInput) as exc:
        parse_thresholds(data)
    return str(exc.value)


def test_validation_names_the_field() -> None:
    data = _raw()
    bad = copy.deepcopy(data)
    bad["thresholds"][0]["rate"] = 1.5
    assert "thresholds[0].rate: 1.5" in _error(bad)
    bad = copy.deepcopy(data)
    del bad["thresholds"][0]["source"]
    assert "thresholds[0].source: Field required" in _error(bad)
    bad = copy.deepcopy(data)
    bad["references"][2]["events"] = 3000
    assert "references[2]: events 3000 > n 2024" in _error(bad)
    bad = copy.deepcopy(data)
    bad["counting_rule"]["severity_grade_at_least"] = 7
    assert "counting_rule.severity_grade_at_least: 7" in _error(bad)
    bad = copy.deepcopy(data)
    bad["control_limits"]["alrm"] = 0.999
    assert "control_limits.alrm: Extra inputs are not permitted" in _error(bad)
    bad = copy.deepcopy(data)
    bad["thresholds"][1]["population"] = "neoplastic"
    assert "exactly one threshold for the 'neoplastic' population" in _error(bad)


def test_a_site_file_is_loaded_and_checked(tmp_path: Path) -> None:
    data = _raw()
    data["thresholds"][0]["rate"] = 0.08
    own = tmp_path / "ours.yaml"
    own.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert load_thresholds(own).threshold.rate == 0.08
    broken = tmp_path / "broken.yaml"
    broken.write_text("thresholds: [", encoding="utf-8")
    with pytest.raises(InvalidInput, match="cannot read YAML"):
        load_thresholds(broken)
    with pytest.raises(InvalidInput, match="not a mapping"):
        parse_thresholds([])  # type: ignore[arg-type]
