"""Crash safety: SIGKILL an import mid-write; the database must be unchanged and consistent."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import text

from vertebro.registry import Registry
from vertebro.registry.csvio import write_csv
from vertebro.registry.demo import demo_records, seed
from vertebro.registry.transfer import export_records

from .helpers import patient_with_procedure

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from vertebro.registry import Registry
    from vertebro.registry.csvio import read_csv
    from vertebro.registry.transfer import import_records

    reg = Registry(sys.argv[1])
    rows = read_csv(Path(sys.argv[2]))

    def progress(phase, done, total):
        print(phase, done, total, flush=True)

    import_records(reg, "admin", rows, progress=progress, chunk=200)
    print("committed", flush=True)
    """
)


def test_sigkill_mid_import_leaves_database_unchanged(
    registry: Registry, tmp_path: Path
) -> None:
    seed(registry, 20, sites=2, seed=3, as_of=dt.date(2025, 6, 30))
    patient_with_procedure(registry, "alice", "A01")
    before_counts = registry.counts()
    before_export = list(export_records(registry, "admin"))
    big = tmp_path / "big.csv"
    records = [r for r in demo_records(1500, sites=2, seed=11, as_of=dt.date(2025, 6, 30))
               if r["record_type"] != "site"]
    for r in records:
        r["patient"] = r["patient"].replace("SYN-", "NEW-")
    write_csv(big, records)
    url = registry.engine.url.render_as_string(hide_password=False)
    registry.close()

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(big)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert child.stdout is not None
    killed_at = None
    for line in child.stdout:
        phase, *rest = line.split()
        if phase == "committed":
            break
        done = int(rest[0])
        # the import streams: rows are written batch by batch, long before the last one
        if phase == "write" and 0 < done < len(records) // 2:
            killed_at = done
            os.kill(child.pid, signal.SIGKILL)
            break
    child.wait(timeout=60)
    child.stdout.close()
    assert killed_at is not None, "the import finished before it could be killed"
    assert child.returncode == -signal.SIGKILL

    reg = Registry(url)
    try:
        assert reg.counts() == before_counts
        assert list(export_records(reg, "admin")) == before_export
        with reg.engine.connect() as conn:
            assert conn.execute(text(
                "SELECT count(*) FROM patient WHERE code LIKE 'NEW-%'")).scalar() == 0
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
            orphans = conn.execute(text(
                "SELECT count(*) FROM follow_up f LEFT JOIN procedure p "
                "ON f.procedure_id = p.id WHERE p.id IS NULL")).scalar()
            assert orphans == 0
        # and the database still takes the whole import afterwards
        from vertebro.registry.csvio import read_csv
        from vertebro.registry.transfer import import_records

        counts = import_records(reg, "admin", read_csv(big))
        assert counts["patient"] == 1500
    finally:
        reg.close()
