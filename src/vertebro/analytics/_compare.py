"""Comparative effectiveness in the registry: kyphoplasty vs vertebroplasty.

Observational, so adjusted for the indication by inverse probability of treatment weighting
(IPTW) on a propensity score (Rosenbaum & Rubin 1983): a logistic model of the technique on
the covariates of ``data/compare.yaml`` (statsmodels GLM, binomial family), stabilised ATE
weights (Cole & Hernan 2008) truncated at stated percentiles, balance as standardised mean
differences before and after weighting (Austin & Stuart 2015; |SMD| < 0.1 balanced). The
effect on the change from baseline of NRS, ODI and KPS per interval is the weighted
difference in means (WLS of the change on the technique with HC1 robust errors, which
ignore the estimation of the propensity score and so err on the wide side), with the
unadjusted difference beside it. Survival and time to a new fracture after the index
procedure are Kaplan-Meier estimates (lifelines) with numbers at risk, by technique and by
prognostic band, with log-rank tests.

Complete cases: a patient with any covariate unrecorded is left out of the adjusted cohort and
counted. Nothing is imputed. Death is censoring for the Kaplan-Meier new-fracture curve: that
curve reads "free of a recorded new fracture while alive and followed", and 1 minus it
overstates the risk of a new fracture when patients die first. Beside it, by technique, the
cumulative incidence of a new fracture with death as the competing event (Aalen-Johansen,
``_compare_cif``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ._compare_cif import CENSORED, DEATH, FRACTURE, CIFCurve, cumulative_incidence
from ._compare_data import CompareRecord, compare_settings

__all__ = [
    "Balance",
    "CompareReport",
    "Difference",
    "Effect",
    "KMCurve",
    "compare",
    "fracture_or_death",
    "iptw_weights",
    "kaplan_meier",
    "propensity_scores",
    "smd",
    "truncate_weights",
    "weighted_difference",
]

Array = npt.NDArray[np.float64]
_Z = 1.959963984540054  # two-sided 95% normal quantile
_MIN_GROUP = 5  # fewer patients in a technique than this: no propensity model


def propensity_scores(x: Array, treated: Array) -> Array:
    """P(treated | x) from a logistic GLM with an intercept (statsmodels)."""
    import statsmodels.api as sm

    design = sm.add_constant(x, has_constant="add")
    fit = sm.GLM(treated, design, family=sm.families.Binomial()).fit()
    return np.asarray(fit.predict(design), dtype=float)


def iptw_weights(ps: Array, treated: Array, *, stabilised: bool = True) -> Array:
    """ATE weights: 1/ps for the treated, 1/(1-ps) for controls; stabilised by the marginal
    probability of each group (Cole & Hernan 2008), so that they average about 1."""
    p = float(treated.mean()) if stabilised else 1.0
    q = 1.0 - float(treated.mean()) if stabilised else 1.0
    return np.where(treated == 1, p / ps, q / (1.0 - ps))


def truncate_weights(
    w: Array, low_pct: float, high_pct: float
) -> tuple[Array, int, tuple[float, float]]:
    """Weights set to their ``low_pct`` and ``high_pct`` percentiles beyond them: the truncated
    weights, how many were changed, and the bounds."""
    lo, hi = (float(v) for v in np.percentile(w, [low_pct, high_pct]))
    out = np.clip(w, lo, hi)
    return out, int(np.sum(out != w)), (lo, hi)


def smd(x: Array, treated: Array, w: Array | None = None) -> float:
    """Standardised mean difference (treated minus control) over the pooled SD,
    sqrt((s1^2 + s0^2) / 2), with weighted means and variances when ``w`` is given
    (Austin & Stuart 2015). 0 when both groups are constant and equal."""
    w = np.ones_like(x) if w is None else w
    t, c = treated == 1, treated == 0

    def mv(mask: npt.NDArray[np.bool_]) -> tuple[float, float]:
        ww, xx = w[mask], x[mask]
        m = float(np.sum(ww * xx) / np.sum(ww))
        v1, v2 = float(np.sum(ww)), float(np.sum(ww**2))
        var = float(np.sum(ww * (xx - m) ** 2)) * v1 / (v1**2 - v2) if v1**2 > v2 else 0.0
        return m, var

    (m1, s1), (m0, s0) = mv(t), mv(c)
    pooled = math.sqrt((s1 + s0) / 2)
    if pooled == 0:
        return 0.0 if m1 == m0 else math.copysign(math.inf, m1 - m0)
    return (m1 - m0) / pooled


@dataclass(frozen=True)
class Difference:
    """Treated minus control, with a 95% confidence interval and a two-sided p value."""

    estimate: float
    se: float
    ci95: tuple[float, float]
    p: float
    mean_treated: float
    mean_control: float


def weighted_difference(y: Array, treated: Array, w: Array | None = None) -> Difference:
    """Difference in (weighted) means of ``y`` by group: the coefficient of a (W)LS
    regression of ``y`` on the group with HC1 robust standard errors (statsmodels)."""
    import statsmodels.api as sm
    from scipy import stats

    w = np.ones_like(y) if w is None else w
    design = sm.add_constant(treated.astype(float), has_constant="add")
    fit = sm.WLS(y, design, weights=w).fit(cov_type="HC1")
    est, se = float(fit.params[1]), float(fit.bse[1])
    p = float(2 * stats.norm.sf(abs(est / se))) if se > 0 else float("nan")
    t, c = treated == 1, treated == 0
    return Difference(
        estimate=est,
        se=se,
        ci95=(est - _Z * se, est + _Z * se),
        p=p,
        mean_treated=float(np.average(y[t], weights=w[t])),
        mean_control=float(np.average(y[c], weights=w[c])),
    )


@dataclass(frozen=True)
class KMCurve:
    """A Kaplan-Meier curve: step times (days) and survival with its 95% CI (lifelines,
    exponential Greenwood), numbers at risk at the report's days, events and the median."""

    group: str
    n: int
    events: int
    times: tuple[float, ...]
    survival: tuple[float, ...]
    ci_low: tuple[float, ...]
    ci_high: tuple[float, ...]
    at_risk: tuple[tuple[int, int], ...]
    median_days: float | None


