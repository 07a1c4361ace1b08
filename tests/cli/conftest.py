"""Shared inputs for the command-line tests."""

from __future__ import annotations

import random
from typing import Any

from tests.assess.conftest import base_patient


def cohort(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` varied patients: the base vignette with levels, facts and unknowns shuffled."""
    rng = random.Random(seed)
    levels = ["T4", "T7", "T9", "T11", "T12", "L1", "L2", "L4"]
    out = []
    for _ in range(n):
        p = base_patient()
        lv = p["levels"][0]
        p["levels"] = [
            {**lv, "level": name, "height_loss_pct": rng.choice([None, 10, 30, 60])}
            for name in rng.sample(levels, rng.choice([1, 1, 2, 3]))
        ]
        p["pain"]["nrs"] = rng.choice([None, 3, 6, 9])
        p["contraindications"]["spinal_infection"] = rng.random() < 0.1
        if rng.random() < 0.3:
            del p["neurology"]["clinical_cord_compression"]
        out.append(p)
    return out
