"""Imports that lose nothing (issue 15, "Silent data loss" and the file-level crashes).

Each test runs on SQLite and, under scripts/with_postgres.sh, on PostgreSQL: the same file is
refused with the same named error on both stores, and a refused import writes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from tests._cli import run
from vertebro.errors import InvalidInput
from vertebro.registry import Registry, io
from vertebro.registry.csvio import read_csv, write_csv
from vertebro.registry.transfer import COLUMNS, export_records, import_records

from .helpers import patient_with_procedure


def _cohort(reg: Registry) -> None:
    """A01 at site A: assessment, procedure (T9), a complication and two follow-ups."""
    patient_with_procedure(reg, "alice", "A01")
    reg.add_follow_up("alice", "A01", {"followed_on": "2025-01-20", "nrs": 3, "kps": 80})
    reg.add_follow_up("alice", "A01", {"followed_on": "2025-03-01", "nrs": 2})
    reg.add_complication("alice", "A01", {"type": "cement_leak", "level": "T9",
                                          "leak_site": "disc", "symptomatic": False,
                                          "treatment": "observation"})


def _records(reg: Registry, actor: str = "alice", new_code: str = "A02") -> list[dict[str, str]]:
    """The actor's records, as a new patient (so that the file can be imported again)."""
    out = []
    for r in export_records(reg, actor):
        if r.get("patient") == "A01":
            r = {**r, "patient": new_code}
        out.append(r)
    return out


def _refused(reg: Registry, actor: str, path: Path, fmt: str = "csv") -> list[tuple[str, str]]:
    before = reg.counts()
    with pytest.raises(InvalidInput) as exc:
        io.import_(reg, actor, fmt, path)
    assert reg.counts() == before
    return [(e.field, e.reason) for e in exc.value.errors]


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _write(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=header or list(rows[0]))
        w.writeheader()
        w.writerows(rows)


# ------------------------------------------------------------------ columns in every format
def test_misspelled_redcap_column_is_an_error(registry: Registry, tmp_path: Path) -> None:
    _cohort(registry)
    io.export(registry, "alice", "redcap", tmp_path / "rc")
    rows = _read(tmp_path / "rc" / "records.csv")
    for r in rows:
        r["record_id"] = r["record_id"].replace("A01", "A02")
        r["patient_code"] = r["patient_code"].replace("A01", "A02")
        r["fu_pain"] = r.pop("fu_nrs")  # the example: fu_pain for fu_nrs
    _write(tmp_path / "rc" / "records.csv", rows)
    problems = _refused(registry, "alice", tmp_path / "rc", "redcap")
    assert ("fu_pain", "unknown column (a misspelling? nothing of it would be imported)") \
        in problems


def test_redcap_value_in_another_instruments_field_is_an_error(
    registry: Registry, tmp_path: Path
) -> None:
    _cohort(registry)
    io.export(registry, "alice", "redcap", tmp_path / "rc")
    rows = _read(tmp_path / "rc" / "records.csv")
    for r in rows:
        r["record_id"] = r["record_id"].replace("A01", "A02")
        r["patient_code"] = r["patient_code"].replace("A01", "A02")
    patient_row = next(r for r in rows if not r["redcap_repeat_instrument"])
    patient_row["fu_nrs"] = "4"  # a follow-up value on the patient row would be dropped
    _write(tmp_path / "rc" / "records.csv", rows)
    problems = _refused(registry, "alice", tmp_path / "rc", "redcap")
    assert any(f == "fu_nrs" and "not a field of the patient instrument" in r
               for f, r in problems)


def test_misspelled_csv_column_and_json_key_are_errors(registry: Registry,
                                                       tmp_path: Path) -> None:
    _cohort(registry)
    rows = _records(registry)
    header = [("fu_pain" if c == "nrs" else c) for c in COLUMNS]
    for r in rows:
        if "nrs" in r:
            r["fu_pain"] = r.pop("nrs")
    _write(tmp_path / "x.csv", rows, header)
    assert ("fu_pain", "unknown column (a misspelling? nothing of it would be imported)") \
        in _refused(registry, "alice", tmp_path / "x.csv")
    # the service's JSON (mapping) input: an unknown key is an error, not dropped
    before = registry.counts()
    with pytest.raises(InvalidInput) as exc:
        registry.add_follow_up("alice", "A01", {"followed_on": "2025-02-01", "fu_pain": 3})
    assert [e.field for e in exc.value.errors] == ["fu_pain"]
    assert registry.counts() == before


