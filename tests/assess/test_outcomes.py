"""Expected outcomes: the seed numbers as published, and the Wilson intervals computed."""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from vertebro.assess._outcomes import load_outcomes, wilson_interval

# Table 4 prints 601/760 as 79.07% (truncated, not rounded), hence a 0.01-point tolerance.
TOL = {"ci": 1e-12, "percent": 0.01}


@pytest.mark.parametrize(("events", "n"), [(35, 2024), (8, 909), (0, 10), (10, 10), (51, 63)])
def test_wilson_matches_statsmodels(events: int, n: int) -> None:
    lo, hi = wilson_interval(events, n)
    ref = proportion_confint(events, n, alpha=0.05, method="wilson")
    assert lo == pytest.approx(ref[0], abs=TOL["ci"]) and hi == pytest.approx(ref[1], abs=TOL["ci"])


def test_sorensen_symptomatic_complications() -> None:
    o = load_outcomes().by_technique
    # Sorensen-SpineJ-2019, Table 1: 35/2024 PVP, 8/909 KP
    vp, kp = (
        o["vertebroplasty"]["symptomatic_complications"],
        o["kyphoplasty"]["symptomatic_complications"],
    )
    assert (vp["events"], vp["n"], kp["events"], kp["n"]) == (35, 2024, 8, 909)
    assert vp["percent"] == pytest.approx(100 * 35 / 2024, abs=TOL["percent"])
    assert kp["ci95_percent"][0] < kp["percent"] < kp["ci95_percent"][1]


def test_sorensen_table2_and_leakage() -> None:
    o = load_outcomes().by_technique
    # Sorensen-SpineJ-2019, Table 2: VAS PVP preoperative 7.48 (N 1445); KP < 4 weeks 2.96 (N 814)
    assert o["vertebroplasty"]["nrs"]["by_interval"][0] == {
        "interval": "preoperative",
        "mean": 7.48,
        "n": 1445,
    }
    assert o["kyphoplasty"]["nrs"]["by_interval"][1] == {
        "interval": "< 4 weeks",
        "mean": 2.96,
        "n": 814,
    }
    # Sorensen-SpineJ-2019: leakage 37.9% PVP, 13.6% KP
    assert o["vertebroplasty"]["leakage"][0]["percent"] == 37.9
    assert o["kyphoplasty"]["leakage"][0]["percent"] == 13.6
    # AOSpine-EBSJ-2012 Table 4 (Lee 2009): 601/760 = 79.07%
    lee = o["vertebroplasty"]["leakage"][1]
    assert 100 * lee["events"] / lee["n"] == pytest.approx(lee["percent"], abs=TOL["percent"])
    for tech in o.values():
        for row in tech["leakage"]:
            assert row["source"]
