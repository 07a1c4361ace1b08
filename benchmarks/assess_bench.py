"""Benchmark: the decision engine against its floor, pydantic validation of the same input.

Generates N patients (fixed seed) with a realistic mix of known and unknown facts, then times
(1) validation alone (``AssessmentInput.model_validate``, the floor) and (2) ``vertebro.assess``
(validation + engine + full JSON-ready output), both on one core, best of R repeats.
Reports assessments per second and the ratio total / validation (goal in issue #2: <= 2.0,
and >= 5,000 assessments per second).

It also measures a floor under that ratio: for a sample of the patients, a function whose body
is that patient's output written as a literal (``lambda: {...}``, strings and numbers shared
as constants) is compiled, and calling it is timed. That is the least work CPython can do to
build the output's dicts and lists, with no decision made at all; (validation + that) /
validation is the ratio an engine doing zero work would score.

Batch throughput (issue 13.6): the same kind of patients, ``--batch-patients`` of them (20,000)
as a JSONL file, through the code behind ``vertebro assess --batch --out FILE`` with one process
and with two (``--jobs``): read, validate, assess, write the results atomically; the command's
own start-up is excluded, the worker processes' start is included. Reported as patients per
second, the two-process rate beside the one-process rate (goal: >= 5,000/s with 2), and as
patients per CPU second (this process and its workers): on a shared, loaded machine the wall
rate says how much of the cores the batch got, the CPU rate what the work itself costs
(two free cores could give at most twice the one-process CPU rate).

    python benchmarks/assess_bench.py [--patients 100000] [--repeats 3] [--seed 2026]
    python benchmarks/assess_bench.py --only batch [--batch-patients 20000] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from vertebro import assess
from vertebro.assess import AssessmentInput
from vertebro.spine import VERTEBRAE

LEVELS = [v for v in VERTEBRAE if not v.startswith("S")]


def _maybe(rng: random.Random, values: list[Any], p_unknown: float) -> Any:
    return None if rng.random() < p_unknown else rng.choice(values)


def generate(n: int, seed: int, p_unknown: float = 0.05) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []

    def block(spec: dict[str, list[Any]]) -> dict[str, Any]:
        d = {k: _maybe(rng, v, p_unknown) for k, v in spec.items()}
        return {k: v for k, v in d.items() if v is not None}

    for _ in range(n):
        names = rng.sample(LEVELS, rng.choice([1, 1, 2, 3]))
        levels = []
        for name in names:
            lv = {
                "level": name,
                **block(
                    {
                        "index": [True, True, True, False],
                        "mri_edema": [True, True, False],
                        "height_loss_pct": [0, 10, 30, 45, 60],
                        "lesion": ["lytic", "mixed", "blastic"],
                        "posterior_wall": ["intact", "intact", "disrupted", "retropulsion"],
                        "escc": ["0"] * 12 + ["1a", "1b", "1c", "2"],
                        "alignment": ["normal"] * 12 + ["deformity", "subluxation"],
                        "posterolateral": ["none", "none", "unilateral", "bilateral"],
                        "instrumentation": ["none", "none", "none", "bilateral_screws"],
                        "fracture_age_weeks": [2, 8, 30],
                    }
                ),
            }
            levels.append(lv)
        out.append(
            {
                "patient": block(
                    {
                        "age": list(range(30, 90)),
                        "sex": ["male", "female"],
                        "primary_cancer": ["myeloma", "breast", "lung", "prostate", "renal"],
                        "cancer_history": [True, True, False],
                        "histology_confirmed": [True, False],
                        "kps": [40, 50, 60, 70, 80, 90],
                        "life_expectancy_months": [2, 6, 12, 24],
                    }
                ),
                "pain": {
                    **block(
                        {
                            "nrs": list(range(2, 11)),
                            "mechanical": [True, True, False],
                            "concordant_exam": [True, True, False],
                            "radicular_exceeds_axial": [False, True],
                            "medical_therapy_weeks": [1, 3, 6, 10],
                        }
                    ),
                    "therapy_failed": block(
                        {
                            "prevents_ambulation": [True, False],
                            "analgesic_side_effects": [True, False],
                        }
                    ),
                },
                "neurology": block(
                    {
                        "deficit": ["none"] * 12 + ["radiculopathy", "myelopathy"],
                        "clinical_cord_compression": [False] * 15 + [True],
                    }
                ),
                "contraindications": block(
                    {
                        k: [False] * 79 + [True]
                        for k in (
                            "active_systemic_infection",
                            "spinal_infection",
                            "uncorrectable_coagulopathy",
                            "unfit_for_anaesthesia",
                            "cement_allergy",
                        )
                    }
                ),
                "levels": levels,
                "context": block(
                    {
                        "mdt_agreed": [True, False],
                        "spine_surgery_available": [True, False],
                        "prior_radiotherapy_levels": [[], [names[0]]],
                    }
                ),
            }
        )
    return out


def _time(fn: Any, patients: list[dict[str, Any]], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for p in patients:
            fn(p)
        best = min(best, time.perf_counter() - t0)
    return best


def _output_floor(patients: list[dict[str, Any]], repeats: int) -> tuple[float, float]:
    """(validation seconds, seconds to build the same outputs from literals) on ``patients``."""
    outputs = [assess(p) for p in patients]
    builders = [
        eval(compile(f"lambda: {o!r}", "<output literal>", "eval"))  # our own output
        for o in outputs
    ]
    assert all(b() == o for b, o in zip(builders, outputs, strict=True))
    build = _time(lambda b: b(), builders, repeats)  # type: ignore[no-any-return]
    return _time(AssessmentInput.model_validate, patients, repeats), build


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def machine_speed_up(jobs: int, n: int = 5_000_000) -> float:
    """What ``jobs`` processes gain over one on pure Python arithmetic right now: the most a
    batch can gain on this machine at this load (a shared VM may give fewer cores than it
    lists)."""
    import multiprocessing

    t0 = time.perf_counter()
    for _ in range(jobs):
        _burn(n)
    serial = time.perf_counter() - t0
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        t0 = time.perf_counter()
        pool.map(_burn, [n] * jobs)
        parallel = time.perf_counter() - t0
    return round(serial / parallel, 2)


def batch_rates(n: int, seed: int, jobs: int, repeats: int) -> dict[str, Any]:
    """Patients per second of ``vertebro assess --batch`` with 1 and ``jobs`` processes."""
    from vertebro.cli._batch import run_batch

    text = "".join(json.dumps(p) + "\n" for p in generate(n, seed))
    rates: dict[str, Any] = {"batch_patients": n}
    with tempfile.TemporaryDirectory() as tmp:
        outputs = {}
        for j in (1, jobs):
            out = Path(tmp) / f"results-{j}.jsonl"
            best = cpu = float("inf")
            for _ in range(repeats):
                c0, t0 = os.times(), time.perf_counter()
                run_batch(text, out, source="bench", guideline=None, max_levels=None, jobs=j)
                wall, c1 = time.perf_counter() - t0, os.times()
                best = min(best, wall)
                # CPU of this process and of the (reaped) workers: what the batch costs,
                # whatever share of the cores a loaded machine gave it
                cpu = min(cpu, sum(c1[:4]) - sum(c0[:4]))
            rates[f"batch_{j}_process_per_s"] = round(n / best)
            rates[f"batch_{j}_process_per_cpu_s"] = round(n / cpu)
            outputs[j] = out.read_bytes()
        assert outputs[1] == outputs[jobs], "the output must not depend on --jobs"
    one, many = rates["batch_1_process_per_s"], rates[f"batch_{jobs}_process_per_s"]
    rates["batch_speed_up"] = round(many / one, 2)
    rates["control_cpu_speed_up"] = machine_speed_up(jobs)
    rates["load_average_1min"] = round(os.getloadavg()[0], 1)
    return rates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--floor-sample", type=int, default=5000, help="patients for the floor")
    ap.add_argument("--batch-patients", type=int, default=20_000)
    ap.add_argument("--jobs", type=int, default=2, help="processes for the batch comparison")
    ap.add_argument("--only", choices=["engine", "batch"], help="run one part only")
    args = ap.parse_args()
    if args.only == "batch":
        print(json.dumps(batch_rates(args.batch_patients, args.seed, args.jobs, 1), indent=2))
        return
    patients = generate(args.patients, args.seed)
    assess(patients[0])  # load and compile the rulebook outside the timing
    validate = _time(AssessmentInput.model_validate, patients, args.repeats)
    total = _time(assess, patients, args.repeats)
    mix = Counter(assess(p)["disposition"] for p in patients[:5000])
    sample = patients[: args.floor_sample]
    floor_validate, floor_build = _output_floor(sample, args.repeats)
    n = args.patients
    report = {
        "patients": n,
        "python": platform.python_version(),
        "validation_s": round(validate, 3),
        "assess_s": round(total, 3),
        "validation_per_s": round(n / validate),
        "assessments_per_s": round(n / total),
        "ratio_total_over_validation": round(total / validate, 2),
        "floor_sample": len(sample),
        "floor_output_literal_us": round(floor_build / len(sample) * 1e6, 1),
        "floor_validation_us": round(floor_validate / len(sample) * 1e6, 1),
        "floor_ratio_zero_work_engine": round((floor_validate + floor_build) / floor_validate, 2),
        "dispositions_first_5000": dict(sorted(mix.items())),
    }
    if args.only is None:
        report.update(batch_rates(args.batch_patients, args.seed, args.jobs, 1))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
