"""GRADE certainty and the AHA class/level table (Guyatt 2008; SNIS-2014 recommendations)."""

from __future__ import annotations

import pytest
import yaml

from vertebro.errors import InvalidInput
from vertebro.evidence import data_text, parse_sof, render_html, render_markdown


def _sof(outcome: dict) -> dict:
    base = {"outcome": "o", "design": "rct", "effect": "e"}
    base.update(outcome)
    return {"title": "t", "outcomes": [base]}


@pytest.mark.parametrize(
    ("design", "down", "up", "expected"),
    [
        ("rct", 0, 0, "high"),
        ("rct", -1, 0, "moderate"),
        ("rct", -2, 0, "low"),
        ("rct", -4, 0, "very low"),  # floor at very low
        ("observational", 0, 0, "low"),
        ("observational", -1, 0, "very low"),
        ("observational", 0, 2, "high"),
        ("observational", -1, 1, "low"),
    ],
)
def test_certainty_arithmetic(design, down, up, expected):
    domains = {}
    names = ["risk_of_bias", "imprecision"]
    for i in range(-down):
        domains[names[i % 2]] = {"rating": -(i // 2 + 1), "reason": "r"}
    upgrades = {"large_effect": {"rating": up, "reason": "r"}} if up else {}
    sof = parse_sof(_sof({"design": design, "domains": domains, "upgrades": upgrades}))
    assert sof.outcomes[0].certainty == expected


def test_reasons_required_and_domains_checked():
    with pytest.raises(InvalidInput) as info:
        parse_sof(_sof({"domains": {"imprecision": {"rating": -1}, "bias": {"rating": 0}}}))
    text = str(info.value)
    assert "rating down needs a reason" in text and "unknown domain" in text
    with pytest.raises(InvalidInput, match="observational evidence only"):
        parse_sof(_sof({"upgrades": {"dose_response": {"rating": 1, "reason": "r"}}}))
    with pytest.raises(InvalidInput, match="class"):
        parse_sof(
            {"title": "t", "recommendations": [{"statement": "s", "class": "IV", "level": "A"}]}
        )


def test_example_sof_and_snis_recommendations():
    sof = parse_sof(yaml.safe_load(data_text("sof_example.yaml")))
    assert [o.certainty for o in sof.outcomes] == ["low", "very low", "very low"]
    assert sof.outcomes[1].reported == "very low"  # AOSpine-EBSJ-2012's own rating
    assert [(r.cls, r.level) for r in sof.recommendations] == [("IIa", "B")] * 3  # SNIS-2014
    md = render_markdown(sof)
    assert md.count("| IIa | B |") == 3
    html = render_html(sof)
    assert html.startswith("<!DOCTYPE html>") and html.count("<tr>") >= 3 + 3 + 4 + 3


def test_html_escapes_text():
    sof = parse_sof(_sof({"effect": "<script>x</script> & more"}))
    html = render_html(sof)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "\\|" in render_markdown(parse_sof(_sof({"effect": "a | b"})))
