"""Registry scale benchmark (issue 15.6): time and peak memory of every report, export and
import on SQLite and PostgreSQL, beside the Python baseline path.

    .venv/bin/python benchmarks/registry_scale.py            # --quick: < 3 minutes
    .venv/bin/python benchmarks/registry_scale.py --full     # 20,000 patients with the
                                                            # baseline, then 1,000,000 follow-ups
    options: --patients N [--baseline | --no-baseline] [--no-postgres | --postgres URL]
             [--no-transfer] [--sqlite-only]

A store is filled in bulk (``executemany`` on SQLite, ``COPY`` on PostgreSQL, not the service
loop): ten sites, one assessment and one procedure per patient (one in twenty has a second), one
to three treated levels, cement leaks, and about 2.7 follow-ups per patient (the review's
20,000-patient store had 2.9), dated within the three years before today.
Generated rows have no audit rows (no report reads them). The derived ``follow_up_choice``
rows are then written by the registry's own SQL (``choices.rebuild``, as migration 0006 and
``vertebro db rebuild-derived`` write them), timed on its own and printed with the fill.

Each measurement runs in a forked child process of a parent that holds only the imported
libraries, so the peak resident memory (``ru_maxrss``, the whole process: interpreter, libraries
and the work) is
that operation's alone; the time is the operation's wall time after start-up (opening the
registry included, imports excluded), with the child's CPU seconds beside it (on a shared
machine the wall time grows with the load, the CPU time much less; it does not include a
PostgreSQL server's work). The reports run as a researcher (every site):
``registry summary``, ``registry due``, ``analytics audit``, ``analytics outcomes`` and
``evidence from-registry``; the baseline is the path that reads every row into Python
(``registry/_reports_baseline.py`` and ``analytics.registry_procedures`` with ``audit``,
``outcomes``, ``registry_study_rows``). Export is the CSV long format as an admin; import
reads that file into an empty store. Goals (issue 15.6): at 1,000,000 follow-ups every report
<= 10 s and <= 500 MB peak, import and export <= 500 MB.

PostgreSQL: ``--postgres URL`` (a superuser's URL: databases and a role are created and
dropped), else ``VERTEBRO_TEST_DATABASE_URL``, else a throwaway cluster from
``scripts/with_postgres.sh`` with normal durability settings. The store is filled as the
superuser (its owner); every measurement connects as an application role granted by
``vertebro.registry.roles`` (``vertebro db grant``), so row-level security is in force as in a
deployment.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _pg import pg_database  # benchmarks/ is the script's folder, so on sys.path

ROOT = Path(__file__).resolve().parents[1]
SITES = 10
CHUNK = 20_000  # patients generated and written per batch (bounded memory)
FOLLOW_UPS_PER_PATIENT = 2.7  # what the generator makes (54,109 at 20,000 patients)
#: visit plan: (interval, day after the procedure, probability); expected 2.9 visits
VISITS = (("preop", -2, 0.85), ("lt4w", 14, 0.75), ("le6w", 40, 0.35), ("lt6m", 95, 0.35),
          ("lt1y", 250, 0.35), ("ge1y", 420, 0.25))
LEVELS = ("T5", "T6", "T7", "T8", "T9", "T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5")
CANCERS = ("myeloma", "breast", "lung", "prostate", "renal", "colorectal", "other")
REPORTS = ("summary", "due", "audit", "outcomes", "from-registry")
GOAL_SECONDS, GOAL_MB = 10.0, 500.0


# ----------------------------------------------------------------------------- the data
def _rows(n_patients: int, today: dt.date, seed: int = 15) -> Iterator[dict[str, list[Any]]]:
    """Batches of table rows (dicts of column -> value) for ``n_patients`` patients."""
    from vertebro.registry.intervals import bin_days

    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC)
    proc_id = level_id = comp_id = fu_id = 0
    for start in range(1, n_patients + 1, CHUNK):
        out: dict[str, list[Any]] = {t: [] for t in ("patient", "assessment", "procedure",
                                                     "procedure_level", "complication",
                                                     "follow_up")}
        for pid in range(start, min(start + CHUNK, n_patients + 1)):
            kp = rng.random() < 0.39
            first = today - dt.timedelta(days=rng.randrange(30, 1095))
            levels = rng.sample(LEVELS, rng.choice((1, 1, 2, 2, 3)))
            out["patient"].append({
                "id": pid, "site_id": 1 + pid % SITES, "code": f"B{pid:07d}",
                "birth_year": first.year - rng.randrange(35, 90),
                "sex": rng.choice(("female", "male")), "primary_cancer": rng.choice(CANCERS),
                "hospital_number_hash": None, "synthetic": True, "created_at": now})
            out["assessment"].append({
                "id": pid, "patient_id": pid, "assessed_on": first - dt.timedelta(days=3),
                "guideline": "jnccn2012", "input": {"levels": [{"level": lv} for lv in levels]},
                "output": {"disposition": "candidate", "rulebook_version": "bench",
                           "engine_version": "bench",
                           "levels": [{"level": lv, "treat": True} for lv in levels]},
                "disposition": "candidate", "rulebook_version": "bench",
                "engine_version": "bench", "created_at": now})
            dates = [first]
            if rng.random() < 0.05:
                later = first + dt.timedelta(days=rng.randrange(60, 400))
                if later < today:
                    dates.append(later)
            for n, performed in enumerate(dates):
                proc_id += 1
                out["procedure"].append({
                    "id": proc_id, "patient_id": pid, "assessment_id": pid,
                    "performed_on": performed, "anaesthesia": rng.choice(("local", "sedation")),
                    "operator_role": "interventional_radiologist", "override_reason": None,
                    "biopsy_taken": rng.random() < 0.3, "biopsy_result": None,
                    "created_at": now})
                for lv in levels if n == 0 else levels[:1]:
                    level_id += 1
                    out["procedure_level"].append({
                        "id": level_id, "procedure_id": proc_id, "level": lv,
                        "technique": "kyphoplasty" if kp else "vertebroplasty",
                        "approach": "transpedicular", "needle": None, "cement_type": None,
                        "cement_volume_ml": round(rng.uniform(2, 6), 1),
                        "balloon_used": kp})
                if rng.random() < (0.14 if kp else 0.38):
                    comp_id += 1
                    out["complication"].append({
                        "id": comp_id, "procedure_id": proc_id, "type": "cement_leak",
                        "level": levels[0], "leak_site": rng.choice(("disc", "venous",
                                                                     "paravertebral")),
                        "symptomatic": rng.random() < 0.03, "severity_grade": None,
                        "treatment": None, "created_at": now})
                if n:
                    continue
                nrs = rng.randrange(5, 11)
                for interval, day, p in VISITS:
                    if rng.random() >= p:
                        continue
                    day = -rng.randrange(1, 10) if day < 0 else day + rng.randrange(0, 10)
                    on = performed + dt.timedelta(days=day)
                    if on > today:
                        break
                    fu_id += 1
                    baseline = interval == "preop"
                    odi = [rng.randrange(0, 6) for _ in range(10)] if rng.random() < 0.3 else None
                    out["follow_up"].append({
                        "id": fu_id, "procedure_id": proc_id, "followed_on": on,
                        "baseline": baseline, "days_since_procedure": day,
                        "interval": bin_days(day, baseline=baseline),
                        "nrs": float(nrs if baseline else max(0, nrs - rng.randrange(2, 7))),
                        "odi_version": "2.1a" if odi else None, "odi_sections": odi,
                        "odi": round(sum(odi) / 50 * 100, 2) if odi else None,
                        "rdq_version": None, "rdq": None,
                        "kps": rng.choice((50, 60, 70, 80, 90)), "ecog": None,
                        "analgesic_class": rng.randrange(0, 4), "new_fracture": False,
                        "new_fracture_level": None, "vital_status": "alive",
                        "lost_to_follow_up": False, "created_at": now})
        yield out


def fill(url: str, n_patients: int, today: dt.date) -> dict[str, int]:
    """A new registry at ``url`` with users and ``n_patients`` generated patients."""
    from sqlalchemy import insert, text

    from vertebro.registry import Registry, choices
    from vertebro.registry.models import Base

    reg = Registry.create(url)
    reg.bootstrap("admin", "S01", "benchmark site 1")
    for k in range(2, SITES + 1):
        reg.add_site("admin", f"S{k:02d}", f"benchmark site {k}")
    reg.add_user("admin", "researcher", "researcher", None)
    reg.add_user("admin", "clin1", "clinician", "S01")
    counts: dict[str, int] = {}
    with reg.engine.begin() as conn:
        pg = conn.dialect.name == "postgresql"
        for batch in _rows(n_patients, today):
            for table, rows in batch.items():
                if not rows:
                    continue
                counts[table] = counts.get(table, 0) + len(rows)
                t = Base.metadata.tables[table]
                if pg:  # COPY through psycopg, values as Python objects
                    cols = list(rows[0])
                    raw: Any = conn.connection.driver_connection
                    with raw.cursor() as cur, cur.copy(
                            f'COPY "{table}" ({", ".join(cols)}) FROM STDIN') as copy:
                        for r in rows:
                            copy.write_row([json.dumps(v) if isinstance(v, dict | list) else v
                                            for v in r.values()])
                else:
                    conn.execute(insert(t), rows)
        if pg:
            for table in counts:
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM \"{table}\"))"))
        conn.execute(text("ANALYZE"))
    # the derived choice table by the registry's own SQL (choices.rebuild, as migration 0006
    # and `db rebuild-derived` run it), timed on its own: what the bulk rows above skipped
    t0 = time.perf_counter()
    with reg.engine.begin() as conn:
        counts["follow_up_choice"] = choices.rebuild(conn)
    counts["choice_ms"] = round((time.perf_counter() - t0) * 1000)
    with reg.engine.begin() as conn:
        conn.execute(text("ANALYZE follow_up_choice"))
    reg.close()
    return counts


# ----------------------------------------------------------------------------- one measurement
def _preload() -> None:
    """Import, once in the parent, everything a measurement uses (the children inherit it,
    as a command would have imported it before it starts working)."""
    import scipy.stats  # noqa: F401

    import vertebro.analytics
    import vertebro.evidence
    import vertebro.registry.transfer  # noqa: F401


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def measure(op: str, url: str, path: str | None) -> dict[str, Any]:
    """Run ``op`` once in this process and say how long it took and the peak memory."""
    from vertebro import analytics
    from vertebro.registry import Registry, _reports_baseline
    from vertebro.registry.csvio import read_csv, write_csv
    from vertebro.registry.transfer import export_records, import_records

    today = dt.date.today()
    who = "researcher"
    ops: dict[str, Callable[[Registry], Any]] = {
        "summary": lambda r: r.summary(who),
        "due": lambda r: len(r.due(who, today)),
        "audit": lambda r: analytics.registry_audit(r, who, by="site").to_dict(),
        "outcomes": lambda r: analytics.registry_outcomes(r, who).to_dict(),
        "from-registry": lambda r: analytics.study_rows_from_registry(
            r, who, exported_on=today, by="site"),
        "summary/baseline": lambda r: _reports_baseline.summary(r, who),
        "due/baseline": lambda r: len(_reports_baseline.due(r, who, today)),
        "audit/baseline": lambda r: analytics.audit(
            analytics.registry_procedures(r, who), by="site").to_dict(),
        "outcomes/baseline": lambda r: analytics.outcomes(
            analytics.registry_procedures(r, who)).to_dict(),
        "from-registry/baseline": lambda r: analytics.registry_study_rows(
            analytics.registry_procedures(r, who), exported_on=today, by="site"),
        "export": lambda r: write_csv(Path(str(path)), export_records(r, "admin")),
        "import": lambda r: import_records(r, "admin", read_csv(Path(str(path)))),
    }
    start_mb = _peak_mb()
    t0, c0 = time.perf_counter(), _cpu_seconds()
    reg = Registry(url)
    try:
        ops[op](reg)
    finally:
        reg.close()
    return {"op": op, "seconds": time.perf_counter() - t0, "cpu": _cpu_seconds() - c0,
            "peak_mb": _peak_mb(), "start_mb": start_mb}


def _cpu_seconds() -> float:
    """User + system CPU time of this process: on a machine shared with other work the wall
    time grows with the load, this does not (SQLite runs in-process; a PostgreSQL server's
    own CPU time is not in it)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """``fn(*args)`` in a forked child: its peak memory is its own (the parent holds only the
    imported libraries, so the child starts from the start-up size a fresh process has)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        try:
            out = fn(*args)
        except BaseException as exc:  # reported to the parent, which prints it
            out = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
        with os.fdopen(write, "w") as fh:
            fh.write(json.dumps(out, default=str))
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    result: dict[str, Any] = json.loads(data) if data else {"error": "the child died"}
    return result


def run_child(op: str, url: str, path: Path | None = None) -> dict[str, Any]:
    return in_child(measure, op, url, None if path is None else str(path))


# ----------------------------------------------------------------------------- a store
def as_app_role(url: str, role: str) -> str:
    """Grant ``role`` the application role's privileges on the store at ``url`` (made by the
    server's superuser, its owner here) and return the URL to connect as ``role``, so that
    the reports run as a deployment runs them: under row-level security."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from vertebro.registry.db import normalise_url
    from vertebro.registry.roles import grant_app_role

    engine = create_engine(normalise_url(url))
    try:
        grant_app_role(engine, role)
    finally:
        engine.dispose()
    return make_url(normalise_url(url)).set(username=role).render_as_string(hide_password=False)


