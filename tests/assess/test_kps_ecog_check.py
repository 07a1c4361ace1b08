"""KPS and ECOG given together are cross-checked against every shipped KPS->ECOG table.

The published tables disagree (conventional; Ma C et al. Eur J Cancer 2010;46(18):3175-83;
Prasad KT et al. World J Clin Oncol 2018;9(7):140-7), so a pair is a data-quality warning only
when no table gives it; the warning never changes the answer (the rules read the KPS).
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vertebro import assess
from vertebro.assess import render_text
from vertebro.scores import ECOG_VALUES, KPS_ECOG_TABLES, KPS_VALUES

from .conftest import base_patient
from .strategies import patients

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Every (KPS, ECOG) pair some shipped table gives, by enumerating the tables themselves.
PLAUSIBLE = {(k, e) for t in KPS_ECOG_TABLES.values() for k, e in t.mapping.items()}


def _without_status(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "performance_status"}


@SETTINGS
@given(patients(p_unknown=0.2), st.sampled_from(KPS_VALUES), st.sampled_from(ECOG_VALUES))
def test_warning_iff_no_table_pairs_them_and_nothing_else_changes(
    p: dict[str, Any], kps: int, ecog: int
) -> None:
    p["patient"]["kps"] = kps
    p["patient"].pop("ecog", None)
    both = copy.deepcopy(p)
    both["patient"]["ecog"] = ecog
    alone, paired = assess(p), assess(both)

    warning = paired["performance_status"]["warning"]
    assert (warning is not None) == ((kps, ecog) not in PLAUSIBLE)
    assert alone["performance_status"]["warning"] is None  # KPS alone: nothing to check
    if warning is not None:
        assert warning["fields"] == {"patient.kps": kps, "patient.ecog": ecog}
        assert warning["used"] == "patient.kps"
        assert set(warning["ecog_for_kps"]) == set(KPS_ECOG_TABLES)
        assert f"patient.kps {kps}" in warning["text"]
        assert f"patient.ecog {ecog}" in warning["text"]
    # A data-quality warning only: the disposition and the whole plan are the same.
    assert _without_status(paired) == _without_status(alone)
    assert paired["performance_status"]["kps_range_used"] == [kps, kps]


@SETTINGS
@given(st.sampled_from(ECOG_VALUES))
def test_ecog_alone_is_not_checked(ecog: int) -> None:
    p = base_patient()
    p["patient"].pop("kps")
    p["patient"]["ecog"] = ecog
    assert assess(p)["performance_status"]["warning"] is None


def _patient_section(text: str) -> str:
    return " ".join(text.split("\nPATIENT\n")[1].split("\nPLAN PER LEVEL\n")[0].split())


def test_report_shows_the_warning_in_the_patient_section() -> None:
    p = base_patient()
    p["patient"].update(kps=90, ecog=3)
    for width in (80, 60):
        out = render_text(assess(p), width=width)
        assert max(len(line) for line in out.splitlines()) <= width
        patient = _patient_section(out)
        assert "KPS 90 · ECOG 3 (the rules use the KPS)" in patient
        assert "! patient.kps 90 and patient.ecog 3 disagree under every KPS-ECOG table" in patient
        assert "ECOG 0 (conventional), ECOG 1 (ma2010), ECOG 1 (prasad2018)" in patient
        assert "The rules read the KPS (90)" in patient


def test_report_is_silent_when_one_table_pairs_them() -> None:
    p = base_patient()
    p["patient"].update(kps=70, ecog=2)  # conventional: ECOG 1; Ma 2010 and Prasad 2018: 2
    patient = _patient_section(render_text(assess(p)))
    assert "disagree" not in patient and "!" not in patient


def test_report_of_a_result_stored_before_the_check_renders() -> None:
    p = base_patient()
    p["patient"].update(kps=90, ecog=3)
    result = assess(p)
    del result["performance_status"]["warning"]
    assert "disagree" not in _patient_section(render_text(result))
