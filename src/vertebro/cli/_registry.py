"""`vertebro registry`, `vertebro db` and `vertebro demo`: thin commands over the registry.

Each command parses its options, calls :class:`vertebro.registry.Registry` (or the import /
export functions) as the user given by ``--as`` and formats the result as text or JSON.
The store is ``--db URL``, else ``VERTEBRO_DATABASE_URL``, else ``./vertebro.db``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from vertebro.errors import InvalidInput

from ._output import (
    Format,
    console,
    emit,
    err_console,
    output_path,
    plain,
    print_json,
    print_table,
)

__all__ = ["register"]

registry_app = typer.Typer(help="The outcomes registry: patients, assessments, procedures, "
                           "complications, follow-ups; import, export and audit.",
                           no_args_is_help=True)
db_app = typer.Typer(help="The registry database: migrations and first admin.",
                     no_args_is_help=True)
demo_app = typer.Typer(help="Synthetic demo data (clearly labelled, not real patients).",
                       no_args_is_help=True)



class FileFormat(StrEnum):
    csv = "csv"
    redcap = "redcap"
    fhir = "fhir"


class ImportFormat(StrEnum):
    csv = "csv"
    redcap = "redcap"


DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL of the registry "
                                           "(default: VERTEBRO_DATABASE_URL or "
                                           "sqlite:///vertebro.db)")]
AsOpt = Annotated[str, typer.Option("--as", help="the acting user")]
FmtOpt = Annotated[Format, typer.Option("--format", help="output format")]


@contextmanager
def _registry(db: str | None) -> Iterator[Any]:
    from vertebro.registry import Registry

    reg = Registry(db)
    try:
        yield reg
    finally:
        reg.close()


def _call(db: str | None, method: str, *args: Any, **kwargs: Any) -> Any:
    with _registry(db) as reg:
        return getattr(reg, method)(*args, **kwargs)


def _out(fmt: Format, data: Any, text: Callable[[Any], None]) -> None:
    if fmt is Format.json:
        print_json(data)
    else:
        text(data)


def _kv(data: dict[str, Any]) -> None:
    for k, v in data.items():
        console().print(f"{k:>22}: {plain(v)}", markup=False, soft_wrap=True)


def _date(value: str | None, field: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput.field(field, f"{value!r} is not a date (YYYY-MM-DD)") from None


@contextmanager
def _progress(label: str) -> Iterator[Callable[[str, int, int], None]]:
    # rich.progress (and rich.console with it) on first use, not for `vertebro --help`
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=err_console(), transient=True,
                   disable=not err_console().is_terminal)
    tasks: dict[str, Any] = {}

    def update(phase: str, done: int, total: int) -> None:
        # total 0: not known yet (a streamed import counts rows as it reads them)
        if phase not in tasks:
            tasks[phase] = bar.add_task(f"{label}: {phase}", total=total or None)
        bar.update(tasks[phase], completed=done, total=total or None)

    with bar:
        yield update


# ------------------------------------------------------------------------------ db
@db_app.command("upgrade")
def db_upgrade(db: DbOpt = None) -> None:
    """Migrate the database to the latest schema (creates a new database)."""
    from vertebro.registry import Registry
    from vertebro.registry.db import current_revision

    reg = Registry.create(db)
    try:
        _say_key_file(reg)
        console().print(f"database at revision {current_revision(reg.engine)}")
        _warn_triggers(reg.engine)
    finally:
        reg.close()


def _warn_triggers(engine: Any) -> None:
    from vertebro.registry.db import current_revision
    from vertebro.registry.verify import missing_triggers

    if current_revision(engine) is None:
        return
    with engine.connect() as conn:
        for name in missing_triggers(conn):
            err_console().print(f"warning: trigger {name} is missing: the database no longer "
                                "refuses unaudited changes (run `vertebro db verify`)",
                                markup=False)


@db_app.command("current")
def db_current(db: DbOpt = None) -> None:
    """Show the schema revision of the database and the latest one (changes nothing)."""
    from vertebro.errors import DatabaseError
    from vertebro.registry.db import display_url, head_revision, make_engine, revision_at

    current = revision_at(db)
    if current is None:
        raise DatabaseError(f"no registry at {display_url(db)} (this vertebro's schema is "
                            f"{head_revision()}): create one with `vertebro db init`")
    console().print(f"current: {current}  head: {head_revision()}")
    engine = make_engine(db, migrate=False)
    try:
        _warn_triggers(engine)
    finally:
        engine.dispose()


def _say_key_file(reg: Any) -> None:
    if reg.key_file_written:
        console().print(f"new registry key written to {reg.key_file_written} (mode 0600): "
                        "keep it (and a copy) apart from backups of the database",
                        markup=False)


@db_app.command("verify")
def db_verify(db: DbOpt = None, fmt: FmtOpt = Format.text) -> None:
    """Check the audit chain, the triggers and every audited row against its history."""
    from vertebro.registry.db import make_engine
    from vertebro.registry.verify import verify

    engine = make_engine(db, migrate=False)
    report = verify(engine)
    engine.dispose()
    if fmt is Format.json:
        print_json(report.as_dict())
    else:
        for p in report.problems:
            console().print(str(p), markup=False)
        console().print(f"{'ok' if report.ok else f'{len(report.problems)} problem(s)'}: "
                        f"{report.audit_rows} audit rows, {report.rows_checked} rows checked, "
                        f"{report.triggers} triggers; last hash {report.last_hash}",
                        markup=False)
    if not report.ok:
        raise typer.Exit(1)


@db_app.command("rebuild-derived")
def db_rebuild_derived(db: DbOpt = None) -> None:
    """Recompute the derived table of chosen follow-up values (when `db verify` says so)."""
    from vertebro.registry.choices import rebuild_store

    rows = rebuild_store(db)
    console().print(f"follow_up_choice rebuilt: {rows} rows", markup=False)


@db_app.command("backup")
def db_backup(path: Annotated[Path, typer.Argument(help="backup file to write (new)")],
              db: DbOpt = None) -> None:
    """A consistent copy of the whole store (SQLite online backup; pg_dump on PostgreSQL)."""
    from vertebro.registry.backup import backup

    backup(db, path)
    console().print(f"backup written to {path} (mode 0600; keep it encrypted and off this "
                    "host)", markup=False)


@db_app.command("restore")
def db_restore(path: Annotated[Path, typer.Argument(help="a file `db backup` wrote")],
               db: DbOpt = None) -> None:
    """Restore a backup into an empty store, then verify it."""
    from vertebro.registry.backup import restore

    restore(db, path)
    console().print(f"restored {path}", markup=False)
    db_verify(db, Format.text)


@db_app.command("init")
def db_init(
    admin: Annotated[str, typer.Option(help="username of the first admin")],
    site: Annotated[str, typer.Option(help="code of the first site")],
    site_name: Annotated[str, typer.Option(help="name of the first site")],
    db: DbOpt = None,
) -> None:
    """Create the registry (schema and key, when new) and its first site and admin."""
    from vertebro.registry import Registry

    reg = Registry.create(db)
    try:
        _say_key_file(reg)
        reg.bootstrap(admin, site, site_name)
    finally:
        reg.close()
    console().print(f"admin {admin} created at site {site}")


# ------------------------------------------------------------------------------ demo
@demo_app.command("seed")
def demo_seed(
    patients: Annotated[int, typer.Option("--patients", min=1, help="number of patients")],
    sites: Annotated[int, typer.Option("--sites", min=1, help="number of sites")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="random seed")] = 0,
    as_of: Annotated[str | None, typer.Option("--as-of", help="the cohort's 'today' "
                                              "(YYYY-MM-DD; default today)")] = None,
    db: DbOpt = None,
    admin: Annotated[str, typer.Option("--as", help="admin to write as")] = "admin",
    if_empty: Annotated[bool, typer.Option(
        "--if-empty", help="do nothing if the registry already has patients")] = False,
    demo_passwords: Annotated[bool, typer.Option(
        "--demo-passwords", help="DEMO ONLY: give the demo users new random web passwords "
        "and print them (also when --if-empty skips the seeding; refused if any patient is "
        "not synthetic)")] = False,
) -> None:
    """Write a SYNTHETIC cohort following Sorensen-SpineJ-2019 Tables 1 and 2."""
    from vertebro.registry import Registry
    from vertebro.registry.db import display_url, revision_at
    from vertebro.registry.demo import demo_usernames, set_demo_passwords
    from vertebro.registry.demo import seed as run_seed

    if revision_at(db) is None:
        # the one command besides `db init`/`db upgrade` that makes a store: it says so
        reg = Registry.create(db)
        console().print(f"no registry at {display_url(db)}: created a new one for the demo",
                        markup=False)
        _say_key_file(reg)
    else:
        reg = Registry(db)
    try:
        counts = None
        if if_empty and reg.counts()["patient"]:
            console().print("the registry already has patients: demo seed skipped")
        else:
            with _progress("demo seed") as progress:
                try:
                    counts = run_seed(reg, patients, sites=sites, seed=seed,
                                      as_of=_date(as_of, "as_of"), admin=admin,
                                      progress=progress)
                except InvalidInput as exc:
                    raise _seeded_twice(exc) from None
        passwords = set_demo_passwords(reg, sites, admin=admin) if demo_passwords else []
    finally:
        reg.close()
    if counts is not None:
        console().print(
            f"SYNTHETIC demo cohort written (not real patients): {counts['patient']} patients, "
            f"{counts['procedure']} procedures, {counts['follow_up']} follow-ups, "
            f"{counts['complication']} complications at {sites} site(s). Users: "
            + ", ".join(demo_usernames(sites, admin)) + ".")
    if passwords:
        _print_demo_sign_in(passwords)


def _print_demo_sign_in(passwords: list[tuple[str, str]]) -> None:
    out = console()
    out.print("DEMO-ONLY sign-in for the SYNTHETIC registry (random passwords, set just now by "
              "`vertebro demo seed --demo-passwords`; each run sets new ones):", markup=False)
    width = max(len(name) for name, _ in passwords)
    for name, password in passwords:
        out.print(f"  {name.ljust(width)}  {password}", markup=False, soft_wrap=True)
    out.print("Open the web app: run `vertebro serve`, then http://127.0.0.1:8000/login "
              "(API schema: http://127.0.0.1:8000/openapi.json). Never use these passwords or "
              "this registry for real patients.", markup=False)


def _seeded_twice(exc: InvalidInput) -> InvalidInput:
    """The demo cohort is already there: say so once, with the option that skips it."""
    from vertebro.errors import FieldError

    return InvalidInput([
        FieldError(e.field, e.reason, e.where, cause=e.cause,
                   hint="the demo cohort is already in this registry: `vertebro demo seed "
                        "--if-empty` skips seeding a registry that has patients")
        if e.cause == "patient already exists" else e for e in exc.errors])


# ------------------------------------------------------------------------------ registry
@registry_app.command("add-site")
def add_site(code: str, name: str, as_: AsOpt, db: DbOpt = None) -> None:
    """Add a site (admin)."""
    _call(db, "add_site", as_, code, name)
    console().print(f"site {code} added")


@registry_app.command("add-user")
def add_user(
    username: str,
    as_: AsOpt,
    role: Annotated[str, typer.Option(help="clinician | researcher | admin")],
    site: Annotated[str | None, typer.Option(help="site code (clinicians)")] = None,
    db: DbOpt = None,
) -> None:
    """Add a user (admin)."""
    _call(db, "add_user", as_, username, role, site)
    console().print(f"user {username} ({role}) added")


@registry_app.command("set-password")
def set_password(
    username: Annotated[str, typer.Argument(help="the user whose web sign-in password to set")],
    db: DbOpt = None,
) -> None:
    """Set a user's password for the web app: asked twice, never on the command line (where
    shell history and process lists would keep it). For an operator on the database host.
    """
    from vertebro.registry.accounts import Accounts

    password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    with _registry(db) as reg:
        Accounts(reg).set_password(username, password)
    console().print(f"password set for {username}; their web sessions were ended")


@registry_app.command("add-patient")
def add_patient(
    code: Annotated[str, typer.Argument(help="site-local pseudonymous code (never a name)")],
    as_: AsOpt,
    birth_year: Annotated[int | None, typer.Option()] = None,
    sex: Annotated[str | None, typer.Option(help="male | female | other | unknown")] = None,
    primary_cancer: Annotated[str | None, typer.Option()] = None,
    hospital_number: Annotated[str | None, typer.Option(
        help="stored only as a keyed hash, for de-duplication")] = None,
    site: Annotated[str | None, typer.Option(help="site code (default: yours)")] = None,
    db: DbOpt = None,
    fmt: FmtOpt = Format.text,
) -> None:
    """Register a patient."""
    data = {"code": code, "birth_year": birth_year, "sex": sex, "primary_cancer": primary_cancer,
            "hospital_number": hospital_number, "site": site}
    out = _call(db, "add_patient", as_, {k: v for k, v in data.items() if v is not None})
    _out(fmt, out, _kv)


@registry_app.command("assess")
def assess_cmd(
    patient: str,
    input_path: Annotated[Path, typer.Argument(metavar="PATIENT.json",
                                               help="the engine input (docs/assessment.md)")],
    as_: AsOpt,
    guideline: Annotated[str, typer.Option(help="guideline profile")] = "jnccn2012",
    date: Annotated[str | None, typer.Option(help="assessment date (default today)")] = None,
    db: DbOpt = None,
    fmt: FmtOpt = Format.text,
) -> None:
    """Run the decision engine for a patient and store its input and output."""
    try:
        data = json.loads(input_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput.field(str(input_path), f"cannot read JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput.field(str(input_path), "not a JSON object")
    out = _call(db, "record_assessment", as_, patient, data, guideline=guideline,
                                          assessed_on=_date(date, "date"))

    def text(o: dict[str, Any]) -> None:
        levels = [lv["level"] for lv in o["output"].get("levels", []) if lv.get("treat")]
        console().print(f"assessment {o['assessment_id']} stored for {o['patient']} "
                        f"({o['assessed_on']}): {o['disposition']}; levels to treat: "
                        f"{', '.join(levels) or 'none'}", markup=False)

    _out(fmt, out, text)


def _parse_level(spec: str, i: int) -> dict[str, Any]:
    parts = spec.split(":")
    keys = ("level", "technique", "cement_volume_ml", "approach")
    if len(parts) < 2 or len(parts) > len(keys):
        raise InvalidInput.field(f"levels[{i}]", f"{spec!r}: use LEVEL:TECHNIQUE[:ML[:APPROACH]]"
                                 " e.g. T9:kyphoplasty:4.5")
    return {k: v for k, v in zip(keys, parts, strict=False) if v != ""}


@registry_app.command("add-procedure")
def add_procedure(
    patient: str,
    as_: AsOpt,
    date: Annotated[str, typer.Option(help="procedure date YYYY-MM-DD")],
    level: Annotated[list[str], typer.Option(
        help="LEVEL:TECHNIQUE[:CEMENT_ML[:APPROACH]], repeat per level")],
    anaesthesia: Annotated[str | None, typer.Option(help="local | sedation | general")] = None,
    operator_role: Annotated[str | None, typer.Option()] = None,
    needle: Annotated[str | None, typer.Option(help="needle, all levels")] = None,
    cement_type: Annotated[str | None, typer.Option(help="cement, all levels")] = None,
    biopsy: Annotated[bool | None, typer.Option("--biopsy/--no-biopsy")] = None,
    biopsy_result: Annotated[str | None, typer.Option()] = None,
    override_reason: Annotated[str | None, typer.Option(
        help="required after a 'contraindicated' assessment")] = None,
    assessment_id: Annotated[int | None, typer.Option()] = None,
    db: DbOpt = None,
    fmt: FmtOpt = Format.text,
) -> None:
    """Record a procedure (one --level per treated vertebra)."""
    levels = []
    for i, spec in enumerate(level):
        lv = _parse_level(spec, i)
        lv["balloon_used"] = lv.get("technique") == "kyphoplasty"
        if needle:
            lv["needle"] = needle
        if cement_type:
            lv["cement_type"] = cement_type
        levels.append(lv)
    data = {"performed_on": date, "levels": levels, "anaesthesia": anaesthesia,
            "operator_role": operator_role, "biopsy_taken": biopsy, "biopsy_result": biopsy_result,
            "override_reason": override_reason, "assessment_id": assessment_id}
    out = _call(db, "add_procedure", as_, patient, {k: v for k, v in data.items()
                                                      if v is not None})
    _out(fmt, out, _kv)


@registry_app.command("add-complication")
def add_complication(
    patient: str,
    as_: AsOpt,
    type_: Annotated[str, typer.Option("--type", help="e.g. cement_leak, infection, fracture")],
    level: Annotated[str | None, typer.Option()] = None,
    leak_site: Annotated[str | None, typer.Option(
        help="disc | venous | epidural | foraminal | paravertebral | pulmonary")] = None,
    symptomatic: Annotated[bool | None, typer.Option("--symptomatic/--asymptomatic")] = None,
    grade: Annotated[int | None, typer.Option(help="severity grade 1-5")] = None,
    treatment: Annotated[str | None, typer.Option()] = None,
    procedure: Annotated[int | None, typer.Option(help="procedure id (default: latest)")] = None,
    db: DbOpt = None,
    fmt: FmtOpt = Format.text,
) -> None:
    """Record a complication of a procedure."""
    data = {"type": type_, "level": level, "leak_site": leak_site, "symptomatic": symptomatic,
            "severity_grade": grade, "treatment": treatment}
    out = _call(db, "add_complication", as_, patient, {k: v for k, v in data.items()
                                                         if v is not None},
                                         procedure_id=procedure)
    _out(fmt, out, _kv)


@registry_app.command("add-follow-up")
def add_follow_up(
    patient: str,
    as_: AsOpt,
    date: Annotated[str, typer.Option(help="visit date YYYY-MM-DD")],
    baseline: Annotated[bool, typer.Option("--baseline", help="preoperative baseline")] = False,
    nrs: Annotated[float | None, typer.Option(help="pain NRS 0-10")] = None,
    odi: Annotated[str | None, typer.Option(
        help="10 ODI v2.1a section answers 0-5, comma-separated; blank = unanswered")] = None,
    kps: Annotated[int | None, typer.Option()] = None,
    ecog: Annotated[int | None, typer.Option()] = None,
    rdq: Annotated[int | None, typer.Option(help="RDQ 0-24")] = None,
    analgesic_class: Annotated[int | None, typer.Option(help="VERTOS class 0-3")] = None,
    new_fracture_level: Annotated[str | None, typer.Option()] = None,
    vital_status: Annotated[str | None, typer.Option(help="alive | dead | unknown")] = None,
    lost: Annotated[bool, typer.Option("--lost", help="lost to follow-up")] = False,
    procedure: Annotated[int | None, typer.Option(help="procedure id (default: latest)")] = None,
    db: DbOpt = None,
    fmt: FmtOpt = Format.text,
) -> None:
    """Record a follow-up visit (scores are computed, intervals binned)."""
    data: dict[str, Any] = {
        "followed_on": date, "baseline": baseline, "nrs": nrs, "kps": kps, "ecog": ecog,
        "rdq": rdq, "analgesic_class": analgesic_class, "vital_status": vital_status,
        "lost_to_follow_up": lost, "procedure_id": procedure,
        "new_fracture": True if new_fracture_level else None,
        "new_fracture_level": new_fracture_level,
    }
    if odi is not None:
        data["odi_sections"] = [v.strip() or None for v in odi.split(",")]
    out = _call(db, "add_follow_up", as_, patient, {k: v for k, v in data.items()
                                                      if v is not None})
    _out(fmt, out, _kv)


def _describe(e: dict[str, Any]) -> str:
    from vertebro.registry.vocab import INTERVAL_LABELS

    kind = e["event"]
    if kind == "assessment":
        return (f"{e['disposition']} ({e['guideline']}); levels {', '.join(e['levels'])}; "
                f"rulebook {e['rulebook_version']}")
    if kind == "procedure":
        levels = ", ".join(
            f"{lv['level']} {lv['technique']}"
            + (f" {lv['cement_volume_ml']} ml" if lv.get("cement_volume_ml") is not None else "")
            for lv in e["levels"])
        extra = [f"{e['anaesthesia']} anaesthesia"] if e.get("anaesthesia") else []
        if e.get("biopsy_taken"):
            extra.append("biopsy" + (f": {e['biopsy_result']}" if e.get("biopsy_result") else ""))
        if e.get("override_reason"):
            extra.append(f"override: {e['override_reason']}")
        return f"#{e['procedure_id']}: {levels}" + (f"; {'; '.join(extra)}" if extra else "")
    if kind == "complication":
        where = f" at {e['level']}" if e.get("level") else ""
        site = f" ({e['leak_site']})" if e.get("leak_site") else ""
        symptomatic = e.get("symptomatic")
        sym = "" if symptomatic is None else (
            ", symptomatic" if symptomatic else ", asymptomatic")
        grade = f", grade {e['severity_grade']}" if e.get("severity_grade") else ""
        return f"{e['type']}{where}{site}{sym}{grade}"
    parts = [f"{INTERVAL_LABELS[e['interval']]} (day {e['days_since_procedure']})"]
    for key, label in (("nrs", "NRS"), ("odi", "ODI %"), ("kps", "KPS"), ("ecog", "ECOG"),
                       ("rdq", "RDQ"), ("analgesic_class", "analgesics")):
        if e.get(key) is not None:
            parts.append(f"{label} {e[key]:g}" if isinstance(e[key], float)
                         else f"{label} {e[key]}")
    if e.get("new_fracture_level"):
        parts.append(f"new fracture {e['new_fracture_level']}")
    if e.get("vital_status") and e["vital_status"] != "alive":
        parts.append(e["vital_status"])
    if e.get("lost_to_follow_up"):
        parts.append("lost to follow-up")
    return ", ".join(parts)


@registry_app.command("show")
def show(patient: str, as_: AsOpt, db: DbOpt = None, fmt: FmtOpt = Format.text) -> None:
    """A patient's timeline: assessments, procedures, complications and follow-ups."""
    out = _call(db, "timeline", as_, patient)

    def text(o: dict[str, Any]) -> None:
        head = {k: v for k, v in o.items() if k != "events"}
        console().print(
            "; ".join(f"{k.replace('_', ' ')} {plain(v)}" for k, v in head.items()),
            markup=False,
            soft_wrap=True,
        )
        print_table(
            ["when", "event", "details"],
            [
                [str(e["date"] if "date" in e else f"day {e.get('day')}"), e["event"],
                 _describe(e)]
                for e in o["events"]
            ],
        )

    _out(fmt, out, text)


