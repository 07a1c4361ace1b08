"""Bad CSV input: every problem is listed with line, column and reason; the CLI exits 2."""

from __future__ import annotations

import pytest

from vertebro.errors import InvalidInput
from vertebro.evidence import COLUMNS, parse_metafor_csv, parse_studies

HEADER = ",".join(COLUMNS)


def _line(**kw: object) -> str:
    base = {
        "study": "X 2020",
        "design": "retrospective",
        "outcome": "cement_leakage",
        "source": "file Table 1",
    }
    base.update({k: str(v) for k, v in kw.items()})
    return ",".join(base.get(c, "") for c in COLUMNS)


def test_valid_rows_parse():
    rows = parse_studies("\n".join([HEADER, _line(events=3, denominator=10, unit="level")]))
    assert rows[0].events == 3 and rows[0].proportion == 0.3 and rows[0].line == 2


def test_every_error_is_listed():
    text = "\n".join(
        [
            HEADER,
            _line(events=12, denominator=10),  # line 2: events > denominator
            _line(sd=0, mean=5, n=10),  # line 3: sd <= 0
            _line(n=0),  # line 4: n < 1
            _line(design="cohort"),  # line 5: unknown design
            _line(study=""),  # line 6: missing study
            _line(year="20x0", estimate=5, ci_lower=6, ci_upper=9),  # line 7: two problems
        ]
    )
    with pytest.raises(InvalidInput) as info:
        parse_studies(text, "bad.csv")
    got = [str(e) for e in info.value.errors]
    assert got == [
        "line 2: events: 12 exceeds the denominator 10",
        "line 3: sd: 0 must be > 0",
        "line 4: n: 0 is below 1 (a study needs at least one patient)",
        "line 5: design: 'cohort' is not one of rct, prospective, retrospective, case_series, "
        "systematic_review, meta_analysis",
        "line 6: study: is required",
        "line 7: year: '20x0' is not a whole number",
        "line 7: estimate: 5 lies outside its CI [6, 9]",
    ]


def test_unknown_and_missing_columns():
    with pytest.raises(InvalidInput) as info:
        parse_studies("study,design,color\nA,rct,red\n", "x.csv")
    msgs = [str(e) for e in info.value.errors]
    assert any("unknown column(s) color" in m for m in msgs)
    assert any("missing required column(s) outcome, source" in m for m in msgs)


def test_metafor_csv_errors_listed():
    text = "study,xi,ni\nA,5,3\nB,x,10\nC,2,0\nD,,10\n"  # D: missing, omitted (not an error)
    with pytest.raises(InvalidInput) as info:
        parse_metafor_csv(text, "PLO", "m.csv")
    got = [str(e) for e in info.value.errors]
    assert "line 2: xi: 5 exceeds ni 3" in got
    assert "line 3: xi: 'x' is not a whole number" in got
    assert "line 4: ni: 0 is below 1" in got
    assert not any("line 5" in m for m in got)


def test_metafor_csv_missing_values_omitted_and_named():
    # metafor's na.omit: rows with an empty or NA cell the measure needs are left out, named
    d = parse_metafor_csv("author,xi,ni\nA,5,30\nB,NA,10\nC,2,\nD,3,12\n", "PLO", "m.csv")
    assert d.omitted == [3, 4]
    assert d.study == ["A", "D"] and len(d.effects) == 2
    with pytest.raises(InvalidInput, match="no row without a missing value"):
        parse_metafor_csv("xi,ni\nNA,10\n", "PLO")


def test_metafor_csv_labels_from_slab_study_author():
    for col in ("slab", "study", "author"):
        d = parse_metafor_csv(f"{col},trial,xi,ni\nSmith,1,5,30\n", "PLO")
        assert d.study == ["Smith"]
    assert parse_metafor_csv("xi,ni\n5,30\n1,9\n", "PLO").study == ["1", "2"]


def test_metafor_csv_wrong_columns_for_measure():
    with pytest.raises(InvalidInput, match="measure RR needs columns"):
        parse_metafor_csv("xi,ni\n1,10\n", "RR")


def test_metafor_csv_all_forms():
    for header, row, measure in (
        ("ai,bi,ci,di", "4,119,11,128", "RR"),
        ("ai,n1i,ci,n2i", "4,123,11,139", "RR"),
        ("xi,ni", "3,11", "PFT"),
        ("mi,sdi,ni", "7.5,2,100", "MN"),
        ("m1i,sd1i,n1i,m2i,sd2i,n2i", "12,3,18,15,4,16", "SMD"),
        ("yi,vi", "-0.5,0.04", "GEN"),
        ("yi,sei", "-0.5,0.2", "GEN"),
        ("xi,ti", "3,120.5", "IRLN"),
        ("x1i,t1i,x2i,t2i", "3,120.5,6,100", "IRR"),
        ("ri,ni", "0.3,40", "ZCOR"),
        ("m1i,sd1i,n1i,m2i,sd2i,n2i", "12,3,18,15,4,16", "ROM"),
    ):
        d = parse_metafor_csv(
            f"study,year,subgroup,{header}\nA,2001,g1,{row}\nB,2002,g2,{row}\n", measure
        )
        assert len(d.effects) == 2 and d.year == [2001, 2002] and d.subgroup == ["g1", "g2"]
    a = parse_metafor_csv("ai,bi,ci,di\n4,119,11,128\n", "RR").effects
    b = parse_metafor_csv("ai,n1i,ci,n2i\n4,123,11,139\n", "RR").effects
    assert abs(a.yi[0] - b.yi[0]) < 1e-15 and abs(a.vi[0] - b.vi[0]) < 1e-15
