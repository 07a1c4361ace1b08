"""Benchmark: start-up of the ``vertebro`` command against the floor of its own libraries.

Times, as wall clock from a shell, ``vertebro --help`` and ``vertebro assess FILE`` beside the
floor ``python -c "import pydantic, typer, rich"`` (the interpreter and the three libraries
every command needs, doing nothing). The commands are run in turns, round-robin, so a change
in the machine's load touches all of them alike; the median of the runs is reported, with the
ratio to the floor's median (goal of issue 13.5: <= 1.5), and the same for the CPU time
(user + system) of each run, which a loaded machine disturbs less than the wall clock.

The package's bytecode is compiled first (``compileall``, as ``pip install`` does for a
wheel): with ``PYTHONDONTWRITEBYTECODE`` set, an editable install would otherwise recompile
every vertebro module on every run (about 0.1 s of ``vertebro assess``), which no installed
copy pays. ``--no-compile`` measures without it.

    python benchmarks/startup_bench.py [--runs 15] [--json]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "aospine_case.json"


def _commands() -> dict[str, list[str]]:
    vertebro = Path(sys.executable).with_name("vertebro")
    if not vertebro.exists():
        sys.exit(f"no {vertebro}: run `make install` first")
    return {
        "floor: python -c 'import pydantic, typer, rich'": [
            sys.executable,
            "-c",
            "import pydantic, typer, rich",
        ],
        "vertebro --help": [str(vertebro), "--help"],
        "vertebro assess examples/aospine_case.json": [str(vertebro), "assess", str(EXAMPLE)],
    }


def _once(cmd: list[str]) -> tuple[float, float]:
    """Wall clock and CPU seconds (user + system) of one run of ``cmd``."""
    r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    ap.add_argument("--no-compile", action="store_true", help="do not byte-compile vertebro")
    args = ap.parse_args()
    if not args.no_compile:
        compileall.compile_dir(ROOT / "src" / "vertebro", quiet=1)
    commands = _commands()
    for cmd in commands.values():  # warm the file cache and the bytecode
        _once(cmd)
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            wall, cpu = _once(cmd)
            times[name].append(wall)
            cpus[name].append(cpu)
    floor = statistics.median(next(iter(times.values())))
    floor_cpu = statistics.median(next(iter(cpus.values())))
    rows = [
        {
            "command": name,
            "median_s": round(statistics.median(ts), 3),
            "min_s": round(min(ts), 3),
            "ratio_to_floor": round(statistics.median(ts) / floor, 2),
            # CPU time moves less with the machine's load than the wall clock does
            "median_cpu_s": round(statistics.median(cpus[name]), 3),
            "cpu_ratio_to_floor": round(statistics.median(cpus[name]) / floor_cpu, 2),
        }
        for name, ts in times.items()
    ]
    report = {
        "runs": args.runs,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None,
        "bytecode_compiled": not args.no_compile,
        "rows": rows,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"start-up, median of {args.runs} runs each (Python {report['python']}, "
          f"{report['cpus']} CPUs, load {report['load_average_1min']}, "
          f"bytecode {'compiled' if report['bytecode_compiled'] else 'as found'})")
    for r in rows:
        print(f"  {r['median_s']:6.3f} s  {r['ratio_to_floor']:5.2f}x   "
              f"cpu {r['median_cpu_s']:6.3f} s  {r['cpu_ratio_to_floor']:5.2f}x  {r['command']}")


if __name__ == "__main__":
    main()
