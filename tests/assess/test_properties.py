"""Invariants of the engine over generated patients (hypothesis)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vertebro import assess
from vertebro.assess import default_rulebook

from .strategies import completions, patients

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONTRA_KEYS = (
    "active_systemic_infection",
    "spinal_infection",
    "uncorrectable_coagulopathy",
    "unfit_for_anaesthesia",
    "cement_allergy",
)


@SETTINGS
@given(patients(), st.sampled_from(CONTRA_KEYS))
def test_known_absolute_contraindication_is_contraindicated(p: dict[str, Any], key: str) -> None:
    p["contraindications"][key] = True
    for g in ("jnccn2012", "nice2008", "snis2014"):
        assert assess(p, guideline=g)["disposition"] == "contraindicated"


@SETTINGS
@given(patients())
def test_red_flags_never_candidate(p: dict[str, Any]) -> None:
    result = assess(p)
    red = (
        p["neurology"].get("clinical_cord_compression") is True
        or p["neurology"].get("deficit") in ("radiculopathy", "myelopathy", "cauda_equina")
        or any(lv.get("escc") in ("2", "3") for lv in p["levels"])
        or any(lv.get("alignment") == "subluxation" for lv in p["levels"])
        or any(lv["sins"] and (lv["sins"]["total"] or 0) >= 13 for lv in result["levels"])
        or any(lv["sins"] and lv["sins"].get("range", [0])[0] >= 13 for lv in result["levels"])
    )
    if red:
        assert all(v != "candidate" for v in result["guidelines"].values())


def _known_cancer(p: dict[str, Any]) -> bool:
    return p["patient"]["cancer_history"] is True or p["patient"]["histology_confirmed"] is True


@SETTINGS
@given(patients(), st.data())
def test_unknowns_cannot_flip_a_settled_answer(p: dict[str, Any], data: st.DataObject) -> None:
    before = assess(p)["guidelines"]
    for _ in range(3):
        full = data.draw(completions(p))
        after = assess(full)["guidelines"]
        for g, verdict in before.items():
            allowed = {
                "candidate": {"candidate"},
                "contraindicated": {"contraindicated"},
                "refer_surgery": {"refer_surgery", "contraindicated"},
                "not_indicated": {"not_indicated", "refer_surgery", "contraindicated"},
            }.get(verdict)
            if allowed is not None:
                assert after[g] in allowed, (g, before, after)
            elif g != "snis2014" and not _known_cancer(full):
                # JNCCN-2012 and NICE are written for patients with cancer (issue 9.2): without
                # known cancer their answer may wait on the biopsy, however much else is known
                continue
            else:
                assert after[g] != "incomplete", "a fully known patient always gets an answer"


@SETTINGS
@given(patients(p_unknown=0.3))
def test_findings_name_existing_rules_with_sources(p: dict[str, Any]) -> None:
    rb = default_rulebook()
    ids = {r.id: r for r in rb.rules}
    result = assess(p)
    for f in result["findings"]:
        assert f["rule"] in ids
        assert f["source"] == ids[f["rule"]].source.id and f["text"]
    for a in result["actions"]:
        assert a["rule"] in ids
    for m in result["missing"] + result["notes"]:
        assert all(r in ids for r in m["rules"])
    assert (result["disposition"] == "incomplete") == bool(result["missing"])


@SETTINGS
@given(patients(p_unknown=0.3))
def test_output_is_deterministic(p: dict[str, Any]) -> None:
    first = json.dumps(assess(p))
    again = json.dumps(assess(json.loads(json.dumps(p))))
    assert first == again


@SETTINGS
@given(patients(), st.integers(min_value=1, max_value=4))
def test_sessions_respect_the_limit_and_cover_the_plan(p: dict[str, Any], k: int) -> None:
    result = assess(p, max_levels_per_session=k)
    flat = [x for s in result["sessions"] for x in s]
    assert all(len(s) <= k for s in result["sessions"])
    planned = {lv["level"] for lv in result["levels"] if lv["treat"] is not False or lv["offer"]}
    # optional levels that found no room are listed apart (issue 9.4)
    assert sorted(flat + result["offers_without_session"]) == sorted(planned)
    if result["disposition"] not in ("candidate", "incomplete"):
        assert not any(lv["treat"] for lv in result["levels"])


# -- issue 9: urgent actions, plans that agree with their flags, sessions, settled treat ------
# Each check is a plain function returning what is wrong, so that test_mutants.py can show it
# fails on a deliberately broken rulebook or engine.

_DEFICITS = ("radiculopathy", "myelopathy", "cauda_equina")


def red_flag_violations(p: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """Every red flag settled true in the input asks for its spine surgery consultation (and
    radiation oncology for cord compression, deficits and instability), naming its level."""
    actions = {a["code"]: a for a in result["actions"]}
    out: list[str] = []

    def need(code: str, level: str | None, why: str) -> None:
        a = actions.get(code)
        if a is None:
            out.append(f"{why}: no {code}")
        elif level is not None and level not in a.get("levels", []):
            out.append(f"{why}: {code} does not name {level}")

    neuro = p.get("neurology", {})
    patient_flags = []
    if neuro.get("clinical_cord_compression") is True:
        patient_flags.append("cord compression")
    if neuro.get("deficit") in _DEFICITS:
        patient_flags.append("deficit")
    if neuro.get("pending_compromise") is True:
        patient_flags.append("pending compromise")
    for why in patient_flags:
        need("surgical_consult", None, why)
        need("radiotherapy_consult", None, why)
    sins = {lv["level"]: lv["sins"] for lv in result["levels"] if lv["sins"]}
    for lv in p["levels"]:
        name = lv["level"]
        s = sins[name]
        low = s["total"] if s["total"] is not None else s["range"][0]
        for why, settled in (
            ("ESCC 2-3", lv.get("escc") in ("2", "3")),
            ("subluxation", lv.get("alignment") == "subluxation"),
            ("SINS 13-18", low >= 13),
        ):
            if settled:
                need("surgical_consult", name, f"{why} at {name}")
                need("radiotherapy_consult", name, f"{why} at {name}")
        if lv.get("hardware_failure") is True:
            need("surgical_consult", name, f"hardware failure at {name}")
    return out


@SETTINGS
@given(patients(), st.sampled_from(["jnccn2012", "nice2008", "snis2014"]))
def test_a_settled_red_flag_always_asks_its_urgent_action(p: dict[str, Any], g: str) -> None:
    result = assess(p, guideline=g)
    assert not red_flag_violations(p, result), (result["disposition"], result["actions"])


def plan_violations(p: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """No level's plan contradicts its own flags or anatomy (AJNR-instrumented: screws take
    away the transpedicular route; the thoracic/lumbar approach is not for C or S levels)."""
    given_hw = {lv["level"]: lv.get("instrumentation") for lv in p["levels"]}
    out: list[str] = []
    for lv in result["levels"]:
        name, approach, tech = lv["level"], lv["approach"], lv["technique"]
        through_pedicle = approach in ("transpedicular", "transpedicular_free_pedicle")
        blocked = (
            "hardware_blocks_pedicles" in lv["flags"] or given_hw.get(name) == "bilateral_screws"
        )
        if blocked and (through_pedicle or tech == "kyphoplasty"):
            out.append(f"{name}: {tech}, {approach} although screws block both pedicles")
        if given_hw.get(name) == "unilateral_screw" and approach == "transpedicular":
            out.append(f"{name}: plain transpedicular route through a screwed pedicle")
        if name[0] in "CS" and approach == "transpedicular":
            out.append(f"{name}: the thoracic/lumbar transpedicular default at {name}")
        if name[0] == "S" and tech not in (None, "individual"):
            out.append(f"{name}: {tech} planned at a sacral level (sacroplasty is its own)")
        if lv["treat"] is False and not lv["offer"] and (tech or approach):
            out.append(f"{name}: a plan for a level that is not treated or offered")
    return out


@SETTINGS
@given(patients(p_unknown=0.2, max_levels=4))
def test_no_level_plan_contradicts_its_own_flags(p: dict[str, Any]) -> None:
    result = assess(p)
    assert not plan_violations(p, result), result["levels"]


def session_violations(result: dict[str, Any], k: int) -> list[str]:
    """Required (treated or treat-if-confirmed) levels alone decide the sessions, k at a time
    in spinal order; an optional level only fills room."""
    from vertebro.spine import vertebra_index

    required = sorted(
        (lv["level"] for lv in result["levels"] if lv["treat"] is not False),
        key=vertebra_index,
    )
    offered = {lv["level"] for lv in result["levels"] if lv["offer"] and lv["treat"] is False}
    expected = [required[j : j + k] for j in range(0, len(required), k)]
    sessions = result["sessions"]
    out = []
    if [[x for x in s if x not in offered] for s in sessions] != expected:
        out.append(f"required levels {expected} became {sessions}")
    if any(len(s) > k for s in sessions):
        out.append(f"a session of more than {k}")
    placed = {x for s in sessions for x in s} & offered
    if placed | set(result["offers_without_session"]) != offered:
        out.append("an offered level is neither in a session nor listed without room")
    if placed & set(result["offers_without_session"]):
        out.append("an offered level both placed and without room")
    return out


@SETTINGS
@given(patients(max_levels=5), st.integers(min_value=1, max_value=4))
def test_optional_levels_never_add_or_split_a_session(p: dict[str, Any], k: int) -> None:
    result = assess(p, max_levels_per_session=k)
    assert not session_violations(result, k), result["sessions"]


def treat_violations(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """A settled treat (true or false) holds for a completion of the unknowns."""
    got = {lv["level"]: lv["treat"] for lv in after["levels"]}
    return [
        f"{lv['level']}: treat {lv['treat']} became {got[lv['level']]}"
        for lv in before["levels"]
        if lv["role"] != "intervening"
        and lv["treat"] is not None
        and got[lv["level"]] is not lv["treat"]
    ]


@SETTINGS
@given(patients(p_unknown=0.2), st.data())
def test_treat_is_settled_only_when_every_completion_agrees(
    p: dict[str, Any], data: st.DataObject
) -> None:
    before = assess(p)
    for _ in range(3):
        after = assess(data.draw(completions(p)))
        assert not treat_violations(before, after), (before["disposition"], after["disposition"])
