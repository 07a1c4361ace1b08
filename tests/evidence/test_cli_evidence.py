"""The ``vertebro evidence`` commands, through a Typer app built by the group's own register()
and through the root app."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from vertebro.cli import _evidence
from vertebro.errors import InvalidInput, VertebroError

from .tolerances import TOL

runner = CliRunner()


def _app() -> typer.Typer:
    """A root app with only the evidence group and the central error mapping of vertebro.cli."""
    from vertebro.cli import _Group

    app = typer.Typer(cls=_Group, pretty_exceptions_enable=False, add_completion=False)

    @app.callback()
    def _root() -> None:
        pass

    _evidence.register(app)
    return app


APP = _app()


def _bcg_metafor_csv(tmp_path, bcg_rows):
    p = tmp_path / "bcg.csv"
    lines = ["study,year,ai,bi,ci,di,subgroup"]
    lines += [
        f"{r['author']},{r['year']},{r['tpos']},{r['tneg']},{r['cpos']},{r['cneg']},{r['alloc']}"
        for r in bcg_rows
    ]
    p.write_text("\n".join(lines) + "\n")
    return p


def test_pool_metafor_csv_json(tmp_path, bcg_rows):
    p = _bcg_metafor_csv(tmp_path, bcg_rows)
    res = runner.invoke(
        APP, ["evidence", "pool", str(p), "--measure", "RR", "--method", "DL", "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    for key in (
        "k",
        "measure",
        "method",
        "estimate",
        "se",
        "ci",
        "pval",
        "tau2",
        "i2",
        "h2",
        "q",
        "q_df",
        "pi",
        "transformed",
    ):
        assert key in out, key
    assert out["k"] == 13 and out["measure"] == "RR" and out["method"] == "DL"
    assert abs(out["estimate"] - -0.7141) <= TOL["published_4dp"]
    assert abs(out["i2"] - 92.1173) <= TOL["published_4dp"]
    assert set(out["transformed"]) == {"scale", "estimate", "ci", "pi"}
    assert len(out["ci"]) == 2 and len(out["pi"]) == 2 and out["q_df"] == 12


def test_pool_knha_subgroups_plots_bias(tmp_path, bcg_rows):
    p = _bcg_metafor_csv(tmp_path, bcg_rows)
    args = [
        "evidence",
        "pool",
        str(p),
        "--measure",
        "RR",
        "--knha",
        "--by",
        "subgroup",
        "--forest",
        str(tmp_path / "f.svg"),
    ]
    args += [
        "--funnel",
        str(tmp_path / "fun.png"),
        "--bias",
        "--leave-one-out",
        "--cumulative",
        "--format",
        "json",
    ]
    res = runner.invoke(APP, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["dist"] == "t(12)" and out["pi_dist"] == "t(12)"
    assert set(out["subgroups"]) == {"random", "alternate", "systematic"}
    assert out["test_for_subgroup_differences"]["df"] == 2
    assert out["trimfill"]["k0"] >= 0 and "egger" in out
    assert len(out["leave_one_out"]) == 13 and out["cumulative"][-1]["k"] == 13
    for name in ("f.svg", "f.png", "fun.svg", "fun.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_pool_vertebro_format_by_technique(tmp_path):
    data = tmp_path / "studies.csv"
    res = runner.invoke(APP, ["evidence", "example", "studies", "--out", str(data)])
    assert res.exit_code == 0
    res = runner.invoke(
        APP,
        [
            "evidence",
            "pool",
            str(data),
            "--outcome",
            "cement_leakage",
            "--unit",
            "level",
            "--measure",
            "PLO",
            "--by",
            "technique",
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["k"] == 4 and set(out["subgroups"]) == {"PVP", "KP"}
    assert 0 < out["transformed"]["estimate"] < 1


def test_pool_several_outcomes_needs_choice(tmp_path):
    data = tmp_path / "studies.csv"
    runner.invoke(APP, ["evidence", "example", "studies", "--out", str(data)])
    res = runner.invoke(APP, ["evidence", "pool", str(data)])
    assert res.exit_code == 2
    assert "--outcome" in res.output


def test_bad_csv_exit_2_lists_every_error(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("study,xi,ni\nA,5,3\nB,-1,10\n")
    res = runner.invoke(APP, ["evidence", "pool", str(p), "--measure", "PLO"])
    assert res.exit_code == 2
    assert "line 2: xi: 5 exceeds ni 3" in res.output
    assert "line 3: xi: -1 is negative" in res.output
    res = runner.invoke(APP, ["evidence", "pool", str(tmp_path / "missing.csv")])
    assert res.exit_code == 2
    res = runner.invoke(APP, ["evidence", "pool", str(p), "--measure", "XX"])
    assert res.exit_code == 2


def test_check_command(tmp_path):
    data = tmp_path / "studies.csv"
    runner.invoke(APP, ["evidence", "example", "studies", "--out", str(data)])
    res = runner.invoke(APP, ["evidence", "check", str(data), "--format", "json"])
    assert res.exit_code == 0
    out = json.loads(res.stdout)
    assert out["rows"] > 250 and len(out["warnings"]) == 3


def test_prisma_command(tmp_path):
    counts = tmp_path / "counts.json"
    runner.invoke(APP, ["evidence", "example", "prisma", "--out", str(counts)])
    res = runner.invoke(
        APP,
        [
            "evidence",
            "prisma",
            str(counts),
            "--out",
            str(tmp_path / "flow.svg"),
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["included_studies"] == 87 and len(out["reconciliation"]) == 1
    assert (tmp_path / "flow.svg").read_text().startswith("<?xml")
    assert (tmp_path / "flow.png").read_bytes()[:4] == b"\x89PNG"
    bad = tmp_path / "bad.json"
    bad.write_text('{"databases": -1}')
    res = runner.invoke(APP, ["evidence", "prisma", str(bad), "--out", str(tmp_path / "x.svg")])
    assert res.exit_code == 2
    assert "databases" in res.output and "included_studies" in res.output


def test_grade_command(tmp_path):
    sof = tmp_path / "sof.yaml"
    runner.invoke(APP, ["evidence", "example", "sof", "--out", str(sof)])
    res = runner.invoke(APP, ["evidence", "grade", str(sof)])
    assert res.exit_code == 0
    assert "| Outcome |" in res.stdout and "IIa" in res.stdout and "VERY LOW" in res.stdout
    res = runner.invoke(
        APP, ["evidence", "grade", str(sof), "--format", "html", "--out", str(tmp_path / "s.html")]
    )
    assert res.exit_code == 0
    assert "<table>" in (tmp_path / "s.html").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "title: t\n"
        "outcomes:\n"
        "  - {outcome: o, design: rct, effect: e, domains: {imprecision: {rating: -1}}}\n"
    )
    res = runner.invoke(APP, ["evidence", "grade", str(bad)])
    assert res.exit_code == 2
    assert "rating down needs a reason" in res.output


def test_reproduce_command():
    res = runner.invoke(APP, ["evidence", "reproduce", "--format", "json"])
    assert res.exit_code == 0
    out = json.loads(res.stdout)
    assert out["all_agree"] is True
    names = " ".join(c["name"] for c in out["checks"])
    for word in (
        "Weighted mean age",
        "Table 2",
        "Wilcoxon",
        "CAFE",
        "BCG DL",
        "BCG REML",
        "Miller",
    ):
        assert word in names
    res = runner.invoke(APP, ["evidence", "reproduce"])
    assert res.exit_code == 0 and "62.79" in res.stdout


def test_root_app_has_the_group():
    try:
        from vertebro.cli import app
    except (ImportError, VertebroError, InvalidInput) as exc:  # another group may be half-written
        pytest.skip(f"root app not importable: {exc}")
    res = runner.invoke(app, ["evidence", "reproduce", "--format", "json"])
    assert res.exit_code == 0
    assert json.loads(res.stdout)["all_agree"] is True


def test_pool_meta_regression_on_one_moderator(tmp_path, bcg_rows):
    # metafor rma(yi, vi, mods = ~ ablat, data = dat.bcg): slope -0.0291, tau^2 0.0763, QM 16.3582
    p = tmp_path / "bcg.csv"
    lines = ["study,year,ai,bi,ci,di,ablat"]
    lines += [
        f"{r['author']},{r['year']},{r['tpos']},{r['tneg']},{r['cpos']},{r['cneg']},{r['ablat']}"
        for r in bcg_rows
    ]
    p.write_text("\n".join(lines) + "\n")
    res = runner.invoke(
        APP, ["evidence", "pool", str(p), "--measure", "RR", "--mod", "ablat", "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    mr = json.loads(res.stdout)["meta_regression"]
    assert abs(mr["coefficients"][1]["estimate"] - -0.0291) <= TOL["published_4dp"]
    assert abs(mr["tau2"] - 0.0763) <= TOL["published_4dp"]
    assert abs(mr["qm"] - 16.3582) <= TOL["published_4dp"]
    res = runner.invoke(APP, ["evidence", "pool", str(p), "--measure", "RR", "--mod", "nope"])
    assert res.exit_code == 2


# ---- issue 10, point 4: friction found by a metafor user


def test_example_bcg_is_accepted_by_pool(tmp_path):
    p = tmp_path / "bcg.csv"
    assert runner.invoke(APP, ["evidence", "example", "bcg", "--out", str(p)]).exit_code == 0
    res = runner.invoke(APP, ["evidence", "pool", str(p), "--measure", "RR", "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["k"] == 13 and abs(out["estimate"] - -0.7145) <= TOL["published_4dp"]
    # labels from the author column, with the year
    assert out["studies"][0]["study"] == "Aronson 1948"


def test_level_reaches_leave_one_out_cumulative_and_header(tmp_path):
    p = tmp_path / "bcg.csv"
    runner.invoke(APP, ["evidence", "example", "bcg", "--out", str(p)])
    args = ["evidence", "pool", str(p), "--measure", "RR", "--leave-one-out", "--cumulative"]
    r95 = json.loads(runner.invoke(APP, [*args, "--format", "json"]).stdout)
    r90 = json.loads(runner.invoke(APP, [*args, "--level", "90", "--format", "json"]).stdout)
    for key in ("leave_one_out", "cumulative"):
        for a, b in zip(r95[key], r90[key], strict=True):
            assert a["estimate"] == pytest.approx(b["estimate"])
            assert b["ci"][1] - b["ci"][0] < a["ci"][1] - a["ci"][0]  # narrower at 90%
    text = runner.invoke(APP, [*args, "--level", "90"]).stdout
    assert "90% CI" in text and "95% CI" not in text


def test_missing_value_rows_omitted_with_note(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("study,xi,ni\nA,5,30\nB,NA,10\nC,2,\nD,3,12\n")
    res = runner.invoke(APP, ["evidence", "pool", str(p), "--measure", "PLO", "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["k"] == 2 and out["skipped_lines"] == [3, 4]
    assert "lines 3, 4" in res.stderr and "missing value" in res.stderr


def test_common_effect_has_no_prediction_interval(tmp_path, bcg_rows):
    p = _bcg_metafor_csv(tmp_path, bcg_rows)
    res = runner.invoke(APP, ["evidence", "pool", str(p), "--measure", "RR", "--method", "EE"])
    assert res.exit_code == 0 and "Prediction interval" not in res.stdout
    assert "PI [" not in res.stdout
    js = json.loads(runner.invoke(
        APP, ["evidence", "pool", str(p), "--measure", "RR", "--method", "EE", "--format", "json"]
    ).stdout)
    assert js["pi"] == [None, None]


def test_common_effect_meta_regression_r2_as_metafor(tmp_path):
    # metafor 3.8-1: rma(yi, vi, mods = ~ ablat, data = dat.bcg, method = "EE") prints
    # "R^2 (amount of heterogeneity accounted for): 77.98%" (weighted least-squares adjusted R^2)
    p = tmp_path / "bcg.csv"
    runner.invoke(APP, ["evidence", "example", "bcg", "--out", str(p)])
    res = runner.invoke(APP, ["evidence", "pool", str(p), "--measure", "RR", "--method", "EE",
                              "--mod", "ablat", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert abs(json.loads(res.stdout)["meta_regression"]["r2"] - 77.98) <= TOL["published_2dp"]


def test_influence_and_rank_test_options(tmp_path):
    p = tmp_path / "bcg.csv"
    runner.invoke(APP, ["evidence", "example", "bcg", "--out", str(p)])
    res = runner.invoke(APP, ["evidence", "pool", str(p), "--measure", "RR", "--influence",
                              "--bias", "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert len(out["influence"]) == 13 and {"rstudent", "cook_d", "hat"} <= set(out["influence"][0])
    assert 0 <= out["ranktest"]["pval"] <= 1


def test_pool_formula_moderators_and_permutest(tmp_path):
    # metafor 3.8-1: rma(yi, vi, mods = ~ ablat + factor(alloc), data = dat.bcg, test = "knha")
    # prints F(df1 = 3, df2 = 9) = 3.4471, p-val = 0.0650; ablat -0.0273, tval -2.8669
    p = tmp_path / "bcg.csv"
    assert runner.invoke(APP, ["evidence", "example", "bcg", "--out", str(p)]).exit_code == 0
    args = ["evidence", "pool", str(p), "--measure", "RR", "--knha"]
    res = runner.invoke(
        APP, [*args, "--mods", "~ ablat + factor(alloc)", "--permutest", "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    mr = out["meta_regression"]
    assert mr["qm_df"] == [3, 9]
    assert abs(mr["qm"] - 3.4471) <= TOL["published_4dp"]
    assert abs(mr["qm_pval"] - 0.0650) <= TOL["published_4dp"]
    names = [c["name"] for c in mr["coefficients"]]
    assert names == ["intrcpt", "ablat", "factor(alloc)random", "factor(alloc)systematic"]
    assert abs(mr["coefficients"][1]["stat"] - -2.8669) <= TOL["published_4dp"]
    pt = out["permutest"]
    assert pt["exact"] is False and pt["iterations"] == 1000
    assert set(pt["pval"]) == set(names)
    for bad, says in (
        ("~ ablat + factor(nope)", "'nope'"),
        ("~ ablat:alloc", "not supported"),
    ):
        res = runner.invoke(APP, [*args, "--mods", bad])
        assert res.exit_code == 2 and "--mods" in res.output and says in res.output
    res = runner.invoke(APP, [*args, "--mods", "~ ablat", "--mod", "ablat"])
    assert res.exit_code == 2 and "not both" in res.output
    # a moderator constant in the studies pooled: refused with exit 2, not a traceback
    const = tmp_path / "const.csv"
    rows = p.read_text().splitlines()
    head = rows[0].split(",")
    j = head.index("ablat")
    body = [",".join("7" if i == j else c for i, c in enumerate(r.split(","))) for r in rows[1:]]
    const.write_text("\n".join([rows[0], *body]) + "\n")
    for opt, val in (("--mod", "ablat"), ("--mods", "~ ablat")):
        res = runner.invoke(APP, ["evidence", "pool", str(const), "--measure", "RR", opt, val])
        assert res.exit_code == 2 and opt in res.output and "collinear" in res.output, res.output


def test_pool_contour_funnel(tmp_path):
    p = tmp_path / "bcg.csv"
    assert runner.invoke(APP, ["evidence", "example", "bcg", "--out", str(p)]).exit_code == 0
    res = runner.invoke(APP, ["evidence", "pool", str(p), "--measure", "RR", "--contours"])
    assert res.exit_code == 2 and "--contours" in res.output and "--funnel" in res.output
    out = tmp_path / "f.svg"
    args = ["evidence", "pool", str(p), "--measure", "RR", "--funnel", str(out), "--contours"]
    res = runner.invoke(APP, args)
    assert res.exit_code == 0, res.output
    svg = out.read_text()
    assert "0.05 &lt; p" in svg and "Null (0)" in svg


def test_pool_baujat_plot_and_values(tmp_path):
    p = tmp_path / "bcg.csv"
    assert runner.invoke(APP, ["evidence", "example", "bcg", "--out", str(p)]).exit_code == 0
    out = tmp_path / "b.png"
    args = ["evidence", "pool", str(p), "--measure", "RR", "--baujat", str(out),
            "--format", "json"]
    res = runner.invoke(APP, args)
    assert res.exit_code == 0, res.output
    studies = json.loads(res.stdout)["influence"]
    assert len(studies) == 13 and all(s["baujat_x"] >= 0 and s["baujat_y"] >= 0 for s in studies)
    assert out.stat().st_size > 0 and out.with_suffix(".svg").exists()
    # metafor 3.8-1, baujat(rma(yi, vi)) on dat.bcg (RR): study 2 (Ferguson & Simes 1949)
    ferguson = studies[1]
    assert ferguson["baujat_x"] == pytest.approx(1.49341140759, rel=1e-6)
    assert ferguson["baujat_y"] == pytest.approx(0.112107073414, rel=1e-6)


@pytest.mark.parametrize(
    "args",
    [
        ("pool", "{bcg}", "--measure", "RR", "--funnel", "{missing}/f.png"),
        ("pool", "{bcg}", "--measure", "RR", "--forest", "{missing}/f.png"),
        ("pool", "{bcg}", "--measure", "RR", "--baujat", "{missing}/f.png"),
        ("example", "bcg", "--out", "{missing}/bcg.csv"),
        ("prisma", "{missing}/counts.json", "--out", "{missing}/flow.svg"),
        ("grade", "{missing}/sof.yaml", "--out", "{missing}/sof.md"),
    ],
)
def test_output_into_a_missing_folder_is_refused_before_any_work(tmp_path, args):
    bcg = tmp_path / "bcg.csv"
    assert runner.invoke(APP, ["evidence", "example", "bcg", "--out", str(bcg)]).exit_code == 0
    missing = tmp_path / "no" / "such"
    argv = ["evidence", *(a.format(bcg=bcg, missing=missing) for a in args)]
    res = runner.invoke(APP, argv)
    assert res.exit_code == 2, res.output
    assert "does not exist" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize(
    ("rows", "note"),
    [
        ("A,5,30\nB,NA,10\nC,2,12\n", "1 row has a missing value"),
        ("A,5,30\nB,NA,10\nC,2,\nD,3,12\n", "2 rows have a missing value"),
    ],
)
def test_rows_left_out_are_counted_and_named_in_words(tmp_path, rows, note):
    p = tmp_path / "m.csv"
    p.write_text("author,xi,ni\n" + rows, encoding="utf-8")
    res = runner.invoke(APP, ["evidence", "pool", str(p), "--measure", "PLO"])
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert note in flat and "row(s)" not in flat
    assert ("(line 3)" if note.startswith("1 ") else "(lines 3, 4)") in flat
