"""Benchmark: the engine against pydantic validation, in CPU instructions (callgrind).

Wall-clock timings on a shared virtual machine vary by 2x from one hour to the next;
callgrind's instruction counts repeat exactly for the same code and input. This script runs
Python under ``valgrind --tool=callgrind`` three times on the same generated patients
(fixed seed): set-up only, set-up + validation, set-up + ``vertebro.assess``; the differences
are the instructions of validation alone (the floor) and of a whole assessment, and their
ratio is the instruction-count counterpart of ``assess_bench.py``'s ratio.

    python benchmarks/assess_instructions.py [--patients 2000] [--seed 2026]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys

from assess_bench import generate  # the same generated patients as the wall-clock benchmark
from vertebro import assess
from vertebro.assess import AssessmentInput


def _child(mode: str, n: int, seed: int) -> None:
    patients = generate(n, seed)
    assess(patients[0])  # load the rulebook in every mode, so that set-up cancels out
    if mode == "validate":
        for p in patients:
            AssessmentInput.model_validate(p)
    elif mode == "assess":
        for p in patients:
            assess(p)


def _instructions(mode: str, n: int, seed: int) -> int:
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
    cmd += [__file__, "--child", mode, "--patients", str(n), "--seed", str(seed)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    match = re.search(r"Collected : (\d+)", out)
    if match is None:
        raise SystemExit(f"no instruction count in callgrind's output:\n{out}")
    return int(match.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--child", choices=["setup", "validate", "assess"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.patients, args.seed)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    setup, validate, total = (
        _instructions(m, args.patients, args.seed) for m in ("setup", "validate", "assess")
    )
    n = args.patients
    print(
        json.dumps(
            {
                "patients": n,
                "validation_instructions_per_patient": round((validate - setup) / n),
                "assess_instructions_per_patient": round((total - setup) / n),
                "ratio_total_over_validation": round((total - setup) / (validate - setup), 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
