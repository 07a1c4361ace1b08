from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from vertebro.errors import InvalidInput, RegistryError
from vertebro.registry import Registry
from vertebro.registry.csvio import read_csv, write_csv
from vertebro.registry.demo import seed
from vertebro.registry.transfer import COLUMNS, export_records, import_records

from .conftest import populate_users
from .helpers import engine_output, patient_with_procedure

AS_OF = dt.date(2025, 6, 30)


def _export(reg: Registry, actor: str, path: Path, research: bool = False) -> bytes:
    write_csv(path, export_records(reg, actor, research=research))
    return path.read_bytes()


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _import(reg: Registry, actor: str, path: Path) -> dict[str, int]:
    return import_records(reg, actor, read_csv(path))


def test_round_trip_is_identical(registry: Registry, other_db_url: str, tmp_path: Path) -> None:
    seed(registry, 40, sites=2, seed=7, as_of=AS_OF)
    patient_with_procedure(registry, "alice", "A01", disposition="contraindicated")
    registry.add_patient("alice", {"code": "A02", "hospital_number": "H-1", "birth_year": 1940})
    registry.add_follow_up("alice", "A01", {"followed_on": "2025-02-01", "rdq": 9, "ecog": 2,
                                            "new_fracture": True, "new_fracture_level": "L1",
                                            "analgesic_class": 2})
    registry.add_complication("alice", "A01", {"type": "cement_leak", "level": "T9",
                                               "leak_site": "disc", "symptomatic": True,
                                               "severity_grade": 2, "treatment": "analgesia"})
    first = _export(registry, "admin", tmp_path / "one.csv")
    other = Registry.create(other_db_url)
    try:
        populate_users(other)
        counts = _import(other, "admin", tmp_path / "one.csv")
        assert counts["patient"] == 42
        second = _export(other, "admin", tmp_path / "two.csv")
        assert first == second
        n_audit = other.counts()["audit_log"]
        rows = sum(v for k, v in counts.items())
        assert n_audit >= rows  # one audit row per inserted row (plus the users')
    finally:
        other.close()


def test_import_with_errors_writes_nothing_and_lists_each(
    registry: Registry, tmp_path: Path
) -> None:
    patient_with_procedure(registry, "alice", "A01")
    registry.add_follow_up("alice", "A01", {"followed_on": "2025-02-01", "nrs": 3})
    path = tmp_path / "good.csv"
    _export(registry, "alice", path)
    rows = _rows(path)
    for r in rows:
        r["patient"] = "A99" if r["patient"] == "A01" else r["patient"]
    fu = next(r for r in rows if r["record_type"] == "follow_up")
    fu["date"] = "2025-01-01"  # before the procedure
    fu["odi_3"] = "7"
    bad_fu = dict(fu, date="2025-02-02", nrs="12", odi_3="")
    level = next(r for r in rows if r["record_type"] == "level")
    level2 = dict(level, level="L5")  # not in the assessment
    rows = [*rows, bad_fu, level2, {**level, "record_type": "spaceship"}]
    bad = tmp_path / "bad.csv"
    with bad.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    before = registry.counts()
    with pytest.raises(InvalidInput) as exc:
        _import(registry, "alice", bad)
    found = {(e.where, e.field) for e in exc.value.errors}
    fu_row = 2 + rows.index(fu)
    assert (f"row {fu_row}", "date") in found
    assert (f"row {fu_row}", "odi_3") in found
    assert (f"row {2 + len(rows) - 3}", "nrs") in found
    assert (f"row {2 + len(rows) - 2}", "level") in found
    assert (f"row {2 + len(rows) - 1}", "record_type") in found
    assert registry.counts() == before


