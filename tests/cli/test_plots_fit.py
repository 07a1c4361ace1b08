"""The registry plots as a reader sees them (issue 13.8): footnotes inside the figure, counts
off the markers, no interval drawn past the end of its scale."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from tests._cli import run
from vertebro import analytics
from vertebro.registry import Registry


@pytest.fixture(scope="module")
def reg(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    url = f"sqlite:///{tmp_path_factory.mktemp('plots') / 'demo.db'}"
    code, _, err = run("demo", "seed", "--patients", "300", "--sites", "3", "--seed", "1",
                       "--db", url)
    assert code == 0, err
    return Registry(url)


def _inside(fig: Figure, artist: object) -> bool:
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    box = artist.get_window_extent(renderer)  # type: ignore[attr-defined]
    whole = fig.bbox
    return bool(box.x0 >= whole.x0 and box.x1 <= whole.x1 and box.y0 >= whole.y0)


def test_funnel_footnote_is_inside_the_figure(reg: Registry) -> None:
    fig = analytics.funnel_figure(analytics.registry_audit(reg, "researcher", by="technique"))
    fig.canvas.draw()
    assert fig._supxlabel is not None and _inside(fig, fig._supxlabel)  # type: ignore[attr-defined]


def test_outcomes_plot(reg: Registry) -> None:
    fig = analytics.outcomes_figure(analytics.registry_outcomes(reg, "researcher"))
    fig.canvas.draw()
    assert _inside(fig, fig._supxlabel)  # type: ignore[attr-defined]
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    for ax in fig.axes:
        low, high = ax.get_ylim()
        # every error bar within the scale
        for coll in ax.collections:
            for seg in coll.get_segments():  # type: ignore[attr-defined]
                assert all(low - 1e-9 <= y <= high + 1e-9 for _, y in seg)
        # the n= counts touch no marker
        counts = [t for t in ax.texts if t.get_text().startswith("n=")]
        assert counts
        for t in counts:
            box = t.get_window_extent(renderer)
            for line in ax.lines:
                if line.get_marker() in (None, "None", ""):
                    continue
                pts = ax.transData.transform(line.get_xydata())
                assert not any(box.contains(x, y) for x, y in pts), t.get_text()
