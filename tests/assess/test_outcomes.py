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


def _decimals(x: float) -> int:
    s = f"{x:g}"
    return len(s.split(".")[1]) if "." in s else 0


def test_every_published_rate_is_whole_and_consistent() -> None:
    """Each rate row names its source and unit, carries one percentage (or an upper bound), and
    where a count is printed the percentage agrees with it to the printed precision, unless the
    row says the seed prints something else ("as printed") or the rate is a model estimate."""
    keys = {"measure", "unit", "events", "n", "percent", "percent_below", "ci95", "source", "note"}
    for tech in load_outcomes().by_technique.values():
        for row in [*tech["leakage"], *tech["other_complications"]]:
            assert set(row) <= keys, row
            assert row["source"] and row["unit"] in {"patient", "level"}, row
            assert ("percent" in row) != ("percent_below" in row), row
            model = "ci95" in row or "random effects" in row["measure"]
            if row.get("n") and not model and "as printed" not in row.get("note", ""):
                tol = 0.5 * 10 ** -_decimals(row["percent"]) + TOL["percent"]
                assert abs(100 * row["events"] / row["n"] - row["percent"]) <= tol, row


def _rows(tech: str) -> list[dict]:
    o = load_outcomes().by_technique[tech]
    return [*o["leakage"], *o["other_complications"]]


def test_issue_9_outcome_figures_present() -> None:
    # Sorensen-SpineJ-2019 Discussion: PVP leakage 41.7% before October 2014, 27.4% after
    vp = {r["percent"] for r in _rows("vertebroplasty") if "percent" in r}
    assert {41.7, 27.4} <= vp
    # SNIS-2014 Cement leakage: CAFE 2 of 70 patients; Complications: CAFE 2 of 70
    kp = _rows("kyphoplasty")
    assert any((r.get("events"), r.get("n")) == (2, 70) and "leakage" in r["measure"] for r in kp)
    # SNIS-2014 All complications: major complications < 5% with neoplastic involvement
    for tech in ("vertebroplasty", "kyphoplasty"):
        assert any(r.get("percent_below") == 5 for r in _rows(tech))
    # Mendel 2009 (AOSpine-EBSJ-2012 Discussion), KP: medical 0.5%, adjacent fracture 2.9%
    assert {0.5, 2.9} <= {r["percent"] for r in kp if "Mendel" in r["source"]}
    # Bouza 2009 (AOSpine-EBSJ-2012 Table 4), KP leakage: prospective 11.2%, retrospective 0.51%
    assert {11.2, 0.51} <= {r["percent"] for r in kp if "Bouza" in r["source"]}
    # SNIS-2014 CAFE summary: SF-36 PCS +8.4 (7.7 to 9.1) at 1 month
    sf36 = [t for t in load_outcomes().by_technique["kyphoplasty"]["trials"]
            if "SF-36" in t["outcome"]]
    assert sf36 and sf36[0]["effect"] == 8.4 and sf36[0]["ci95"] == [7.7, 9.1]


def test_report_shows_every_rate_with_its_source() -> None:
    from vertebro.assess._view import _outcome

    for tech, o in load_outcomes().by_technique.items():
        lines = _outcome(tech, o).lines
        for row in _rows(tech):
            assert any(line.startswith(row["measure"] + ":") and row["source"].split(",")[0]
                       in line for line in lines), row["measure"]
