"""Genant grade: Genant HK et al. J Bone Miner Res 1993;8(9):1137-48 (DESIGN.md section 5)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vertebro.errors import InvalidInput
from vertebro.scores import Genant, genant, genant_grade, genant_morphology, height_loss_pct

TOL = {"percent": 1e-9}


@pytest.mark.parametrize(
    ("loss", "grade"),
    [
        (0, 0),
        (19.99, 0),
        (20, 1),  # "20-25%": 20 itself starts grade 1
        (22, 1),
        (25, 1),  # shared end point goes to the lower grade
        (25.01, 2),
        (40, 2),  # grade 3 is strictly "> 40%"
        (40.01, 3),
        (100, 3),
    ],
)
def test_grade_bands(loss: float, grade: int) -> None:
    assert genant_grade(loss) == grade


@pytest.mark.parametrize("loss", [-0.1, 100.1, float("inf"), None, "30", True])
def test_grade_rejects(loss: object) -> None:
    with pytest.raises(InvalidInput, match="height_loss_pct"):
        genant_grade(loss)  # type: ignore[arg-type]


@given(st.floats(0, 100), st.floats(0, 100))
def test_grade_monotone(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert genant_grade(lo) <= genant_grade(hi)


def test_height_loss_uses_lowest_height() -> None:
    # Closed form: (20 - 12) / 20 = 40%.
    assert height_loss_pct(anterior=12, middle=16, posterior=19, reference=20) == pytest.approx(
        40.0, abs=TOL["percent"]
    )


def test_height_loss_floors_at_zero() -> None:
    assert height_loss_pct(anterior=21, middle=22, posterior=23, reference=20) == 0.0


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"anterior": -1, "middle": 1, "posterior": 1, "reference": 1}, "anterior"),
        ({"anterior": 1, "middle": 1, "posterior": 1, "reference": 0}, "reference"),
    ],
)
def test_height_loss_rejects(kw: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}: "):
        height_loss_pct(**kw)


@pytest.mark.parametrize(
    ("a", "m", "p", "shape"),
    [
        (12, 16, 19, "wedge"),  # anterior lowest
        (18, 12, 18, "biconcave"),  # middle lowest
        (19, 16, 12, "crush"),  # posterior lowest
        (14, 14, 14, "crush"),  # even compression of the whole body
        (12, 12, 18, "wedge"),  # tie anterior/middle: wedge
        (18, 12, 12, "crush"),  # tie middle/posterior: crush
    ],
)
def test_morphology(a: float, m: float, p: float, shape: str) -> None:
    assert genant_morphology(anterior=a, middle=m, posterior=p) == shape


def test_genant_from_heights() -> None:
    g = genant(anterior=11, middle=16, posterior=19, reference=20)  # 45% anterior loss
    assert g.grade == 3
    assert g.height_loss_pct == pytest.approx(45.0, abs=TOL["percent"])
    assert g.morphology == "wedge"


def test_genant_grade_0_has_no_shape() -> None:
    assert genant(anterior=17, middle=19, posterior=20, reference=20).morphology is None


def test_genant_from_loss() -> None:
    assert genant(height_loss_pct=30) == Genant(grade=2, height_loss_pct=30.0, morphology=None)


def test_genant_needs_one_input_form() -> None:
    with pytest.raises(InvalidInput, match="not both"):
        genant(height_loss_pct=30, anterior=1)
    with pytest.raises(InvalidInput, match=r"missing \(middle, posterior, reference\)"):
        genant(anterior=1)
    with pytest.raises(InvalidInput, match=r"^height_loss_pct: missing"):
        genant()