@registry_app.command("list")
def list_patients(as_: AsOpt, db: DbOpt = None, fmt: FmtOpt = Format.text) -> None:
    """The patients you may see."""
    out = _call(db, "list_patients", as_)

    def text(rows: list[dict[str, Any]]) -> None:
        # a researcher's rows carry the age at the index procedure, never the birth year
        age = bool(rows) and "age_at_index" in rows[0]
        key = "age_at_index" if age else "birth_year"
        print_table(
            ["site", "patient", "age at index" if age else "birth year", "sex", "primary cancer"],
            [[r["site"], r["patient"], "" if r.get(key) is None else str(r[key]), r["sex"] or "",
              r["primary_cancer"] or ""] for r in rows],
        )

    _out(fmt, out, text)


@registry_app.command("due")
def due(
    as_: AsOpt,
    today: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today)")] = None,
    all_: Annotated[bool, typer.Option("--all", help="include missed intervals")] = False,
    db: DbOpt = None,
    fmt: FmtOpt = Format.text,
) -> None:
    """Follow-ups due or overdue, per interval."""
    out = _call(db, "due", as_, _date(today, "today"), include_missed=all_)

    def text(rows: list[dict[str, Any]]) -> None:
        from vertebro.registry.vocab import INTERVAL_LABELS

        print_table(
            ["site", "patient", "interval", "status", "target", "days since procedure"],
            [[r["site"], r["patient"], INTERVAL_LABELS[r["interval"]], r["status"],
              r.get("target_date", ""), str(r["days_since_procedure"])] for r in rows],
            right=[5],
        )
        # the count by status: a missed interval (--all) is not one that is still due
        counts = Counter(r["status"] for r in rows)
        console().print(
            "follow-ups: "
            + (", ".join(f"{counts[s]} {s}" for s in ("due", "overdue", "missed") if counts[s])
               or "none"),
            markup=False,
        )

    _out(fmt, out, text)


