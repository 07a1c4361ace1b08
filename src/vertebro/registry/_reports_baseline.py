"""Today's Python path of ``registry due`` and ``registry summary``, kept as the named baseline.

These are the implementations that read every row into Python (before
:mod:`vertebro.registry.reports` moved the work into SQL), unchanged. Nothing in the product
calls them: the equality tests (``tests/registry/test_reports_sql.py``) compare the SQL
reports with them, and ``benchmarks/registry_scale.py`` times them side by side.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .intervals import SCHEDULE
from .models import Complication, FollowUp, Patient, Procedure, ProcedureLevel, Site
from .vocab import INTERVALS

if TYPE_CHECKING:
    from .service import Registry

__all__ = ["due", "summary"]


def due(
    reg: Registry, actor: str, today: dt.date | None = None, *, include_missed: bool = False
) -> list[dict[str, Any]]:
    """Follow-ups due or overdue per interval, for living patients still followed.

    A visit is ``due`` from a week before its target day, ``overdue`` two weeks after it
    while its interval is still open, and ``missed`` once the interval has closed.
    """
    today = today or dt.date.today()
    with reg._tx(actor, write=False) as (s, who):
        q = (select(Procedure, Patient.code, Site.code)
             .join(Patient, Procedure.patient_id == Patient.id).join(Site)
             .order_by(Site.code, Patient.code, Procedure.performed_on))
        if not who.all_sites:
            q = q.where(Patient.site_id == who.site_id)
        rows = s.execute(q).all()
        done: dict[int, set[str]] = {}
        stopped: set[int] = set()
        for pid, interval, vital, lost, pat in s.execute(
            select(FollowUp.procedure_id, FollowUp.interval, FollowUp.vital_status,
                   FollowUp.lost_to_follow_up, Procedure.patient_id)
            .join(Procedure, FollowUp.procedure_id == Procedure.id)
        ):
            done.setdefault(pid, set()).add(interval)
            if vital == "dead" or lost:
                stopped.add(pat)
        out: list[dict[str, Any]] = []
        for proc, pcode, scode in rows:
            if proc.patient_id in stopped:
                continue
            days = (today - proc.performed_on).days
            for visit in SCHEDULE:
                if visit.interval in done.get(proc.id, set()):
                    continue
                if days < visit.target_day - 7:
                    continue
                closed = visit.closes_day is not None and days > visit.closes_day
                status = ("missed" if closed else
                          "overdue" if days > visit.target_day + 14 else "due")
                if status == "missed" and not include_missed:
                    continue
                target = proc.performed_on + dt.timedelta(days=visit.target_day)
                item = {
                    "patient": reg.pseudonym(scode, pcode) if who.pseudonymised else pcode,
                    "site": scode, "procedure_id": proc.id, "interval": visit.interval,
                    "status": status, "days_since_procedure": days,
                }
                if not who.pseudonymised:
                    item["target_date"] = target.isoformat()
                out.append(item)
        return out

def summary(reg: Registry, actor: str) -> dict[str, Any]:
    """Outcomes by technique and interval, laid out like Sorensen-SpineJ-2019 Table 2.

    A patient's technique is kyphoplasty if any level of the procedure used it. Means are
    over follow-ups; N is the number of follow-ups with that measure.
    """
    with reg._tx(actor, write=False) as (s, who):
        q = select(Procedure.id, Procedure.patient_id).join(Patient)
        if not who.all_sites:
            q = q.where(Patient.site_id == who.site_id)
        procs: dict[int, int] = {pid: pat for pid, pat in s.execute(q)}
        technique: dict[int, str] = {}
        for pid, tech in s.execute(select(ProcedureLevel.procedure_id,
                                          ProcedureLevel.technique)):
            if pid in procs and technique.get(pid) != "kyphoplasty":
                technique[pid] = tech
        acc: dict[tuple[str, str, str], list[float]] = {}
        for pid, interval, nrs, odi, kps in s.execute(
            select(FollowUp.procedure_id, FollowUp.interval, FollowUp.nrs, FollowUp.odi,
                   FollowUp.kps)
        ):
            if pid not in procs:
                continue
            tech = technique.get(pid, "unknown")
            for name, value in (("nrs", nrs), ("odi", odi), ("kps", kps)):
                if value is not None:
                    acc.setdefault((name, tech, interval), []).append(float(value))
        leaks: dict[str, set[int]] = {}
        for pid, ctype, symptomatic in s.execute(
            select(Complication.procedure_id, Complication.type, Complication.symptomatic)
        ):
            if pid in procs and ctype == "cement_leak":
                leaks.setdefault(technique.get(pid, "unknown"), set()).add(pid)
                if symptomatic:
                    leaks.setdefault("symptomatic:" + technique.get(pid, "unknown"),
                                     set()).add(pid)
        techs = sorted(set(technique.values()))
        n_by_tech = {t: sum(1 for v in technique.values() if v == t) for t in techs}
        outcomes = {
            name: {t: {iv: {"n": len(vs), "mean": round(sum(vs) / len(vs), 2)}
                       for iv in INTERVALS if (vs := acc.get((name, t, iv)))}
                   for t in techs}
            for name in ("nrs", "odi", "kps")
        }
        return {
            "patients": len(set(procs.values())),
            "procedures": n_by_tech,
            "cement_leakage": {t: round(len(leaks.get(t, ())) / n, 3)
                               for t, n in n_by_tech.items() if n},
            "symptomatic_leakage": {t: len(leaks.get("symptomatic:" + t, ()))
                                    for t in techs},
            "outcomes": outcomes,
        }
