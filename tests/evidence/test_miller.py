"""Miller (1978) double arcsine back-transformation (../shared/reference/README.md)."""

from __future__ import annotations

import csv
import io

import numpy as np

from vertebro.evidence import RMA, back_transform, data_text, escalc, ipft, pft

from .tolerances import TOL


def _miller():
    rows = list(csv.DictReader(io.StringIO(data_text("reference/miller1978.csv"))))
    return [float(r["xi"]) for r in rows], [float(r["ni"]) for r in rows]


def test_double_arcsine_values():
    xi, ni = _miller()
    e = escalc("PFT", xi=xi, ni=ni)
    for got, want in zip(2 * e.yi, (1.1391, 1.2888, 1.5253, 0.9515), strict=True):
        assert abs(got - want) <= TOL["published_4dp"]
    assert np.allclose(e.vi, 1 / (4 * np.array(ni) + 2), atol=TOL["closed_form"])


def test_back_transformed_common_effect():
    xi, ni = _miller()
    e = escalc("PFT", xi=xi, ni=ni)
    fit = RMA("EE").fit(e.yi, e.vi, measure="PFT", ni=ni)
    p = float(back_transform("PFT", fit.estimate, ni))
    assert abs(p - 0.3595) <= TOL["published_4dp"]
    assert abs(fit.transformed["estimate"] - 0.3595) <= TOL["published_4dp"]


def test_inverse_recovers_proportion_for_each_study():
    # Miller's inverse is exact for a single study at its own n
    for x, n in ((3, 11), (0, 7), (7, 7), (10, 21)):
        assert abs(float(ipft(pft(x, n), n)) - x / n) < 1e-10


def test_pft_uses_no_continuity_correction():
    e = escalc("PFT", xi=[0], ni=[10])
    assert abs(e.yi[0] - 0.5 * (0 + np.arcsin(np.sqrt(1 / 11)))) < TOL["closed_form"]