def kaplan_meier(
    group: str, durations: Sequence[float], events: Sequence[bool], at_risk_days: Sequence[int]
) -> KMCurve:
    """Kaplan-Meier estimate of one group (lifelines ``KaplanMeierFitter``)."""
    from lifelines import KaplanMeierFitter

    d = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    km = KaplanMeierFitter().fit(d, event_observed=e)
    sf = km.survival_function_.iloc[:, 0]
    ci = km.confidence_interval_survival_function_
    median = float(km.median_survival_time_)
    return KMCurve(
        group=group,
        n=len(d),
        events=int(e.sum()),
        times=tuple(float(t) for t in sf.index),
        survival=tuple(float(v) for v in sf.to_numpy()),
        ci_low=tuple(float(v) for v in ci.iloc[:, 0].to_numpy()),
        ci_high=tuple(float(v) for v in ci.iloc[:, 1].to_numpy()),
        at_risk=tuple((day, int(np.sum(d >= day))) for day in at_risk_days),
        median_days=None if math.isinf(median) else median,
    )


@dataclass(frozen=True)
class Balance:
    covariate: str
    label: str
    smd_before: float
    smd_after: float


@dataclass(frozen=True)
class Effect:
    """The change from baseline of one measure at one interval, by technique."""

    measure: str
    interval: str
    n_treated: int
    n_control: int
    unadjusted: Difference | None
    adjusted: Difference | None


@dataclass(frozen=True)
class SurvivalComparison:
    """Curves of one outcome split one way, with the log-rank test across them."""

    outcome: str  # survival | new_fracture
    by: str  # technique | band
    curves: tuple[KMCurve, ...]
    logrank_p: float | None
    left_out: int  # records without the time (no follow-up after the procedure) or band


