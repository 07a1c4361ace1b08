"""The NOMS section of the assessment: neurologic, oncologic, mechanical, systemic.

Puts the tumour board's framework (Laufer 2013, ``data/noms.yaml``) beside the augmentation
decision: the worst ESCC (N), the radiosensitivity of the primary (O), SINS per level (M) and
the prognostic scores with a survival estimate (S), and what they mean for radiotherapy
(cEBRT or SRS, separation surgery first) and surgery. It reads the validated input and the
engine's levels, and decides nothing: no rule reads this section, and the survival estimate
is never written into ``patient.life_expectancy_months``. The rules that read life
expectancy are listed with what they read: the stated value, or nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache, lru_cache
from importlib.resources import files
from typing import Any

from vertebro._yaml import load_yaml
from vertebro.scores import (
    PrognosticScore,
    ecog_to_kps_range,
    modified_bauer,
    nesms,
    tokuhashi,
    tomita,
)

from ._facts import patient_facts
from ._input import AssessmentInput
from ._rulebook import Rule, Rulebook

__all__ = ["LIFE_EXPECTANCY_FIELD", "noms_data", "noms_section", "prognostic_scores"]

LIFE_EXPECTANCY_FIELD = "patient.life_expectancy_months"
_CONVERSION_TABLE = "conventional"  # as the engine reads an ECOG (assess/_facts.py)


@cache
def noms_data() -> Mapping[str, Any]:
    """The bundled ``assess/data/noms.yaml``."""
    text = files("vertebro.assess").joinpath("data/noms.yaml").read_text("utf-8")
    data: Mapping[str, Any] = load_yaml(text)
    return data


def _key(primary: str | None) -> str | None:
    if primary is None:
        return None
    return primary.strip().lower().replace(" ", "_").replace("-", "_") or None


def _kps(inp: AssessmentInput) -> int | tuple[int, int] | None:
    p = inp.patient
    if p.kps is not None:
        return p.kps if p.kps >= 10 else None
    if p.ecog is not None and p.ecog < 5:
        lo, hi = ecog_to_kps_range(p.ecog, _CONVERSION_TABLE)
        return (max(lo, 10), hi)
    return None


def _frankel(inp: AssessmentInput) -> str | None:
    n = inp.neurology
    if n.frankel is not None:
        return n.frankel
    # no neurological deficit is Frankel E (normal motor and sensory function)
    return "E" if n.deficit == "none" else None


def _score_key(inp: AssessmentInput) -> tuple[Any, ...]:
    p = inp.patient
    return (
        p.primary_cancer,
        p.visceral_metastases,
        p.extraspinal_bone_metastases,
        p.spinal_metastases,
        _kps(inp),
        _frankel(inp),
        p.ambulatory,
        p.albumin_g_dl,
    )


# The scores are pure functions of a few inputs that many patients share (a cohort, a batch):
# memoised, and their JSON form with them (treat both as read-only, like expected_outcomes).
@lru_cache(maxsize=4096)
def _scored(
    key: tuple[Any, ...],
) -> tuple[dict[str, PrognosticScore], dict[str, Any], tuple[dict[str, Any], ...]]:
    primary, visceral, extra, spinal, kps, frankel, ambulatory, albumin = key
    common: dict[str, Any] = {
        "primary": primary,
        "visceral_metastases": visceral,
        "extraspinal_bone_metastases": extra,
        "spinal_metastases": spinal,
    }
    scores = {
        "tokuhashi": tokuhashi(kps=kps, frankel=frankel, **common),
        "tomita": tomita(**common),
        "modified_bauer": modified_bauer(**common),
        "nesms": nesms(ambulatory=ambulatory, albumin_g_dl=albumin, **common),
    }
    # the survival estimates too: they depend on the scores only (profiled: about 6% of an
    # assessment when rebuilt for every patient)
    estimates = tuple(e for s in scores.values() if (e := _estimate(s)) is not None)
    return scores, {k: s.to_dict() for k, s in scores.items()}, estimates


def prognostic_scores(inp: AssessmentInput) -> dict[str, PrognosticScore]:
    """The four prognostic scores of the input, with ranges where inputs are unknown."""
    return dict(_scored(_score_key(inp))[0])


def _range(r: Sequence[int]) -> str:
    return str(r[0]) if r[0] == r[1] else f"{r[0]}-{r[1]}"


def _estimate(s: PrognosticScore) -> dict[str, Any] | None:
    """What a score says about survival, if its bands carry months (Tokuhashi, Bauer)."""
    if not s.bands or any(b.months is None for b in s.bands):
        return None
    lows = [b.months[0] for b in s.bands if b.months is not None]
    highs = [b.months[1] for b in s.bands if b.months is not None]
    high = None if any(h is None for h in highs) else max(h for h in highs if h is not None)
    labels = "; ".join(f"{_range((b.min, b.max))}: {b.label}" for b in s.bands)
    text = f"{s.name} {_range(s.range)} → {labels}"
    if s.unknown:
        text += f" (unknown: {', '.join(s.unknown)})"
    return {
        "score": s.score,
        "name": s.name,
        "bands": [b.label for b in s.bands],
        "unknown": list(s.unknown),
        "range": list(s.range),
        "months": [min(lows), high],
        "statistic": "mean" if all(b.statistic == "mean" for b in s.bands) else "prediction",
        "text": text,
        "reference": s.reference,
    }


def _neurologic(inp: AssessmentInput) -> dict[str, Any]:
    data = noms_data()
    high, low = set(data["high_grade_escc"]), set(data["low_grade_escc"])
    by_level = {lv.level: lv.escc for lv in inp.levels}
    grades = list(by_level.values())
    if any(g in high for g in grades):
        grade: str | None = "high"
    elif grades and all(g in low for g in grades):
        grade = "low"
    else:
        grade = None  # an unknown ESCC, 1c, or no level described
    return {
        "escc": by_level,
        "escc_grade": grade,
        "deficit": inp.neurology.deficit,
        "clinical_cord_compression": inp.neurology.clinical_cord_compression,
        "frankel": _frankel(inp),
    }


def _radiotherapy(grade: str | None, histology: str | None) -> dict[str, Any]:
    rows = noms_data()["radiotherapy"]
    open_rows = [
        r
        for r in rows
        if (grade is None or r["escc"] == grade)
        and (histology is None or r["histology"] == histology)
    ]
    options = list(dict.fromkeys(r["option"] for r in open_rows))
    why = []
    if grade is None:
        why.append("ESCC grade (high or low) not settled at every level")
    if histology is None:
        why.append("radiosensitivity of the primary not known")
    return {
        "decided": len(options) == 1,
        "options": [
            {"option": o, "text": next(r["text"] for r in open_rows if r["option"] == o)}
            for o in options
        ],
        "open_because": why,
    }


def _mechanical(levels: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    order = {"stable": 0, "indeterminate": 1, "unstable": 2}
    per = []
    worst: str | None = "stable" if levels else None
    for lv in levels:
        sins = lv.get("sins")
        if not sins:
            continue
        cat = sins.get("category")
        per.append(
            {
                "level": lv["level"],
                "total": sins.get("total"),
                "range": sins.get("range"),
                "category": cat,
            }
        )
        if cat is None:
            worst = None if worst != "unstable" else worst
        elif worst is not None and order[cat] > order[worst]:
            worst = cat
    text = noms_data()["mechanical"]
    return {
        "levels": per,
        "worst": worst,
        "text": text[worst] if worst else None,
    }


@cache
def _reading_life_expectancy(rb: Rulebook) -> tuple[Rule, ...]:
    return tuple(r for r in rb.rules if LIFE_EXPECTANCY_FIELD in r.condition.fields)


def _life_expectancy(
    inp: AssessmentInput,
    estimates: Sequence[dict[str, Any]],
    rb: Rulebook,
    facts: Mapping[str, Any],
) -> dict[str, Any]:
    stated = inp.patient.life_expectancy_months
    rules = []
    for r in _reading_life_expectancy(rb):
        value = r.condition(facts) if r.scope == "patient" else None
        rules.append(
            {
                "rule": r.id,
                "source": r.source.id,
                "reads": "stated" if stated is not None else "nothing",
                "holds": value,
                "text": (
                    f"{r.id} read the stated life expectancy ({stated:g} months)"
                    if stated is not None
                    else f"{r.id} read nothing: life expectancy is not stated, and the "
                    "survival estimate of the scores does not fill it in"
                ),
            }
        )
    return {
        "stated_months": stated,
        "estimates": list(estimates) if stated is None else [],
        "estimate_is_input": False,
        "rules": rules,
    }


def noms_section(
    inp: AssessmentInput,
    levels: Sequence[Mapping[str, Any]],
    rb: Rulebook,
    facts: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``noms`` block of the assessment output (JSON-ready).

    Parameters
    ----------
    inp
        The validated input.
    levels
        The engine's ``levels`` output (for SINS per level).
    rb
        The rulebook, to list the rules that read life expectancy.
    facts
        The engine's patient facts (computed from ``inp`` when not given).

    References
    ----------
    Laufer I et al. The NOMS framework. Oncologist 2013;18(6):744-51; Bilsky MH et al.
    J Neurosurg Spine 2010;13(3):324-8 (ESCC); Fisher CG et al. Spine 2010;35(22):E1221-9
    (SINS); the prognostic scores' papers (``vertebro/scores/data/prognosis.yaml``).
    """
    data = noms_data()
    key = _key(inp.patient.primary_cancer)
    table = data["radiosensitivity"]
    histology = table.get(key) if key is not None else None
    n = _neurologic(inp)
    score_key = _score_key(inp)
    _, scores_json, estimates = _scored(score_key)
    kps = score_key[4]
    why_unknown = None
    if histology is None:
        why_unknown = (
            "primary cancer not given"
            if key is None
            else f"{inp.patient.primary_cancer!r} is not classified"
            + (" (say small_cell_lung or non_small_cell_lung)" if key == "lung" else "")
        )
    return {
        "source": " ".join(str(data["source"]["citation"]).split()),
        "neurologic": n,
        "oncologic": {
            "primary": inp.patient.primary_cancer,
            "radiosensitivity": histology,
            "unknown_because": why_unknown,
        },
        "mechanical": _mechanical(levels),
        "systemic": {
            "kps": list(kps) if isinstance(kps, tuple) else kps,
            "scores": scores_json,
            "text": " ".join(str(data["systemic"]).split()),
        },
        "radiotherapy": _radiotherapy(n["escc_grade"], histology),
        "life_expectancy": _life_expectancy(
            inp, estimates, rb, patient_facts(inp) if facts is None else facts
        ),
    }
