"""MCIDs: Ostelo RW et al. Spine 2008;33(1):90-4; SNIS-2014 (CAFE section); Yin 2025 (SOSGOQ)."""

from __future__ import annotations

import pytest

from vertebro.errors import InvalidInput
from vertebro.scores import (
    MCIDThreshold,
    is_responder,
    kps_self_care_threshold,
    mcid_thresholds,
    parse_mcid_thresholds,
)


def test_shipped_thresholds() -> None:
    t = mcid_thresholds()
    # (points, percent, direction) as published; see scores/data/mcid.yaml for citations.
    assert {k: (v.points, v.percent, v.direction) for k, v in t.items()} == {
        "nrs": (2.0, 30.0, "decrease"),  # Ostelo 2008
        "odi": (10.0, None, "decrease"),  # Ostelo 2008
        "rdq": (2.0, None, "decrease"),  # SNIS-2014 quoting CAFE: 2-3
        "rdq_ostelo": (5.0, None, "decrease"),  # Ostelo 2008
        "kps": (5.0, None, "increase"),  # SNIS-2014: about 5
        "sosgoq": (19.4, None, "increase"),  # Yin 2025
    }
    assert all(v.citation for v in t.values())
    assert kps_self_care_threshold() == 70  # SNIS-2014


@pytest.mark.parametrize(
    ("measure", "baseline", "follow_up", "responder"),
    [
        ("nrs", 8, 3, True),  # 5 points
        ("nrs", 8, 6, True),  # exactly 2 points
        ("nrs", 8.1, 6.1, True),  # 2 points despite float rounding
        ("nrs", 8, 6.5, False),  # 1.5 points, 19%
        ("nrs", 3, 2, True),  # 1 point but 33% >= 30%
        ("nrs", 4, 3, False),  # 1 point, 25%
        ("nrs", 3, 5, False),  # worse
        ("nrs", 0, 0, False),
        ("odi", 60, 50, True),  # 10 points
        ("odi", 60, 51, False),
        ("rdq", 17.6, 9.1, True),  # CAFE kyphoplasty arm means, SNIS-2014
        ("rdq", 18, 17, False),
        ("rdq_ostelo", 18, 14, False),  # 4 < 5
        ("kps", 56, 70, True),  # increase measure
        ("kps", 70, 60, False),  # KPS falling is worse
        ("sosgoq", 40, 59.4, True),
        ("sosgoq", 40, 59, False),
    ],
)
def test_responder(measure: str, baseline: float, follow_up: float, responder: bool) -> None:
    assert is_responder(measure, baseline, follow_up) is responder


def test_override_replaces_default_pair() -> None:
    # Buchbinder 2009 used 1.5 VAS units (as described in SNIS-2014).
    assert is_responder("nrs", 8, 6.5, points=1.5)
    # With points overridden, the default 30% no longer applies.
    assert not is_responder("nrs", 3, 2, points=1.5)
    assert is_responder("nrs", 3, 2, percent=30)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"measure": "vas", "baseline": 8, "follow_up": 3}, "^measure: 'vas' has no MCID"),
        (
            {"measure": "nrs", "baseline": 11, "follow_up": 3},
            "^baseline: 11 is not a valid nrs score",
        ),
        ({"measure": "odi", "baseline": 50, "follow_up": -1}, "^follow_up: -1 is not"),
        ({"measure": "nrs", "baseline": 8, "follow_up": 3, "points": -2}, "^points: -2"),
    ],
)
def test_responder_rejects(kw: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        is_responder(**kw)  # type: ignore[arg-type]


def test_custom_thresholds() -> None:
    custom = parse_mcid_thresholds(
        {"measures": {"nrs": {"points": 3, "direction": "decrease", "range": [0, 10],
                              "citation": "site protocol"}}}
    )  # fmt: skip
    assert custom["nrs"] == MCIDThreshold("nrs", 3.0, None, "decrease", "site protocol", 0, 10)
    assert not is_responder("nrs", 8, 6, thresholds=custom)
    assert is_responder("nrs", 8, 5, thresholds=custom)


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ({"points": 2, "direction": "down", "citation": "x"}, r"direction: 'down'"),
        ({"points": 2, "direction": "decrease"}, "needs a citation"),
        ({"points": 0, "direction": "decrease", "citation": "x"}, "points: 0"),
    ],
)
def test_thresholds_file_validated(entry: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        parse_mcid_thresholds({"measures": {"nrs": entry}})