@registry_app.command("summary")
def summary(as_: AsOpt, db: DbOpt = None, fmt: FmtOpt = Format.text) -> None:
    """Outcomes by technique and follow-up interval (like Sorensen-SpineJ-2019 Table 2)."""
    out = _call(db, "summary", as_)

    def text(o: dict[str, Any]) -> None:
        from rich.text import Text

        from vertebro._format import number, percent
        from vertebro.registry.vocab import INTERVALS

        # Sorensen-SpineJ-2019's own abbreviations keep the table readable at 80 columns.
        short = {"vertebroplasty": "PVP", "kyphoplasty": "KP"}

        def per_tech(d: dict[str, Any], fmt: Callable[[Any], str]) -> str:
            return ", ".join(f"{fmt(v)} {short.get(t, t)}" for t, v in d.items()) or "none"

        emit(Text(
            f"{o['patients']} patients; procedures: {per_tech(o['procedures'], str)}; "
            f"procedures with cement leakage: "
            f"{per_tech(o['cement_leakage'], lambda v: percent(100 * v))}; "
            f"with symptomatic leakage: {per_tech(o['symptomatic_leakage'], str)}"
        ))
        heads = {"preop": "preop", "lt4w": "<4 wk", "le6w": "≤6 wk", "lt6m": "<6 mo",
                 "lt1y": "<1 y", "ge1y": "≥1 y"}
        print_table(
            ["", "", *(heads[i] for i in INTERVALS)],
            [
                [name.upper(), short.get(tech, tech), *(
                    f"{number(c['mean'])}\n({c['n']})" if (c := cells.get(i)) else "-"
                    for i in INTERVALS)]
                for name, by_tech in o["outcomes"].items()
                for tech, cells in by_tech.items()
            ],
            title="mean (N) by interval (PVP vertebroplasty, KP kyphoplasty)",
            right=range(2, 2 + len(INTERVALS)),
        )

    _out(fmt, out, text)


