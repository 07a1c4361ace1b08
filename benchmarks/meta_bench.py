"""Benchmark: many random-effects meta-analyses at once (issue 4, "Performance").

10,000 simulated meta-analyses of 20 studies each (seeded). For DL and PM, vertebro's vectorised
``rma_batch`` is timed against a Python loop over statsmodels' ``combine_effects`` on the same
data ("chi2" is DerSimonian-Laird, "iterated" is Paule-Mandel), and the results are compared.
For REML (which statsmodels does not have), the batch is timed against vertebro's own
one-at-a-time ``RMA(method="REML").fit``.

Run:  .venv/bin/python benchmarks/meta_bench.py [--n 10000] [--k 20] [--single-n 10000]

Note: statsmodels does not truncate the DL estimate at zero (DerSimonian & Laird and metafor
do), so for analyses where its tau^2 is negative the pooled estimates differ by design; those are
counted and reported, and compared on max(0, tau^2) only.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from statsmodels.stats.meta_analysis import combine_effects

from vertebro.evidence import RMA, rma_batch

TOL = 1e-8


def simulate(n: int, k: int, seed: int = 20261123) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.2, size=(n, k))
    theta = rng.normal(0.3, np.sqrt(0.05), size=(n, k))  # true study effects, tau^2 = 0.05
    yi = rng.normal(theta, np.sqrt(vi))
    return yi, vi


def bench_statsmodels(yi: np.ndarray, vi: np.ndarray, method: str, sm_method: str) -> None:
    t0 = time.perf_counter()
    batch = rma_batch(yi, vi, method)
    t_batch = time.perf_counter() - t0

    n = yi.shape[0]

    def loop(**kwds: float) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        est, se, tau2 = np.empty(n), np.empty(n), np.empty(n)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # statsmodels: sqrt of negative tau^2
            for i in range(n):
                r = combine_effects(yi[i], vi[i], method_re=sm_method, **kwds)
                est[i], se[i], tau2[i] = r.mean_effect_re, r.sd_eff_w_re, r.tau2
        return time.perf_counter() - t0, est, se, tau2

    t_loop, est, se, tau2 = loop()
    residual = ""
    if sm_method == "iterated":
        # PM solves Q_gen(tau2) = k - 1. statsmodels stops when |Q_gen - (k - 1)| < 1e-5 (its
        # default atol; tighter values make its loop return tau2 = 0 whenever a Newton step
        # overshoots), so its root is only as precise as that; show both residuals.
        def q_resid(t2: np.ndarray) -> float:
            w = 1 / (vi + t2[:, None])
            mu = (w * yi).sum(axis=1) / w.sum(axis=1)
            q = (w * (yi - mu[:, None]) ** 2).sum(axis=1)
            pos = t2 > 0
            return float(np.max(np.abs(q[pos] - (yi.shape[1] - 1)))) if pos.any() else 0.0

        residual = (
            f"  max |Q_gen - (k-1)| at the PM root: vertebro {q_resid(batch.tau2):.1e}, "
            f"statsmodels {q_resid(np.maximum(tau2, 0.0)):.1e}\n"
        )
        # Accuracy (not timed): statsmodels iterated to a 1e-12 tolerance. Where its estimating
        # equation rounds below zero at the root, its loop returns tau2 = 0 although the root is
        # positive; those analyses are counted, not compared.
        _, est_t, se_t, tau2_t = loop(atol=1e-12, maxiter=1000)
        artefact = (tau2_t == 0) & (batch.tau2 > 0)
        w0 = 1 / vi
        mu0 = (w0 * yi).sum(axis=1) / w0.sum(axis=1)
        q0 = (w0 * (yi - mu0[:, None]) ** 2).sum(axis=1)
        # At tau2 = 0 the estimating equation is positive there, so the true root is positive.
        assert np.all(q0[artefact] > yi.shape[1] - 1)
        keep = ~artefact
        d_tight = max(
            float(np.max(np.abs(batch.tau2[keep] - tau2_t[keep]))),
            float(np.max(np.abs(batch.estimate[keep] - est_t[keep]))),
            float(np.max(np.abs(batch.se[keep] - se_t[keep]))),
        )
        residual += (
            f"  statsmodels at atol=1e-12: max |difference| {d_tight:.1e} -> "
            f"{'equal' if d_tight <= TOL else 'NOT equal'} to {TOL:g} on {int(keep.sum())} "
            f"analyses; {int(artefact.sum())} where its loop stopped at tau2 = 0 left out\n"
        )
    negative = tau2 < 0
    ok = ~negative
    d_tau2 = float(np.max(np.abs(batch.tau2 - np.maximum(tau2, 0.0))))
    d_est = float(np.max(np.abs(batch.estimate[ok] - est[ok]))) if ok.any() else 0.0
    d_se = float(np.max(np.abs(batch.se[ok] - se[ok]))) if ok.any() else 0.0
    equal = max(d_tau2, d_est, d_se) <= TOL
    print(f"{method} (statsmodels combine_effects method_re={sm_method!r}), {n} analyses:")
    print(f"  statsmodels loop   {t_loop:8.3f} s")
    print(f"  vertebro batch     {t_batch:8.3f} s   ({batch.iterations} iterations)")
    print(f"  speed-up           {t_loop / t_batch:8.1f} x")
    print(
        f"  max |difference|   estimate {d_est:.1e}, se {d_se:.1e}, tau2 {d_tau2:.1e} "
        f"-> {'equal' if equal else 'NOT equal'} to {TOL:g}"
    )
    print(residual, end="")
    if negative.any():
        print(
            f"  statsmodels tau2 < 0 (not truncated) in {int(negative.sum())} analyses: "
            "estimate/se compared on the others"
        )


def bench_reml(yi: np.ndarray, vi: np.ndarray, n_single: int) -> None:
    t0 = time.perf_counter()
    batch = rma_batch(yi, vi, "REML")
    t_batch = time.perf_counter() - t0
    m = min(n_single, yi.shape[0])
    est = np.empty(m)
    tau2 = np.empty(m)
    t0 = time.perf_counter()
    for i in range(m):
        f = RMA("REML").fit(yi[i], vi[i])
        est[i], tau2[i] = f.estimate, f.tau2
    t_single = time.perf_counter() - t0
    per_batch = t_batch / yi.shape[0]
    per_single = t_single / m
    d = max(
        float(np.max(np.abs(batch.estimate[:m] - est))),
        float(np.max(np.abs(batch.tau2[:m] - tau2))),
    )
    print(f"REML, {yi.shape[0]} analyses (one-at-a-time timed on {m}):")
    print(f"  vertebro RMA().fit loop {t_single:8.3f} s  ({1e3 * per_single:.3f} ms each)")
    print(
        f"  vertebro batch          {t_batch:8.3f} s  "
        f"({1e6 * per_batch:.1f} us each, {batch.iterations} iterations)"
    )
    print(f"  speed-up                {per_single / per_batch:8.1f} x")
    print(f"  max |difference|        {d:.1e} -> {'equal' if d <= TOL else 'NOT equal'} to {TOL:g}")
    print("  (RMA().fit also computes the Q-profile tau^2 CI, I^2 CI and the prediction interval)")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=10_000, help="number of meta-analyses")
    ap.add_argument("--k", type=int, default=20, help="studies per meta-analysis")
    ap.add_argument("--single-n", type=int, default=10_000, help="REML one-at-a-time fits to time")
    args = ap.parse_args()
    yi, vi = simulate(args.n, args.k)
    bench_statsmodels(yi, vi, "DL", "chi2")
    bench_statsmodels(yi, vi, "PM", "iterated")
    bench_reml(yi, vi, args.single_n)


if __name__ == "__main__":
    main()
