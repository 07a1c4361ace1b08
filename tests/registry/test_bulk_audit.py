"""Bulk imports audit each inserted row with the same content as the ORM path."""

from __future__ import annotations

from pathlib import Path

from vertebro.registry import Registry
from vertebro.registry.csvio import read_csv, write_csv
from vertebro.registry.transfer import export_records, import_records

from .conftest import populate_users
from .helpers import patient_with_procedure


def _norm(after: dict[str, object]) -> dict[str, object]:
    out = {k: v for k, v in after.items() if k not in ("id", "created_at", "procedure_id",
                                                        "patient_id", "assessment_id")}
    return {k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
            for k, v in out.items()}


def test_bulk_audit_matches_orm_audit(registry: Registry, other_db_url: str,
                                      tmp_path: Path) -> None:
    patient_with_procedure(registry, "alice", "A01")
    registry.add_follow_up("alice", "A01", {"followed_on": "2025-02-01", "nrs": 3, "kps": 70,
                                            "odi_sections": [1, 2, 3, 4, 5, 0, 1, None, 1, 1],
                                            "new_fracture": False, "lost_to_follow_up": False})
    registry.add_complication("alice", "A01", {"type": "cement_leak", "level": "T9",
                                               "symptomatic": False, "leak_site": "disc"})
    write_csv(tmp_path / "a.csv", export_records(registry, "alice"))
    orm = registry.audit_trail("alice", "A01")
    other = Registry.create(other_db_url)
    try:
        populate_users(other)
        import_records(other, "alice", read_csv(tmp_path / "a.csv"))
        bulk = other.audit_trail("alice", "A01")
    finally:
        other.close()
    orm.sort(key=lambda r: r["table"])
    bulk.sort(key=lambda r: r["table"])
    assert [(r["table"], r["action"]) for r in bulk] == [(r["table"], r["action"]) for r in orm]
    for a, b in zip(orm, bulk, strict=True):
        assert b["actor"] == "alice" and b["before"] is None
        assert b["row_id"] is not None
        assert _norm(a["after"]) == _norm(b["after"]), a["table"]
        assert set(a["after"]) == set(b["after"])
