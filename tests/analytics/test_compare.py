"""`vertebro analytics compare`: IPTW and Kaplan-Meier checked against independent
computations (a closed form and a product-limit written out here), properties, the registry's
scope and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._cli import run
from vertebro.analytics import (
    CompareRecord,
    compare,
    compare_records,
    compare_settings,
    iptw_weights,
    kaplan_meier,
    propensity_scores,
    smd,
    truncate_weights,
    weighted_difference,
)
from vertebro.registry import Registry, demo

TOL = {"ps": 1e-6, "estimate": 1e-9, "km": 1e-12}


def test_propensity_matches_statsmodels_logit() -> None:
    """The GLM-binomial propensity equals statsmodels' discrete Logit fitted independently."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 2))
    t = (rng.random(200) < 1 / (1 + np.exp(-(0.5 * x[:, 0] - x[:, 1])))).astype(float)
    ps = propensity_scores(x, t)
    logit = sm.Logit(t, sm.add_constant(x)).fit(disp=0)
    assert ps == pytest.approx(logit.predict(sm.add_constant(x)), abs=TOL["ps"])


def test_iptw_estimate_equals_direct_standardisation() -> None:
    """With one binary covariate the propensity model is saturated, and the weighted
    difference in means equals the standardised difference sum_x P(x) (mean1_x - mean0_x)
    (Hernan & Robins, Causal Inference, section 2.4): a closed form computed here by hand."""
    rng = np.random.default_rng(11)
    n = 400
    x = (rng.random(n) < 0.4).astype(float)
    t = (rng.random(n) < np.where(x == 1, 0.7, 0.3)).astype(float)
    y = 2.0 * t - 3.0 * x + rng.normal(size=n)
    ps = propensity_scores(x.reshape(-1, 1), t)
    est = weighted_difference(y, t, iptw_weights(ps, t)).estimate
    standardised = sum(
        np.mean(x == v) * (y[(t == 1) & (x == v)].mean() - y[(t == 0) & (x == v)].mean())
        for v in (0.0, 1.0)
    )
    assert est == pytest.approx(standardised, abs=1e-6)
    naive = y[t == 1].mean() - y[t == 0].mean()
    assert weighted_difference(y, t).estimate == pytest.approx(naive, abs=TOL["estimate"])
    assert abs(est - 2.0) < abs(naive - 2.0)  # the adjustment removes the confounding by x


def test_kaplan_meier_against_the_product_limit() -> None:
    """Kaplan & Meier 1958: S(t) = prod over event times <= t of (1 - d_i / n_i), written out
    for a small sample with ties and censoring."""
    times = [3, 5, 5, 8, 10, 10, 12, 15]
    events = [True, True, False, True, True, True, False, False]
    curve = kaplan_meier("g", times, events, [0, 5, 9, 20])
    expected, s = {}, 1.0
    for u in sorted({t for t, e in zip(times, events, strict=True) if e}):
        at_risk = sum(t >= u for t in times)
        deaths = sum(t == u and e for t, e in zip(times, events, strict=True))
        s *= 1 - deaths / at_risk
        expected[u] = s
    got = dict(zip(curve.times, curve.survival, strict=True))
    for u, v in expected.items():
        assert got[u] == pytest.approx(v, abs=TOL["km"])
    assert dict(curve.at_risk) == {0: 8, 5: 7, 9: 4, 20: 0}
    assert (curve.n, curve.events) == (8, 5)
    assert curve.median_days == 10  # S: 0.875, 0.75, 0.6, then 0.3 at day 10 (first <= 0.5)


@settings(max_examples=40)
@given(st.lists(st.tuples(st.floats(0.01, 0.99), st.booleans()), min_size=4, max_size=60))
def test_weights_positive_finite_and_truncated_within_bounds(
    rows: list[tuple[float, bool]],
) -> None:
    ps = np.array([p for p, _ in rows])
    t = np.array([float(b) for _, b in rows])
    w = iptw_weights(ps, t)
    assert np.all(np.isfinite(w)) and np.all(w > 0)
    trimmed, n, (lo, hi) = truncate_weights(w, 1, 99)
    assert np.all((trimmed >= lo) & (trimmed <= hi)) and 0 <= n <= len(w)


@settings(max_examples=40)
@given(st.lists(st.tuples(st.integers(0, 400), st.booleans()), min_size=1, max_size=80))
def test_km_is_non_increasing_and_within_0_1(rows: list[tuple[int, bool]]) -> None:
    curve = kaplan_meier("g", [t for t, _ in rows], [e for _, e in rows], [0, 100, 200])
    s = np.array(curve.survival)
    assert np.all(np.diff(s) <= 1e-12) and np.all((s >= 0) & (s <= 1))
    assert [n for _, n in curve.at_risk] == sorted((n for _, n in curve.at_risk), reverse=True)


