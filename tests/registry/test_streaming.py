"""Import and export memory stays bounded whatever the file size (issue 15.1, "Streaming").

The same cohort is imported and exported at two sizes, ten times apart; the peak of the
Python heap (tracemalloc) of the large run stays within twice the small run's, where holding
the file (the old path) grows it tenfold. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from vertebro.registry import Registry
from vertebro.registry.csvio import read_csv, write_csv
from vertebro.registry.demo import demo_records
from vertebro.registry.transfer import export_records, import_records

from .conftest import populate_users

AS_OF = dt.date(2025, 6, 30)


def _cohort(copies: int, template: list[dict[str, str]]) -> Iterator[dict[str, str]]:
    """``copies`` times the template's patients, each copy under new codes."""
    yield {"record_type": "site", "site": "DEMO1", "site_name": "SYNTHETIC demo site 1"}
    for k in range(copies):
        for r in template:
            yield {**r, "patient": r["patient"].replace("SYN-", f"C{k:03d}-")}


def _peak(f: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        f()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _round(reg: Registry, path: Path, out: Path) -> tuple[dict[str, int], int, str]:
    """Import ``path`` and export the store to ``out``, measuring each one's peak."""
    counts: dict[str, int] = {}
    counts["_peak"] = _peak(lambda: counts.update(
        import_records(reg, "admin", read_csv(path), chunk=200)))
    export_peak = _peak(lambda: write_csv(out, export_records(reg, "admin", batch=20)))
    return counts, export_peak, out.read_text()


def test_import_and_export_memory_does_not_grow_with_the_file(
    db_url: str, other_db_url: str, tmp_path: Path
) -> None:
    template = [r for r in demo_records(20, seed=2, as_of=AS_OF) if r["record_type"] != "site"]
    peaks: dict[str, list[int]] = {"import": [], "export": []}
    sizes = []
    for copies, url in ((1, db_url), (10, other_db_url)):
        path = tmp_path / f"cohort{copies}.csv"
        write_csv(path, _cohort(copies, template))
        sizes.append(path.stat().st_size)
        reg = Registry.create(url)
        try:
            populate_users(reg)
            imported, export_peak, out = _round(reg, path, tmp_path / f"out{copies}.csv")
            assert imported["patient"] == 20 * copies
            # and nothing was lost on the way (the users' sites A and B come first)
            assert out.count("\npatient,") == path.read_text().count("\npatient,")
        finally:
            reg.close()
        peaks["import"].append(imported["_peak"])
        peaks["export"].append(export_peak)
    assert sizes[1] > 9 * sizes[0]
    for phase, (small, large) in peaks.items():
        assert large < 2 * small, (phase, small, large)
