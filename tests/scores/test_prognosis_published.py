"""The prognostic scores against their published tables, row by row (data-driven).

The tables are written out by hand in ``tests/scores/data/prognosis_published.yaml`` from the
sources it names (reprints where the paper itself is not reachable), independently of the
shipped ``scores/data/prognosis.yaml``. Every combination of the published rows is scored and
compared with the sum written in the table, and every total with its published band.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from vertebro.scores import PrognosticScore, modified_bauer, nesms, tokuhashi, tomita

PUBLISHED: Mapping[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "data" / "prognosis_published.yaml").read_text("utf-8")
)
SCORES: dict[str, Callable[..., PrognosticScore]] = {
    "tokuhashi": tokuhashi,
    "tomita": tomita,
    "modified_bauer": modified_bauer,
}
TOL = {"odds_ratio": 1e-9}


def _rows(score: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = PUBLISHED[score]["items"]
    return rows


def _combinations(score: str) -> Iterator[tuple[dict[str, Any], int]]:
    """Every consistent choice of one published row per item: (inputs, summed points)."""
    by_item: dict[str, list[dict[str, Any]]] = {}
    for row in _rows(score):
        by_item.setdefault(row["item"], []).append(row)
    for choice in itertools.product(*by_item.values()):
        inputs: dict[str, Any] = {}
        consistent = True
        for row in choice:
            for key, value in row["input"].items():
                consistent &= inputs.setdefault(key, value) == value
        if consistent:
            yield inputs, sum(row["points"] for row in choice)


def _band_of(score: str, total: int) -> dict[str, Any]:
    (band,) = [b for b in PUBLISHED[score]["bands"] if b["min"] <= total <= b["max"]]
    return band


@pytest.mark.parametrize(
    ("score", "row"),
    [(s, r) for s in SCORES for r in PUBLISHED[s]["items"]],
    ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}={x}" for k, x in v["input"].items()),
)
def test_each_published_row_scores_its_points(score: str, row: dict[str, Any]) -> None:
    # the row's input alone: its item is known, the others are ranges
    result = SCORES[score](**row["input"])
    assert result.points[row["item"]] == (row["points"], row["points"])


@pytest.mark.parametrize("score", list(SCORES))
def test_every_combination_of_rows_sums_and_bands_as_published(score: str) -> None:
    seen = set()
    for inputs, expected in _combinations(score):
        result = SCORES[score](**inputs)
        assert result.total == expected, inputs
        band = _band_of(score, expected)
        assert result.band is not None
        assert (result.band.min, result.band.max) == (band["min"], band["max"])
        if "months" in band:  # Tokuhashi's predicted survival
            assert result.band.months == tuple(band["months"])
        if "goal" in band:  # Tomita's treatment goal
            assert result.band.code == band["goal"]
        if "code" in band:
            assert result.band.code == band["code"]
        seen.add(expected)
    # the published rows reach every total of the score, so every band is exercised
    lo = min(b["min"] for b in PUBLISHED[score]["bands"])
    hi = max(b["max"] for b in PUBLISHED[score]["bands"])
    assert seen == set(range(lo, hi + 1))


def test_modified_bauer_mean_survival_as_transcribed_from_leithner_unverified() -> None:
    # Leithner 2008 Results; docs/prognosis.md keeps these marked unverified
    months = {b.code: b.months for b in modified_bauer().bands}  # all unknown: every band
    for row in PUBLISHED["modified_bauer"]["survival_unverified"]:
        assert months[row["code"]] == (row["mean_months"], row["mean_months"])


def test_nesms_weights_ceiling_and_cutoffs_over_every_bauer_combination() -> None:
    spec = PUBLISHED["nesms"]
    w, cut = spec["weights"], spec["cutoffs_unverified"]
    albumins = (cut["albumin_min_g_dl"] - 0.1, cut["albumin_min_g_dl"])
    for inputs, bauer_total in _combinations("modified_bauer"):
        for walks, albumin in itertools.product((False, True), albumins):
            expected = min(
                spec["ceiling"],
                w["modified_bauer_3_or_more"] * (bauer_total >= cut["modified_bauer_min"])
                + w["ambulatory"] * walks
                + w["albumin_3_5_or_more"] * (albumin >= cut["albumin_min_g_dl"]),
            )
            result = nesms(**inputs, ambulatory=walks, albumin_g_dl=albumin)
            assert result.total == expected, (inputs, walks, albumin)


@pytest.mark.parametrize("row", PUBLISHED["nesms"]["odds_ratios_1y_mortality"],
                         ids=lambda r: r["code"])
def test_nesms_validation_odds_ratios(row: dict[str, Any]) -> None:
    # Schoenfeld 2020 abstract, Results: 1-year mortality against NESMS 3
    every_band = nesms().bands
    (band,) = [b for b in every_band if b.code == row["code"]]
    assert band.odds_ratio is not None
    assert band.odds_ratio.versus == row["versus"]
    assert band.odds_ratio.estimate == pytest.approx(row["estimate"], abs=TOL["odds_ratio"])
    assert band.odds_ratio.ci95 == pytest.approx(tuple(row["ci95"]), abs=TOL["odds_ratio"])
    lo, hi = band.odds_ratio.ci95
    assert lo < band.odds_ratio.estimate < hi
    # the label the report prints says the same numbers
    assert f"{row['estimate']:.2f} (95% CI {lo:.2f}-{hi:.2f})" in band.label


def test_nesms_reference_and_zero_bands_carry_no_odds_ratio() -> None:
    # NESMS 3 is the referent; the abstract's NESMS 0 result is not carried (docs/prognosis.md)
    assert {b.code for b in nesms().bands if b.odds_ratio is None} == {"nesms_0", "nesms_3"}


@pytest.mark.parametrize("score", ["tokuhashi", "tomita", "modified_bauer", "nesms"])
def test_every_shipped_table_names_what_it_was_checked_against(score: str) -> None:
    from vertebro.scores import prognosis_data

    spec = prognosis_data()[score]
    assert isinstance(spec["checked"], list) and isinstance(spec["unverified"], list)
    assert spec["checked"] or spec["unverified"]  # never silent about its provenance
    for entry in spec["checked"]:
        assert entry["source"].strip() and entry["values"]
