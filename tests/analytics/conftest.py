"""Fixtures: the registry suite's real databases and users (reused, not copied), and a small
hand-built cohort whose counts are known by construction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from matplotlib.figure import Figure

from tests.registry.conftest import db_url, empty_registry, registry
from vertebro.cli._output import console
from vertebro.registry import Registry

# re-exported so that pytest finds them here; users: admin, alice (site A), bob (site B), rita
__all__ = ["cohort", "db_url", "empty_registry", "pool_cohort", "registry"]


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
    add_patient(reg, actor, code, *((f"T{9 + i}", t) for i, t in enumerate(techniques)))
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


def add_visit(reg: Registry, actor: str, code: str, on: str, **scores: object) -> None:
    """A follow-up (or, with ``baseline=True``, the baseline) of ``code``'s latest procedure."""
    reg.add_follow_up(actor, code, {"followed_on": on, **scores})


def add_patient(reg: Registry, actor: str, code: str, *levels: tuple[str, str]) -> None:
    """A patient with one procedure on 2025-01-10 treating ``levels`` ((vertebra, technique)
    pairs; L1 by vertebroplasty when none are given)."""
    levels = levels or (("L1", "vertebroplasty"),)
    reg.add_patient(actor, {"code": code, "birth_year": 1955, "sex": "female"})
    reg.add_procedure(
        actor,
        code,
        {
            "performed_on": "2025-01-10",
            "levels": [{"level": lv, "technique": t} for lv, t in levels],
        },
    )


PVP = ("T9", "vertebroplasty")
KP = ("T10", "kyphoplasty")
LEAK = {"type": "cement_leak", "level": "T9", "leak_site": "disc", "symptomatic": False}


@pytest.fixture
def pool_cohort(registry: Registry) -> Registry:
    """A cohort whose study rows are known by hand (procedures on 2025-01-10 = day 0; the
    registry bins days 0-27 as < 4 weeks and 28-42 as <= 6 weeks).

    Site A: A1 PVP two baselines (NRS 8 then 9) and two visits < 4 weeks (NRS 5 then 3), one
    at day 35 (NRS 2), KPS 60 -> 70, ODI 80 -> 40, a leak; A2 PVP NRS 7 -> 4, KPS 60 -> 80,
    ODI 20 at day 14, a haematoma; A3 PVP + KP levels (= KP) NRS 9 -> 2, a leak; A4 KP NRS 6,
    no visit, a leak; A5 PVP NRS 7 -> 5, then a second procedure (KP, 2025-03-01) with NRS 1
    ten days later (left out of the outcomes: not the index procedure).
    Site B: B1 PVP NRS 8 -> 2 then 3, a leak; B2 PVP NRS 6 -> 3; B3 KP NRS 7; B4 PVP no
    baseline, NRS 3.
    """
    r = registry
    add_patient(r, "alice", "A1", PVP)
    add_visit(r, "alice", "A1", "2025-01-08", baseline=True, nrs=8, kps=60, odi_sections=[4] * 10)
    add_visit(r, "alice", "A1", "2025-01-09", baseline=True, nrs=9)
    add_visit(r, "alice", "A1", "2025-01-17", nrs=5)
    add_visit(r, "alice", "A1", "2025-01-30", nrs=3, kps=70, odi_sections=[2] * 10)
    add_visit(r, "alice", "A1", "2025-02-14", nrs=2)
    r.add_complication("alice", "A1", LEAK)
    add_patient(r, "alice", "A2", PVP)
    add_visit(r, "alice", "A2", "2025-01-09", baseline=True, nrs=7, kps=60)
    add_visit(r, "alice", "A2", "2025-01-24", nrs=4, kps=80, odi_sections=[1] * 10)
    r.add_complication("alice", "A2", {"type": "haematoma"})
    add_patient(r, "alice", "A3", PVP, KP)
    add_visit(r, "alice", "A3", "2025-01-09", baseline=True, nrs=9)
    add_visit(r, "alice", "A3", "2025-01-20", nrs=2)
    r.add_complication("alice", "A3", LEAK)
    add_patient(r, "alice", "A4", ("T9", "kyphoplasty"))
    add_visit(r, "alice", "A4", "2025-01-09", baseline=True, nrs=6)
    r.add_complication("alice", "A4", LEAK)
    add_patient(r, "alice", "A5", PVP)
    add_visit(r, "alice", "A5", "2025-01-09", baseline=True, nrs=7)
    add_visit(r, "alice", "A5", "2025-01-24", nrs=5)
    r.add_procedure(
        "alice",
        "A5",
        {"performed_on": "2025-03-01", "levels": [{"level": "T11", "technique": "kyphoplasty"}]},
    )
    add_visit(r, "alice", "A5", "2025-03-11", nrs=1)
    add_patient(r, "bob", "B1", PVP)
    add_visit(r, "bob", "B1", "2025-01-09", baseline=True, nrs=8)
    add_visit(r, "bob", "B1", "2025-01-24", nrs=2)
    add_visit(r, "bob", "B1", "2025-01-31", nrs=3)
    r.add_complication("bob", "B1", LEAK)
    add_patient(r, "bob", "B2", PVP)
    add_visit(r, "bob", "B2", "2025-01-09", baseline=True, nrs=6)
    add_visit(r, "bob", "B2", "2025-01-24", nrs=3)
    add_patient(r, "bob", "B3", KP)
    add_visit(r, "bob", "B3", "2025-01-09", baseline=True, nrs=7)
    add_patient(r, "bob", "B4", PVP)
    add_visit(r, "bob", "B4", "2025-01-24", nrs=3)
    return r


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A 60-column terminal (the console reads COLUMNS when it is made, so make a new one)."""
    monkeypatch.setenv("COLUMNS", "60")
    console.cache_clear()
    yield
    console.cache_clear()


@pytest.fixture
def disk_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every figure save writes half a PNG, then fails as a full disk would."""

    def boom(self: Figure, fname: Any, **kwargs: object) -> None:
        if isinstance(fname, (str, Path)):
            Path(fname).write_bytes(b"\x89PNG partial")
        else:
            fname.write(b"\x89PNG partial")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", boom)
