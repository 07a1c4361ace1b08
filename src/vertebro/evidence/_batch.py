"""Many random-effects meta-analyses in one vectorised call.

``rma_batch(yi, vi, method="DL")`` fits one intercept-only model per row of the ``(m, k)`` arrays
``yi`` and ``vi``; a NaN marks a study that is absent from that row, so leave-one-out,
cumulative, subgroup and bootstrap analyses are all one call. The estimators are the same
definitions as :class:`vertebro.evidence.RMA` (metafor's), written for arrays: closed forms for
EE, DL, HE, HS and SJ, safeguarded Newton iterations for PM (root of the generalised Q) and,
for ML and REML, the global maximum of the likelihood: the score scanned on the grid of
``RMA``, each local maximum refined by safeguarded Newton steps, the best of them and tau^2 = 0.

Written by hand because neither statsmodels nor scipy fits more than one meta-analysis per
call; ``benchmarks/meta_bench.py`` compares it with a loop over statsmodels' ``combine_effects``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from vertebro.errors import EvidenceError

from ._rma import METHODS, kh_residuals, tau2_grid

__all__ = ["BatchResult", "rma_batch"]

FloatArray = NDArray[np.float64]
_TOL = 1e-12
_MAXITER = 1000


@dataclass(frozen=True)
class BatchResult:
    """Results of :func:`rma_batch`, one entry per row (metafor's names)."""

    method: str
    test: str
    k: NDArray[np.int64]
    estimate: FloatArray
    se: FloatArray
    ci_lb: FloatArray
    ci_ub: FloatArray
    zval: FloatArray
    pval: FloatArray
    tau2: FloatArray
    q: FloatArray
    i2: FloatArray
    h2: FloatArray
    pi_lb: FloatArray
    pi_ub: FloatArray
    iterations: int

    def __len__(self) -> int:
        return int(self.estimate.shape[0])


def _sums(w: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    sw = w.sum(axis=1)
    mu = (w * y).sum(axis=1) / sw
    r = y - mu[:, None]
    return sw, mu, r


def rma_batch(
    yi: ArrayLike,
    vi: ArrayLike,
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
) -> BatchResult:
    """Fit ``m`` intercept-only models at once; rows of ``yi``/``vi`` are meta-analyses.

    Parameters
    ----------
    yi, vi
        Arrays of shape ``(m, k)`` (or ``(k,)`` for one analysis). NaN marks an absent study.
    method
        EE/FE, DL, HE, HS, SJ, PM, ML or REML.
    test
        ``"z"`` or ``"knha"``.

    Returns
    -------
    BatchResult
        Arrays of length ``m``.
    """
    m_ = method.upper()
    if m_ not in METHODS:
        raise EvidenceError(f"method: {method!r} is not one of {', '.join(METHODS)}")
    if test not in ("z", "knha"):
        raise EvidenceError(f"test: {test!r} must be 'z' or 'knha'")
    Y = np.atleast_2d(np.asarray(yi, float))
    V = np.atleast_2d(np.asarray(vi, float))
    if Y.shape != V.shape:
        raise EvidenceError("yi and vi: must have the same shape")
    mask = np.isfinite(Y) & np.isfinite(V)
    if np.any(V[mask] <= 0):
        raise EvidenceError("vi: sampling variances must be > 0")
    k = mask.sum(axis=1)
    if np.any(k < 1):
        raise EvidenceError("every row needs at least one study")
    y = np.where(mask, Y, 0.0)
    v = np.where(mask, V, 1.0)
    kf = k.astype(float)
    df = kf - 1
    multi = k > 1

    w0 = mask / v
    sw0, _, r0 = _sums(w0, y)
    q = (w0 * r0 * r0).sum(axis=1)
    trP0 = sw0 - (w0 * w0).sum(axis=1) / sw0
    iterations = 0

    with np.errstate(divide="ignore", invalid="ignore"):
        if m_ in ("EE", "FE"):
            tau2 = np.zeros_like(q)
        elif m_ == "DL":
            tau2 = (q - df) / trP0
        elif m_ == "HS":
            tau2 = (q - kf) / sw0
        else:
            ybar = y.sum(axis=1) / kf
            dev = np.where(mask, y - ybar[:, None], 0.0)
            rss = (dev * dev).sum(axis=1)
            he = (rss - df / kf * (mask * v).sum(axis=1)) / df
            if m_ == "HE":
                tau2 = he
            elif m_ == "SJ":
                t0 = rss / kf
                w = mask / (v + t0[:, None])
                _, _, r = _sums(w, y)
                tau2 = np.where(t0 > 0, t0 * (w * r * r).sum(axis=1) / df, 0.0)
            elif m_ == "PM":
                tau2, iterations = _pm(y, v, mask, df, q)
            else:
                tau2, iterations = _ml_reml(y, v, mask, m_ == "REML")
        tau2 = np.where(multi, np.maximum(np.nan_to_num(tau2, nan=0.0), 0.0), 0.0)

        w = mask / (v + tau2[:, None])
        sw, mu, r = _sums(w, y)
        se = np.sqrt(1 / sw)
        alpha = 1 - level / 100
        if test == "knha":
            r = kh_residuals(r, y)  # identical effects: s^2 = 0, |t| = inf (as metafor)
            s2w = np.where(multi, (w * r * r).sum(axis=1) / df, 1.0)
            se = se * np.sqrt(s2w)
            crit = np.where(
                multi, stats.t.ppf(1 - alpha / 2, np.maximum(df, 1)), stats.norm.ppf(1 - alpha / 2)
            )
            zval = mu / se
            pval = np.where(
                multi,
                2 * stats.t.sf(np.abs(zval), np.maximum(df, 1)),
                2 * stats.norm.sf(np.abs(zval)),
            )
        else:
            crit = np.full_like(mu, stats.norm.ppf(1 - alpha / 2))
            zval = mu / se
            pval = 2 * stats.norm.sf(np.abs(zval))
        if m_ in ("EE", "FE"):
            i2 = np.where(q > 0, np.maximum(0.0, 100 * (q - df) / q), 0.0)
            h2 = q / df
        else:
            vt = df / trP0
            i2 = 100 * tau2 / (vt + tau2)
            h2 = tau2 / vt + 1
        # metafor: with one study there is no heterogeneity to measure (Q 0, I^2 0, H^2 1)
        i2 = np.where(multi, i2, 0.0)
        h2 = np.where(multi, h2, 1.0)
        q = np.where(multi, q, 0.0)
        pse = np.sqrt(se * se + tau2)
    return BatchResult(
        method=m_,
        test=test,
        k=k.astype(np.int64),
        estimate=mu,
        se=se,
        ci_lb=mu - crit * se,
        ci_ub=mu + crit * se,
        zval=zval,
        pval=pval,
        tau2=tau2,
        q=q,
        i2=i2,
        h2=h2,
        # no prediction interval for a common-effect model (as RMA and metafor's predict)
        pi_lb=np.full_like(mu, np.nan) if m_ in ("EE", "FE") else mu - crit * pse,
        pi_ub=np.full_like(mu, np.nan) if m_ in ("EE", "FE") else mu + crit * pse,
        iterations=iterations,
    )


def _pm(
    y: FloatArray, v: FloatArray, mask: NDArray[np.bool_], df: FloatArray, q0: FloatArray
) -> tuple[FloatArray, int]:
    """Paule-Mandel: root of Q_gen(tau2) = k - 1 by Newton steps kept inside a bracket."""
    tau2 = np.zeros_like(q0)
    lo = np.zeros_like(q0)
    hi = np.full_like(q0, np.inf)
    active = (q0 > df) & (df > 0)
    it = 0
    while np.any(active) and it < _MAXITER:
        it += 1
        idx = np.flatnonzero(active)
        t = tau2[idx]
        w = mask[idx] / (v[idx] + t[:, None])
        _, _, r = _sums(w, y[idx])
        wr2 = w * r * r
        f = wr2.sum(axis=1) - df[idx]
        deriv = (w * wr2).sum(axis=1)  # -dQ/dtau2
        lo[idx] = np.where(f > 0, t, lo[idx])
        hi[idx] = np.where(f <= 0, t, hi[idx])
        step = f / deriv
        new = t + step
        outside = (new <= lo[idx]) | (new >= hi[idx])
        new = np.where(outside & np.isfinite(hi[idx]), 0.5 * (lo[idx] + hi[idx]), new)
        done = np.abs(new - t) <= _TOL * np.maximum(1.0, t)
        tau2[idx] = new
        active[idx] = ~done
    if np.any(active):
        raise EvidenceError("method PM: iterations did not converge")
    return tau2, it


def _score(
    t: FloatArray, y: FloatArray, v: FloatArray, mask: NDArray[np.bool_], reml: bool
) -> tuple[FloatArray, FloatArray]:
    """ML/REML score and information at tau^2 = t, one per row (intercept-only closed forms):
    the observed information, or Fisher's expected one where the observed is not positive."""
    w = mask / (v + t[:, None])
    sw, _, r = _sums(w, y)
    w2 = w * w
    sw2 = w2.sum(axis=1)
    ypy = (w2 * r * r).sum(axis=1)
    wr = w * r
    ypppy = (w * wr * wr).sum(axis=1) - (w * wr).sum(axis=1) ** 2 / sw
    if reml:
        trp = sw - sw2 / sw
        trpp = sw2 - 2 * (w2 * w).sum(axis=1) / sw + sw2 * sw2 / (sw * sw)
        score = ypy - trp
        fisher, obs = trpp, 2 * ypppy - trpp
    else:
        score = ypy - sw
        fisher, obs = sw2, 2 * ypppy - sw2
    return score, np.where(obs > 0, obs, fisher)


def _score_sign(t: FloatArray, yc: FloatArray, vinf: FloatArray, reml: bool) -> FloatArray:
    """The score of ``_score`` without the information, for the grid scan, which needs only its
    sign. ``yc`` is y centred per row and ``vinf`` is v with inf for an absent study (weight 0),
    both transposed to (k, m): numpy sums k long vectors much faster than m short rows. And
    sum w^2 (y - mu)^2 is expanded into sums to save passes over the arrays."""
    w = 1 / (vinf + t[None, :])
    w2 = w * w
    w2y = w2 * yc
    sw, sw2 = w.sum(axis=0), w2.sum(axis=0)
    mu = (w * yc).sum(axis=0) / sw
    score = (w2y * yc).sum(axis=0) - 2 * mu * w2y.sum(axis=0) + mu * mu * sw2 - sw
    return np.asarray(score + sw2 / sw if reml else score)


def _loglik(
    t: FloatArray, y: FloatArray, v: FloatArray, mask: NDArray[np.bool_], reml: bool
) -> FloatArray:
    """(Restricted) log-likelihood per row, constants dropped (as ``_rma.loglik``)."""
    w = mask / (v + t[:, None])
    sw, _, r = _sums(w, y)
    ll = -0.5 * (mask * np.log(v + t[:, None])).sum(axis=1) - 0.5 * (w * r * r).sum(axis=1)
    return np.asarray(ll - 0.5 * np.log(sw) if reml else ll)


def _ml_reml(
    y: FloatArray, v: FloatArray, mask: NDArray[np.bool_], reml: bool
) -> tuple[FloatArray, int]:
    """Global ML/REML maximum per row, the rule of ``_rma.ml_reml_tau2`` for arrays: scan the
    score on the grid, refine every + to - change of sign inside its bracket, keep the root or
    the boundary 0 with the highest likelihood."""
    m = y.shape[0]
    multi = mask.sum(axis=1) > 1
    ymax = np.where(mask, y, -np.inf).max(axis=1)
    ymin = np.where(mask, y, np.inf).min(axis=1)
    vmax = np.where(mask, v, 0.0).max(axis=1)
    upper = np.maximum(4 * (ymax - ymin) ** 2, 10 * vmax)
    rows_all = np.flatnonzero(multi)
    tau2 = np.zeros(m)
    if rows_all.size == 0:
        return tau2, 0
    ya, va, ma = y[rows_all], v[rows_all], mask[rows_all]
    grid = tau2_grid(np.where(ma, va, np.inf).min(axis=1), upper[rows_all])
    yc = np.where(ma, ya - (ya * ma).sum(axis=1, keepdims=True) / ma.sum(axis=1)[:, None], 0.0)
    yc = np.ascontiguousarray(yc.T)
    vinf = np.ascontiguousarray(np.where(ma, va, np.inf).T)
    prev = _score_sign(grid[:, 0], yc, vinf, reml)
    brackets: list[tuple[NDArray[np.int64], FloatArray, FloatArray]] = []
    for j in range(1, grid.shape[1]):
        cur = _score_sign(grid[:, j], yc, vinf, reml)
        sel = np.flatnonzero((prev > 0) & (cur <= 0))
        if sel.size:
            brackets.append((sel, grid[sel, j - 1], grid[sel, j]))
        prev = cur
    best_ll = _loglik(np.zeros(rows_all.size), ya, va, ma, reml)
    best = np.zeros(rows_all.size)
    it = grid.shape[1]
    if brackets:
        sel = np.concatenate([b[0] for b in brackets])
        lo = np.concatenate([b[1] for b in brackets])
        hi = np.concatenate([b[2] for b in brackets])
        root, n = _newton(ya[sel], va[sel], ma[sel], lo, hi, reml)
        it += n
        ll = _loglik(root, ya[sel], va[sel], ma[sel], reml)
        # highest likelihood per row: sort by row, then ll; the last of each row is its best root
        order = np.lexsort((ll, sel))
        sel, root, ll = sel[order], root[order], ll[order]
        last = np.r_[sel[1:] != sel[:-1], True]
        sel, root, ll = sel[last], root[last], ll[last]
        better = ll > best_ll[sel]
        best[sel[better]] = root[better]
    tau2[rows_all] = best
    return tau2, it


def _newton(
    y: FloatArray,
    v: FloatArray,
    mask: NDArray[np.bool_],
    lo: FloatArray,
    hi: FloatArray,
    reml: bool,
) -> tuple[FloatArray, int]:
    """Root of the score in [lo, hi] (score > 0 at lo, <= 0 at hi) per row: Newton steps kept
    inside the bracket and replaced by bisection when they leave it (as ``_rma.solve_score``)."""
    lo, hi = lo.copy(), hi.copy()
    tau2 = lo.copy()
    active = np.ones(tau2.shape, bool)
    it = 0
    while np.any(active) and it < _MAXITER:
        it += 1
        idx = np.flatnonzero(active)
        t = tau2[idx]
        score, info = _score(t, y[idx], v[idx], mask[idx], reml)
        lo_i = np.where(score > 0, t, lo[idx])
        hi_i = np.where(score > 0, hi[idx], t)
        new = t + score / info
        new = np.where((new <= lo_i) | (new >= hi_i), 0.5 * (lo_i + hi_i), new)
        done = (np.abs(new - t) <= _TOL * np.maximum(1.0, t)) | (
            hi_i - lo_i <= _TOL * np.maximum(1.0, hi_i)
        )
        lo[idx], hi[idx] = lo_i, hi_i
        tau2[idx] = np.maximum(new, 0.0)
        active[idx] = ~done
    if np.any(active):
        raise EvidenceError("ML/REML iterations did not converge for every row")
    return tau2, it
