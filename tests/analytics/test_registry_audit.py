"""The audit read from a real registry: the acting user's access, exactly as elsewhere."""

from __future__ import annotations

import pytest

from vertebro.analytics import audit, registry_procedures
from vertebro.errors import RegistryError
from vertebro.registry import Registry


def test_clinician_sees_own_site_only(cohort: Registry) -> None:
    alice = audit(registry_procedures(cohort, "alice"))
    assert [g.group for g in alice.groups] == ["A"]
    assert (alice.cohort.n, alice.cohort.events_known, alice.cohort.events_possible) == (6, 2, 3)
    bob = audit(registry_procedures(cohort, "bob"))
    assert [g.group for g in bob.groups] == ["B"]
    assert (bob.cohort.n, bob.cohort.events_known, bob.cohort.events_possible) == (3, 1, 1)


@pytest.mark.parametrize("user", ["rita", "admin"])
def test_researcher_and_admin_see_every_site(cohort: Registry, user: str) -> None:
    report = audit(registry_procedures(cohort, user))
    assert [(g.group, g.n, g.events_known, g.events_possible) for g in report.groups] == [
        ("A", 6, 2, 3),
        ("B", 3, 1, 1),
    ]
    assert report.cohort.n == 9


def test_researcher_records_are_pseudonymised(cohort: Registry) -> None:
    keys = {p.key.split("/")[1] for p in registry_procedures(cohort, "rita")}
    assert keys and not keys & {"A1", "A2", "A3", "A4", "A5", "A6", "B1", "B2", "B3"}


def test_follow_up_and_technique_from_the_registry(cohort: Registry) -> None:
    # the audit reads the research form of the records: patients by pseudonym, for everyone
    code = {cohort.pseudonym("A", c): c for c in ("A1", "A3", "A4")}
    procs = {code.get(p.key.split("/")[1]): p for p in registry_procedures(cohort, "alice")}
    assert not procs["A3"].followed_up  # a baseline alone is not a follow-up
    assert procs["A1"].followed_up
    assert procs["A4"].technique == "kyphoplasty"  # any kyphoplasty level, as Registry.summary
    assert procs["A1"].technique == "vertebroplasty"
    report = audit(registry_procedures(cohort, "admin"), by="technique")
    assert [(g.group, g.n) for g in report.groups] == [("vertebroplasty", 7), ("kyphoplasty", 2)]
    assert report.cohort.no_follow_up == 1
    # leakage counts every recorded leak, symptomatic or not: A1, A2, A4 (KP), B1
    assert [(lk.technique, lk.events, lk.n) for lk in report.leakage] == [
        ("vertebroplasty", 3, 7),
        ("kyphoplasty", 1, 2),
    ]


def test_unknown_user_is_refused(cohort: Registry) -> None:
    with pytest.raises(RegistryError, match="no active user"):
        registry_procedures(cohort, "mallory")


def test_reading_writes_nothing(cohort: Registry) -> None:
    before = cohort.counts()
    audit(registry_procedures(cohort, "rita"))
    assert cohort.counts() == before


def test_empty_registry(registry: Registry) -> None:
    report = audit(registry_procedures(registry, "rita"))
    assert report.cohort.n == 0 and report.cohort.known is None and report.groups == ()
    assert report.to_dict()["cohort"]["known"] is None


def test_death_and_lost_notices_are_not_follow_up(registry: Registry) -> None:
    # mirrors Registry.due: a death or a lost-to-follow-up notice ends follow-up; neither is a
    # visit, so complications after these procedures may have gone unseen
    for code, notice in (
        ("D1", {"vital_status": "dead"}),
        ("L1", {"lost_to_follow_up": True}),
        ("V1", {"nrs": 3}),  # an ordinary visit, for contrast
    ):
        registry.add_patient("alice", {"code": code, "birth_year": 1955, "sex": "female"})
        registry.add_procedure(
            "alice",
            code,
            {"performed_on": "2025-01-10", "levels": [{"level": "T9", "technique": "kyphoplasty"}]},
        )
        registry.add_follow_up("alice", code, {"followed_on": "2025-01-24", **notice})
    procs = registry_procedures(registry, "alice")
    assert sorted(p.followed_up for p in procs) == [False, False, True]
    assert audit(procs).cohort.no_follow_up == 2
