"""Prognostic scores of spinal metastases against their papers' tables, and the range rule.

Each case names the table row it checks. Independent of the code: the expected totals are
sums written out by hand from the papers' point tables.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vertebro.errors import InvalidInput
from vertebro.scores import modified_bauer, nesms, tokuhashi, tomita

FULL_TOKUHASHI = dict(
    kps=90, extraspinal_bone_metastases=0, spinal_metastases=1,
    visceral_metastases="none", primary="breast", frankel="E",
)


def test_tokuhashi_best_case_is_15_and_a_year_or_more() -> None:
    # Tokuhashi 2005 Table 1: KPS 80-100 2 + no extraspinal foci 2 + one vertebral body 2
    # + no visceral 2 + breast 5 + Frankel E 2 = 15; 12-15: a year or more
    r = tokuhashi(**FULL_TOKUHASHI)
    assert r.total == 15 and r.band is not None and r.band.code == "1_year_or_more"
    assert r.band.months == (12, None)


def test_tokuhashi_worst_case_is_0_and_under_6_months() -> None:
    # Table 1: KPS 10-40 0, >=3 extraspinal 0, >=3 vertebral 0, unremovable 0, lung 0,
    # Frankel A 0
    r = tokuhashi(kps=30, extraspinal_bone_metastases=4, spinal_metastases=5,
                  visceral_metastases="untreatable", primary="lung", frankel="A")
    assert r.total == 0 and r.band is not None and r.band.code == "under_6_months"


@pytest.mark.parametrize(
    ("primary", "points"),
    [("lung", 0), ("stomach", 0), ("liver", 1), ("unknown", 1), ("myeloma", 2),
     ("renal", 3), ("rectum", 4), ("thyroid", 5), ("prostate", 5)],
)
def test_tokuhashi_primary_rows(primary: str, points: int) -> None:
    # Tokuhashi 2005 Table 1, primary site of cancer
    assert tokuhashi(primary=primary).points["primary"] == (points, points)


def test_tokuhashi_middle_band() -> None:
    # KPS 60 1 + 1-2 extraspinal 1 + 2 vertebral 1 + removable 1 + kidney 3 + Frankel D 1
    # = 8 -> under 6 months; with breast (5) instead, 10 -> 6 months or more (9-11)
    base = dict(kps=60, extraspinal_bone_metastases=2, spinal_metastases=2,
                visceral_metastases="treatable", frankel="D")
    assert tokuhashi(primary="renal", **base).total == 8
    r = tokuhashi(primary="breast", **base)
    assert r.total == 10 and r.band is not None and r.band.code == "6_months_or_more"


def test_tokuhashi_colorectal_is_a_range() -> None:
    # colon is "others" (2), rectum 4: "colorectal" does not say which
    r = tokuhashi(**{**FULL_TOKUHASHI, "primary": "colorectal"})
    assert r.range == (12, 14) and r.total is None


def test_tokuhashi_unlisted_primary_is_unknown_not_zero() -> None:
    r = tokuhashi(**{**FULL_TOKUHASHI, "primary": "glioblastoma"})
    assert r.points["primary"] == (0, 5) and "primary" in r.unknown and r.notes


def test_tomita_rows() -> None:
    # Tomita 2001 Table 1: lung (rapid) 4 + untreatable visceral 4 + multiple bone 2 = 10
    r = tomita(primary="lung", visceral_metastases="untreatable", spinal_metastases=3)
    assert r.total == 10 and r.band is not None and r.band.code == "terminal_care"
    # breast (slow) 1 + no visceral 0 + solitary 1 = 2: long-term local control, wide excision
    r = tomita(primary="breast", visceral_metastases="none", spinal_metastases=1,
               extraspinal_bone_metastases=0)
    assert r.total == 2 and r.band is not None and r.band.treatment == "wide or marginal excision"
    # renal (moderate) 2 + treatable 2 + multiple 2 = 6: short-term palliation
    r = tomita(primary="renal", visceral_metastases="treatable", extraspinal_bone_metastases=1)
    assert r.total == 6 and r.band is not None and r.band.code == "short_term_palliation"


def test_modified_bauer_rows() -> None:
    # Leithner 2008: breast, no visceral, solitary -> 4 (good, mean 28.4 months)
    r = modified_bauer(primary="breast", visceral_metastases="none", spinal_metastases=1,
                       extraspinal_bone_metastases=0)
    assert r.total == 4 and r.band is not None and r.band.months == (28.4, 28.4)
    # lung, visceral, multiple -> 0 (poor, mean 4.8 months)
    r = modified_bauer(primary="lung", visceral_metastases="treatable", spinal_metastases=2)
    assert r.total == 0 and r.band is not None and r.band.months == (4.8, 4.8)
    # prostate (not lung 1, not favourable 0), no visceral 1, multiple 0 -> 2 (18.2 months)
    r = modified_bauer(primary="prostate", visceral_metastases="none", spinal_metastases=4)
    assert r.total == 2 and r.band is not None and r.band.code == "moderate"


def test_modified_bauer_unidentified_primary_may_be_lung() -> None:
    r = modified_bauer(primary="unknown", visceral_metastases="none", spinal_metastases=1,
                       extraspinal_bone_metastases=0)
    assert r.range == (2, 3) and "primary" in r.unknown


def test_nesms_weights_and_ceiling() -> None:
    # Ghori 2015: mB >= 3 2 points, ambulatory 1, albumin >= 3.5 g/dL 1, ceiling 3
    good = dict(primary="breast", visceral_metastases="none", spinal_metastases=1,
                extraspinal_bone_metastases=0)
    assert nesms(**good, ambulatory=True, albumin_g_dl=4.0).total == 3  # 4 capped at 3
    assert nesms(**good, ambulatory=False, albumin_g_dl=3.4).total == 2
    poor = dict(primary="lung", visceral_metastases="untreatable", spinal_metastases=3)
    assert nesms(**poor, ambulatory=True, albumin_g_dl=3.5).total == 2  # 3.5 counts
    assert nesms(**poor, ambulatory=False, albumin_g_dl=2.9).total == 0


def test_invalid_inputs_are_named() -> None:
    with pytest.raises(InvalidInput) as exc:
        tokuhashi(kps=55, frankel="F", spinal_metastases=0)
    fields = {e.field for e in exc.value.errors}
    assert fields == {"kps", "frankel", "spinal_metastases"}
    with pytest.raises(InvalidInput):
        nesms(albumin_g_dl=float("nan"))


# --------------------------------------------------------------------------- ranges (property)
KPS = st.sampled_from(list(range(10, 101, 10)))
COUNT = st.integers(0, 6)
SPINAL = st.integers(1, 6)
VISC = st.sampled_from(["none", "treatable", "untreatable"])
PRIMARY = st.sampled_from(["breast", "lung", "renal", "prostate", "myeloma", "unknown",
                           "colorectal", "thyroid", "liver"])
FRANKEL = st.sampled_from(list("ABCDE"))


def _maybe(s: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(st.none(), s)


@settings(max_examples=60, deadline=None)
@given(st.fixed_dictionaries({
    "kps": KPS, "extraspinal_bone_metastases": COUNT, "spinal_metastases": SPINAL,
    "visceral_metastases": VISC, "primary": PRIMARY, "frankel": FRANKEL,
}), st.sets(st.sampled_from(["kps", "extraspinal_bone_metastases", "spinal_metastases",
                             "visceral_metastases", "primary", "frankel"])))
def test_unknowns_widen_to_a_range_containing_the_truth(full: dict, hidden: set) -> None:
    """Hiding inputs gives a range that contains the complete score, and its bands include
    the complete score's band: unknown is never scored as a particular answer."""
    partial = {k: (None if k in hidden else v) for k, v in full.items()}
    for fn, keys in (
        (tokuhashi, full.keys()),
        (tomita, ("primary", "visceral_metastases", "extraspinal_bone_metastases",
                  "spinal_metastases")),
        (modified_bauer, ("primary", "visceral_metastases", "extraspinal_bone_metastases",
                          "spinal_metastases")),
    ):
        whole = fn(**{k: full[k] for k in keys})
        part = fn(**{k: partial[k] for k in keys})
        lo, hi = whole.range
        assert part.range[0] <= lo <= hi <= part.range[1]
        assert {b.code for b in whole.bands} <= {b.code for b in part.bands}


def test_nesms_unknown_opens_only_the_bands_a_completion_reaches() -> None:
    # the modified-Bauer item is worth 2 (Ghori 2015): with ambulation and albumin scoring 0,
    # an unknown visceral status gives NESMS 0 or 2, never 1
    r = nesms(primary="breast", visceral_metastases=None, extraspinal_bone_metastases=3,
              spinal_metastases=3, ambulatory=False, albumin_g_dl=3.0)
    assert r.range == (0, 2)
    assert [b.code for b in r.bands] == ["nesms_0", "nesms_2"]


def test_tomita_unknown_primary_reaches_only_its_growth_classes() -> None:
    # slow 1, moderate 2, rapid 4 (Tomita 2001): no visceral 0 + multiple bone 2 gives 3, 4 or 6
    r = tomita(primary=None, visceral_metastases="none", spinal_metastases=2)
    assert r.range == (3, 6)
    assert [b.code for b in r.bands] == [
        "long_term_local_control", "middle_term_local_control", "short_term_palliation"
    ]
