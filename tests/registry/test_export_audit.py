"""Every export is an audit event (issue 15, "Audit bypass"; DESIGN.md section 10): the CLI
writes the same ``export`` event as the web pages and the JSON API, through the one function
they all call (``vertebro.registry.io.export``): who, format, scope and how many records, never
the data itself."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests._cli import run
from vertebro.registry import Registry
from vertebro.registry.models import AuditLog

from .helpers import patient_with_procedure


def _events(reg: Registry) -> list[tuple[str, dict[str, Any]]]:
    with reg.session(None) as (s, _):
        return [(a.actor, dict(a.after or {})) for a in s.scalars(
            select(AuditLog).where(AuditLog.action == "export").order_by(AuditLog.id))]


def _db(reg: Registry) -> tuple[str, str]:
    return ("--db", reg.engine.url.render_as_string(hide_password=False))


@pytest.mark.parametrize("fmt", ["csv", "redcap", "fhir"])
def test_cli_export_writes_one_audit_event(registry: Registry, tmp_path: Path,
                                           fmt: str) -> None:
    patient_with_procedure(registry, "alice", "P001")
    patient_with_procedure(registry, "bob", "Q001")
    out = tmp_path / ("redcap" if fmt == "redcap" else f"x.{fmt}")
    code, _, err = run("registry", "export", "--format", fmt, "--out", str(out),
                       "--as", "alice", *_db(registry))
    assert code == 0, err
    ((actor, event),) = _events(registry)
    assert actor == "alice"
    assert {k: event[k] for k in ("format", "research", "sites", "via")} == {
        "format": fmt, "research": False, "sites": "A", "via": "cli"}
    if fmt == "csv":  # the count is what the file holds
        with out.open(newline="", encoding="utf-8") as fh:
            assert event["records"] == sum(1 for _ in csv.DictReader(fh))
    assert event["records"] > 0
    text = json.dumps(event)
    for value in ("P001", "1955", "2025-01-10", "myeloma", "MDT"):  # no data in the trail
        assert value not in text, value


def test_research_export_event_and_refusal_writes_none(registry: Registry,
                                                       tmp_path: Path) -> None:
    patient_with_procedure(registry, "alice", "P001")
    patient_with_procedure(registry, "bob", "Q001")
    code, _, _ = run("registry", "export", "--format", "csv", "--out",
                     str(tmp_path / "refused.csv"), "--as", "rita", *_db(registry))
    assert code == 1 and _events(registry) == []  # refused: nothing written, nothing audited
    out = tmp_path / "r.csv"
    code, _, err = run("registry", "export", "--format", "csv", "--out", str(out),
                       "--research", "--as", "rita", *_db(registry))
    assert code == 0, err
    ((actor, event),) = _events(registry)
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert (actor, event["research"], event["sites"], event["records"], event["via"]) == (
        "rita", True, "all sites", len(rows), "cli")
    assert {r["site"] for r in rows if r["record_type"] == "patient"} == {"A", "B"}
