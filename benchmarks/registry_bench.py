"""Registry import benchmark: 100,000 follow-ups from the CSV long format.

    .venv/bin/python benchmarks/registry_bench.py [--follow-ups N] [--baseline-sample M]
        [--postgres URL | --no-postgres]

For SQLite (a file, WAL, synchronous=FULL as shipped) and PostgreSQL it reports rows per
second of ``vertebro registry import`` (CSV parse, validation, scores, interval binning, one
transaction, one audit row per inserted row) beside a baseline of one ORM insert and commit
per follow-up (same validation, same audit hook). The baseline is measured on a sample of
``--baseline-sample`` rows (default 2,000) and its rate extrapolated to the whole file: a
rate does not depend on how many rows it was measured on once the per-row cost dominates.

PostgreSQL: ``--postgres URL`` (a server database that may be written to; a fresh database is
created and dropped on it), else ``VERTEBRO_TEST_DATABASE_URL``, else a throwaway cluster is
started with ``scripts/with_postgres.sh`` (normal durability settings) if PostgreSQL is
installed. Goal (issue 3): >= 20x the baseline and >= 20,000 rows/s on SQLite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from _pg import pg_database  # benchmarks/ is the script's folder, so on sys.path
from vertebro.registry import Registry
from vertebro.registry.csvio import read_csv, write_csv
from vertebro.registry.models import FollowUp, Procedure
from vertebro.registry.schemas import FollowUpIn
from vertebro.registry.service import follow_up_columns
from vertebro.registry.transfer import import_records

ROOT = Path(__file__).resolve().parents[1]
VISITS = 10  # follow-ups per patient (baseline + 9 visits)


def make_csv(path: Path, follow_ups: int) -> None:
    def records() -> Iterator[dict[str, str]]:
        yield {"record_type": "site", "site": "BENCH", "site_name": "benchmark site"}
        start = dt.date(2020, 1, 1)
        for n in range(follow_ups // VISITS):
            code = f"B{n:06d}"
            base = {"site": "BENCH", "patient": code}
            performed = start + dt.timedelta(days=n % 900)
            yield {"record_type": "patient", **base, "birth_year": str(1940 + n % 40),
                   "sex": "female" if n % 2 else "male", "primary_cancer": "myeloma"}
            pb = {**base, "procedure": "1"}
            yield {"record_type": "procedure", **pb, "date": performed.isoformat(),
                   "anaesthesia": "local"}
            yield {"record_type": "level", **pb, "level": "T9", "technique": "kyphoplasty",
                   "cement_volume_ml": "4.5", "balloon_used": "true"}
            for v in range(VISITS):
                day = -1 if v == 0 else v * 40
                rec = {"record_type": "follow_up", **pb,
                       "date": (performed + dt.timedelta(days=day)).isoformat(),
                       "baseline": "true" if v == 0 else "false", "nrs": str((7 + v) % 11),
                       "kps": str(60 + 10 * (v % 4)), "vital_status": "alive"}
                for s in range(1, 11):
                    rec[f"odi_{s}"] = str((s + v) % 6)
                yield rec

    write_csv(path, records())


def fresh(url: str) -> Registry:
    reg = Registry.create(url)
    reg.bootstrap("admin", "BENCH", "benchmark site")
    return reg


def bench_import(url: str, csv_path: Path, follow_ups: int) -> float:
    reg = fresh(url)
    try:
        t0 = time.perf_counter()
        counts = import_records(reg, "admin", read_csv(csv_path))
        elapsed = time.perf_counter() - t0
        assert counts["follow_up"] == follow_ups, counts
        return follow_ups / elapsed
    finally:
        reg.close()


def bench_baseline(url: str, sample: int) -> float:
    """One ORM insert + commit per follow-up (validated and audited the same way)."""
    reg = fresh(url)
    try:
        reg.add_patient("admin", {"code": "BASE"})
        reg.add_procedure("admin", "BASE", {"performed_on": "2020-01-01", "levels": [
            {"level": "T9", "technique": "kyphoplasty"}]})
        with reg.session("admin") as (s, _):
            proc = s.query(Procedure).one()
            proc_id, performed = proc.id, proc.performed_on
        rows = [{"followed_on": performed + dt.timedelta(days=1 + i % 700), "nrs": i % 11,
                 "kps": 70, "odi_sections": [(i + k) % 6 for k in range(10)]}
                for i in range(sample)]
        session = reg._sessions()
        session.info["actor"] = "admin"
        t0 = time.perf_counter()
        for row in rows:
            cols = follow_up_columns(FollowUpIn.model_validate(row), performed)
            session.add(FollowUp(procedure_id=proc_id, created_at=dt.datetime.now(dt.UTC),
                                 **cols))
            session.commit()
        elapsed = time.perf_counter() - t0
        session.close()
        return sample / elapsed
    finally:
        reg.close()


def report(backend: str, fast: float, base: float, sample: int) -> None:
    print(f"{backend:10} import {fast:10,.0f} rows/s   baseline {base:8,.0f} rows/s "
          f"(ORM insert+commit per row, measured on {sample:,} rows, extrapolated)   "
          f"ratio {fast / base:6.1f}x", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--follow-ups", type=int, default=100_000)
    ap.add_argument("--baseline-sample", type=int, default=2_000)
    ap.add_argument("--postgres", help="PostgreSQL server URL")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--postgres-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    n = args.follow_ups - args.follow_ups % VISITS
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "follow_ups.csv"
        make_csv(csv_path, n)
        print(f"{n:,} follow-ups in {csv_path.stat().st_size / 1e6:.1f} MB of CSV", flush=True)
        ok = True
        if not args.postgres_only:
            fast = bench_import(f"sqlite:///{tmp}/import.db", csv_path, n)
            base = bench_baseline(f"sqlite:///{tmp}/baseline.db", args.baseline_sample)
            report("SQLite", fast, base, args.baseline_sample)
            ok = fast >= 20_000 and fast / base >= 20
            print(f"SQLite goal (>= 20,000 rows/s and >= 20x): {'met' if ok else 'NOT met'}")
        if args.no_postgres:
            return 0 if ok else 1
        server = args.postgres or os.environ.get("VERTEBRO_TEST_DATABASE_URL")
        if server:
            url, drop = pg_database(server)
            try:
                fast = bench_import(url, csv_path, n)
            finally:
                drop()
            url, drop = pg_database(server)
            try:
                base = bench_baseline(url, args.baseline_sample)
            finally:
                drop()
            report("PostgreSQL", fast, base, args.baseline_sample)
        elif not args.postgres_only:
            helper = ROOT / "scripts" / "with_postgres.sh"
            env = {**os.environ, "PG_SERVER_OPTS": "", "PYTHON": sys.executable}
            cmd = [str(helper), sys.executable, __file__, "--postgres-only",
                   "--follow-ups", str(n), "--baseline-sample", str(args.baseline_sample)]
            if subprocess.run(cmd, env=env, check=False).returncode != 0:
                print("PostgreSQL: not measured (could not start a throwaway cluster)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