# ------------------------------------------------------------------ exact duplicates
@pytest.mark.parametrize("rtype", ["follow_up", "complication"])
def test_exact_duplicate_is_refused_or_skipped_and_counted(
    registry: Registry, tmp_path: Path, rtype: str
) -> None:
    _cohort(registry)
    rows = _records(registry)
    dup = next(r for r in rows if r["record_type"] == rtype)
    rows.insert(rows.index(dup) + 1, dict(dup))
    write_csv(tmp_path / "x.csv", rows)
    problems = _refused(registry, "alice", tmp_path / "x.csv")
    assert problems == [("", f"an exact duplicate of an earlier {rtype} record of patient A02")]
    counts = io.import_(registry, "alice", "csv", tmp_path / "x.csv", skip_duplicates=True)
    assert counts["duplicates_skipped"] == 1
    assert counts[rtype] == (2 if rtype == "follow_up" else 1)


def test_cli_duplicate_hint_and_skip(registry: Registry, tmp_path: Path) -> None:
    _cohort(registry)
    rows = _records(registry)
    fu = next(r for r in rows if r["record_type"] == "follow_up")
    rows.insert(rows.index(fu), dict(fu))
    write_csv(tmp_path / "x.csv", rows)
    db = ("--db", registry.engine.url.render_as_string(hide_password=False))
    code, _, err = run("registry", "import", "--format", "csv", str(tmp_path / "x.csv"),
                       "--as", "alice", *db)
    assert code == 2 and "--skip-duplicates" in err
    code, out, err = run("registry", "import", "--format", "csv", str(tmp_path / "x.csv"),
                         "--as", "alice", "--skip-duplicates", *db)
    assert code == 0, err
    assert "1 exact duplicate(s) skipped" in out


# ------------------------------------------------------------------ plausible dates
@pytest.mark.parametrize(("rtype", "column", "value", "cause"), [
    ("follow_up", "date", "2099-01-20", "after today"),
    ("assessment", "date", "0001-01-01", "before 1984"),
    ("procedure", "date", "2099-01-10", "after today"),
    ("patient", "birth_year", "2026", "birth year"),  # after the 2025 procedure
])
def test_implausible_dates_are_refused(registry: Registry, tmp_path: Path, rtype: str,
                                       column: str, value: str, cause: str) -> None:
    _cohort(registry)
    rows = _records(registry)
    row = next(r for r in rows if r["record_type"] == rtype)
    row[column] = value
    write_csv(tmp_path / "x.csv", rows)
    problems = _refused(registry, "alice", tmp_path / "x.csv")
    assert any(cause in reason for _, reason in problems), problems


def test_service_refuses_implausible_dates(registry: Registry) -> None:
    _cohort(registry)
    before = registry.counts()
    future = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    cases = [
        lambda: registry.add_follow_up("alice", "A01", {"followed_on": future, "nrs": 1}),
        lambda: registry.add_procedure("alice", "A01", {
            "performed_on": "2099-01-01", "levels": [{"level": "T9",
                                                      "technique": "vertebroplasty"}]}),
        lambda: registry.store_assessment("alice", "A01", {"levels": [{"level": "T9"}]},
                                          {"disposition": "candidate"},
                                          assessed_on=dt.date(1, 1, 1)),
        lambda: registry.update_patient("alice", "A01", {"birth_year": 2025 + 1}),
        lambda: registry.add_patient("alice", {"code": "A09",
                                               "birth_year": dt.date.today().year + 1}),
    ]
    for case in cases:
        with pytest.raises(InvalidInput):
            case()
    assert registry.counts() == before


