"""Permutation tests of a fitted model, metafor's ``permutest.rma.uni``.

Follmann & Proschan (Biometrics 1999;55:961) for the intercept-only model: the signs of the
effects are flipped; Higgins & Thompson (Stat Med 2004;23:1663) for meta-regression: the rows
of the design are permuted against the effects. Each permuted data set is refitted with the
model's method and test; the p-value of a coefficient is the share of permutations whose
|z| (or |t|) is at least the observed one, that of the omnibus test the share whose QM is at
least the observed QM. Definitions as metafor 3.8 (Viechtbauer et al., Res Synth Methods
2015;6:281): exact (every sign pattern, 2^k, or every distinct arrangement of the design's
rows, k!/prod(n_j!)) when that count is at most ``iter``, otherwise ``iter`` random
permutations of which the first is the observed data; ties within sqrt(machine eps) count as
at least as extreme.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from vertebro.errors import EvidenceError

from ._rma import RMA, coefficients, estimate_tau2, omnibus

__all__ = ["PermTest", "permutest"]

FloatArray = NDArray[np.float64]
_COMPTOL = math.sqrt(np.finfo(float).eps)  # metafor's control$comptol
_MAX_EXACT = 1_000_000  # exact=True beyond this would not finish


@dataclass(frozen=True)
class PermTest:
    """Permutation p-values of each coefficient and of the omnibus test."""

    exact: bool
    iterations: int
    names: tuple[str, ...]
    pval: FloatArray
    qm_pval: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "exact": self.exact,
            "iterations": self.iterations,
            "pval": {n: float(p) for n, p in zip(self.names, self.pval, strict=True)},
            "qm_pval": self.qm_pval,
        }


def _stats(y: FloatArray, v: FloatArray, X: FloatArray, method: str, knha: bool) -> FloatArray:
    """(z or t of every coefficient..., QM) of one refit; NaN when the fit fails."""
    try:
        tau2, _ = estimate_tau2(y, v, method, X)
        beta, vb, _ = coefficients(y, v, X, tau2, knha)
    except (EvidenceError, np.linalg.LinAlgError):
        return np.full(X.shape[1] + 1, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = beta / np.sqrt(np.diag(vb))
    qm, _ = omnibus(beta, vb, X.shape[0] - X.shape[1], knha)
    return np.append(z, qm)


def _distinct_orders(labels: list[int]) -> Iterator[list[int]]:
    """Every distinct ordering of a multiset, in lexicographic order (Knuth's algorithm L)."""
    a = sorted(labels)
    n = len(a)
    while True:
        yield list(a)
        j = n - 2
        while j >= 0 and a[j] >= a[j + 1]:
            j -= 1
        if j < 0:
            return
        m = n - 1
        while a[m] <= a[j]:
            m -= 1
        a[j], a[m] = a[m], a[j]
        a[j + 1 :] = reversed(a[j + 1 :])


def permutest(fit: RMA, *, iter: int = 1000, exact: bool = False, seed: int | None = 0) -> PermTest:
    """Permutation test of the fitted model ``fit`` (metafor's ``permutest``).

    Parameters
    ----------
    fit
        A fitted :class:`RMA` (any method and test; with or without moderators).
    iter
        Number of random permutations; the test is exact whenever the number of distinct
        permutations is at most ``iter`` (or ``exact=True``).
    seed
        Seed of the random permutations (results are reproducible; metafor's R seed gives other
        permutations, so random p-values agree with metafor within Monte Carlo error only).
    """
    fit._check()
    if iter < 2:
        raise EvidenceError(f"iter: {iter!r} must be >= 2")
    y, v, X = fit.yi, fit.vi, fit.X
    k, p = X.shape
    method = fit.method if k > 1 else "EE"
    knha = fit.test == "knha" and k - p >= 1
    observed = _stats(y, v, X, method, knha)
    if p == 1:
        n_exact = 2**k
    else:
        _, ids, counts = np.unique(X, axis=0, return_inverse=True, return_counts=True)
        n_exact = math.factorial(k)
        for c in counts:
            n_exact //= math.factorial(int(c))
    is_exact = exact or n_exact <= iter
    if is_exact and n_exact > _MAX_EXACT:
        raise EvidenceError(f"exact: {n_exact} permutations are too many for an exact test")
    rows: list[FloatArray] = []
    if p == 1:
        if is_exact:
            signs: Iterator[Any] = itertools.product((1.0, -1.0), repeat=k)
        else:
            rng = np.random.default_rng(seed)
            signs = itertools.chain(
                [np.ones(k)], (rng.choice((-1.0, 1.0), k) for _ in range(iter - 1))
            )
        rows = [_stats(np.asarray(s) * y, v, X, method, knha) for s in signs]
    else:
        uniq = np.unique(X, axis=0)
        ids = ids.ravel()
        if is_exact:
            orders: Iterator[Any] = _distinct_orders(ids.tolist())
        else:
            rng = np.random.default_rng(seed)
            orders = itertools.chain([ids], (rng.permutation(ids) for _ in range(iter - 1)))
        rows = [_stats(y, v, uniq[np.asarray(o)], method, knha) for o in orders]
    perm = np.array(rows)
    ok = ~np.isnan(perm)  # refits that failed are left out, as metafor's na.rm = TRUE
    with np.errstate(invalid="ignore"):
        hit = np.abs(perm[:, :p]) >= np.abs(observed[:p]) - _COMPTOL
        pval = (hit & ok[:, :p]).sum(axis=0) / ok[:, :p].sum(axis=0)
        qm_hit = (perm[:, p] >= observed[p] - _COMPTOL) & ok[:, p]
        qm_p = float(qm_hit.sum() / ok[:, p].sum())
    return PermTest(
        exact=is_exact,
        iterations=len(rows),
        names=tuple(fit.coef_names),
        pval=np.minimum(pval, 1.0),
        qm_pval=qm_p,
    )
