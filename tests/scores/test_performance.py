"""KPS and ECOG: Karnofsky 1949, Oken 1982; conversion tables of Ma 2010 and Prasad 2018."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vertebro.errors import InvalidInput
from vertebro.scores import (
    ECOG_VALUES,
    KPS_ECOG_TABLES,
    KPS_VALUES,
    ecog_by_table,
    ecog_to_kps_range,
    kps_to_ecog,
    validate_ecog,
    validate_kps,
)

# Each table transcribed by hand from its source (DESIGN.md section 5 for the conventional one;
# Ma C et al. Eur J Cancer 2010 abstract; Prasad KT et al. World J Clin Oncol 2018 abstract).
EXPECTED = {
    "conventional": {100: 0, 90: 0, 80: 1, 70: 1, 60: 2, 50: 2, 40: 3, 30: 3, 20: 4, 10: 4, 0: 5},
    "ma2010": {100: 0, 90: 1, 80: 1, 70: 2, 60: 2, 50: 3, 40: 3, 30: 4, 20: 4, 10: 4, 0: 5},
    "prasad2018": {100: 0, 90: 1, 80: 1, 70: 2, 60: 3, 50: 3, 40: 4, 30: 4, 20: 4, 10: 4, 0: 5},
}


def test_kps_values() -> None:
    assert KPS_VALUES == (0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)


@pytest.mark.parametrize("table", sorted(EXPECTED))
def test_tables(table: str) -> None:
    assert {k: kps_to_ecog(k, table) for k in KPS_VALUES} == EXPECTED[table]
    assert KPS_ECOG_TABLES[table].citation


@pytest.mark.parametrize("kps", KPS_VALUES)
def test_ecog_by_table(kps: int) -> None:
    assert ecog_by_table(kps) == {name: EXPECTED[name][kps] for name in KPS_ECOG_TABLES}


def test_ecog_by_table_shows_the_disagreement() -> None:
    # KPS 70: conventional ECOG 1, Ma 2010 and Prasad 2018 ECOG 2 (transcribed above).
    assert ecog_by_table(70) == {"conventional": 1, "ma2010": 2, "prasad2018": 2}


def test_default_table_is_conventional() -> None:
    assert kps_to_ecog(70) == 1
    assert ecog_to_kps_range(1) == (70, 80)
    assert ecog_to_kps_range(0) == (90, 100)
    assert ecog_to_kps_range(5) == (0, 0)


@pytest.mark.parametrize("table", sorted(EXPECTED))
@pytest.mark.parametrize("ecog", ECOG_VALUES)
def test_round_trip(table: str, ecog: int) -> None:
    lo, hi = ecog_to_kps_range(ecog, table)
    assert kps_to_ecog(lo, table) == ecog == kps_to_ecog(hi, table)
    # Every KPS inside the range maps back; none outside it does.
    assert [k for k in KPS_VALUES if kps_to_ecog(k, table) == ecog] == list(range(lo, hi + 1, 10))


@given(st.sampled_from(sorted(EXPECTED)), st.sampled_from(KPS_VALUES), st.sampled_from(KPS_VALUES))
def test_kps_to_ecog_monotone(table: str, a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert kps_to_ecog(lo, table) >= kps_to_ecog(hi, table)  # higher KPS, better (lower) ECOG


def test_kps_55_rejected() -> None:
    with pytest.raises(InvalidInput, match=r"^kps: 55 is not a Karnofsky score \(0-100 in steps"):
        validate_kps(55)


@pytest.mark.parametrize("value", [-10, 110, 70.5, True, "70", None])
def test_bad_kps(value: object) -> None:
    with pytest.raises(InvalidInput, match="baseline_kps"):
        validate_kps(value, field="baseline_kps")


def test_integral_float_kps_accepted() -> None:
    assert validate_kps(70.0) == 70


@pytest.mark.parametrize("value", [-1, 6, 1.5, False, "1"])
def test_bad_ecog(value: object) -> None:
    with pytest.raises(InvalidInput, match=r"^ecog: .* is not an ECOG performance status \(0-5\)"):
        validate_ecog(value)


def test_unknown_table() -> None:
    with pytest.raises(InvalidInput, match=r"^table: 'buccheri1996'"):
        kps_to_ecog(70, "buccheri1996")
