"""Fixtures: the registry suite's real databases and users (reused, not copied), and a small
hand-built cohort whose counts are known by construction."""

from __future__ import annotations

from typing import Any

import pytest

from tests.registry.conftest import db_url, empty_registry, registry
from vertebro.registry import Registry

# re-exported so that pytest finds them here; users: admin, alice (site A), bob (site B), rita
__all__ = ["cohort", "db_url", "empty_registry", "registry"]


def add_case(
    reg: Registry,
    actor: str,
    code: str,
    *,
    techniques: tuple[str, ...] = ("vertebroplasty",),
    complications: tuple[dict[str, Any], ...] = (),
    followed_up: bool = True,
    baseline: bool = True,
) -> None:
    """One patient with one procedure (levels T9, T10, ... with the given techniques)."""
    levels = [f"T{9 + i}" for i in range(len(techniques))]
    reg.add_patient(actor, {"code": code, "birth_year": 1955, "sex": "female"})
    reg.add_procedure(
        actor,
        code,
        {
            "performed_on": "2025-01-10",
            "levels": [
                {"level": lv, "technique": t} for lv, t in zip(levels, techniques, strict=True)
            ],
        },
    )
    for c in complications:
        reg.add_complication(actor, code, c)
    if baseline:
        reg.add_follow_up(actor, code, {"followed_on": "2025-01-09", "baseline": True, "nrs": 8})
    if followed_up:
        reg.add_follow_up(actor, code, {"followed_on": "2025-01-24", "nrs": 3})


SYMPTOMATIC_LEAK = {
    "type": "cement_leak",
    "level": "T9",
    "leak_site": "foraminal",
    "symptomatic": True,
    "severity_grade": 3,
}
SILENT_LEAK = {"type": "cement_leak", "level": "T9", "leak_site": "disc", "symptomatic": False}
UNKNOWN_HAEMATOMA = {"type": "haematoma"}  # symptomatic and grade not recorded
TREATED_SILENT_EMBOLISM = {"type": "pulmonary_embolism", "symptomatic": False, "severity_grade": 2}


@pytest.fixture
def cohort(registry: Registry) -> Registry:
    """Site A (alice): 6 procedures, 2 known events, 1 unknown, 1 without follow-up, 2 KP.
    Site B (bob): 3 procedures, 1 known event."""
    add_case(registry, "alice", "A1", complications=(SYMPTOMATIC_LEAK,))
    add_case(registry, "alice", "A2", complications=(TREATED_SILENT_EMBOLISM, SILENT_LEAK))
    add_case(registry, "alice", "A3", complications=(UNKNOWN_HAEMATOMA,), followed_up=False)
    add_case(
        registry,
        "alice",
        "A4",
        complications=(SILENT_LEAK,),
        techniques=("vertebroplasty", "kyphoplasty"),
    )
    add_case(registry, "alice", "A5", techniques=("kyphoplasty",))
    add_case(registry, "alice", "A6")
    add_case(registry, "bob", "B1", complications=(SYMPTOMATIC_LEAK,))
    add_case(registry, "bob", "B2")
    add_case(registry, "bob", "B3", baseline=False)
    return registry
