"""Plain records the analytics compute on, and how they are read from the registry.

The audit's and the outcomes report's arithmetic see only :class:`ProcedureRecord` values,
never the database. They are
built from the registry's neutral record stream (:func:`vertebro.registry.transfer.
export_records`), the same read path as every export, so the acting user's access is exactly
the registry's: a clinician sees their own site, a researcher every site, pseudonymised, an
admin every site. The research form of the stream is read (no direct identifiers, no dates:
days from the patient's index procedure instead): neither report needs more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vertebro.registry import Registry

__all__ = [
    "ComplicationRecord",
    "FollowUpRecord",
    "ProcedureRecord",
    "is_visit",
    "procedures_from_export",
    "registry_procedures",
]


@dataclass(frozen=True)
class ComplicationRecord:
    """One recorded complication; ``None`` means not recorded (unknown), never "no"."""

    type: str
    symptomatic: bool | None = None
    severity_grade: int | None = None


@dataclass(frozen=True)
class FollowUpRecord:
    """One follow-up record of a procedure (a visit, the preoperative baseline, a death
    notice or a lost-to-follow-up notice); ``None`` means not recorded.

    ``interval`` is the registry's bin (:data:`vertebro.registry.vocab.INTERVALS`); ``day`` is
    days since the patient's index (first) procedure, as the research export gives it.
    """

    interval: str
    baseline: bool = False
    day: int | None = None
    nrs: float | None = None
    odi: float | None = None
    kps: float | None = None
    vital_status: str | None = None
    lost_to_follow_up: bool = False


def is_visit(f: FollowUpRecord) -> bool:
    """Whether a follow-up record shows the patient seen after the procedure: it is not the
    preoperative baseline, not a death notice (``vital_status`` ``dead``) and not a
    lost-to-follow-up notice.

    The one definition of "followed up" in analytics: the audit's procedures without follow-up
    and the outcomes report's patients seen per interval both use it. Death and loss are the
    notices that stop follow-up in the registry (:meth:`vertebro.registry.Registry.due`);
    neither is a visit.
    """
    return not f.baseline and f.vital_status != "dead" and not f.lost_to_follow_up


@dataclass(frozen=True)
class ProcedureRecord:
    """One procedure: where, how, what went wrong, and whether anyone saw the patient after.

    ``technique`` is ``kyphoplasty`` if any treated level used it, else ``vertebroplasty``
    (as :meth:`vertebro.registry.Registry.summary` counts). ``patient`` (a pseudonym),
    ``number`` (1 for the patient's index procedure, then in date order), ``follow_ups`` and
    ``synthetic`` (a demo patient of ``vertebro demo seed``) serve the outcomes report and the
    registry's study rows; like ``key`` they take no part in comparisons, which stay the
    audit's. ``followed_up``: at least one follow-up record is a visit (:func:`is_visit`).
    """

    site: str
    technique: str
    complications: tuple[ComplicationRecord, ...] = ()
    followed_up: bool = False
    key: str = field(default="", compare=False)
    patient: str = field(default="", compare=False)
    number: int = field(default=0, compare=False)
    follow_ups: tuple[FollowUpRecord, ...] = field(default=(), compare=False)
    synthetic: bool = field(default=False, compare=False)


def _bool(value: str) -> bool | None:
    return {"true": True, "false": False}.get(value.strip().lower())


def _int(value: str) -> int | None:
    return int(value) if value.strip() else None


def _float(value: str) -> float | None:
    return float(value) if value.strip() else None


def procedures_from_export(records: Iterable[dict[str, str]]) -> list[ProcedureRecord]:
    """Group the neutral record stream into one :class:`ProcedureRecord` per procedure.

    Level, complication and follow-up records refer to their procedure by site, patient and
    procedure number; a procedure is followed up when one of its follow-up records is a visit
    (:func:`is_visit`: not the baseline, not a death or lost-to-follow-up notice). Records of
    a procedure the stream does not hold are ignored.
    """
    order: list[tuple[str, str, str]] = []
    techniques: dict[tuple[str, str, str], set[str]] = {}
    complications: dict[tuple[str, str, str], list[ComplicationRecord]] = {}
    followed: set[tuple[str, str, str]] = set()
    visits: dict[tuple[str, str, str], list[FollowUpRecord]] = {}
    synthetic: set[tuple[str, str]] = set()
    for r in records:
        kind = r.get("record_type")
        if kind == "patient" and _bool(r.get("synthetic", "")) is True:
            synthetic.add((r["site"], r["patient"]))
        if kind not in ("procedure", "level", "complication", "follow_up"):
            continue
        key = (r["site"], r["patient"], r["procedure"])
        if kind == "procedure":
            order.append(key)
        elif kind == "level":
            techniques.setdefault(key, set()).add(r["technique"])
        elif kind == "complication":
            complications.setdefault(key, []).append(
                ComplicationRecord(
                    type=r["complication_type"],
                    symptomatic=_bool(r.get("symptomatic", "")),
                    severity_grade=_int(r.get("severity_grade", "")),
                )
            )
        else:
            fu = FollowUpRecord(
                interval=r.get("interval", ""),
                baseline=_bool(r.get("baseline", "")) is True,
                day=_int(r.get("day", "")),
                nrs=_float(r.get("nrs", "")),
                odi=_float(r.get("odi", "")),
                kps=_float(r.get("kps", "")),
                vital_status=r.get("vital_status", "").strip() or None,
                lost_to_follow_up=_bool(r.get("lost_to_follow_up", "")) is True,
            )
            if is_visit(fu):
                followed.add(key)
            visits.setdefault(key, []).append(fu)
    return [
        ProcedureRecord(
            site=key[0],
            technique=(
                "kyphoplasty" if "kyphoplasty" in techniques.get(key, set()) else "vertebroplasty"
            ),
            complications=tuple(complications.get(key, ())),
            followed_up=key in followed,
            key="/".join(key),
            patient=key[1],
            number=_int(key[2]) or 0,
            follow_ups=tuple(visits.get(key, ())),
            synthetic=key[:2] in synthetic,
        )
        for key in order
    ]


def registry_procedures(registry: Registry, actor: str) -> list[ProcedureRecord]:
    """Every procedure ``actor`` may see in ``registry``.

    Raises
    ------
    RegistryError
        If ``actor`` is not an active user.
    """
    # imported here so that the pure audit can be used without loading the database layer
    from vertebro.registry.transfer import export_records

    return procedures_from_export(export_records(registry, actor, research=True))
