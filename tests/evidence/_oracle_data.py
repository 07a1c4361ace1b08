"""Seeded datasets for the metafor oracle (test_metafor_oracle.py): random meta-analyses that
cover k = 2, tau^2 = 0, huge heterogeneity, ties and extreme variances, and random study counts
with zero cells for the effect sizes and Mantel-Haenszel/Peto. Values are written rounded
(%.6g), so that R and Python read the same decimal numbers."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

N_META = 200
N_FULL = 30  # the first N_FULL also get meta-regression, leave-one-out, cumulative, bias ...
N_COUNT_GROUPS = 60
SEED = 20261202


def _g(x: float) -> str:
    return f"{x:.6g}"


def meta_rows(n: int = N_META, seed: int = SEED) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    # a three-level factor for formula moderators, from its own stream (the others unchanged)
    lvl_rng = np.random.default_rng(seed + 2)
    ks = [2, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30]
    taus = [0.0, 0.0, 0.01, 0.1, 0.5, 1.0, 25.0]
    rows: list[dict[str, str]] = []
    for i in range(n):
        k = int(ks[i % len(ks)])
        tau2 = float(taus[(i // len(ks)) % len(taus)])
        vi = np.exp(rng.uniform(np.log(0.005), np.log(1.0), k))
        if i % 17 == 5:  # one study far more precise than the rest
            vi[0] = 1e-4
        yi = rng.normal(0.3, 1.0) + rng.normal(0, np.sqrt(tau2), k) + rng.normal(0, np.sqrt(vi))
        if i % 23 == 7:  # identical effects: Q = 0
            yi[:] = yi[0]
        x = rng.uniform(0, 10, k)
        year = rng.integers(1990, 2020, k)
        lvl = lvl_rng.choice(["low", "mid", "high"], k)
        for j in range(k):
            rows.append(
                {
                    "id": f"r{i}",
                    "yi": _g(yi[j]),
                    "vi": _g(vi[j]),
                    "x": _g(x[j]),
                    "grp": "ab"[j % 2],
                    "lvl": str(lvl[j]),
                    "year": str(int(year[j])),
                    "full": str(int(i < N_FULL)),
                }
            )
    return rows


def count_rows(groups: int = N_COUNT_GROUPS, seed: int = SEED + 1) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    rows: list[dict[str, str]] = []
    for g in range(groups):
        k = int(rng.integers(2, 9))
        p1, p2 = rng.uniform(0.0, 0.3, 2)
        for _ in range(k):
            n1, n2 = (int(v) for v in rng.integers(5, 200, 2))
            a, c = int(rng.binomial(n1, p1)), int(rng.binomial(n2, p2))
            ni = int(rng.integers(3, 300))
            xi = int(rng.binomial(ni, rng.choice([0.0, 0.02, 0.3, 0.9, 1.0])))
            ti = float(rng.uniform(10, 1000))
            m1, m2 = rng.uniform(1, 20, 2)
            rows.append(
                {
                    "grp": str(g),
                    "ai": str(a),
                    "bi": str(n1 - a),
                    "ci": str(c),
                    "di": str(n2 - c),
                    "xi": str(xi),
                    "ni": str(ni),
                    "ti": _g(ti),
                    "m1i": _g(m1),
                    "sd1i": _g(rng.uniform(0.5, 5)),
                    "n1i": str(n1),
                    "m2i": _g(m2),
                    "sd2i": _g(rng.uniform(0.5, 5)),
                    "n2i": str(n2),
                    "ri": _g(rng.uniform(-0.95, 0.95)),
                }
            )
    return rows


def write_csv(rows: list[dict[str, str]], path: Path) -> None:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