def _synthetic(n: int, seed: int) -> list[CompareRecord]:
    """A confounded cohort: sicker patients (visceral metastases, low KPS) get vertebroplasty
    more often and improve less."""
    rng = random.Random(seed)
    names = [c["name"] for c in compare_settings()["covariates"]]
    out = []
    for _ in range(n):
        visceral = float(rng.random() < 0.4)
        kps = float(rng.choice([40, 50, 60, 70, 80, 90]))
        p_kp = 1 / (1 + math.exp(-(-0.2 - 1.2 * visceral + 0.04 * (kps - 65))))
        kp = rng.random() < p_kp
        cov = {name: float(rng.random() < 0.5) for name in names}
        cov.update(visceral_metastases=visceral, kps_assessed=kps, age=rng.gauss(63, 11),
                   levels=float(rng.randint(1, 3)), baseline_nrs=float(rng.randint(4, 10)),
                   max_height_loss=rng.uniform(10, 60))
        base = cov["baseline_nrs"]
        change = -4.0 - 1.0 * kp + 1.5 * visceral + rng.gauss(0, 1)
        out.append(CompareRecord(
            technique="kyphoplasty" if kp else "vertebroplasty", covariates=cov,
            baseline={"nrs": base}, values={("nrs", "lt4w"): base + change},
            survival_days=rng.randint(1, 500), died=rng.random() < 0.5,
        ))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_balance_improves_on_a_confounded_cohort(seed: int) -> None:
    report = compare(_synthetic(600, seed))
    before = [abs(b.smd_before) for b in report.balance]
    after = [abs(b.smd_after) for b in report.balance]
    assert max(after) < report.balance_threshold < max(before)
    assert sum(after) < sum(before)
    nrs = next(e for e in report.effects if (e.measure, e.interval) == ("nrs", "lt4w"))
    assert nrs.adjusted is not None and nrs.unadjusted is not None
    # the true effect is -1: weighting moves the estimate towards it
    assert abs(nrs.adjusted.estimate + 1) < abs(nrs.unadjusted.estimate + 1)


def test_smd_of_identical_groups_is_zero() -> None:
    x, t = np.array([1.0, 2.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0, 0.0])
    assert smd(x, t) == 0.0


# --------------------------------------------------------------------------- the registry
AS_OF = dt.date(2025, 6, 1)


@pytest.fixture
def seeded(empty_registry: Registry) -> Registry:
    demo.seed(empty_registry, 60, sites=2, seed=4, as_of=AS_OF)
    return empty_registry


def test_scope_follows_the_registry_roles(seeded: Registry) -> None:
    everyone, _ = compare_records(seeded, "researcher")
    own, _ = compare_records(seeded, "clin-demo1")
    other, _ = compare_records(seeded, "clin-demo2")
    assert len(everyone) == 60 and len(own) + len(other) == 60 and 0 < len(own) < 60


def test_demo_cohort_carries_what_compare_needs(seeded: Registry) -> None:
    records, no_technique = compare_records(seeded, "researcher")
    assert no_technique == 0
    assert any(r.died for r in records) and any(r.band for r in records)
    assert all(r.covariates["visceral_metastases"] is not None for r in records)
    assert any(r.fracture_days is not None for r in records)


def test_cli_text_json_and_plots(seeded: Registry, db_url: str, tmp_path: Path) -> None:
    love, km = tmp_path / "love.png", tmp_path / "km.png"
    code, out, err = run("analytics", "compare", "--as", "researcher", "--db", db_url,
                         "--love-plot", str(love), "--km-plot", str(km))
    assert code == 0, err
    assert "Balance: standardised mean difference" in out and "at risk, day" in out
    assert love.read_bytes()[:4] == b"\x89PNG" and km.read_bytes()[:4] == b"\x89PNG"
    code, out, _ = run("analytics", "compare", "--as", "researcher", "--db", db_url,
                       "--format", "json")
    data = json.loads(out)
    assert data["trim_percentiles"] == [1.0, 99.0] and data["balance"]
    assert {s["outcome"] for s in data["survival"]} == {"survival", "new_fracture"}


def test_cli_bad_plot_path_exit_2_nothing_written(seeded: Registry, db_url: str,
                                                  tmp_path: Path) -> None:
    code, _, err = run("analytics", "compare", "--as", "researcher", "--db", db_url,
                       "--love-plot", str(tmp_path / "nowhere" / "x.png"))
    assert code == 2 and "does not exist" in err
    assert not list(tmp_path.glob("**/*.png"))