def pg_app_role(server_url: str) -> tuple[str, Callable[[], None]]:
    """A new login role for the measurements (dropped after the benchmark's databases)."""
    from sqlalchemy import create_engine, text

    from vertebro.registry.db import normalise_url

    role = f"scale_app_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalise_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()

    return role, drop


def _fmt(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"FAILED: {r['error'][:70]}"
    return f"{r['seconds']:8.2f} s ({r['cpu']:6.2f} s CPU) {r['peak_mb']:5.0f} MB"


def bench_store(backend: str, new_url: Callable[[], tuple[str, Callable[[], None]]],
                patients: int, *, baseline: bool, transfer: bool, tmp: Path,
                app_role: str | None = None) -> bool:
    """Fill a store and measure it; on PostgreSQL every measurement connects as
    ``app_role`` (row-level security in force) when one is given."""
    today = dt.date.today()
    owner_url, drop = new_url()
    ok = True
    try:
        t0 = time.perf_counter()
        counts = in_child(fill, owner_url, patients, today)
        url = as_app_role(owner_url, app_role) if app_role else owner_url
        print(f"\n{backend}: {patients:,} patients, {counts['procedure']:,} procedures, "
              f"{counts['follow_up']:,} follow-ups, {counts['complication']:,} complications "
              f"(generated in {time.perf_counter() - t0:.1f} s, of which follow_up_choice: "
              f"{counts['follow_up_choice']:,} rows by choices.rebuild in "
              f"{counts['choice_ms'] / 1000:.1f} s)", flush=True)
        print(f"  {'operation':16} {'SQL path':>32}   {'baseline':>32}   ratio (time, memory)",
              flush=True)
        for op in REPORTS:
            r = run_child(op, url)
            line = f"  {op:16} {_fmt(r):>32}"
            if baseline:
                b = run_child(f"{op}/baseline", url)
                line += f"   {_fmt(b):>32}"
                if "error" not in r and "error" not in b:
                    line += (f"   {b['seconds'] / r['seconds']:5.1f}x faster, "
                             f"{b['peak_mb'] / r['peak_mb']:4.1f}x less")
            if "error" in r:
                ok = False
            elif r["seconds"] > GOAL_SECONDS or r["peak_mb"] > GOAL_MB:
                line += "   (over the goal)"
                ok = ok and counts["follow_up"] < 1_000_000  # the goals are set at 1M
            print(line, flush=True)
        if transfer:
            csv = tmp / f"{backend}.csv"
            r = run_child("export", url, csv)
            print(f"  {'export (CSV)':16} {_fmt(r):>32}   "
                  f"{csv.stat().st_size / 1e6 if csv.exists() else 0:,.0f} MB file", flush=True)
            target, drop_target = new_url()
            try:
                from vertebro.registry import Registry

                reg = Registry.create(target)
                reg.bootstrap("admin", "S01", "benchmark site 1")
                reg.close()
                if app_role:
                    target = as_app_role(target, app_role)
                r = run_child("import", target, csv)
                print(f"  {'import (CSV)':16} {_fmt(r):>32}", flush=True)
            finally:
                drop_target()
                csv.unlink(missing_ok=True)
    finally:
        drop()
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the default: 2,000 patients")
    ap.add_argument("--full", action="store_true",
                    help="20,000 patients with the baseline, then 1,000,000 follow-ups")
    ap.add_argument("--patients", type=int)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--no-transfer", action="store_true", help="skip export and import")
    ap.add_argument("--full-transfer", action="store_true",
                    help="with --full: export and import the 1,000,000-follow-up store too")
    ap.add_argument("--postgres", help="PostgreSQL server URL")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--postgres-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("VERTEBRO_REGISTRY_KEY", "benchmark-key-not-a-secret")
    if args.patients:
        sizes = [(args.patients, not args.no_baseline)]
    elif args.full:
        sizes = [(20_000, True), (round(1_000_000 / FOLLOW_UPS_PER_PATIENT), False)]
    else:
        sizes = [(2_000, not args.no_baseline)]
    # export and import of the full size hold the whole file in memory today (issue 15.1
    # makes them stream): measured at the first size only unless asked
    transfer_sizes = {sizes[0][0]} | ({n for n, _ in sizes} if args.full_transfer else set())
    _preload()
    ok = True
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        if not args.postgres_only:
            n = 0

            def sqlite_url() -> tuple[str, Callable[[], None]]:
                nonlocal n
                n += 1
                path = tmp / f"scale{n}.db"

                def drop() -> None:
                    for p in tmp.glob(f"scale{n}.db*"):
                        p.unlink()

                return f"sqlite:///{path}", drop

            for patients, baseline in sizes:
                ok &= bench_store("SQLite", sqlite_url, patients, baseline=baseline,
                                  transfer=not args.no_transfer and patients in transfer_sizes,
                                  tmp=tmp)
        if args.no_postgres:
            return 0 if ok else 1
        server = args.postgres or os.environ.get("VERTEBRO_TEST_DATABASE_URL")
        if server:
            role, drop_role = pg_app_role(server)
            try:
                for patients, baseline in sizes:
                    ok &= bench_store("PostgreSQL", lambda: pg_database(server, "scale"), patients,
                                      baseline=baseline, tmp=tmp, app_role=role,
                                      transfer=not args.no_transfer
                                      and patients in transfer_sizes)
            finally:
                drop_role()
        elif not args.postgres_only:
            helper = ROOT / "scripts" / "with_postgres.sh"
            env = {**os.environ, "PG_SERVER_OPTS": "", "PYTHON": sys.executable}
            cmd = [str(helper), sys.executable, __file__, "--postgres-only"]
            cmd += ["--full"] if args.full else []
            cmd += ["--patients", str(args.patients)] if args.patients else []
            cmd += ["--no-baseline"] if args.no_baseline else []
            cmd += ["--no-transfer"] if args.no_transfer else []
            cmd += ["--full-transfer"] if args.full_transfer else []
            if subprocess.run(cmd, env=env, check=False).returncode != 0:
                print("PostgreSQL: not measured (or over a goal; see above)")
                ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