def test_import_access(registry: Registry, tmp_path: Path) -> None:
    patient_with_procedure(registry, "bob", "B01")
    path = tmp_path / "b.csv"
    _export(registry, "bob", path)
    text = path.read_text().replace("B01", "B02")
    path.write_text(text)
    with pytest.raises(InvalidInput) as exc:
        _import(registry, "alice", path)
    assert {e.field for e in exc.value.errors} == {"site"}
    with pytest.raises(RegistryError):
        _import(registry, "rita", path)
    assert _import(registry, "bob", path)["patient"] == 1
    with pytest.raises(InvalidInput) as exc:  # already there now
        _import(registry, "bob", path)
    assert [e.field for e in exc.value.errors] == ["patient"]


def test_research_export_has_no_direct_identifiers(registry: Registry, tmp_path: Path) -> None:
    registry.add_patient("alice", {"code": "A01", "hospital_number": "H-77", "birth_year": 1950})
    registry.store_assessment("alice", "A01", {"levels": [{"level": "T9"}]},
                              engine_output("candidate", ["T9"]), assessed_on=dt.date(2025, 1, 5))
    registry.add_procedure("alice", "A01", {"performed_on": "2025-01-10", "override_reason":
                                            "none needed",
                                            "levels": [{"level": "T9", "technique":
                                                        "kyphoplasty"}]})
    registry.add_follow_up("alice", "A01", {"followed_on": "2025-02-09", "nrs": 2})
    with pytest.raises(RegistryError):
        _export(registry, "rita", tmp_path / "x.csv", research=False)
    _export(registry, "rita", tmp_path / "r.csv", research=True)
    rows = _rows(tmp_path / "r.csv")
    text = (tmp_path / "r.csv").read_text()
    assert ",A01," not in text and "2025-" not in text
    assert all(r["patient"] != "A01" for r in rows)
    assert all(r["hospital_number_hash"] == "" and r["birth_year"] == "" and r["date"] == ""
               for r in rows)
    pat = next(r for r in rows if r["record_type"] == "patient")
    assert pat["age_at_index"] == "75"
    days = {r["record_type"]: r["day"] for r in rows if r["record_type"] != "site"}
    assert days["assessment"] == "-5" and days["procedure"] == "0" and days["follow_up"] == "30"
    # clinicians may make a research export of their own site too
    _export(registry, "alice", tmp_path / "r2.csv", research=True)
    assert all(r["patient"] != "A01" for r in _rows(tmp_path / "r2.csv"))


def test_demo_marginals(registry: Registry) -> None:
    seed(registry, 600, sites=3, seed=1, as_of=AS_OF)
    counts = registry.counts()
    assert counts["patient"] == 600
    assert counts["assessment"] == 600  # the real engine, run on a synthetic input
    rows = list(export_records(registry, "admin"))
    procs = {(r["site"], r["patient"]) for r in rows if r["record_type"] == "procedure"}
    assert len(procs) == 600
    assert all(r["assessment"] == "1" for r in rows if r["record_type"] == "procedure")
    kp = {(r["site"], r["patient"]) for r in rows
          if r["record_type"] == "level" and r["technique"] == "kyphoplasty"}
    assert 0.31 < len(kp) / 600 < 0.47  # Sorensen-SpineJ-2019 Table 1: 39.0% KP
    pats = [r for r in rows if r["record_type"] == "patient"]
    assert all(r["synthetic"] == "true" and r["patient"].startswith("SYN-") for r in pats)
    myeloma = sum(r["primary_cancer"] == "myeloma" for r in pats) / 600
    assert 0.28 < myeloma < 0.43  # Table 1: 35.5%
    pre = [float(r["nrs"]) for r in rows if r["record_type"] == "follow_up"
           and r["interval"] == "preop" and r["nrs"]]
    early = [float(r["nrs"]) for r in rows if r["record_type"] == "follow_up"
             and r["interval"] == "lt4w" and r["nrs"]]
    assert 6.7 < sum(pre) / len(pre) < 7.8 and 2.5 < sum(early) / len(early) < 3.5
    assert any(r["vital_status"] == "dead" for r in rows if r["record_type"] == "follow_up")
