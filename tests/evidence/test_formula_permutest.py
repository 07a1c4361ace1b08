"""Moderators as an R formula and the permutation test: behaviour that the metafor oracle
(test_metafor_oracle.py) does not reach: names, refusals, invariants, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vertebro.errors import EvidenceError
from vertebro.evidence import RMA, model_matrix, permutest


def _bcg_columns(bcg_rows):
    return {c: [r[c] for r in bcg_rows] for c in bcg_rows[0]}


def _ablat(bcg_rows):
    return np.array([float(r["ablat"]) for r in bcg_rows])


def test_bcg_names_as_metafor_prints_them(bcg, bcg_rows):
    # metafor 3.8-1: rma(yi, vi, mods = ~ ablat + factor(alloc), data = dat.bcg) prints these
    # coefficient names (levels alternate < random < systematic, the first is the reference)
    f = RMA("REML", "knha").fit(
        bcg.yi, bcg.vi, mods="~ ablat + factor(alloc)", data=_bcg_columns(bcg_rows)
    )
    assert f.coef_names == ("intrcpt", "ablat", "factor(alloc)random", "factor(alloc)systematic")
    assert f.qm_df == (3, 9)
    assert "F(df1 = 3, df2 = 9)" in f.summary()
    assert RMA("REML").fit(bcg.yi, bcg.vi, mods=_ablat(bcg_rows)).qm_df == (1,)


def test_text_column_is_a_factor_and_numbers_sort_numerically():
    g = ["b", "a", "c", "a", "b", "c", "a"]
    d = model_matrix("~ g + factor(n)", {"g": g, "n": [10, 9, 10, 2, 2, 9, 10]})
    assert d.names == ("gb", "gc", "factor(n)9", "factor(n)10")  # 9 < 10, not "10" < "9"
    assert d.X[:, 0].tolist() == [1, 0, 0, 0, 1, 0, 0]
    assert d.X[:, 3].tolist() == [1, 0, 1, 0, 0, 0, 1]


@pytest.mark.parametrize(
    ("formula", "data", "says"),
    [
        ("ablat", {"ablat": [1, 2, 3]}, "must start with '~'"),
        ("~ ablat:year", {"ablat": [1, 2, 3]}, "not supported"),
        ("~ log(ablat)", {"ablat": [1, 2, 3]}, "not supported"),
        ("~ nope", {"ablat": [1, 2, 3]}, "'nope'"),
        ("~ ablat", {"ablat": [1, "NA", 3]}, "row 2"),
        ("~ factor(a)", {"a": ["x", "x", "x"]}, "one level"),
        ("~ a + b", {"a": [1, 2, 3, 4], "b": [2, 4, 6, 8]}, "collinear"),
    ],
)
def test_refusals_name_the_term(formula, data, says):
    with pytest.raises(EvidenceError, match=says):
        model_matrix(formula, data)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["u", "v", "w", "x"]), min_size=3, max_size=20))
def test_treatment_contrasts_encode_each_row_once(labels):
    if len(set(labels)) < 2:
        return
    d = model_matrix("~ factor(g)", {"g": labels})
    ref = sorted(set(labels))[0]
    # each row has exactly one indicator set, except rows of the reference level (none)
    assert d.X.sum(axis=1).tolist() == [0.0 if lab == ref else 1.0 for lab in labels]
    back = [
        ref if row.sum() == 0 else d.names[int(np.argmax(row))][len("factor(g)") :] for row in d.X
    ]
    assert back == labels


def test_formula_equals_the_same_columns_given_as_an_array(bcg, bcg_rows):
    data = _bcg_columns(bcg_rows)
    f = RMA("REML").fit(bcg.yi, bcg.vi, mods="~ ablat + factor(alloc)", data=data)
    alloc = np.array(data["alloc"])
    X = np.column_stack([_ablat(bcg_rows), alloc == "random", alloc == "systematic"]).astype(float)
    g = RMA("REML").fit(bcg.yi, bcg.vi, mods=X)
    np.testing.assert_allclose(f.beta, g.beta, rtol=1e-12)
    assert f.qm == pytest.approx(g.qm, rel=1e-12)


def test_exact_sign_flip_p_values_count_patterns(bcg):
    f = RMA("DL").fit(bcg.yi[:7], bcg.vi[:7])
    pt = permutest(f)
    assert pt.exact and pt.iterations == 2**7
    # a p-value of an exact test is a count of the 128 sign patterns
    assert (pt.pval[0] * 128) == pytest.approx(round(pt.pval[0] * 128))
    # flipping every sign gives the mirror |z|: at least 2 patterns reach the observed one
    assert pt.pval[0] >= 2 / 128


def test_random_permutations_are_seeded(bcg, bcg_rows):
    f = RMA("DL").fit(bcg.yi, bcg.vi, mods=_ablat(bcg_rows))
    a, b = permutest(f, iter=200, seed=3), permutest(f, iter=200, seed=3)
    assert not a.exact and a.iterations == 200
    np.testing.assert_array_equal(a.pval, b.pval)
    with pytest.raises(EvidenceError, match="iter"):
        permutest(f, iter=1)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-3, 3, allow_nan=False, allow_subnormal=False),
            st.floats(0.01, 1.0, allow_nan=False, allow_subnormal=False),
        ),
        min_size=3,
        max_size=6,
    ),
    st.randoms(use_true_random=False),
)
def test_exact_permutest_does_not_depend_on_study_order(studies, rnd):
    y, v = (np.array(c) for c in zip(*studies, strict=True))
    order = list(range(len(y)))
    rnd.shuffle(order)
    a = permutest(RMA("DL").fit(y, v))
    b = permutest(RMA("DL").fit(y[order], v[order]))
    assert a.exact and b.exact
    assert a.pval[0] == pytest.approx(b.pval[0], abs=1e-12)
    assert 0 < a.pval[0] <= 1 and 0 < a.qm_pval <= 1
