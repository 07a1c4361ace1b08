"""Small builders shared by the registry tests."""

from __future__ import annotations

from typing import Any

from vertebro.registry import Registry


def engine_output(disposition: str, levels: list[str]) -> dict[str, Any]:
    return {"disposition": disposition,
            "levels": [{"level": lv, "treat": True} for lv in levels],
            "rulebook_version": "test", "engine_version": "test"}


def patient_with_procedure(reg: Registry, actor: str = "alice", code: str = "P001",
                           disposition: str = "candidate") -> dict[str, Any]:
    reg.add_patient(actor, {"code": code, "birth_year": 1955, "sex": "female",
                            "primary_cancer": "myeloma"})
    reg.store_assessment(actor, code, {"levels": [{"level": "T9"}, {"level": "T10"}]},
                         engine_output(disposition, ["T9", "T10"]),
                         assessed_on=_d("2025-01-05"))
    return reg.add_procedure(actor, code, {
        "performed_on": "2025-01-10", "anaesthesia": "local", "override_reason":
        "MDT decided to proceed" if disposition == "contraindicated" else None,
        "levels": [{"level": "T9", "technique": "kyphoplasty", "cement_volume_ml": 4.5,
                    "balloon_used": True}]})


def _d(s: str) -> Any:
    import datetime as dt
    return dt.date.fromisoformat(s)