@dataclass(frozen=True)
class CompareReport:
    treated: str
    control: str
    patients: int  # index procedures with a technique
    no_technique: int  # index procedures without a treated level (left out)
    adjusted_n: int  # complete cases of the propensity model
    missing_covariates: dict[str, int]  # covariate -> patients without it
    covariates: tuple[str, ...]  # in the model
    dropped_covariates: tuple[str, ...]  # constant in the cohort
    trim_percentiles: tuple[float, float]
    trimmed: int
    weight_bounds: tuple[float, float]
    weight_range: tuple[float, float]  # after truncation
    effective_n: dict[str, float]  # Kish effective sample size per group
    balance: tuple[Balance, ...]
    balance_threshold: float
    effects: tuple[Effect, ...]
    survival: tuple[SurvivalComparison, ...]
    # new fracture with death competing (Aalen-Johansen), by technique
    new_fracture_incidence: tuple[CIFCurve, ...] = ()
    min_group: int = 5  # a difference is shown only with this many patients in each technique
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["method"] = {
            "propensity": "logistic GLM (statsmodels), intercept plus the covariates",
            "weights": "stabilised ATE IPTW (Cole & Hernan 2008), truncated at the percentiles",
            "effect": "WLS of the change on the technique, HC1 robust SE; unadjusted: OLS, HC1",
            "survival": "Kaplan-Meier (lifelines), log-rank test; death censors new fracture",
            "new_fracture_incidence": (
                "Aalen-Johansen cumulative incidence (lifelines), death before a recorded new "
                "fracture as the competing event; 1 - Kaplan-Meier overstates this risk"
            ),
            "references": [
                "Rosenbaum PR, Rubin DB. Biometrika 1983;70(1):41-55",
                "Austin PC, Stuart EA. Stat Med 2015;34(28):3661-79",
                "Cole SR, Hernan MA. Am J Epidemiol 2008;168(6):656-64",
                "Kaplan EL, Meier P. J Am Stat Assoc 1958;53(282):457-81",
                "Aalen OO, Johansen S. Scand J Stat 1978;5(3):141-50",
            ],
        }
        out: dict[str, Any] = _finite(data)
        return out