# ------------------------------------------------------------------ REDCap events and sites
def test_redcap_follow_up_in_the_wrong_event_is_an_error(registry: Registry,
                                                         tmp_path: Path) -> None:
    _cohort(registry)
    io.export(registry, "alice", "redcap", tmp_path / "rc")
    rows = _read(tmp_path / "rc" / "records.csv")
    for r in rows:
        r["record_id"] = r["record_id"].replace("A01", "A02")
        r["patient_code"] = r["patient_code"].replace("A01", "A02")
    fu = next(r for r in rows if r["redcap_event_name"] == "lt4w_arm_1")
    fu["redcap_event_name"] = "lt6m_arm_1"  # day 10 is < 4 weeks, not < 6 months
    _write(tmp_path / "rc" / "records.csv", rows)
    problems = _refused(registry, "alice", tmp_path / "rc", "redcap")
    assert any(f == "redcap_event_name" and "'lt6m'" in r and "'lt4w'" in r
               for f, r in problems), problems


def test_clinicians_site_row_naming_another_site_is_an_error(registry: Registry,
                                                             tmp_path: Path) -> None:
    _cohort(registry)
    rows = _records(registry)
    rows.insert(0, {"record_type": "site", "site": "B", "site_name": "Site B"})
    write_csv(tmp_path / "x.csv", rows)
    problems = _refused(registry, "alice", tmp_path / "x.csv")
    assert ("site", "alice may import only site A, not 'B'") in problems


def test_import_into_a_missing_site_is_one_message_with_the_fix(
    registry: Registry, tmp_path: Path
) -> None:
    for code in ("A01", "A03", "A04", "A05", "A06"):
        patient_with_procedure(registry, "alice", code)
    rows = [{**r, "site": "NOPE"} for r in export_records(registry, "admin")
            if r["record_type"] != "site"]
    write_csv(tmp_path / "x.csv", rows)
    with pytest.raises(InvalidInput) as exc:
        io.import_(registry, "admin", "csv", tmp_path / "x.csv")
    lines = exc.value.grouped()
    assert len(lines) == 5, lines  # three rows, "and N more", the hint
    assert "more rows with the same problem" in lines[3]
    assert "registry add-site" in lines[4]


# ------------------------------------------------------------------ files that end in tracebacks
def _bytes_file(path: Path, registry: Registry) -> list[dict[str, str]]:
    _cohort(registry)
    rows = _records(registry)
    write_csv(path, rows)
    return rows


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_non_utf8_file_is_a_named_error(registry: Registry, tmp_path: Path,
                                        encoding: str) -> None:
    rows = _bytes_file(tmp_path / "x.csv", registry)
    rows[1]["primary_cancer"] = "mélanome"
    write_csv(tmp_path / "x.csv", rows)
    text = (tmp_path / "x.csv").read_text(encoding="utf-8")
    (tmp_path / "x.csv").write_bytes(text.encode(encoding))
    problems = _refused(registry, "alice", tmp_path / "x.csv")
    assert problems[0][0] == "encoding"
    assert ("UTF-16" if encoding == "utf-16" else "not UTF-8") in problems[0][1]


def test_nul_byte_and_oversized_cell_are_named_errors_on_every_store(
    registry: Registry, tmp_path: Path
) -> None:
    rows = _bytes_file(tmp_path / "x.csv", registry)
    proc = next(r for r in rows if r["record_type"] == "procedure")
    proc["biopsy_result"] = "adeno\x00carcinoma"
    fu = next(r for r in rows if r["record_type"] == "follow_up")
    fu["odi_version"] = "x" * (128 * 1024 + 1)
    write_csv(tmp_path / "x.csv", rows)
    problems = _refused(registry, "alice", tmp_path / "x.csv")
    assert ("biopsy_result", "contains a NUL byte") in problems
    assert ("odi_version", "longer than 128 KiB") in problems
    # the service refuses them alike (SQLite would store a NUL byte, PostgreSQL would not)
    before = registry.counts()
    for bad, reason in (("adeno\x00carcinoma", "contains a NUL byte"),
                        ("x" * (128 * 1024 + 1), "longer than 128 KiB")):
        with pytest.raises(InvalidInput) as exc:
            registry.add_procedure("alice", "A01", {
                "performed_on": "2025-02-01", "biopsy_result": bad,
                "levels": [{"level": "T10", "technique": "vertebroplasty"}]})
        assert [(e.field, e.reason.rsplit(": ", 1)[-1]) for e in exc.value.errors] == [
            ("biopsy_result", reason)]
    assert registry.counts() == before


