"""R's metafor as the oracle of vertebro.evidence (issue 10, point 2).

One Rscript call (metafor_oracle.R) fits every dataset: metafor's classics (dat.bcg,
dat.hackshaw1998, dat.normand1999, dat.molloy2014, dat.pritz1997, dat.hart1999, dat.egger2001)
and the seeded random ones of _oracle_data.py (k = 2 to 30, tau^2 = 0 to 25, ties, Q = 0, one
very precise study, zero cells, a three-level factor). Each test below recomputes one family
of results in vertebro (estimators, tests and intervals, meta-regression on a numeric and on a
formula with factors, leave-one-out, cumulative, batch, regtest/PEESE, ranktest, trim-and-fill,
subgroups, influence, Mantel-Haenszel/Peto, exact and random permutation tests, the
contour-enhanced funnel's points and contours) and compares every value to 1e-6 relative
(the random permutation test: within Monte Carlo error, its generator is not R's), with an
absolute floor of 1e-8 for values near 0 (tau^2 on the boundary, p-values far in the tail).
How many values each family compared is printed, and the module fails if fewer than 5,000 were
compared in all.

Without Rscript or metafor the module skips with the reason; with VERTEBRO_REQUIRE_R=1 (CI) it
fails instead. VERTEBRO_ORACLE_CACHE=DIR keeps metafor's output in DIR and reuses it while it is
newer than the R script and the dataset module (for working on the Python side).
"""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from vertebro.evidence import (
    RMA,
    cumulative,
    data_text,
    egger,
    escalc,
    funnel_contours,
    influence,
    leave_one_out,
    mantel_haenszel,
    permutest,
    pet_peese,
    peto,
    ranktest,
    rma_batch,
    subgroups,
    trimfill,
)

from ._oracle_data import count_rows, meta_rows, write_csv

REL = 1e-6
ABS = 1e-8
MIN_VALUES = 5000
SCRIPT = Path(__file__).with_name("metafor_oracle.R")
METHODS = ("EE", "DL", "HE", "HS", "SJ", "PM", "ML", "REML")
RE_METHODS = METHODS[1:]

# ------------------------------------------------------------------ running R once


def _unavailable(reason: str) -> None:
    if os.environ.get("VERTEBRO_REQUIRE_R") == "1":
        pytest.fail(f"VERTEBRO_REQUIRE_R=1 but {reason}", pytrace=False)
    pytest.skip(reason)


Oracle = dict[tuple[str, str], np.ndarray]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Oracle, set[tuple[str, str]]]:
    rscript = shutil.which("Rscript")
    if rscript is None:
        _unavailable("Rscript is not installed (apt-get install r-base-core r-cran-metafor)")
    cache = os.environ.get("VERTEBRO_ORACLE_CACHE")
    tmp = Path(cache) if cache else tmp_path_factory.mktemp("oracle")
    tmp.mkdir(parents=True, exist_ok=True)
    out = tmp / "out.csv"
    inputs = (SCRIPT, Path(__file__).with_name("_oracle_data.py"))
    if not (
        cache and out.exists() and out.stat().st_mtime > max(p.stat().st_mtime for p in inputs)
    ):
        _run_r(str(rscript), tmp)
    return _read(out)