def _finite(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _kish(w: Array) -> float:
    return float(np.sum(w) ** 2 / np.sum(w**2)) if len(w) else 0.0


def _survival(
    records: Sequence[CompareRecord], settings: Mapping[str, Any], band_labels: Mapping[str, str]
) -> tuple[SurvivalComparison, ...]:
    from lifelines.statistics import multivariate_logrank_test

    out = []
    for outcome in ("survival", "new_fracture"):
        for by in ("technique", "band"):
            if by == "band" and outcome == "new_fracture":
                continue
            rows = [
                (
                    r.technique if by == "technique" else r.band,
                    r.survival_days if outcome == "survival" else r.fracture_days,
                    r.died if outcome == "survival" else r.fractured,
                )
                for r in records
            ]
            usable = [(g, t, e) for g, t, e in rows if g is not None and t is not None]
            order = list(band_labels)
            groups = sorted(
                {g for g, _, _ in usable},
                key=lambda g: (order.index(g) if g in band_labels else -1, g),
            )
            curves = tuple(
                kaplan_meier(
                    band_labels.get(g, g),
                    [t for gg, t, _ in usable if gg == g],
                    [e for gg, _, e in usable if gg == g],
                    settings["at_risk_days"],
                )
                for g in groups
            )
            p = None
            if len(groups) >= 2 and any(e for _, _, e in usable):
                res = multivariate_logrank_test(
                    [t for _, t, _ in usable], [g for g, _, _ in usable],
                    [e for _, _, e in usable],
                )
                p = float(res.p_value)
            out.append(SurvivalComparison(outcome, by, curves, p, len(rows) - len(usable)))
    return tuple(out)


def fracture_or_death(record: CompareRecord) -> tuple[float, int] | None:
    """(days, event) of the first of a recorded new fracture and death, for the competing-risk
    estimate; ``None`` without a fracture check after the procedure (as for Kaplan-Meier).

    A death without a recorded fracture is the competing event on the day of death; a fracture
    between the last check and death would go unrecorded either way.
    """
    if record.fracture_days is None:
        return None
    if record.fractured:
        return float(record.fracture_days), FRACTURE
    if record.died and record.survival_days is not None:
        return float(record.survival_days), DEATH
    return float(record.fracture_days), CENSORED


def _incidence(
    records: Sequence[CompareRecord], settings: Mapping[str, Any]
) -> tuple[CIFCurve, ...]:
    rows = [(r.technique, fr) for r in records if (fr := fracture_or_death(r)) is not None]
    return tuple(
        cumulative_incidence(
            g,
            [t for gg, (t, _) in rows if gg == g],
            [e for gg, (_, e) in rows if gg == g],
            settings["at_risk_days"],
        )
        for g in sorted({g for g, _ in rows})
    )


def compare(
    records: Sequence[CompareRecord],
    *,
    no_technique: int = 0,
    settings: Mapping[str, Any] | None = None,
) -> CompareReport:
    """The comparative-effectiveness report of ``records`` (see the module docstring)."""
    from vertebro.scores import prognosis_data

    cfg = settings or compare_settings()
    treated_name, control_name = cfg["treated"], cfg["control"]
    names = [c["name"] for c in cfg["covariates"]]
    labels = {c["name"]: c["label"] for c in cfg["covariates"]}
    missing = {n: sum(r.covariates.get(n) is None for r in records) for n in names}
    complete = [r for r in records if all(r.covariates.get(n) is not None for n in names)]
    notes: list[str] = []
    t: Array = np.array(
        [1.0 if r.technique == treated_name else 0.0 for r in complete], dtype=np.float64
    )
    x_all: Array = np.array(
        [[float(r.covariates[n] or 0.0) for n in names] for r in complete], dtype=np.float64
    ).reshape(len(complete), len(names))
    keep = [j for j in range(len(names)) if len(complete) and np.ptp(x_all[:, j]) > 0]
    dropped = tuple(names[j] for j in range(len(names)) if j not in keep and len(complete))
    lo_pct, hi_pct = (float(v) for v in cfg["trim_percentiles"])
    enough = t.sum() >= _MIN_GROUP and (len(t) - t.sum()) >= _MIN_GROUP
    if enough:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ps = propensity_scores(x_all[:, keep], t)
        notes += sorted({f"propensity model: {w.message}" for w in caught})
        ps = np.clip(ps, 1e-6, 1 - 1e-6)
        raw = iptw_weights(ps, t)
        w, trimmed, bounds = truncate_weights(raw, lo_pct, hi_pct)
    else:
        notes.append(
            f"fewer than {_MIN_GROUP} complete cases in a technique: no propensity model, "
            "unadjusted results only"
        )
        w, trimmed, bounds = np.ones_like(t), 0, (1.0, 1.0)
    balance = tuple(
        Balance(
            n,
            labels[n],
            smd(x_all[:, j], t) if enough else float("nan"),
            smd(x_all[:, j], t, w) if enough else float("nan"),
        )
        for j, n in enumerate(names)
    )
    index = {id(r): k for k, r in enumerate(complete)}
    min_group = int(cfg["min_group"])
    effects = []
    from vertebro.registry.vocab import INTERVALS

    for measure in cfg["measures"]:
        for interval in INTERVALS[1:]:
            rows = [
                (r, r.values[(measure, interval)] - b)
                for r in records
                if (b := r.baseline.get(measure)) is not None and (measure, interval) in r.values
            ]
            if not rows:
                continue
            y_all = np.array([c for _, c in rows])
            t_all = np.array([1.0 if r.technique == treated_name else 0.0 for r, _ in rows])
            n1, n0 = int(t_all.sum()), int(len(t_all) - t_all.sum())
            unadj = weighted_difference(y_all, t_all) if min(n1, n0) >= min_group else None
            adj = None
            cc = [(index[id(r)], c) for r, c in rows if id(r) in index]
            if enough and cc:
                ks = np.array([k for k, _ in cc])
                tc = t[ks]
                if min(tc.sum(), len(tc) - tc.sum()) >= min_group:
                    adj = weighted_difference(np.array([c for _, c in cc]), tc, w[ks])
            effects.append(Effect(measure, interval, n1, n0, unadj, adj))
    bands = prognosis_data()[cfg["band_score"]]["bands"]
    band_labels = {b["code"]: f"{cfg['band_score']} {b['min']}-{b['max']}" for b in bands}
    return CompareReport(
        treated=treated_name,
        control=control_name,
        patients=len(records),
        no_technique=no_technique,
        adjusted_n=len(complete) if enough else 0,
        missing_covariates={k: v for k, v in missing.items() if v},
        covariates=tuple(names[j] for j in keep),
        dropped_covariates=dropped,
        trim_percentiles=(lo_pct, hi_pct),
        trimmed=trimmed,
        weight_bounds=bounds,
        weight_range=(float(w.min()), float(w.max())) if len(w) else (0.0, 0.0),
        effective_n={
            treated_name: _kish(w[t == 1]),
            control_name: _kish(w[t == 0]),
        },
        balance=balance,
        balance_threshold=float(cfg["balance_threshold"]),
        effects=tuple(effects),
        survival=_survival(records, cfg, band_labels),
        new_fracture_incidence=_incidence(records, cfg),
        min_group=min_group,
        notes=tuple(notes),
    )