@registry_app.command("audit")
def audit_cmd(patient: str, as_: AsOpt, db: DbOpt = None, fmt: FmtOpt = Format.text) -> None:
    """Every change to a patient's records: who, when, what, before and after."""
    out = _call(db, "audit_trail", as_, patient)

    def text(rows: list[dict[str, Any]]) -> None:
        print_table(
            ["at", "who", "action", "table", "row", "change"],
            [[r["at"][:19].replace("T", " "), r["actor"], r["action"], r["table"],
              str(r["row_id"]), _change(r)] for r in rows],
        )

    _out(fmt, out, text)


def _change(r: dict[str, Any]) -> str:
    """An audit row's change in words: ``field: before -> after`` for an update, the fields
    of an insert or delete; every field, nothing cut."""
    before, after = r["before"] or {}, r["after"] or {}
    if r["action"] == "update":
        return "; ".join(f"{k}: {plain(before.get(k))} -> {plain(v)}"
                         for k, v in after.items() if before.get(k) != v) or "(no change)"
    return plain(after or before)


@registry_app.command("export")
def export_cmd(
    as_: AsOpt,
    fmt: Annotated[FileFormat, typer.Option("--format", help="csv | redcap | fhir")],
    out: Annotated[Path, typer.Option("--out", help="file (csv, fhir) or folder (redcap)")],
    research: Annotated[bool, typer.Option(
        "--research", help="no direct identifiers; days from the index procedure")] = False,
    db: DbOpt = None,
) -> None:
    """Export every record you may see."""
    from vertebro.registry import io
    from vertebro.registry.transfer import check_export

    with _registry(db) as reg:
        # a refusal (unknown user, researcher without --research) first, exit 1; then a
        # missing folder, exit 2 (as --plot); nothing touched in either case
        check_export(reg, as_, research=research)
        output_path(out, folder_ok=True)
        with _progress("export") as progress:
            written = io.export(reg, as_, fmt.value, out, research=research, progress=progress,
                                via="cli")
    console().print(f"exported {written} to {out}", markup=False)


