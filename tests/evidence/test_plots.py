"""Forest, funnel and PRISMA figures are written as SVG and PNG, deterministically."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vertebro.evidence import (
    RMA,
    data_text,
    forest_plot,
    funnel_plot,
    parse_prisma,
    prisma_diagram,
    save_figure,
    subgroups,
    trimfill,
)


def test_forest_and_funnel(tmp_path, bcg, bcg_rows):
    labels = [f"{r['author']} {r['year']}" for r in bcg_rows]
    fit = RMA("REML").fit(bcg.yi, bcg.vi, measure="RR", slab=labels)
    sg = subgroups(bcg.yi, bcg.vi, [r["alloc"] for r in bcg_rows], measure="RR", slab=labels)
    files = save_figure(forest_plot(fit, subgroups=sg, title="BCG"), tmp_path / "forest.svg")
    assert [p.suffix for p in files] == [".svg", ".png"]
    svg = files[0].read_text()
    assert "Rosenthal et al 1960" in svg and "Prediction interval" in svg
    assert "Test for subgroup differences" in svg
    again = save_figure(forest_plot(fit, subgroups=sg, title="BCG"), tmp_path / "again.svg")
    assert again[0].read_text() == svg  # deterministic SVG
    tf = trimfill(bcg.yi, bcg.vi)
    files = save_figure(funnel_plot(fit, trimfill=tf), tmp_path / "funnel.png")
    assert files[1].read_bytes()[:4] == b"\x89PNG" and "trim-and-fill" in files[0].read_text()


def test_contour_funnel_regions(tmp_path, bcg):
    # Peters et al. 2008: a study on a contour has two-sided p = 1 - level/100 against 0
    from scipy import stats

    from vertebro.evidence import CONTOUR_LEVELS, funnel_contours

    se = np.array([0.1, 0.5])
    for lev, (lo, hi) in zip(CONTOUR_LEVELS, funnel_contours(se), strict=True):
        np.testing.assert_allclose(2 * stats.norm.sf(hi / se), 1 - lev / 100, rtol=1e-12)
        np.testing.assert_allclose(lo, -hi, rtol=1e-15)
    fit = RMA("REML").fit(bcg.yi, bcg.vi, measure="RR")
    svg = save_figure(funnel_plot(fit, contours=CONTOUR_LEVELS), tmp_path / "c.svg")[0].read_text()
    for text in ("0.01 &lt; p", "0.05 &lt; p", "0.10 &lt; p", "Null (0)"):
        assert text in svg
    with pytest.raises(Exception, match="contours"):
        funnel_contours(se, (95, 100))


def test_forest_proportions_pft(tmp_path):
    from vertebro.evidence import escalc

    e = escalc("PFT", xi=[3, 6, 10, 1], ni=[11, 17, 21, 6])
    fit = RMA("DL").fit(e.yi, e.vi, measure="PFT", ni=e.ni)
    fig = forest_plot(fit, data_labels=["3/11", "6/17", "10/21", "1/6"])
    svg = save_figure(fig, tmp_path / "p.svg")[0].read_text()
    assert "Proportion" in svg and "0.27 [" in svg  # study 1: 3/11 = 0.27 on its own n


def test_prisma_example(tmp_path):
    c = parse_prisma(json.loads(data_text("prisma_sorensen2019.json")))
    svg = save_figure(prisma_diagram(c), tmp_path / "flow.svg")[0].read_text()
    for text in ("243", "73", "36", "87", "150", "85", "not reported", "Counts do not reconcile"):
        assert text in svg


def test_bad_suffix(tmp_path, bcg):
    with pytest.raises(Exception, match=r"svg or \.png"):
        save_figure(funnel_plot(RMA().fit(bcg.yi, bcg.vi)), tmp_path / "x.pdf")
