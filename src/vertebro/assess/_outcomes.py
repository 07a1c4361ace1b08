"""Expected outcomes and evidence statements, from ``rulebook/outcomes.yaml``.

Loaded once; the report shows them for the techniques a plan proposes. Symptomatic
complication rates get a 95% Wilson score interval computed here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from vertebro._yaml import load_yaml

__all__ = ["Outcomes", "load_outcomes", "wilson_interval"]

_Z95 = 1.959963984540054  # standard normal 97.5% quantile


def wilson_interval(events: int, n: int, z: float = _Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson EB, JASA 1927;22:209-12).

    Closed form written here so the engine need not import statsmodels at start-up; the tests
    check it against ``statsmodels.stats.proportion.proportion_confint(method="wilson")``.
    """
    if n <= 0 or not 0 <= events <= n:
        raise ValueError(f"need 0 <= events <= n and n > 0, got {events}/{n}")
    p = events / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Outcomes:
    by_technique: dict[str, dict[str, Any]]
    evidence: list[dict[str, Any]]


def _series(block: dict[str, Any], intervals: list[str], note: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "source": block["source"],
        "by_interval": [
            {"interval": iv, "mean": mean, "n": n}
            for iv, (mean, n) in zip(intervals, block["values"], strict=True)
        ],
    }
    if note:
        out["note"] = note
    return out


@cache
def load_outcomes() -> Outcomes:
    data = load_yaml(resources.files("vertebro.rulebook").joinpath("outcomes.yaml").read_bytes())
    intervals = data["intervals"]
    kps = _series(data["kps"], intervals, "pooled over vertebroplasty and kyphoplasty")
    by_technique: dict[str, dict[str, Any]] = {}
    for tech, block in data["techniques"].items():
        sc = block["symptomatic_complications"]
        lo, hi = wilson_interval(sc["events"], sc["n"])
        by_technique[tech] = {
            "nrs": _series(block["nrs"], intervals),
            "odi": _series(block["odi"], intervals),
            "kps": kps,
            "leakage": block["leakage"],
            "symptomatic_complications": {
                "events": sc["events"],
                "n": sc["n"],
                "percent": round(100 * sc["events"] / sc["n"], 2),
                "ci95_percent": [round(100 * lo, 2), round(100 * hi, 2)],
                "ci_method": "Wilson score (computed by vertebro)",
                "source": sc["source"],
            },
            "other_complications": block.get("other_complications", []),
            "trials": block["trials"],
        }
    return Outcomes(by_technique, data["evidence"])