def _run_r(rscript: str, tmp: Path) -> None:
    write_csv(meta_rows(), tmp / "meta.csv")
    write_csv(count_rows(), tmp / "counts.csv")
    proc = subprocess.run(
        [
            rscript,
            "--vanilla",
            str(SCRIPT),
            str(tmp / "meta.csv"),
            str(tmp / "counts.csv"),
            str(tmp / "out.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        if "no package called" in proc.stderr and "metafor" in proc.stderr:
            _unavailable("the R package metafor is not installed (apt-get install r-cran-metafor)")
        raise AssertionError(f"metafor_oracle.R failed:\n{proc.stderr[-3000:]}")


def _read(out: Path) -> tuple[Oracle, set[tuple[str, str]]]:
    acc: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    failed: set[tuple[str, str]] = set()
    for line in out.read_text().splitlines()[1:]:
        id_, key, idx, val = line.split(",")
        if val == "FAIL":
            failed.add((id_, key))
            continue
        acc[(id_, key)].append((int(idx), math.nan if val == "NA" else float(val)))
    oracle = {k: np.array([v for _, v in sorted(vals)]) for k, vals in acc.items()}
    return oracle, failed


class Tally:
    """Counts compared values per family and collects the mismatches."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = defaultdict(int)
        self.bad: list[str] = []

    def check(self, family: str, label: str, ours: object, theirs: np.ndarray) -> None:
        a = np.atleast_1d(np.asarray(ours, float))
        b = np.atleast_1d(np.asarray(theirs, float))
        if a.shape != b.shape:
            self.bad.append(f"{label}: shape {a.shape} vs metafor {b.shape}")
            return
        both_nan = np.isnan(a) & np.isnan(b)
        close = np.isclose(a, b, rtol=REL, atol=ABS) | both_nan
        # infinite p-value statistics etc. compare equal when both are the same infinity
        close |= np.isinf(a) & (a == b)
        self.counts[family] += int(a.size)
        for j in np.flatnonzero(~close):
            self.bad.append(f"{label}[{j}]: vertebro {a[j]!r} vs metafor {b[j]!r}")

    def finish(self, family: str) -> None:
        assert not self.bad, f"{len(self.bad)} {family} value(s) differ:\n" + "\n".join(
            self.bad[:4000]
        )


TOTAL: dict[str, int] = {}


@pytest.fixture
def tally(request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    t = Tally()
    yield t
    n = sum(t.counts.values())
    TOTAL[request.node.name] = n
    with capsys.disabled():
        print(f"\n  metafor oracle, {request.node.name}: {n} values compared")


def _datasets(oracle: Oracle) -> dict[str, tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]]:
    """Every dataset the battery ran on: yi, vi and the extra columns (x, grp, year)."""
    out: dict[str, tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]] = {}
    rows = meta_rows()
    by: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        by[r["id"]].append(r)
    for id_, rs in by.items():
        extra = {
            "x": np.array([float(r["x"]) for r in rs]),
            "grp": np.array([r["grp"] for r in rs]),
            "lvl": np.array([r["lvl"] for r in rs]),
            "year": np.array([int(r["year"]) for r in rs]),
        }
        out[id_] = (
            np.array([float(r["yi"]) for r in rs]),
            np.array([float(r["vi"]) for r in rs]),
            extra,
        )
    for id_, x in CLASSIC_MODS.items():
        if (id_, "es.yi") not in oracle:
            continue
        y, v = _classic_effects(oracle, id_)
        k = len(y)
        xs = np.arange(1.0, k + 1) if x is None else oracle[(id_, f"raw.{x}")]
        out[id_] = (
            y,
            v,
            {
                "x": xs,
                "grp": np.array(["ab"[j % 2] for j in range(k)]),
                "year": np.arange(1, k + 1),
            },
        )
    return out


# moderator used for the classics' meta-regression (None: the study number)
CLASSIC_MODS = {
    "bcg": "ablat",
    "hackshaw": None,
    "normand": None,
    "molloy": "meanage",
    "pritz": None,
}


def _raw(oracle: Oracle, id_: str, col: str) -> np.ndarray:
    return oracle[(id_, f"raw.{col}")]


def _classic_effects(oracle: Oracle, id_: str) -> tuple[np.ndarray, np.ndarray]:
    """The classics' effect sizes computed by vertebro from metafor's raw data."""
    r = lambda c: _raw(oracle, id_, c)  # noqa: E731
    if id_ == "bcg":
        e = escalc("RR", ai=r("tpos"), bi=r("tneg"), ci=r("cpos"), di=r("cneg"))
    elif id_ == "hackshaw":
        e = escalc("GEN", yi=r("yi"), vi=r("vi"))
    elif id_ == "normand":
        e = escalc(
            "MD",
            m1i=r("m1i"),
            sd1i=r("sd1i"),
            n1i=r("n1i"),
            m2i=r("m2i"),
            sd2i=r("sd2i"),
            n2i=r("n2i"),
        )
    elif id_ == "molloy":
        e = escalc("ZCOR", ri=r("ri"), ni=r("ni"))
    else:
        e = escalc("PFT", xi=r("xi"), ni=r("ni"))
    return e.yi, e.vi


def _fit_values(f: RMA, with_pi: bool) -> dict[str, object]:
    vals: dict[str, object] = {
        "beta": f.beta,
        "se": f.se_beta,
        "zval": f.stat_beta,
        "pval": f.pval_beta,
        "ci.lb": f.ci_lb_beta,
        "ci.ub": f.ci_ub_beta,
        "tau2": f.tau2,
        "se.tau2": f.se_tau2,
        "QE": f.q,
        "QEp": f.q_pval,
        "I2": f.i2,
        "H2": f.h2,
    }
    if f.p > 1:
        vals.update({"QM": f.qm, "QMp": f.qm_pval, "R2": f.r2})
    elif with_pi:
        vals.update({"pi.lb": f.pi_lb, "pi.ub": f.pi_ub})
    return vals


def _compare_fit(t: Tally, fam: str, oracle: Oracle, id_: str, key: str, f: RMA) -> None:
    for name, ours in _fit_values(f, True).items():
        ref = oracle.get((id_, f"{key}.{name}"))
        if ref is None:
            t.bad.append(f"{id_} {key}.{name}: metafor gave no value")
            continue
        if name.startswith("pi.") and f.method in ("EE", "FE"):
            # metafor's predict() has no prediction interval for a common-effect model
            assert np.all(np.isnan(ref)), (id_, key)
            t.counts[fam] += 1
            continue
        t.check(fam, f"{id_} {key}.{name}", ours, ref)


# ------------------------------------------------------------------ the tests


def test_no_fit_failed_in_metafor(run):
    _, failed = run
    # every fit converged with the tight control (or its fallback); none silently dropped
    assert not failed, sorted(failed)[:20]


def test_effect_sizes(run, tally):
    oracle, _ = run
    rows = count_rows()
    col = lambda c: np.array([float(r[c]) for r in rows])  # noqa: E731
    groups = {
        ("RR", "OR", "RD"): dict(ai=col("ai"), bi=col("bi"), ci=col("ci"), di=col("di")),
        ("PR", "PLO", "PAS", "PFT"): dict(xi=col("xi"), ni=col("ni")),
        ("IR", "IRLN"): dict(xi=col("xi"), ti=col("ti")),
        ("MD", "SMD", "ROM"): dict(
            m1i=col("m1i"),
            sd1i=col("sd1i"),
            n1i=col("n1i"),
            m2i=col("m2i"),
            sd2i=col("sd2i"),
            n2i=col("n2i"),
        ),
        ("COR", "ZCOR"): dict(ri=col("ri"), ni=col("ni")),
    }
    for measures, kw in groups.items():
        for m in measures:
            e = escalc(m, **kw)
            tally.check("escalc", f"counts {m}.yi", e.yi, oracle[("counts", f"es.{m}.yi")])
            tally.check("escalc", f"counts {m}.vi", e.vi, oracle[("counts", f"es.{m}.vi")])
    r = lambda id_, c: oracle[(id_, f"raw.{c}")]  # noqa: E731
    classic = {
        ("bcg", ("RR", "OR", "RD")): dict(
            ai=r("bcg", "tpos"), bi=r("bcg", "tneg"), ci=r("bcg", "cpos"), di=r("bcg", "cneg")
        ),
        ("normand", ("MD", "SMD", "ROM")): {
            c: r("normand", c) for c in ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
        },
        ("molloy", ("COR", "ZCOR")): dict(ri=r("molloy", "ri"), ni=r("molloy", "ni")),
        ("pritz", ("PR", "PLO", "PAS", "PFT")): dict(xi=r("pritz", "xi"), ni=r("pritz", "ni")),
        ("hart", ("IR", "IRLN")): dict(xi=r("hart", "x1i"), ti=r("hart", "t1i")),
        ("hart", ("IRR",)): dict(
            x1i=r("hart", "x1i"), t1i=r("hart", "t1i"), x2i=r("hart", "x2i"), t2i=r("hart", "t2i")
        ),
    }
    for (id_, measures), kw in classic.items():
        for m in measures:
            e = escalc(m, **kw)
            tally.check("escalc", f"{id_} {m}.yi", e.yi, oracle[(id_, f"es.{m}.yi")])
            tally.check("escalc", f"{id_} {m}.vi", e.vi, oracle[(id_, f"es.{m}.vi")])
    tally.finish("effect size")


def test_estimators_tests_and_intervals(run, tally):
    """Every estimator with z and Knapp-Hartung tests: estimate, SE, z/t, p, CI, tau^2 and its
    SE, Q, I^2, H^2 and the prediction interval; the Q-profile CI of tau^2, I^2 and H^2."""
    oracle, failed = run
    for id_, (y, v, _) in _datasets(oracle).items():
        for m in METHODS:
            for test in ("z", "knha"):
                key = f"{m}.{test}"
                if (id_, key) in failed:
                    continue
                f = RMA(m, test).fit(y, v)
                _compare_fit(tally, "rma", oracle, id_, key, f)
                if test == "z" and m in RE_METHODS:
                    for name, ours in (("tau2", f.tau2_ci), ("I2", f.i2_ci), ("H2", f.h2_ci)):
                        tally.check(
                            "qprofile",
                            f"{id_} {key}.qp.{name}",
                            ours,
                            oracle[(id_, f"{key}.qp.{name}")],
                        )
        if (id_, "REML.knha90.beta") in oracle:
            f = RMA("REML", "knha", level=90).fit(y, v)
            _compare_fit(tally, "level90", oracle, id_, "REML.knha90", f)
    tally.finish("rma")


def test_meta_regression(run, tally):
    oracle, failed = run
    for id_, (y, v, ex) in _datasets(oracle).items():
        for mt in ("EE.z", "REML.z", "REML.knha", "ML.z", "DL.knha"):
            key = f"mreg.{mt}"
            if (id_, f"{key}.beta") not in oracle or (id_, key) in failed:
                continue
            m, test = mt.split(".")
            if test == "knha" and np.ptp(y) == 0:
                # identical effects: s^2 = 0 and every KH statistic is 0/0 in both programs
                continue
            f = RMA(m, test).fit(y, v, mods=ex["x"])
            # pseudo R^2 is 0/0 when the intercept-only tau^2 is 0; metafor then returns 0 or
            # 100 by the rounding noise in its tau^2 (3e-14, say): not compared
            tau2_re = oracle[(id_, f"{m}.z.tau2")][0] if (id_, f"{m}.z.tau2") in oracle else 1.0
            for name, ours in _fit_values(f, False).items():
                if name == "R2" and m != "EE" and tau2_re < 1e-6:
                    continue
                tally.check("mreg", f"{id_} {key}.{name}", ours, oracle[(id_, f"{key}.{name}")])
    tally.finish("meta-regression")


L1O = {
    "estimate": "estimate",
    "se": "se",
    "zval": "zval",
    "pval": "pval",
    "ci.lb": "ci_lb",
    "ci.ub": "ci_ub",
    "Q": "q",
    "tau2": "tau2",
    "I2": "i2",
    "H2": "h2",
}


def test_leave_one_out_and_cumulative(run, tally):
    oracle, _ = run
    for id_, (y, v, ex) in _datasets(oracle).items():
        for m, test in (("REML", "z"), ("DL", "knha")):
            pre = f"{m}.{test}"
            if (id_, f"l1o.{pre}.estimate") not in oracle:
                continue
            lo = leave_one_out(y, v, method=m, test=test)
            for rk, ours in L1O.items():
                tally.check(
                    "l1o",
                    f"{id_} l1o.{pre}.{rk}",
                    getattr(lo, ours),
                    oracle[(id_, f"l1o.{pre}.{rk}")],
                )
            cu, _ = cumulative(y, v, ex["year"], method=m, test=test)
            for rk in ("estimate", "se", "ci.lb", "ci.ub", "tau2", "I2", "H2", "Q"):
                tally.check(
                    "cumul",
                    f"{id_} cum.{pre}.{rk}",
                    getattr(cu, L1O[rk]),
                    oracle[(id_, f"cum.{pre}.{rk}")],
                )
    tally.finish("leave-one-out/cumulative")


def test_batch_equals_metafor(run, tally):
    """rma_batch on all random datasets at once (NaN-padded rows) against metafor."""
    oracle, _ = run
    data = [(id_, y, v) for id_, (y, v, _) in _datasets(oracle).items()]
    kmax = max(len(y) for _, y, _ in data)
    Y = np.full((len(data), kmax), np.nan)
    V = np.full((len(data), kmax), np.nan)
    for i, (_, y, v) in enumerate(data):
        Y[i, : len(y)], V[i, : len(y)] = y, v
    for m in METHODS:
        for test in ("z", "knha"):
            b = rma_batch(Y, V, m, test)
            for i, (id_, _, _) in enumerate(data):
                key = f"{m}.{test}"
                for rk, ours in (
                    ("beta", b.estimate),
                    ("se", b.se),
                    ("tau2", b.tau2),
                    ("ci.lb", b.ci_lb),
                    ("ci.ub", b.ci_ub),
                    ("I2", b.i2),
                ):
                    tally.check(
                        "batch", f"{id_} batch {key}.{rk}", ours[i], oracle[(id_, f"{key}.{rk}")]
                    )
    tally.finish("batch")


def test_small_study_tests_and_trimfill(run, tally):
    oracle, _ = run
    for id_, (y, v, _) in _datasets(oracle).items():
        if (id_, "regtest") in oracle:
            e = egger(y, v, method="REML")
            tally.check(
                "regtest",
                f"{id_} regtest",
                [e.stat, e.pval, e.limit, *e.limit_ci],
                oracle[(id_, "regtest")],
            )
        if (id_, "regtest.vi.EE") in oracle:
            pp = pet_peese(y, v)
            e = pp.peese
            tally.check(
                "regtest",
                f"{id_} PEESE (regtest predictor vi, EE)",
                [e.stat, e.pval, e.limit, *e.limit_ci],
                oracle[(id_, "regtest.vi.EE")],
            )
        if (id_, "ranktest") in oracle:
            rt = ranktest(y, v)
            tally.check("ranktest", f"{id_} ranktest", [rt.tau, rt.pval], oracle[(id_, "ranktest")])
        if (id_, "trimfill") in oracle:
            tf = trimfill(y, v, method="REML")
            tally.check(
                "trimfill",
                f"{id_} trimfill",
                [tf.k0, tf.fit.estimate, tf.fit.se, tf.fit.tau2, tf.fit.ci_lb, tf.fit.ci_ub],
                oracle[(id_, "trimfill")],
            )
        if (id_, "trimfill.R0.DL") in oracle:
            tf = trimfill(y, v, method="DL", estimator="R0")
            tally.check(
                "trimfill",
                f"{id_} trimfill R0 DL",
                [tf.k0, tf.fit.estimate, tf.fit.se, tf.fit.tau2],
                oracle[(id_, "trimfill.R0.DL")],
            )
    tally.finish("regtest/ranktest/trimfill")


def test_subgroups(run, tally):
    oracle, _ = run
    for id_, (y, v, ex) in _datasets(oracle).items():
        if (id_, "subgroup.Q") not in oracle:
            continue
        s = subgroups(y, v, ex["grp"].tolist(), method="REML")
        tally.check(
            "subgroup",
            f"{id_} subgroup.est",
            [s.fits[g].estimate for g in s.order],
            oracle[(id_, "subgroup.est")],
        )
        tally.check(
            "subgroup",
            f"{id_} subgroup.se",
            [s.fits[g].se for g in s.order],
            oracle[(id_, "subgroup.se")],
        )
        tally.check("subgroup", f"{id_} subgroup.Q", s.q_between, oracle[(id_, "subgroup.Q")])
    tally.finish("subgroup")


INF = {
    "rstudent": "rstudent",
    "dffits": "dffits",
    "cook.d": "cook_d",
    "cov.r": "cov_r",
    "tau2.del": "tau2_del",
    "QE.del": "qe_del",
    "hat": "hat",
    "weight": "weight",
}


def test_influence_diagnostics(run, tally):
    oracle, _ = run
    for id_, (y, v, _) in _datasets(oracle).items():
        if (id_, "inf.REML.hat") not in oracle:
            continue
        inf = influence(RMA("REML").fit(y, v))
        for rk, ours in INF.items():
            tally.check(
                "influence", f"{id_} inf.{rk}", getattr(inf, ours), oracle[(id_, f"inf.REML.{rk}")]
            )
        for axis in ("x", "y"):
            if (id_, f"baujat.REML.{axis}") in oracle:
                tally.check(
                    "influence",
                    f"{id_} baujat.{axis}",
                    getattr(inf, f"baujat_{axis}"),
                    oracle[(id_, f"baujat.REML.{axis}")],
                )
    tally.finish("influence")


def test_mantel_haenszel_and_peto(run, tally):
    oracle, _ = run
    rows = count_rows()
    by: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        by[r["grp"]].append(r)
    cases = [
        (f"mh{g}", {c: np.array([float(r[c]) for r in rs]) for c in ("ai", "bi", "ci", "di")})
        for g, rs in by.items()
    ]
    e = {c: oracle[("egger2001", f"raw.{c}")] for c in ("ai", "n1i", "ci", "n2i")}
    cases.append(
        ("egger2001", dict(ai=e["ai"], bi=e["n1i"] - e["ai"], ci=e["ci"], di=e["n2i"] - e["ci"]))
    )
    for id_, kw in cases:
        for m in ("OR", "RR", "RD"):
            ref = oracle.get((id_, f"mh.{m}"))
            if ref is None or np.isnan(ref[0]):
                continue
            f = mantel_haenszel(m, **kw)
            ours = [f.estimate, f.se, f.zval, f.pval, f.ci_lb, f.ci_ub, f.q, f.q_pval]
            tally.check("mh", f"{id_} mh.{m}", ours[: len(ref)], ref)
        ref = oracle.get((id_, "peto"))
        if ref is not None:
            p = peto(**kw)
            ours = [p.estimate, p.se, p.zval, p.pval, p.ci_lb, p.ci_ub, p.q, p.q_pval]
            tally.check("peto", f"{id_} peto", ours[: len(ref)], ref)
    tally.finish("Mantel-Haenszel/Peto")


def _bcg_columns() -> dict[str, list[str]]:
    """dat.bcg's columns as vertebro ships them (alloc is text, which metafor's raw output
    cannot carry); the rows are in dat.bcg's order."""
    rows = list(csv.DictReader(io.StringIO(data_text("reference/bcg.csv"))))
    return {c: [r[c] for r in rows] for c in rows[0]}


def test_formula_moderators(run, tally):
    """mods as a formula with a numeric and a factor term: every coefficient, QM (Wald chi^2,
    or F(m, k - p) under Knapp-Hartung), QE, tau^2, R^2."""
    oracle, failed = run
    cases: list[tuple[str, np.ndarray, np.ndarray, str, dict[str, object]]] = []
    for id_, (y, v, ex) in _datasets(oracle).items():
        if "lvl" in ex:
            cases.append((id_, y, v, "~ x + factor(lvl)", {"x": ex["x"], "lvl": ex["lvl"]}))
    y, v = _classic_effects(oracle, "bcg")
    cases.append(("bcg", y, v, "~ ablat + factor(alloc)", _bcg_columns()))  # type: ignore[arg-type]
    for id_, y, v, formula, data in cases:
        for mt in ("EE.z", "REML.z", "REML.knha", "DL.knha", "ML.z"):
            key = f"form.{mt}"
            if (id_, f"{key}.beta") not in oracle or (id_, key) in failed:
                continue
            m, test = mt.split(".")
            if test == "knha" and np.ptp(y) == 0:
                continue  # identical effects: slopes 0/0 under KH in both (test_meta_regression)
            f = RMA(m, test).fit(y, v, mods=formula, data=data)  # type: ignore[arg-type]
            tau2_re = oracle[(id_, f"{m}.z.tau2")][0] if (id_, f"{m}.z.tau2") in oracle else 1.0
            for name, ours in _fit_values(f, False).items():
                if name == "R2" and m != "EE" and tau2_re < 1e-6:
                    continue  # 0/0, as in test_meta_regression
                tally.check("formula", f"{id_} {key}.{name}", ours, oracle[(id_, f"{key}.{name}")])
            if (id_, f"{key}.QMdf") in oracle:
                # metafor's QMdf is (m, NA) for the chi^2 test, (m, k - p) for F
                ours_df = [*f.qm_df, math.nan][:2]
                tally.check("formula", f"{id_} {key}.QMdf", ours_df, oracle[(id_, f"{key}.QMdf")])
    assert tally.counts["formula"] > 0
    tally.finish("formula moderators")


def _perm_cases(oracle: Oracle):  # type: ignore[no-untyped-def]
    for id_, (y, v, ex) in _datasets(oracle).items():
        for key, kw in (
            ("perm.int.DL.z", {}),
            ("perm.int.REML.knha", {}),
            ("perm.x.DL.z", {"mods": ex["x"]}),
            ("perm.lvl.REML.z", {"mods": "~ factor(lvl)", "data": {"lvl": ex.get("lvl")}}),
        ):
            if (id_, key) in oracle:
                m, test = key.split(".")[-2:]
                yield id_, key, RMA(m, test).fit(y, v, **kw)


def test_permutest_exact(run, tally, capsys):
    """Exact permutation tests (every sign pattern; every distinct arrangement of the design's
    rows) against metafor's exact permutest. Where a refit failed inside metafor (it leaves
    that permutation out, vertebro's global-maximum fit does not fail), the p-values cannot be
    the same and the case is counted, not compared."""
    oracle, _ = run
    left_out = 0
    for id_, key, f in _perm_cases(oracle):
        ref = oracle[(id_, key)]
        pt = permutest(f)
        assert pt.exact and pt.iterations == ref[-1], (id_, key, pt.iterations, ref[-1])
        if ref[-2] > 0:
            left_out += 1
            continue
        tally.check("permutest", f"{id_} {key}", [*pt.pval, pt.qm_pval], ref[:-2])
    with capsys.disabled():
        print(f"\n  permutest: {left_out} case(s) with refits failed in metafor, not compared")
    assert tally.counts["permutest"] >= 50
    tally.finish("permutest (exact)")


def test_permutest_random_within_monte_carlo_error(run):
    """1000 random permutations in both programs (different generators): the p-values differ by
    Monte Carlo error only, sd = sqrt(2 p (1 - p) / 1000); allowed 4.5 sd (+ 1/1000)."""
    oracle, _ = run
    y, v = _classic_effects(oracle, "bcg")
    bcg = _bcg_columns()
    fits = {
        "perm.rand.int.REML.z": RMA("REML").fit(y, v),
        "perm.rand.ablat.REML.z": RMA("REML").fit(y, v, mods=oracle[("bcg", "raw.ablat")]),
        "perm.rand.alloc.DL.knha": RMA("DL", "knha").fit(
            y,
            v,
            mods="~ factor(alloc)",
            data=bcg,  # type: ignore[arg-type]
        ),
    }
    for key, f in fits.items():
        ref = oracle[("bcg", key)]
        pt = permutest(f, seed=20261203)
        assert not pt.exact and pt.iterations == 1000 == ref[-1]
        ours = np.array([*pt.pval, pt.qm_pval])
        theirs = ref[:-2]
        p = (ours + theirs) / 2
        allowed = 4.5 * np.sqrt(2 * p * (1 - p) / 1000) + 1e-3
        assert np.all(np.abs(ours - theirs) <= allowed), (key, ours, theirs, allowed)


def test_contour_funnel(run, tally):
    """The contour-enhanced funnel: the points metafor's funnel() plots (yi, sei) and its
    contour bounds at 90/95/99% around refline 0 (the drawing itself is looked at, see
    docs/evidence.md)."""
    oracle, _ = run
    y, v = _classic_effects(oracle, "bcg")
    tally.check("funnel", "bcg funnel.x", y, oracle[("bcg", "funnel.x")])
    tally.check("funnel", "bcg funnel.y", np.sqrt(v), oracle[("bcg", "funnel.y")])
    se = np.linspace(0, 0.8, 50)
    for lev, (lo, hi) in zip((90, 95, 99), funnel_contours(se, (90, 95, 99), 0.0), strict=True):
        tally.check(
            "funnel", f"bcg contour {lev}", np.r_[lo, hi], oracle[("bcg", f"funnel.contour.{lev}")]
        )
    tally.finish("contour funnel")


def test_total_values_compared(run, capsys):
    oracle, _ = run
    n = sum(TOTAL.values())
    with capsys.disabled():
        print(
            f"\n  metafor oracle: {n} values compared in all "
            f"({len(oracle)} result vectors from metafor)"
        )
    if len(TOTAL) < 12:
        pytest.skip("run the whole module to count the values compared")
    assert n >= MIN_VALUES
