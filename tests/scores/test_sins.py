"""SINS against Fisher CG et al. Spine 2010;35(22):E1221-9, Table 1 (points by hand)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vertebro.errors import InvalidInput
from vertebro.scores import (
    SINS_COMPONENTS,
    SINS_POINTS,
    sins,
    sins_category,
    sins_collapse,
    sins_from_level,
    sins_location,
)
from vertebro.spine import VERTEBRAE


def test_points_table_matches_fisher_2010() -> None:
    # Fisher 2010, Table 1, transcribed by hand; DESIGN.md section 5.
    assert {c: dict(d) for c, d in SINS_POINTS.items()} == {
        "location": {"junctional": 3, "mobile": 2, "semi_rigid": 1, "rigid": 0},
        "pain": {"mechanical": 3, "occasional": 1, "none": 0},
        "lesion": {"lytic": 2, "mixed": 1, "blastic": 0},
        "alignment": {"subluxation": 4, "deformity": 2, "normal": 0},
        "collapse": {"over_50": 3, "under_50": 2, "none_over_50_involved": 1, "none": 0},
        "posterolateral": {"bilateral": 3, "unilateral": 1, "none": 0},
    }
    assert SINS_COMPONENTS == (
        "location", "pain", "lesion", "alignment", "collapse", "posterolateral",
    )  # fmt: skip


def test_t9_lytic_mechanical_45pct() -> None:
    # By hand from Fisher 2010 Table 1: semi-rigid 1 + mechanical 3 + lytic 2 + normal 0
    # + collapse < 50% 2 + no posterolateral 0 = 8, indeterminate.
    s = sins_from_level(
        "T9", pain="mechanical", lesion="lytic", alignment="normal",
        height_loss_pct=45, posterolateral="none",
    )  # fmt: skip
    assert s.total == 8
    assert s.category == "indeterminate"
    assert s.points == {
        "location": 1, "pain": 3, "lesion": 2, "alignment": 0, "collapse": 2, "posterolateral": 0,
    }  # fmt: skip
    assert s.descriptors["location"] == "semi_rigid"
    assert s.descriptors["collapse"] == "under_50"


def test_junctional_unstable_example() -> None:
    # By hand: L1 junctional 3 + mechanical 3 + lytic 2 + de novo kyphosis 2 + > 50% 3
    # + unilateral 1 = 14, unstable.
    s = sins(
        location="L1", pain="mechanical", lesion="lytic", alignment="deformity",
        collapse="over_50", posterolateral="unilateral",
    )  # fmt: skip
    assert (s.total, s.category) == (14, "unstable")
    assert s.points["location"] == 3


def test_blastic_rigid_sacrum_is_stable() -> None:
    # By hand: S3 rigid 0 + no pain 0 + blastic 0 + normal 0 + none 0 + none 0 = 0, stable.
    s = sins(
        location="S3", pain="none", lesion="blastic", alignment="normal",
        collapse="none", posterolateral="none",
    )  # fmt: skip
    assert (s.total, s.category) == (0, "stable")


def test_location_descriptor_accepted_in_place_of_level() -> None:
    by_name = sins(
        location="T9", pain="none", lesion="mixed", alignment="normal",
        collapse="none", posterolateral="none",
    )  # fmt: skip
    by_code = sins(
        location="semi-rigid", pain="none", lesion="mixed", alignment="normal",
        collapse="none", posterolateral="none",
    )  # fmt: skip
    assert by_name == by_code
    assert by_name.total == 2  # 1 + 0 + 1 + 0 + 0 + 0


@pytest.mark.parametrize(
    ("total", "category"),
    [(0, "stable"), (6, "stable"), (7, "indeterminate"), (12, "indeterminate"),
     (13, "unstable"), (18, "unstable")],
)  # fmt: skip
def test_category_boundaries(total: int, category: str) -> None:
    # Fisher 2010: 0-6 stable, 7-12 indeterminate, 13-18 unstable.
    assert sins_category(total) == category


@pytest.mark.parametrize("total", [-1, 19, True, 6.0])
def test_category_rejects_non_totals(total: object) -> None:
    with pytest.raises(InvalidInput, match="total"):
        sins_category(total)  # type: ignore[arg-type]


# Fisher 2010 regions: junctional occiput-C2, C7-T2, T11-L1, L5-S1; mobile C3-C6, L2-L4;
# semi-rigid T3-T10; rigid S2-S5. Each pair straddles one boundary.
@pytest.mark.parametrize(
    ("upper", "lower", "upper_loc", "lower_loc"),
    [
        ("C2", "C3", "junctional", "mobile"),
        ("C6", "C7", "mobile", "junctional"),
        ("T2", "T3", "junctional", "semi_rigid"),
        ("T10", "T11", "semi_rigid", "junctional"),
        ("L1", "L2", "junctional", "mobile"),
        ("L4", "L5", "mobile", "junctional"),
        ("S1", "S2", "junctional", "rigid"),
    ],
)
def test_location_boundaries(upper: str, lower: str, upper_loc: str, lower_loc: str) -> None:
    assert sins_location(upper) == upper_loc
    assert sins_location(lower) == lower_loc


def test_every_vertebra_has_a_location() -> None:
    counts: dict[str, int] = {}
    for v in VERTEBRAE:
        counts[sins_location(v)] = counts.get(sins_location(v), 0) + 1
    # C1-C2, C7-T2, T11-L1, L5-S1 = 2 + 3 + 3 + 2; C3-C6 + L2-L4 = 4 + 3; T3-T10 = 8; S2-S5 = 4.
    assert counts == {"junctional": 10, "mobile": 7, "semi_rigid": 8, "rigid": 4}


def test_location_is_case_insensitive() -> None:
    assert sins_location(" t12 ") == "junctional"


@pytest.mark.parametrize("level", ["T13", "L6", "X1", ""])
def test_bad_level(level: str) -> None:
    with pytest.raises(InvalidInput, match=rf"level: '{level}' is not a vertebra"):
        sins_location(level)


@pytest.mark.parametrize(
    ("loss", "involved", "expected"),
    [
        (0, False, "none"),
        (0, True, "none_over_50_involved"),
        (0.1, False, "under_50"),
        (49.9, True, "under_50"),
        (50, False, "under_50"),  # exactly 50%: Fisher's "> 50%" read literally
        (50.1, False, "over_50"),
        (100, False, "over_50"),
    ],
)
def test_collapse_from_height_loss(loss: float, involved: bool, expected: str) -> None:
    assert sins_collapse(loss, involved) == expected


@pytest.mark.parametrize("loss", [-1, 101, float("nan"), True])
def test_collapse_rejects_bad_percentages(loss: float) -> None:
    with pytest.raises(InvalidInput, match="height_loss_pct"):
        sins_collapse(loss)


def test_all_bad_components_are_reported() -> None:
    with pytest.raises(InvalidInput) as info:
        sins(
            location="T13", pain="sometimes", lesion="lytic", alignment="normal",
            collapse="half", posterolateral="none",
        )  # fmt: skip
    assert [e.field for e in info.value.errors] == ["location", "pain", "collapse"]
    assert "'T13' is not a vertebra" in str(info.value)


def test_from_level_reports_level_and_other_fields_together() -> None:
    with pytest.raises(InvalidInput) as info:
        sins_from_level(
            "T13", pain="x", lesion="lytic", alignment="normal",
            height_loss_pct=120, posterolateral="none",
        )  # fmt: skip
    assert [e.field for e in info.value.errors] == ["level", "height_loss_pct", "pain"]


_descriptors = {c: st.sampled_from(sorted(d)) for c, d in SINS_POINTS.items()}


@given(**_descriptors)
def test_total_is_sum_of_points_and_in_range(**kw: str) -> None:
    s = sins(**kw)
    assert s.total == sum(SINS_POINTS[c][kw[c]] for c in SINS_COMPONENTS)
    assert s.total == sum(s.points.values())
    assert 0 <= s.total <= 18
    expected = "stable" if s.total <= 6 else "indeterminate" if s.total <= 12 else "unstable"
    assert s.category == expected


@given(level=st.sampled_from(VERTEBRAE), loss=st.floats(0, 100), involved=st.booleans())
def test_from_level_agrees_with_components(level: str, loss: float, involved: bool) -> None:
    s = sins_from_level(
        level, pain="none", lesion="mixed", alignment="normal",
        height_loss_pct=loss, posterolateral="none", body_involved_over_50=involved,
    )  # fmt: skip
    assert s.descriptors["location"] == sins_location(level)
    assert s.descriptors["collapse"] == sins_collapse(loss, involved)
