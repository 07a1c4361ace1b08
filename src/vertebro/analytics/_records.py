"""Plain records the audit computes on, and how they are read from the registry.

The audit's arithmetic sees only :class:`ProcedureRecord` values, never the database. They are
built from the registry's neutral record stream (:func:`vertebro.registry.transfer.
export_records`), the same read path as every export, so the acting user's access is exactly
the registry's: a clinician sees their own site, a researcher every site, pseudonymised, an
admin every site. The research form of the stream is read (no direct identifiers, no dates):
the audit needs none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vertebro.registry import Registry

__all__ = [
    "ComplicationRecord",
    "ProcedureRecord",
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
class ProcedureRecord:
    """One procedure: where, how, what went wrong, and whether anyone saw the patient after.

    ``technique`` is ``kyphoplasty`` if any treated level used it, else ``vertebroplasty``
    (as :meth:`vertebro.registry.Registry.summary` counts).
    """

    site: str
    technique: str
    complications: tuple[ComplicationRecord, ...] = ()
    followed_up: bool = False
    key: str = field(default="", compare=False)


def _bool(value: str) -> bool | None:
    return {"true": True, "false": False}.get(value.strip().lower())


def _int(value: str) -> int | None:
    return int(value) if value.strip() else None


def procedures_from_export(records: Iterable[dict[str, str]]) -> list[ProcedureRecord]:
    """Group the neutral record stream into one :class:`ProcedureRecord` per procedure.

    Level, complication and follow-up records refer to their procedure by site, patient and
    procedure number; a follow-up counts when it is not the preoperative baseline.
    """
    order: list[tuple[str, str, str]] = []
    techniques: dict[tuple[str, str, str], set[str]] = {}
    complications: dict[tuple[str, str, str], list[ComplicationRecord]] = {}
    followed: set[tuple[str, str, str]] = set()
    for r in records:
        kind = r.get("record_type")
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
        elif _bool(r.get("baseline", "")) is not True:
            followed.add(key)
    return [
        ProcedureRecord(
            site=key[0],
            technique=(
                "kyphoplasty" if "kyphoplasty" in techniques.get(key, set()) else "vertebroplasty"
            ),
            complications=tuple(complications.get(key, ())),
            followed_up=key in followed,
            key="/".join(key),
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
