"""The CLI forms of issue 3, exactly as written, on a real database."""

from __future__ import annotations

import json
from pathlib import Path

from tests._cli import run

EXAMPLE = Path(__file__).parents[2] / "examples" / "aospine_case.json"


def test_cli_end_to_end(db_url: str, other_db_url: str, tmp_path: Path) -> None:
    code, out, err = run("demo", "seed", "--patients", "25", "--sites", "2", "--seed", "3",
                         "--db", db_url)
    assert code == 0, err
    assert "SYNTHETIC" in out
    db = ("--db", db_url)
    code, out, err = run("registry", "add-patient", "X1", "--as", "clin-demo1", "--birth-year",
                         "1958", "--sex", "male", "--format", "json", *db)
    assert code == 0, err
    assert json.loads(out)["patient"] == "X1"
    code, out, err = run("registry", "assess", "X1", str(EXAMPLE), "--as", "clin-demo1",
                         "--date", "2025-01-02", "--format", "json", *db)
    assert code == 0, err
    assessment = json.loads(out)
    planned = [lv["level"] for lv in assessment["output"]["levels"] if lv.get("treat")]
    assert planned
    code, out, err = run("registry", "add-procedure", "X1", "--as", "clin-demo1", "--date",
                         "2025-01-05", "--level", f"{planned[0]}:kyphoplasty:4.5",
                         "--level", "S5:vertebroplasty", *db)
    assert code == 2 and "S5 was not in the assessment" in err
    code, out, err = run("registry", "add-procedure", "X1", "--as", "clin-demo1", "--date",
                         "2025-01-05", "--level", f"{planned[0]}:kyphoplasty:4.5", *db)
    assert code == 0, err
    code, out, err = run("registry", "add-follow-up", "X1", "--as", "clin-demo1", "--date",
                         "2025-01-01", "--nrs", "12", "--odi", "1,2,3,9,1,1,1,1,1,1", *db)
    assert code == 2
    for needle in ("followed_on", "nrs", "odi_sections[3]"):
        assert needle in err
    code, out, err = run("registry", "add-follow-up", "X1", "--as", "clin-demo1", "--date",
                         "2025-01-20", "--nrs", "3", "--odi", "1,2,1,0,1,,1,1,1,0", "--kps",
                         "80", "--format", "json", *db)
    assert code == 0, err
    assert json.loads(out)["interval"] == "lt4w"
    code, out, err = run("registry", "add-complication", "X1", "--as", "clin-demo1", "--type",
                         "cement_leak", "--level", planned[0], "--leak-site", "disc",
                         "--asymptomatic", *db)
    assert code == 0, err
    code, out, err = run("registry", "show", "X1", "--as", "clin-demo2", *db)
    assert code == 1 and "no patient" in err
    code, out, err = run("registry", "show", "X1", "--as", "clin-demo1", "--format", "json", *db)
    assert code == 0 and len(json.loads(out)["events"]) == 4
    code, out, err = run("registry", "audit", "X1", "--as", "clin-demo1", "--format", "json",
                         *db)
    assert code == 0
    assert [r["table"] for r in json.loads(out)] == [
        "patient", "assessment", "procedure", "procedure_level", "follow_up", "complication"]
    code, out, err = run("registry", "due", "--as", "clin-demo1", "--today", "2025-02-12",
                         "--format", "json", *db)
    assert code == 0
    assert {(d["patient"], d["interval"]) for d in json.loads(out)} >= {("X1", "le6w")}
    code, out, err = run("registry", "summary", "--as", "researcher", *db)
    assert code == 0 and "NRS" in out, err
    code, out, err = run("registry", "add-patient", "Y", "--as", "researcher", *db)
    assert code == 1

    for fmt in ("csv", "redcap", "fhir"):
        target = tmp_path / f"out-{fmt}" / ("x" if fmt == "redcap" else f"x.{fmt}")
        target.parent.mkdir()  # vertebro never creates the folder an output goes in
        code, out, err = run("registry", "export", "--format", fmt, "--out", str(target),
                             "--as", "admin", *db)
        assert code == 0, err
        assert target.exists()
    code, out, err = run("registry", "export", "--format", "csv", "--out",
                         str(tmp_path / "r.csv"), "--research", "--as", "researcher", *db)
    assert code == 0, err
    assert "X1" not in (tmp_path / "r.csv").read_text()

    other = ("--db", other_db_url)
    code, out, err = run("db", "upgrade", *other)
    assert code == 0
    code, out, err = run("db", "init", "--admin", "admin", "--site", "Z", "--site-name", "Zed",
                         *other)
    assert code == 0, err
    for fmt, src in (("csv", tmp_path / "out-csv" / "x.csv"),
                     ("redcap", tmp_path / "out-redcap" / "x")):
        code, out, err = run("registry", "import", "--format", fmt, str(src), "--as", "admin",
                             "--json", *other)
        if fmt == "csv":
            assert code == 0, err
            assert json.loads(out)["patient"] == 26
        else:  # the same patients again: refused, grouped by cause, nothing written
            assert code == 2
            assert err.count("already exists") == 3
            assert "and 23 more rows with the same problem" in err


def test_cli_bad_import_lists_every_error(db_url: str, tmp_path: Path) -> None:
    db = ("--db", db_url)
    assert run("demo", "seed", "--patients", "3", "--seed", "1", *db)[0] == 0
    bad = tmp_path / "bad.csv"
    code, *_ = run("registry", "export", "--format", "csv", "--out", str(bad), "--as", "admin",
                   *db)
    assert code == 0
    lines = bad.read_text().splitlines()
    lines = [ln.replace("SYN-", "NEW-") for ln in lines]
    lines[2] = lines[2].replace("SYN", "X").replace(",DEMO1,", ",NOPE,")
    header = lines[0].split(",")
    fu = max(i for i, ln in enumerate(lines) if ln.startswith("follow_up,"))
    assert "NEW-00001" not in lines[fu]
    cells = lines[fu].split(",")
    cells[header.index("nrs")] = "eleven"
    cells[header.index("date")] = "2001-13-01"
    lines[fu] = ",".join(cells)
    bad.write_text("\n".join(lines) + "\n")
    code, _, err = run("registry", "import", "--format", "csv", str(bad), "--as", "admin", *db)
    assert code == 2
    assert "row 3: site: unknown site 'NOPE'" in err
    assert f"row {fu + 1}: date:" in err  # the header is row 1
    assert f"row {fu + 1}: nrs:" in err
    assert "nothing was written" in err
    code, _out, err = run("registry", "import", "--format", "csv", str(tmp_path / "nope.csv"),
                         "--as", "admin", *db)
    assert code == 2
