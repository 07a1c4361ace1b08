"""A synthetic, clearly labelled demo cohort whose marginals follow Sorensen-SpineJ-2019.

Every patient is flagged ``synthetic``, coded ``SYN-...`` and belongs to a site named
"SYNTHETIC demo site ...". Marginals taken from Sorensen-SpineJ-2019 (Tables 1 and 2): the
PVP/KP split, age, sex, primary-cancer mix, levels per patient, cement leakage and symptomatic
complications per technique, and NRS (VAS), ODI and KPS means by follow-up interval, with the
attrition of Table 2 (N per interval relative to the preoperative N). Spreads and everything
the review does not report (standard deviations, survival, leak sites, cement volumes,
anaesthesia) are stated assumptions of this generator, marked ``ASSUMPTION`` below.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import secrets
from collections.abc import Iterator
from typing import Any, Final

from vertebro.assess import assess

from .intervals import SCHEDULE

__all__ = ["SORENSEN_2019", "demo_records", "demo_usernames", "set_demo_passwords"]

#: Sorensen-SpineJ-2019 Table 1 and Table 2 (N in brackets there; here as numbers).
SORENSEN_2019: Final[dict[str, Any]] = {
    "patients": {"vertebroplasty": 2091, "kyphoplasty": 1335},  # Table 1
    "mean_age": {"vertebroplasty": 62.56, "kyphoplasty": 63.16},  # Table 1
    "sex": {  # Table 1, N
        "vertebroplasty": {"female": 1101, "male": 972, "unknown": 18},
        "kyphoplasty": {"female": 652, "male": 665, "unknown": 18},
    },
    "primary": {  # Table 1, N (groups below 30 patients in total pooled as "other")
        "vertebroplasty": {"myeloma": 694, "breast": 466, "lung": 357, "prostate": 65,
                           "renal": 46, "colorectal": 32, "stomach": 33, "liver": 23,
                           "lymphoma": 15, "thyroid": 15, "sarcoma": 15, "other": 102,
                           "unknown": 228},
        "kyphoplasty": {"myeloma": 522, "breast": 171, "lung": 282, "prostate": 50,
                        "renal": 21, "colorectal": 37, "stomach": 33, "liver": 29,
                        "lymphoma": 18, "thyroid": 3, "sarcoma": 7, "other": 56,
                        "unknown": 106},
    },
    "mean_levels": {"vertebroplasty": 2.26, "kyphoplasty": 1.95},  # Table 1
    "leakage": {"vertebroplasty": 0.379, "kyphoplasty": 0.136},  # Table 1, % of patients
    "symptomatic": {"vertebroplasty": 35 / 2024, "kyphoplasty": 8 / 909},  # Table 1
    # Table 2: mean (N) by interval: preop, <4w, <=6w, <6m, <1y, >=1y
    "nrs": {"vertebroplasty": [(7.48, 1445), (3.00, 1147), (2.90, 606), (2.50, 370),
                               (2.85, 784), (2.98, 260)],
            "kyphoplasty": [(7.05, 1103), (2.96, 814), (2.99, 222), (3.12, 318),
                            (3.55, 204), (3.09, 375)]},
    "odi": {"vertebroplasty": [(74.68, 226), (17.73, 190), (32.25, 67), (31.68, 67),
                               (29.88, 81), (28.93, 103)],
            "kyphoplasty": [(66.02, 592), (34.73, 275), (38.54, 156), (37.35, 381),
                            (30.16, 162), (32.45, 301)]},
    "kps": [(66.99, 611), (80.28, 609), (83.11, 263), (83.92, 263), (82.02, 265),
            (79.08, 110)],  # Table 2, PVP and KP together
}

# ASSUMPTION (not reported by the review): spreads and the rest of a realistic record.
AGE_SD: Final = 11.0
NRS_SD: Final = 1.8
ODI_SECTION_SD: Final = 0.7
KPS_SD: Final = 10.0
MEDIAN_SURVIVAL_DAYS: Final = 365  # exponential survival, so about half die within a year
LEAK_SITES: Final = {"disc": 0.35, "venous": 0.3, "paravertebral": 0.2, "epidural": 0.08,
                     "foraminal": 0.05, "pulmonary": 0.02}
ANAESTHESIA: Final = {"local": 0.6, "sedation": 0.25, "general": 0.15}
VISIT_DAYS: Final = {"lt4w": (7, 27), "le6w": (28, 42), "lt6m": (43, 182), "lt1y": (183, 364),
                     "ge1y": (365, 540)}
_LEVELS: Final = [f"T{i}" for i in range(4, 13)] + [f"L{i}" for i in range(1, 6)]

# ASSUMPTION (issue 14, for `vertebro analytics compare`): the review reports no prognosis,
# no new fractures and no indication for the technique, so the demo draws them, from a second
# random stream that leaves every draw above unchanged. Confounding by indication is built
# in on purpose, so that the adjusted analysis has something to adjust: kyphoplasty patients
# are drawn with fewer visceral metastases and more often ambulatory; visceral metastases
# shorten survival and raise pain at follow-up (centred within each technique, so that the
# Table 2 means per technique hold); new fractures follow a constant hazard.
VISCERAL: Final = {"kyphoplasty": {"none": 0.6, "treatable": 0.25, "untreatable": 0.15},
                   "vertebroplasty": {"none": 0.4, "treatable": 0.3, "untreatable": 0.3}}
AMBULATORY: Final = {"kyphoplasty": 0.85, "vertebroplasty": 0.7}
SURVIVAL_FACTOR: Final = {"none": 1.6, "treatable": 0.9, "untreatable": 0.45}  # x exponential
NRS_SHIFT: Final = {"none": -0.4, "treatable": 0.3, "untreatable": 0.9}  # at follow-up only
NEW_FRACTURE_PER_YEAR: Final = 0.2  # constant hazard of a new vertebral fracture


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def demo_records(
    patients: int, *, sites: int = 1, seed: int = 0, as_of: dt.date | None = None
) -> Iterator[dict[str, str]]:
    """Neutral import records (see :mod:`vertebro.registry.transfer`) of a synthetic cohort.

    Index procedures fall in the three years before ``as_of`` (default today); visits after
    ``as_of`` have not happened yet.
    """
    rng = random.Random(seed)
    prng = random.Random(f"prognosis-{seed}")  # issue 14 draws only (see ASSUMPTION above)
    as_of = as_of or dt.date.today()
    site_codes = [f"DEMO{k}" for k in range(1, sites + 1)]
    for code in site_codes:
        yield {"record_type": "site", "site": code,
               "site_name": f"SYNTHETIC demo site {code[4:]} (not real patients)"}
    total = sum(SORENSEN_2019["patients"].values())
    p_kp = SORENSEN_2019["patients"]["kyphoplasty"] / total
    kps_row = SORENSEN_2019["kps"]
    for n in range(1, patients + 1):
        technique = "kyphoplasty" if rng.random() < p_kp else "vertebroplasty"
        site = site_codes[(n - 1) % sites]
        pcode = f"SYN-{n:05d}"
        base = {"site": site, "patient": pcode}
        performed = as_of - dt.timedelta(days=rng.randint(1, 3 * 365))
        age = min(95, max(25, round(rng.gauss(SORENSEN_2019["mean_age"][technique], AGE_SD))))
        sex = _pick(rng, SORENSEN_2019["sex"][technique])
        primary = _pick(rng, SORENSEN_2019["primary"][technique])
        yield {"record_type": "patient", **base, "birth_year": str(performed.year - age),
               "sex": sex, "primary_cancer": primary, "synthetic": "true"}
        n_levels = 1 + _poisson(rng, SORENSEN_2019["mean_levels"][technique] - 1)
        start = rng.randrange(len(_LEVELS) - min(n_levels, len(_LEVELS)) + 1)
        levels = _LEVELS[start:start + n_levels]
        # the decision engine's assessment, run on a synthetic input, a few days before
        engine_input = _engine_input(rng, age, sex, primary, levels)
        visceral = _pick(prng, VISCERAL[technique])
        engine_input["patient"].update({
            "visceral_metastases": visceral,
            "extraspinal_bone_metastases": _poisson(prng, 1.5),
            "spinal_metastases": len(levels) + _poisson(prng, 0.8),
            "ambulatory": prng.random() < AMBULATORY[technique],
            "albumin_g_dl": round(_clip_f(prng.gauss(3.7, 0.5), 1.5, 5.2), 1),
        })
        output = assess(engine_input)
        yield {"record_type": "assessment", **base, "assessment": "1",
               "date": (performed - dt.timedelta(days=rng.randint(1, 14))).isoformat(),
               "guideline": "jnccn2012", "disposition": output["disposition"],
               "rulebook_version": str(output.get("rulebook_version") or ""),
               "engine_version": str(output.get("engine_version") or ""),
               "input_json": json.dumps(engine_input, sort_keys=True),
               "output_json": json.dumps(output, sort_keys=True)}
        pb = {**base, "procedure": "1"}
        proc = {"record_type": "procedure", **pb, "assessment": "1",
                "date": performed.isoformat(), "anaesthesia": _pick(rng, ANAESTHESIA),
                "operator_role": rng.choice(["interventional_radiologist", "spine_surgeon"]),
                "biopsy_taken": "true" if rng.random() < 0.5 else "false"}
        if output["disposition"] == "contraindicated":
            proc["override_reason"] = "synthetic demo record: treated despite the assessment"
        yield proc
        kp = technique == "kyphoplasty"
        for lv in levels:
            yield {"record_type": "level", **pb, "level": lv, "technique": technique,
                   "approach": "transpedicular", "needle": "11G" if kp else "13G",
                   "cement_type": "PMMA",
                   "cement_volume_ml": repr(round(max(1.0, rng.gauss(4.5 if kp else 3.5, 1.2)),
                                                  1)),
                   "balloon_used": "true" if kp else "false"}
        if rng.random() < SORENSEN_2019["leakage"][technique]:
            symptomatic = rng.random() < (SORENSEN_2019["symptomatic"][technique]
                                          / SORENSEN_2019["leakage"][technique])
            yield {"record_type": "complication", **pb, "complication_type": "cement_leak",
                   "level": rng.choice(levels), "leak_site": _pick(rng, LEAK_SITES),
                   "symptomatic": "true" if symptomatic else "false",
                   "severity_grade": str(rng.choice([2, 3]) if symptomatic else 1),
                   "treatment": "observation" if not symptomatic else "analgesia"}
        # instruments this patient's centre uses: Table 2 N relative to the NRS N
        nrs_row = SORENSEN_2019["nrs"][technique]
        odi_row = SORENSEN_2019["odi"][technique]
        uses_odi = rng.random() < odi_row[0][1] / nrs_row[0][1]
        uses_kps = rng.random() < kps_row[0][1] / (SORENSEN_2019["nrs"]["vertebroplasty"][0][1]
                                                   + SORENSEN_2019["nrs"]["kyphoplasty"][0][1])
        death_day = int(rng.expovariate(math.log(2) / MEDIAN_SURVIVAL_DAYS)
                        * SURVIVAL_FACTOR[visceral])
        fracture_day = int(prng.expovariate(NEW_FRACTURE_PER_YEAR / 365))
        # centred within the technique, so Table 2's follow-up means per technique still hold
        nrs_shift = NRS_SHIFT[visceral] - sum(
            p * NRS_SHIFT[v] for v, p in VISCERAL[technique].items()
        )
        fracture_told = False
        for i, key in enumerate(["preop", *[v.interval for v in SCHEDULE]]):
            if key == "preop":
                day = -rng.randint(0, 3)
            else:
                lo, hi = VISIT_DAYS[key]
                day = rng.randint(lo, hi)
            when = performed + dt.timedelta(days=day)
            if when > as_of:
                break
            if day >= death_day:
                yield {"record_type": "follow_up", **pb,
                       "date": (performed + dt.timedelta(days=death_day)).isoformat(),
                       "vital_status": "dead"}
                break
            # attrition: Table 2 N at this interval relative to the preoperative N
            if key != "preop" and rng.random() > min(1.0, nrs_row[i][1] / nrs_row[0][1]):
                continue
            rec = {"record_type": "follow_up", **pb, "date": when.isoformat(),
                   "baseline": "true" if key == "preop" else "false",
                   "nrs": str(_clip(round(rng.gauss(nrs_row[i][0], NRS_SD)
                                          + (nrs_shift if key != "preop" else 0)),
                                    0, 10)),
                   "vital_status": "alive"}
            if key != "preop":
                # a new fracture is recorded at the first visit after it happened
                new = fracture_day <= day and not fracture_told
                rec["new_fracture"] = "true" if new else "false"
                if new:
                    fracture_told = True
                    rec["new_fracture_level"] = _LEVELS[prng.randrange(len(_LEVELS))]
            if uses_odi:
                mean_section = odi_row[i][0] / 20  # ODI % = sum / 50 x 100
                rec["odi_version"] = "2.1a"
                for s in range(1, 11):
                    rec[f"odi_{s}"] = str(_clip(round(rng.gauss(mean_section, ODI_SECTION_SD)),
                                                0, 5))
            if uses_kps:
                rec["kps"] = str(_clip(round(rng.gauss(kps_row[i][0], KPS_SD) / 10) * 10, 10,
                                       100))
            yield rec


def _engine_input(rng: random.Random, age: int, sex: str, primary: str,
                  levels: list[str]) -> dict[str, Any]:
    """A synthetic engine input (DESIGN.md section 3) for a patient who was treated.

    ASSUMPTION: lesion, wall and height-loss mixes are illustrative, not from the review.
    """
    return {
        "note": "SYNTHETIC demo patient (not a real person)",
        "patient": {"age": age, "sex": sex if sex != "unknown" else None,
                    "primary_cancer": primary, "cancer_history": True,
                    "histology_confirmed": rng.random() < 0.7,
                    "kps": _clip(round(rng.gauss(SORENSEN_2019["kps"][0][0], KPS_SD) / 10) * 10,
                                 10, 100)},
        "pain": {"nrs": _clip(round(rng.gauss(7.3, NRS_SD)), 4, 10), "mechanical": True,
                 "concordant_exam": True},
        "neurology": {"deficit": "none", "clinical_cord_compression": False},
        "contraindications": {"active_systemic_infection": False, "spinal_infection": False,
                              "uncorrectable_coagulopathy": False,
                              "unfit_for_anaesthesia": False, "cement_allergy": False},
        "levels": [
            {"level": lv, "index": True, "mri_edema": True,
             "height_loss_pct": rng.randint(10, 60),
             "lesion": _pick(rng, {"lytic": 0.6, "mixed": 0.25, "blastic": 0.15}),
             "posterior_wall": "intact" if rng.random() < 0.85 else "disrupted",
             "escc": "0" if rng.random() < 0.8 else "1a", "alignment": "normal",
             "posterolateral": "none", "instrumentation": "none"}
            for lv in levels
        ],
        "context": {"mdt_agreed": True, "spine_surgery_available": True},
    }


def _clip(v: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, v))


def _clip_f(v: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, v))


def _poisson(rng: random.Random, lam: float) -> int:
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


def seed(
    reg: Any,
    patients: int,
    *,
    sites: int = 1,
    seed: int = 0,
    as_of: dt.date | None = None,
    admin: str = "admin",
    progress: Any = None,
) -> dict[str, int]:
    """Write a demo cohort into ``reg`` (a :class:`~vertebro.registry.Registry`).

    An empty registry gets an admin (``admin``), a clinician per site (``clin-demo1``, ...) and
    a researcher (``researcher``); otherwise ``admin`` must be an existing admin.
    """
    from sqlalchemy import func, select

    from .models import Site, User
    from .transfer import import_records

    with reg.session(None) as (s, _):
        empty = not s.scalar(select(func.count()).select_from(User))
        existing_sites = set(s.scalars(select(Site.code)))
    if empty:
        reg.bootstrap(admin, "DEMO1", "SYNTHETIC demo site 1 (not real patients)")
    records = list(demo_records(patients, sites=sites, seed=seed, as_of=as_of))
    counts = import_records(reg, admin, [(f"record {i}", r) for i, r in enumerate(records, 1)],
                            progress=progress)
    with reg.session(None) as (s, _):
        users = set(s.scalars(select(User.username)))
    for k in range(1, sites + 1):
        name = f"clin-demo{k}"
        if name not in users and (empty or f"DEMO{k}" not in existing_sites):
            reg.add_user(admin, name, "clinician", f"DEMO{k}")
    if "researcher" not in users:
        reg.add_user(admin, "researcher", "researcher", None)
    return counts


def demo_usernames(sites: int, admin: str = "admin") -> list[str]:
    """The users :func:`seed` creates: the admin, a clinician per site, the researcher."""
    return [admin, *(f"clin-demo{k}" for k in range(1, sites + 1)), "researcher"]


def set_demo_passwords(reg: Any, sites: int, *, admin: str = "admin") -> list[tuple[str, str]]:
    """Give each demo user (:func:`demo_usernames`) a new random password, for trying the web
    app on the synthetic cohort; returns ``(username, password)`` to show once.

    Refused (nothing changed) unless every patient in the registry is synthetic: demo
    passwords are for a demo registry, never for one with real patients. Each call sets new
    passwords and so ends the demo users' web sessions.
    """
    from sqlalchemy import func, select

    from vertebro.errors import InvalidInput

    from .accounts import Accounts
    from .models import Patient, User

    with reg.session(None) as (s, _):
        real = s.scalar(select(func.count()).select_from(Patient)
                        .where(Patient.synthetic.is_(False))) or 0
        existing = set(s.scalars(select(User.username).where(User.active.is_(True))))
    if real:
        raise InvalidInput.field("--demo-passwords", f"the registry has {real} patient(s) that "
                                 "are not synthetic: demo passwords are for a demo registry only")
    accounts = Accounts(reg)
    out = []
    for name in demo_usernames(sites, admin):
        if name in existing:
            password = secrets.token_urlsafe(12)  # 16 characters, 96 random bits
            accounts.set_password(name, password)
            out.append((name, password))
    return out
