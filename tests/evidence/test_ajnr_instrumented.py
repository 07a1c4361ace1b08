"""AJNR-instrumented (seed 001): Wilcoxon signed-rank P = .003 for 11 patients who all improved."""

from __future__ import annotations

import math

from scipy import stats

from vertebro.evidence import load_curated, wilcoxon_all_improved

from .tolerances import TOL


def test_wilcoxon_large_sample_p():
    # AJNR-instrumented, Results: mean VAS 8.4 -> 1.5, P = .003 (SPSS, Wilcoxon signed ranks)
    p = wilcoxon_all_improved(11)
    assert abs(p - 0.003) <= TOL["published_3dp"]
    # the same from the normal approximation written out: T+ = 66, mean 33, var 126.5
    z = (66 - 11 * 12 / 4) / math.sqrt(11 * 12 * 23 / 24)
    assert abs(p - 2 * stats.norm.sf(z)) < 1e-12


def test_exact_test_would_print_p_001():
    # for contrast: the exact test gives 2/2^11 = .00098, so the paper used the asymptotic form
    exact = stats.wilcoxon(list(range(1, 12)), method="exact").pvalue
    assert abs(exact - 2 / 2**11) < 1e-12


def test_rows_in_dataset():
    rows = [r for r in load_curated() if r.study == "AJNR instrumented series"]
    vas = {r.timepoint: r.mean for r in rows if r.outcome == "pain_vas"}
    assert vas == {"before augmentation": 8.4, "after augmentation": 1.5}
    assert all(r.n == 11 for r in rows if r.outcome == "pain_vas")