def test_research_redcap_export_is_refused_with_one_message(registry: Registry,
                                                            tmp_path: Path) -> None:
    for code in ("A01", "A03", "A04"):
        patient_with_procedure(registry, "alice", code)
        registry.add_follow_up("alice", code, {"followed_on": "2025-01-20", "nrs": 3})
    io.export(registry, "rita", "redcap", tmp_path / "rc", research=True)
    db = ("--db", registry.engine.url.render_as_string(hide_password=False))
    code, _, err = run("registry", "import", "--format", "redcap", str(tmp_path / "rc"),
                       "--as", "admin", *db)
    assert code == 2
    assert "research exports are not for import" in err
    assert err.count("\n") <= 8, err  # grouped: a few rows, "and N more", the hint


def test_demo_seed_twice_is_one_message_naming_if_empty(db_url: str) -> None:
    assert run("demo", "seed", "--patients", "12", "--db", db_url)[0] == 0
    code, _, err = run("demo", "seed", "--patients", "12", "--db", db_url)
    assert code == 2
    assert err.count("already exists") == 3
    assert "and 9 more rows with the same problem" in err
    assert "--if-empty" in err
    code, out, _ = run("demo", "seed", "--patients", "12", "--db", db_url, "--if-empty")
    assert code == 0 and "skipped" in out


def test_rows_streamed_from_a_generator_are_read_once(registry: Registry,
                                                      tmp_path: Path) -> None:
    _cohort(registry)
    rows = _records(registry)
    write_csv(tmp_path / "x.csv", rows)
    stream = read_csv(tmp_path / "x.csv")
    assert iter(stream) is stream  # a generator, not a list in memory
    counts = import_records(registry, "alice", stream)
    assert counts["patient"] == 1 and counts["follow_up"] == 2


def test_a_file_wrong_in_every_row_lists_the_first_problems_and_counts_the_rest(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vertebro.registry import transfer

    monkeypatch.setattr(transfer, "MAX_ERRORS", 5)
    _cohort(registry)
    rows = _records(registry)
    fu = next(r for r in rows if r["record_type"] == "follow_up")
    rows += [{**fu, "nrs": str(11 + i)} for i in range(20)]  # 20 rows out of range
    write_csv(tmp_path / "x.csv", rows)
    with pytest.raises(InvalidInput) as exc:
        io.import_(registry, "alice", "csv", tmp_path / "x.csv")
    errors = exc.value.errors
    assert len(errors) == 6
    assert errors[-1].reason == "... and 15 more problems (the first 5 are listed)"


def test_a_bad_level_is_one_error_on_its_level_row(registry: Registry, tmp_path: Path) -> None:
    # issue 13 point 8: one cause, one message, on the row that holds it (not also on the
    # procedure row the level belongs to)
    _cohort(registry)
    rows = _records(registry)
    (level_row,) = [r for r in rows if r["record_type"] == "level"]
    level_row["level"] = "T13"
    path = tmp_path / "bad_level.csv"
    write_csv(path, rows)
    errors = _refused(registry, "alice", path)
    about = [(f, r) for f, r in errors if "T13" in r]
    assert len(about) == 1, errors
    assert about[0][0] == "level" and "is not a vertebra" in about[0][1]
    with pytest.raises(InvalidInput) as exc:
        registry.add_procedure("alice", "A01", {
            "performed_on": "2025-02-01",
            "levels": [{"level": "T13", "technique": "vertebroplasty"}]})
    assert [e.field for e in exc.value.errors if "T13" in e.reason] == ["levels[0].level"]
