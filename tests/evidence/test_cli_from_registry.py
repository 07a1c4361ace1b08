"""`vertebro evidence from-registry` and `pool` over several files: exit codes, files written
or not, what each role sees."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests._cli import run
from vertebro import evidence as ev
from vertebro.registry import Registry


def studies(path: Path) -> set[str]:
    return {r["study"] for r in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))}


def test_researcher_writes_every_site_and_the_file_passes_check(
    pool_cohort: Registry, db_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "sub" / "registry.csv"
    code, _, err = run("evidence", "from-registry", "--as", "rita", "--db", db_url,
                       "--out", str(out))  # fmt: skip
    assert code == 2 and "does not exist" in err and not out.parent.exists()  # no folder made
    out.parent.mkdir()
    code, stdout, err = run("evidence", "from-registry", "--as", "rita", "--db", db_url,
                            "--out", str(out))  # fmt: skip
    assert code == 0, err
    assert "wrote 16 study rows (registry:A, registry:B)" in " ".join(stdout.split())
    assert studies(out) == {"registry:A", "registry:B"}
    code, stdout, err = run("evidence", "check", str(out))
    assert code == 0, err
    assert "16 valid rows" in stdout and "warning" not in stdout
    assert [p.name for p in out.parent.iterdir()] == ["registry.csv"]  # no temporary left


def test_clinician_sees_own_site_and_all_is_one_study(
    pool_cohort: Registry, db_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "bob.csv"
    assert (
        run("evidence", "from-registry", "--as", "bob", "--db", db_url, "--out", str(out))[0] == 0
    )
    assert studies(out) == {"registry:B"}
    code, _, err = run("evidence", "from-registry", "--as", "alice", "--db", db_url,
                       "--out", str(out), "--by", "all")  # fmt: skip
    assert code == 0, err
    assert studies(out) == {"registry:all"}


def test_empty_registry_says_so_and_writes_nothing(
    registry: Registry, db_url: str, tmp_path: Path
) -> None:
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "registry.csv"
    code, _, err = run("evidence", "from-registry", "--as", "rita", "--db", db_url,
                       "--out", str(out))  # fmt: skip
    assert code == 1
    assert "no procedure that 'rita' may see" in " ".join(err.split())
    assert list(out.parent.iterdir()) == []


def test_errors_exit_and_write_nothing(pool_cohort: Registry, db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "registry.csv"
    # unknown user: refused by the registry (exit 1)
    code, _, err = run("evidence", "from-registry", "--as", "mallory", "--db", db_url,
                       "--out", str(out))  # fmt: skip
    assert code == 1 and "mallory" in err
    # a folder as --out, an unknown --by: invalid input (exit 2), the option named
    code, _, err = run("evidence", "from-registry", "--as", "rita", "--db", db_url,
                       "--out", str(tmp_path))  # fmt: skip
    assert code == 2 and "--out" in err
    code, _, err = run("evidence", "from-registry", "--as", "rita", "--db", db_url,
                       "--out", str(out), "--by", "country")  # fmt: skip
    assert code == 2 and "--by" in err
    assert not out.exists()


def test_pool_validates_several_files_together(tmp_path: Path) -> None:
    header = "study,design,outcome,source,n\n"
    a = tmp_path / "a.csv"
    b = tmp_path / "b.csv"
    a.write_text(header + "X,rct,pain,s,0\n", encoding="utf-8")
    b.write_text(header + "Y,cohort,pain,s,3\n", encoding="utf-8")
    code, _, err = run("evidence", "pool", str(a), str(b))
    assert code == 2
    flat = " ".join(err.split())
    assert "a.csv, line 2: n: 0 is below 1" in flat
    assert "b.csv, line 2: design: 'cohort' is not one of" in flat


def test_pool_refuses_metafor_files_among_several(tmp_path: Path) -> None:
    a = tmp_path / "a.csv"
    m = tmp_path / "m.csv"
    a.write_text("study,design,outcome,source\nX,rct,pain,s\n", encoding="utf-8")
    m.write_text("xi,ni\n1,10\n", encoding="utf-8")
    code, _, err = run("evidence", "pool", str(a), str(m))
    assert code == 2 and "one file at a time" in err


def test_n_weighted_refuses_variance_options(tmp_path: Path) -> None:
    a = tmp_path / "a.csv"
    a.write_text("study,design,outcome,source\nX,rct,pain,s\n", encoding="utf-8")
    code, _, err = run("evidence", "pool", str(a), "--n-weighted", "--forest", "f.svg")
    assert code == 2 and "--forest" in err
    code, _, err = run("evidence", "pool", str(a), "--n-weighted")
    assert code == 2 and "no row has a mean, n, technique and interval" in err


def test_n_weighted_text_output(pool_cohort: Registry, db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "registry.csv"
    assert (
        run("evidence", "from-registry", "--as", "rita", "--db", db_url, "--out", str(out))[0] == 0
    )
    code, stdout, err = run("evidence", "pool", str(out), "--n-weighted", "--outcome", "kps")
    assert code == 0, err
    assert "Sorensen-SpineJ-2019" in stdout and "75.00" in stdout  # KPS < 4 weeks: 70, 80
    assert "not an inverse-variance" in " ".join(stdout.split())


def test_n_weighted_refuses_mixed_populations(
    pool_cohort: Registry, db_url: str, tmp_path: Path
) -> None:
    reg = tmp_path / "registry.csv"
    assert (
        run("evidence", "from-registry", "--as", "rita", "--db", db_url, "--out", str(reg))[0] == 0
    )
    curated = tmp_path / "studies.csv"
    curated.write_text(ev.data_text("studies.csv"), encoding="utf-8")
    args = ("evidence", "pool", str(curated), str(reg), "--n-weighted", "--outcome", "pain_vas")
    code, _, err = run(*args)
    assert code == 2 and "--population" in err and "osteoporotic" in err
    code, stdout, err = run(*args, "--population", "cancer")
    assert code == 0, err
    assert "VERTOS" not in stdout  # an osteoporotic trial


# ---------------------------------------------------------------- what each file contributes
def _two_files(pool_cohort: Registry, db_url: str, tmp_path: Path) -> tuple[str, str]:
    reg = tmp_path / "registry.csv"
    assert (
        run("evidence", "from-registry", "--as", "rita", "--db", db_url, "--out", str(reg))[0] == 0
    )
    curated = tmp_path / "studies.csv"
    curated.write_text(ev.data_text("studies.csv"), encoding="utf-8")
    return str(curated), str(reg)


def test_pool_warns_when_a_file_contributes_nothing(
    pool_cohort: Registry, db_url: str, tmp_path: Path
) -> None:
    # no curated study counts leakage per procedure (unit session): only the registry pools
    curated, reg = _two_files(pool_cohort, db_url, tmp_path)
    code, _, err = run("evidence", "pool", curated, reg, "--outcome", "cement_leakage",
                            "--unit", "session", "--by", "technique")  # fmt: skip
    assert code == 0, err
    flat = " ".join(err.split())
    assert "rows per file after the filters (pooled): studies.csv 0 (0), registry.csv 4 (4)" in flat
    assert "warning: studies.csv contributes no row to the pooling" in flat
    assert "--outcome cement_leakage:" in flat and "--unit session:" in flat
    # per unit level, the registry is the one left out
    code, _, err = run("evidence", "pool", curated, reg, "--outcome", "cement_leakage",
                       "--unit", "level", "--format", "json")  # fmt: skip
    assert code == 0, err
    assert "warning: registry.csv contributes no row" in " ".join(err.split())


def test_n_weighted_says_what_each_file_adds_and_when_nothing_pools_across(
    pool_cohort: Registry, db_url: str, tmp_path: Path
) -> None:
    import json

    curated, reg = _two_files(pool_cohort, db_url, tmp_path)
    code, stdout, err = run("evidence", "pool", curated, reg, "--n-weighted", "--outcome",
                            "pain_vas", "--population", "cancer", "--format", "json")  # fmt: skip
    assert code == 0, err
    inputs = {i["file"]: i["rows_pooled"] for i in json.loads(stdout)["inputs"]}
    # registry NRS rows: A PVP preop, lt4w, le6w; A KP preop, lt4w; B PVP preop, lt4w; B KP preop
    assert inputs["registry.csv"] == 8 and inputs["studies.csv"] > 0
    assert "warning" not in err
    # KPS: the curated rows are PVP+KP, the registry's PVP and KP: side by side, never pooled
    code, stdout, err = run("evidence", "pool", curated, reg, "--n-weighted", "--outcome", "kps",
                            "--population", "cancer")  # fmt: skip
    assert code == 0, err
    assert "nothing is pooled across files" in " ".join(err.split())


def test_n_weighted_names_blank_populations_and_filtered_rows(tmp_path: Path) -> None:
    f = tmp_path / "mixed.csv"
    f.write_text(
        "study,design,outcome,source,technique,statistic,interval,n,mean,population\n"
        "X,rct,pain_vas,s,PVP,mean,lt4w,10,3.0,\n"
        "Y,rct,pain_vas,s,PVP,mean,lt4w,10,4.0,cancer\n"
        "Z,rct,odi,s,PVP,mean,lt4w,10,40,cancer\n"
        "W,rct,pain_vas,s,KP,mean,lt4w,10,5.0,cancer\n",
        encoding="utf-8",
    )
    code, _, err = run("evidence", "pool", str(f), "--n-weighted", "--outcome", "pain_vas")
    assert code == 2
    flat = " ".join(err.split())
    assert "the rows mix populations ((blank), cancer)" in flat and "None" not in flat
    assert "--outcome pain_vas: 1" in flat  # the ODI row, left out by the filter
    code, _, err = run("evidence", "pool", str(f), "--n-weighted", "--outcome", "pain_vas",
                            "--population", "cancer", "--technique", "PVP")  # fmt: skip
    assert code == 0, err
    flat = " ".join(err.split())
    assert "--outcome pain_vas: 1; --technique PVP: 1; --population cancer: 1" in flat