@registry_app.command("import")
def import_cmd(
    path: Annotated[Path, typer.Argument(help="what `export` wrote for this format")],
    as_: AsOpt,
    fmt: Annotated[ImportFormat, typer.Option("--format", help="csv | redcap")],
    db: DbOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the counts as JSON")] = False,
    skip_duplicates: Annotated[bool, typer.Option(
        "--skip-duplicates", help="leave out exact duplicates of a patient's records (counted) "
        "instead of refusing the file")] = False,
) -> None:
    """Import a file: all or nothing, every error listed (row, column, reason)."""
    from vertebro.registry import io

    with _registry(db) as reg, _progress("import") as progress:
        counts = io.import_(reg, as_, fmt.value, path, progress=progress,
                            skip_duplicates=skip_duplicates)
    if json_out:
        print_json(counts)
    else:
        skipped = counts.pop("duplicates_skipped", None)
        console().print("imported: " + ", ".join(f"{v} {k}" for k, v in counts.items())
                        + (f"; {skipped} exact duplicate(s) skipped" if skipped is not None
                           else ""), markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(registry_app, name="registry")
    app.add_typer(db_app, name="db")
    app.add_typer(demo_app, name="demo")


# `db grant` lives in its own module and joins db_app when this one is imported (the lazy
# root imports only the module that owns a group).
from . import _db_roles  # noqa: E402, F401
