"""Fixed- and random-effects models, metafor's ``rma.uni`` in Python (lifelines-style fitter).

``RMA(method="REML", test="z").fit(yi, vi)`` returns the fitter; results are attributes
(``estimate``, ``se``, ``ci_lb``, ``tau2``, ``i2`` ...) and ``summary()`` prints them.

Definitions follow metafor (Viechtbauer, J Stat Softw 2010;36(3)) so that results agree with it:

* tau^2 estimators (all truncated at 0): EE/FE (tau^2 = 0); DL (DerSimonian & Laird, Control Clin
  Trials 1986;7:177); HE (Hedges, Psychol Bull 1983); HS (Hunter & Schmidt 2004, ``(Q - k)/sum w``);
  SJ (Sidik & Jonkman, Stat Med 2005;24:3085, one step from ``var(yi)(k-1)/k``); PM (Paule &
  Mandel 1982, root of the generalised Q = k - p); ML and REML: the global maximum of the
  (restricted) likelihood (a grid scan of the score, each local maximum refined by safeguarded
  Newton steps, the boundary tau^2 = 0 compared with them).
* ``test="knha"``: Hartung & Knapp (Stat Med 2001) / Sidik & Jonkman (2002) variance adjustment
  ``s^2 = Q_gen(tau^2)/(k - p)`` (not truncated, as metafor) and t(k - p) quantiles.
* Q (Cochran), I^2 and H^2 as metafor: for random-effects models from tau^2 and the "typical"
  within-study variance ``(k - p)/tr(P)`` (Higgins & Thompson, Stat Med 2002); for EE/FE from Q.
* tau^2 confidence interval by the Q-profile method (Viechtbauer, Stat Med 2007;26:37).
* Prediction interval ``estimate +/- crit * sqrt(se^2 + tau^2)`` with the same critical value as the
  CI: **z** (normal) with ``test="z"``, **t(k - 1)** with ``test="knha"`` (metafor's ``predict``).
  Riley et al. (BMJ 2011) propose t(k - 2); pass ``pi_df="k-2"`` to get it.

Written by hand (numpy + scipy for distributions and root finding): statsmodels'
``combine_effects`` has DL ("chi2") and PM ("iterated") but no REML, ML, HE, HS or SJ, no
Q-profile interval, no moderators and no batch mode; it is used in the tests as a cross-check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats

from vertebro.errors import EvidenceError

from ._fitted import Coefficients, choice, fmt_p, level_percent, p_eq
from ._formula import model_matrix
from ._transform import back_transform, transform_name

__all__ = ["METHODS", "RMA", "coefficients", "estimate_tau2", "omnibus", "q_gen"]

FloatArray = NDArray[np.float64]
Method = Literal["EE", "FE", "DL", "HE", "HS", "SJ", "PM", "ML", "REML"]
METHODS: tuple[str, ...] = ("EE", "FE", "DL", "HE", "HS", "SJ", "PM", "ML", "REML")
TESTS: tuple[str, ...] = ("z", "knha")

_TOL = 1e-12
_MAXITER = 1000


def _p_matrix(w: FloatArray, X: FloatArray) -> FloatArray:
    """P = W - W X (X'WX)^-1 X'W (metafor's notation)."""
    W = np.diag(w)
    XtW = X.T * w
    A = XtW @ X
    return np.asarray(W - XtW.T @ np.linalg.solve(A, XtW))


def q_gen(tau2: float, yi: FloatArray, vi: FloatArray, X: FloatArray) -> float:
    """Generalised Q statistic sum w_i (y_i - x_i b)^2 with w_i = 1/(v_i + tau^2)."""
    w = 1 / (vi + tau2)
    XtW = X.T * w
    beta = np.linalg.solve(XtW @ X, XtW @ yi)
    r = yi - X @ beta
    return float(np.sum(w * r * r))


def _bracket_upper(f: Any, start: float) -> float:
    """Smallest power-of-two multiple of ``start`` where the decreasing f is negative."""
    hi = max(start, 1.0)
    for _ in range(200):
        if f(hi) < 0:
            return hi
        hi *= 2
    raise EvidenceError("tau^2 search did not find an upper bound (data may be degenerate)")


def estimate_tau2(
    yi: ArrayLike, vi: ArrayLike, method: str = "REML", X: ArrayLike | None = None
) -> tuple[float, int]:
    """Between-study variance by ``method``; returns (tau^2, iterations used)."""
    y = np.asarray(yi, float)
    v = np.asarray(vi, float)
    k = y.shape[0]
    Xm = np.ones((k, 1)) if X is None else np.asarray(X, float).reshape(k, -1)
    p = Xm.shape[1]
    m = method.upper()
    if m in ("EE", "FE") or k <= p:
        return 0.0, 0
    # Hedges (HE): OLS residuals, unbiased moment estimator; also the ML/REML start (metafor).
    P_ols = np.eye(k) - Xm @ np.linalg.solve(Xm.T @ Xm, Xm.T)
    rss_ols = float(y @ P_ols @ y)
    tau2_he = (rss_ols - float(np.trace(P_ols * v))) / (k - p)
    if m == "HE":
        return max(0.0, tau2_he), 0
    w0 = 1 / v
    P0 = _p_matrix(w0, Xm)
    Q0 = float(y @ P0 @ y)
    if m == "DL":
        return max(0.0, (Q0 - (k - p)) / float(np.trace(P0))), 0
    if m == "HS":
        return max(0.0, (Q0 - k) / float(np.sum(w0))), 0
    if m == "SJ":
        t0 = float(np.var(y))  # var(yi) * (k-1)/k
        if t0 <= 0:
            return 0.0, 0
        return max(0.0, t0 * q_gen(t0, y, v, Xm) / (k - p)), 0
    if m == "PM":
        target = k - p
        if target > Q0:
            return 0.0, 0

        def f(t: float) -> float:
            return float(q_gen(t, y, v, Xm) - target)

        hi = _bracket_upper(f, 10 * float(np.var(y)) + float(np.max(v)))
        root, res = optimize.brentq(f, 0.0, hi, xtol=1e-14, rtol=1e-14, full_output=True)
        return max(0.0, float(root)), int(res.iterations)
    if m in ("ML", "REML"):
        return ml_reml_tau2(y, v, Xm, reml=m == "REML")
    raise EvidenceError(f"method: {method!r} is not one of {', '.join(METHODS)}")


#: Points of the geometric grid on which the ML/REML score is scanned for local maxima.
GRID_POINTS = 80


def tau2_grid(vmin: ArrayLike, upper: ArrayLike) -> FloatArray:
    """Scan grid for the ML/REML score: 0, then geometric steps from 1e-3 min(v) to ``upper``.

    Below 1e-3 min(v) every weight changes by less than 0.1%, so the score cannot turn twice
    there; with the usual span of 1e3-1e5 a step is a factor 1.09-1.16. Works on arrays of rows.
    """
    lo_ = np.minimum(1e-3 * np.asarray(vmin, float), 1e-3 * np.asarray(upper, float))
    hi_ = np.asarray(upper, float)
    frac = np.linspace(0.0, 1.0, GRID_POINTS)
    geo = lo_[..., None] * (hi_ / lo_)[..., None] ** frac
    return np.concatenate([np.zeros((*geo.shape[:-1], 1)), geo], axis=-1)


def tau2_upper(yi: FloatArray, vi: FloatArray) -> float:
    """A tau^2 beyond which the intercept-only ML and REML scores are negative.

    For t >= 4 range(y)^2 each w_i r_i^2 <= 1/4, and for t >= 10 max(v) the largest weight is at
    most 1.1/k of their sum, so sum w^2 r^2 < sum w - sum w^2 / sum w <= sum w: no stationary
    point, and the likelihood falls, beyond this bound.
    """
    rng = float(np.max(yi) - np.min(yi))
    return max(4 * rng * rng, 10 * float(np.max(vi)))


def loglik(tau2: float, yi: FloatArray, vi: FloatArray, X: FloatArray, reml: bool) -> float:
    """(Restricted) log-likelihood of the normal random-effects model, constants dropped."""
    w = 1 / (vi + tau2)
    XtW = X.T * w
    A = XtW @ X
    beta = np.linalg.solve(A, XtW @ yi)
    r = yi - X @ beta
    ll = -0.5 * float(np.sum(np.log(vi + tau2))) - 0.5 * float(np.sum(w * r * r))
    if reml:
        ll -= 0.5 * float(np.linalg.slogdet(A)[1])
    return ll


def ml_reml_tau2(yi: FloatArray, vi: FloatArray, X: FloatArray, reml: bool) -> tuple[float, int]:
    """The global maximum of the (restricted) likelihood over tau^2 >= 0.

    The likelihood can have two peaks, or a peak and a higher value at tau^2 = 0, and Fisher
    scoring from one start finds only one of them. So the score is scanned on a grid
    (``tau2_grid`` up to ``tau2_upper``), every change of sign from + to - (a local maximum) is
    refined inside its bracket, and the boundary 0 and every such root are compared by their
    likelihood; the highest wins. With moderators the bound is doubled until the score is
    negative there.
    """

    def score_info(t: float) -> tuple[float, float]:
        w = 1 / (vi + t)
        P = _p_matrix(w, X)
        Py = P @ yi
        ypppy = float(Py @ P @ Py)
        if reml:
            fisher = float(np.sum(P * P))
            score = float(Py @ Py) - float(np.trace(P))
        else:
            fisher = float(np.sum(w * w))
            score = float(Py @ Py) - float(np.sum(w))
        obs = 2 * ypppy - fisher
        return score, (obs if obs > 0 else fisher)

    grid = tau2_grid(float(np.min(vi)), tau2_upper(yi, vi))
    scores = list(_scores(grid, yi, vi, X, reml))
    for _ in range(60):
        if X.shape[1] == 1 or scores[-1] <= 0:
            break
        grid = np.append(grid, 2 * grid[-1])
        scores.append(float(_scores(grid[-1:], yi, vi, X, reml)[0]))
    best, best_ll, its = 0.0, loglik(0.0, yi, vi, X, reml), len(grid)
    for j in range(len(grid) - 1):
        if scores[j] > 0 >= scores[j + 1]:
            t, it = solve_score(score_info, float(grid[j]), float(grid[j]), float(grid[j + 1]))
            its += it
            ll = loglik(t, yi, vi, X, reml)
            if ll > best_ll:
                best, best_ll = t, ll
    return best, its


def _scores(
    grid: FloatArray, yi: FloatArray, vi: FloatArray, X: FloatArray, reml: bool
) -> FloatArray:
    """The ML/REML score at every tau^2 of ``grid`` at once: with r = y - X b(t),
    y'PPy = sum (w r)^2, tr(P) = sum w - tr((X'WX)^-1 X'W^2X)."""
    W = 1 / (vi[None, :] + grid[:, None])
    A = np.einsum("gk,ki,kj->gij", W, X, X)
    beta = np.linalg.solve(A, np.einsum("gk,ki,k->gi", W, X, yi)[..., None])[..., 0]
    wr = W * (yi[None, :] - beta @ X.T)
    score = np.sum(wr * wr, axis=1) - np.sum(W, axis=1)
    if reml:
        B = np.einsum("gk,ki,kj->gij", W * W, X, X)
        score += np.trace(np.linalg.solve(A, B), axis1=1, axis2=2)
    return np.asarray(score)


def solve_score(
    score_info: Any, start: float, lo: float = 0.0, hi: float = math.inf
) -> tuple[float, int]:
    """Root of the ML/REML score in the bracket [lo, hi] (score > 0 at lo, <= 0 at hi).

    Newton steps with the observed information (Fisher's expected information where the observed
    one is not positive), kept inside the bracket and replaced by bisection when they leave
    it: plain Fisher scoring can oscillate for a long time.
    """
    t = start
    for it in range(1, _MAXITER + 1):
        s, info = score_info(t)
        if s > 0:
            lo = t
        else:
            hi = t
        new = t + s / info
        if new <= lo or new >= hi:
            new = 0.5 * (lo + hi)
        if abs(new - t) <= _TOL * max(1.0, t) or hi - lo <= _TOL * max(1.0, hi):
            return max(0.0, new), it
        t = new
    raise EvidenceError(f"Fisher scoring did not converge in {_MAXITER} iterations")


def _se_tau2(method: str, tau2: float, y: FloatArray, v: FloatArray, X: FloatArray) -> float:
    """Standard error of the tau^2 estimate, with metafor's formula for each estimator."""
    k, p = X.shape
    if method in ("EE", "FE") or k <= p:
        return math.nan
    t = max(tau2, 0.0)
    if method in ("DL", "HS"):
        w = 1 / v
        P = _p_matrix(w, X)
        trP, sPP = float(np.trace(P)), float(np.sum(P * P))
        denom = trP if method == "DL" else float(np.sum(w))
        return math.sqrt((2 * (k - p) + 4 * t * trP + 2 * t * t * sPP) / denom**2)
    if method == "HE":
        P = np.eye(k) - X @ np.linalg.solve(X.T @ X, X.T)
        PV = P * v  # P @ diag(v)
        return math.sqrt(
            (2 * float(np.sum(PV * PV.T)) + 4 * t * float(np.trace(PV)) + 2 * t * t * (k - p))
            / (k - p) ** 2
        )
    if method == "SJ":
        t0 = float(np.var(y))
        P = _p_matrix(1 / (v + t0), X)
        PV = P * v
        return math.sqrt(
            t0**2
            / (k - p) ** 2
            * (
                2 * float(np.sum(PV * PV.T))
                + 4 * t * float(np.sum(PV * P))
                + 2 * t * t * float(np.sum(P * P))
            )
        )
    w = 1 / (v + tau2)
    if method == "ML":
        return math.sqrt(2 / float(np.sum(w * w)))
    if method == "REML":
        P = _p_matrix(w, X)
        return math.sqrt(2 / float(np.sum(P * P)))
    # PM
    return math.sqrt(2 * k * k / (k - p) / float(np.sum(w)) ** 2)


def tau2_qprofile(
    yi: FloatArray, vi: FloatArray, X: FloatArray, level: float = 95.0
) -> tuple[float, float]:
    """Q-profile confidence interval for tau^2 (Viechtbauer 2007), as metafor's ``confint``."""
    k, p = X.shape
    df = k - p
    if df < 1:
        return (math.nan, math.nan)
    alpha = 1 - level / 100
    q0 = q_gen(0.0, yi, vi, X)
    bounds: list[float] = []
    for crit in (stats.chi2.ppf(1 - alpha / 2, df), stats.chi2.ppf(alpha / 2, df)):
        if q0 < crit:
            bounds.append(0.0)
            continue

        def f(t: float, c: float = float(crit)) -> float:
            return q_gen(t, yi, vi, X) - c

        hi = _bracket_upper(f, 10 * float(np.var(yi)) + float(np.max(vi)))
        bounds.append(float(optimize.brentq(f, 0.0, hi, xtol=1e-14, rtol=1e-14)))
    return bounds[0], bounds[1]


def coefficients(
    y: FloatArray, v: FloatArray, X: FloatArray, tau2: float, knha: bool
) -> tuple[FloatArray, FloatArray, float]:
    """Weighted least squares at ``tau2``: (beta, its covariance, the Knapp-Hartung s^2).

    Under Knapp-Hartung the covariance is multiplied by s^2 = Q_gen(tau^2)/(k - p), not
    truncated at 1 (as metafor); s^2 is 1 otherwise.
    """
    w = 1 / (v + tau2)
    XtW = X.T * w
    vb = np.asarray(np.linalg.inv(XtW @ X), float)
    beta = vb @ (XtW @ y)
    s2w = 1.0
    if knha:
        r = kh_residuals(y - X @ beta, y)
        s2w = float(np.sum(w * r * r)) / (X.shape[0] - X.shape[1])
        vb = vb * s2w
        if s2w == 0:
            # an exact fit (identical effects): slopes at rounding level are 0, so their
            # statistic is 0/0 = NaN (unknown), not the +-inf that the sign of the noise gives
            # (a coefficient whose largest contribution to the fitted values is rounding)
            tiny = 100 * np.finfo(float).eps * max(1.0, float(np.max(np.abs(y))))
            beta = np.where(np.abs(beta) * np.max(np.abs(X), axis=0) <= tiny, 0.0, beta)
    return beta, vb, s2w


def omnibus(beta: FloatArray, vb: FloatArray, df: int, knha: bool) -> tuple[float, float]:
    """metafor's test of moderators (coefficients 2:p; the intercept alone when p = 1).

    Wald QM = b' V^-1 b ~ chi^2(m); under Knapp-Hartung QM/m ~ F(m, k - p) as metafor prints
    it (Knapp & Hartung, Stat Med 2003;22:2693).
    """
    sel = slice(1, None) if beta.shape[0] > 1 else slice(0, 1)
    b = beta[sel]
    m = b.shape[0]
    try:
        qm = float(b @ np.linalg.solve(vb[sel, sel], b))
    except np.linalg.LinAlgError:  # se = 0 (identical effects under Knapp-Hartung)
        qm = math.inf if np.any(b != 0) else math.nan
    if knha:
        f = qm / m
        return f, float(stats.f.sf(f, m, df))
    return qm, float(stats.chi2.sf(qm, m))


def kh_residuals(r: FloatArray, y: FloatArray) -> FloatArray:
    """Residuals for the Knapp-Hartung s^2, those at rounding level set to exactly 0.

    With identical effects the weighted mean equals them and s^2 = 0, so se = 0 and the test
    statistic is +-inf, as metafor reports; the mean's rounding (~1e-17) would otherwise give
    se ~ 1e-17 and a huge finite statistic (1.5e16) that claims a precision nobody measured.
    Rows of a 2-D ``y`` (the batch) are scaled each by their own largest |y|.
    """
    scale = np.maximum(1.0, np.max(np.abs(y), axis=-1, keepdims=True))
    return np.where(np.abs(r) <= 100 * np.finfo(float).eps * scale, 0.0, r)


def _r2_common(y: FloatArray, v: FloatArray, X: FloatArray) -> float:
    """R^2 of a common-effect meta-regression as metafor 3.8 prints it: the adjusted R^2 of the
    weighted least-squares fit (weights 1/v), in percent, floored at 0 (0 when all y are equal).
    There is no tau^2 to explain here, so it measures explained variation of the effects."""
    if np.ptp(y) == 0:
        return 0.0
    w = 1 / v
    XtW = X.T * w
    beta = np.linalg.solve(XtW @ X, XtW @ y)
    rss = float(np.sum(w * (y - X @ beta) ** 2))
    mu = float(np.sum(w * y) / np.sum(w))
    tss = float(np.sum(w * (y - mu) ** 2))
    k, p = X.shape
    adj = 1 - (rss / (k - p)) / (tss / (k - 1))
    return float(max(0.0, 100 * adj))


def _nan_to_none(x: float) -> float | None:
    return None if (x is None or not math.isfinite(x)) else float(x)


class RMA(Coefficients):
    """Fixed- or random-effects meta-analysis, optionally with moderators (meta-regression).

    Parameters
    ----------
    method
        tau^2 estimator, metafor's codes: EE/FE, DL, HE, HS, SJ, PM, ML, REML (default).
    test
        ``"z"`` (normal) or ``"knha"`` (Hartung-Knapp-Sidik-Jonkman, t distribution).
    level
        Confidence level in percent.
    pi_df
        ``None`` (metafor: z for test="z", t(k-1) for knha) or ``"k-2"``
        (Higgins et al. 2009; Riley et al. 2011).

    Examples
    --------
    >>> res = RMA(method="DL").fit([-0.9, -1.6, -1.4], [0.36, 0.19, 0.42])
    >>> round(res.estimate, 4)
    -1.3276
    """

    def __init__(
        self,
        method: str = "REML",
        test: str = "z",
        level: float = 95.0,
        pi_df: str | None = None,
    ) -> None:
        m = choice("method", method, METHODS)
        t = choice("test", test, TESTS, upper=False)
        level = level_percent(level)
        if pi_df not in (None, "k-2"):
            raise EvidenceError(f"pi_df: {pi_df!r} must be None or 'k-2'")
        self.method = m
        self.test = t
        self.level = float(level)
        self.pi_df = pi_df
        self._fitted = False

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        yi: ArrayLike,
        vi: ArrayLike,
        *,
        mods: ArrayLike | str | None = None,
        data: Mapping[str, Sequence[object]] | None = None,
        measure: str = "GEN",
        ni: ArrayLike | None = None,
        slab: Sequence[str] | None = None,
    ) -> RMA:
        """Fit the model to effects ``yi`` with sampling variances ``vi``; returns ``self``.

        ``mods`` is an array of moderator values (one column per moderator) or an R formula
        over the columns of ``data`` (``"~ ablat + factor(alloc)"``, see ``model_matrix``).
        """
        y = np.atleast_1d(np.asarray(yi, float))
        v = np.atleast_1d(np.asarray(vi, float))
        if y.ndim != 1 or y.shape != v.shape:
            raise EvidenceError("yi and vi: must be one-dimensional and of the same length")
        k = int(y.shape[0])
        if k < 1:
            raise EvidenceError("no studies to pool (k = 0)")
        if not (np.all(np.isfinite(y)) and np.all(np.isfinite(v))):
            raise EvidenceError("yi and vi: must be finite numbers (check for zero cells or n)")
        if np.any(v <= 0):
            raise EvidenceError("vi: sampling variances must be > 0")
        X = np.ones((k, 1))
        names: tuple[str, ...] = ()
        if isinstance(mods, str):
            if data is None:
                raise EvidenceError(f"mods: the formula {mods!r} needs data= (its columns)")
            design = model_matrix(mods, data)
            if design.X.shape[0] != k:
                raise EvidenceError(
                    f"data: columns have {design.X.shape[0]} rows, yi has {k} studies"
                )
            mods, names = design.X, design.names
        if mods is not None:
            x = np.asarray(mods, float).reshape(k, -1)
            names = names or tuple(f"mod{j}" for j in range(1, x.shape[1] + 1))
            if not np.all(np.isfinite(x)):
                raise EvidenceError("mods: moderator values must be finite")
            X = np.column_stack([X, x])
        p = X.shape[1]
        if k <= p and p > 1:
            raise EvidenceError(f"meta-regression needs more studies than coefficients (k = {k})")
        if p > 1 and (rank := int(np.linalg.matrix_rank(X))) < p:
            raise EvidenceError(
                f"mods: the moderators are collinear ({p} coefficients, rank {rank}): one is "
                "constant in these studies or a combination of the others"
            )

        self.k, self.p = k, p
        self.coef_names = ("intrcpt", *names)
        self.yi, self.vi, self.X = y, v, X
        self.measure = measure.upper()
        self.ni = None if ni is None else np.asarray(ni, float)
        self.slab = list(slab) if slab is not None else [str(i + 1) for i in range(k)]

        method = self.method if k > 1 else "EE"
        self.tau2, self.iterations = estimate_tau2(y, v, method, X)
        w = 1 / (v + self.tau2)
        df = k - p
        self.df = df
        use_t = self.test == "knha" and df >= 1
        beta, vb, self.s2w = coefficients(y, v, X, self.tau2, use_t)
        self.dist = f"t({df})" if use_t else "z"
        alpha = 1 - self.level / 100
        crit = (
            float(stats.t.ppf(1 - alpha / 2, df)) if use_t else float(stats.norm.ppf(1 - alpha / 2))
        )
        self.crit = crit
        se = np.sqrt(np.diag(vb))
        self.beta, self.se_beta, self.vb = beta, se, vb
        with np.errstate(divide="ignore", invalid="ignore"):
            # identical effects under Knapp-Hartung: s^2 = 0, se = 0, |stat| = inf (as metafor)
            stat = beta / se
        pv = 2 * (stats.t.sf(np.abs(stat), df) if use_t else stats.norm.sf(np.abs(stat)))
        self.stat_beta, self.pval_beta = stat, pv
        self.ci_lb_beta, self.ci_ub_beta = beta - crit * se, beta + crit * se
        self.weights = 100 * w / np.sum(w)

        # heterogeneity
        w0 = 1 / v
        P0 = _p_matrix(w0, X)
        self.q = max(0.0, float(y @ P0 @ y))
        self.q_df = df
        self.q_pval = float(stats.chi2.sf(self.q, df)) if df >= 1 else 1.0
        if df < 1:
            # metafor: with k <= p there is no heterogeneity to measure (QE 0, p 1, I^2 0, H^2 1)
            self.q = 0.0
            self.i2, self.h2 = 0.0, 1.0
            self.vt = math.nan
        elif method in ("EE", "FE"):
            self.i2 = max(0.0, 100 * (self.q - df) / self.q) if self.q > 0 else 0.0
            self.h2 = self.q / df
            self.vt = math.nan
        else:
            self.vt = df / float(np.trace(P0))
            self.i2 = 100 * self.tau2 / (self.vt + self.tau2)
            self.h2 = self.tau2 / self.vt + 1
        if df >= 1 and method not in ("EE", "FE"):
            self.tau2_ci = tau2_qprofile(y, v, X, self.level)
            self.i2_ci = tuple(100 * t / (self.vt + t) for t in self.tau2_ci)
            self.h2_ci = tuple(t / self.vt + 1 for t in self.tau2_ci)
        else:
            self.tau2_ci = (math.nan, math.nan)
            self.i2_ci = (math.nan, math.nan)
            self.h2_ci = (math.nan, math.nan)

        self.se_tau2 = _se_tau2(method, self.tau2, y, v, X)

        # moderators: omnibus test of the slopes (QM) and pseudo R^2 (Raudenbush 1994, metafor);
        # for a common-effect model metafor's R^2 is the adjusted R^2 of weighted least squares
        self.r2 = math.nan
        if p > 1:
            if method not in ("EE", "FE"):
                tau2_re, _ = estimate_tau2(y, v, method)
                self.r2 = max(0.0, 100 * (tau2_re - self.tau2) / tau2_re) if tau2_re > 0 else 0.0
            else:
                self.r2 = _r2_common(y, v, X)
            self.qm, self.qm_pval = omnibus(beta, vb, df, use_t)
            self.qm_df: tuple[int, ...] = (p - 1, df) if use_t else (p - 1,)
        else:
            self.qm = self.qm_pval = math.nan
            self.qm_df = ()

        # prediction interval (for the intercept-only model, or at moderator value 0)
        if self.pi_df == "k-2" and k >= 3:
            pcrit = float(stats.t.ppf(1 - alpha / 2, k - 2))
            self.pi_dist = f"t({k - 2})"
        else:
            pcrit = crit
            self.pi_dist = self.dist
        pse = math.sqrt(float(se[0]) ** 2 + self.tau2)
        self.pi_lb = float(beta[0]) - pcrit * pse
        self.pi_ub = float(beta[0]) + pcrit * pse
        if method in ("EE", "FE"):
            # a common-effect model assumes one true effect: no prediction interval (metafor's
            # predict() gives none either)
            self.pi_lb = self.pi_ub = math.nan
        self._fitted = True
        return self

    # ------------------------------------------------------------ results
    @property
    def tau(self) -> float:
        return math.sqrt(self.tau2)

    @property
    def transformed(self) -> dict[str, Any] | None:
        """Back-transformed estimate, CI and PI (RR, OR, PLO, PAS, PFT); None otherwise."""
        self._check()
        name = transform_name(self.measure)
        if name is None:
            return None
        if self.measure == "PFT" and self.ni is None:
            raise EvidenceError("PFT back-transformation needs the study sample sizes (ni)")
        vals = back_transform(
            self.measure,
            np.array([self.estimate, self.ci_lb, self.ci_ub, self.pi_lb, self.pi_ub]),
            self.ni,
        )
        return {
            "scale": name,
            "estimate": float(vals[0]),
            "ci": [float(vals[1]), float(vals[2])],
            "pi": [_nan_to_none(float(vals[3])), _nan_to_none(float(vals[4]))],
        }

    def to_dict(self) -> dict[str, Any]:
        """Results as plain JSON-ready values (NaN becomes None)."""
        self._check()
        out: dict[str, Any] = {
            "k": self.k,
            "measure": self.measure,
            "method": self.method,
            "test": self.test,
            "level": self.level,
            **self._estimate_dict(self.dist),
            "tau2": self.tau2,
            "tau2_ci": [_nan_to_none(t) for t in self.tau2_ci],
            "se_tau2": _nan_to_none(self.se_tau2),
            "tau": self.tau,
            "i2": _nan_to_none(self.i2),
            "i2_ci": [_nan_to_none(t) for t in self.i2_ci],
            "h2": _nan_to_none(self.h2),
            "q": self.q,
            "q_df": self.q_df,
            "q_pval": _nan_to_none(self.q_pval),
            "pi": [_nan_to_none(self.pi_lb), _nan_to_none(self.pi_ub)],
            "pi_dist": self.pi_dist if math.isfinite(self.pi_lb) else None,
        }
        if self.p > 1:
            out["coefficients"] = [
                {
                    "name": self.coef_names[j],
                    "estimate": float(self.beta[j]),
                    "se": float(self.se_beta[j]),
                    "stat": float(self.stat_beta[j]),
                    "pval": float(self.pval_beta[j]),
                    "ci": [float(self.ci_lb_beta[j]), float(self.ci_ub_beta[j])],
                }
                for j in range(self.p)
            ]
            out["qm"] = self.qm
            out["qm_df"] = list(self.qm_df)
            out["qm_pval"] = self.qm_pval
            out["r2"] = _nan_to_none(self.r2)
        tr = self.transformed if self.measure != "PFT" or self.ni is not None else None
        if tr is not None:
            out["transformed"] = tr
        out["studies"] = [
            {"study": s, "yi": float(a), "vi": float(b), "weight": float(c)}
            for s, a, b, c in zip(self.slab, self.yi, self.vi, self.weights, strict=True)
        ]
        return out

    def summary(self) -> str:
        """A plain-text summary in the layout of metafor's ``print.rma.uni``."""
        self._check()
        if self.method in ("EE", "FE"):
            model = "Common-effect model" if self.p == 1 else "Common-effect meta-regression"
        else:
            kind = "Random-effects model" if self.p == 1 else "Mixed-effects meta-regression"
            model = f"{kind} (tau^2 estimator: {self.method})"
        if self.k == 1:
            model = "One study, nothing pooled"
        lines = [f"{model}, k = {self.k}, measure {self.measure}", ""]
        if self.method not in ("EE", "FE") and self.k > 1:
            lo, hi = self.tau2_ci
            lines.append(
                f"tau^2 = {self.tau2:.4f} (SE = {self.se_tau2:.4f}) [{lo:.4f}, {hi:.4f}] "
                f"(Q-profile); tau = {self.tau:.4f}"
            )
        if self.k > 1:
            lines.append(f"I^2 = {self.i2:.2f}%; H^2 = {self.h2:.2f}")
            lines.append(
                f"Test for heterogeneity: Q({self.q_df}) = {self.q:.4f}, {p_eq(self.q_pval)}"
            )
        if self.p > 1:
            test = (
                f"F(df1 = {self.qm_df[0]}, df2 = {self.qm_df[1]})"
                if len(self.qm_df) == 2
                else f"QM(df = {self.qm_df[0]})"
            )
            lines.append(
                f"Test of moderators (coefficients 2:{self.p}): {test} = {self.qm:.4f}, "
                f"{p_eq(self.qm_pval)}"
            )
            if math.isfinite(self.r2) and self.method in ("EE", "FE"):
                lines.append(f"R^2 (adjusted, weighted least squares; metafor) = {self.r2:.2f}%")
            elif math.isfinite(self.r2):
                lines.append(f"R^2 (heterogeneity accounted for) = {self.r2:.2f}%")
        lines.append("")
        stat = "t" if self.dist.startswith("t") else "z"
        # columns as wide as their widest value (+ 1 space), at least metafor's widths
        heads = ["estimate", "se", stat + "val", "pval", "ci.lb", "ci.ub"]
        cells = [
            [
                f"{self.beta[j]:.4f}",
                f"{self.se_beta[j]:.4f}",
                f"{self.stat_beta[j]:.4f}",
                fmt_p(float(self.pval_beta[j])),
                f"{self.ci_lb_beta[j]:.4f}",
                f"{self.ci_ub_beta[j]:.4f}",
            ]
            for j in range(self.p)
        ]
        mins = (10, 9, 9, 9, 10, 10)
        widths = [
            max(mins[c], 1 + max(len(row[c]) for row in cells), 1 + len(heads[c]))
            for c in range(len(heads))
        ]
        width = max(10, 1 + max(len(n) for n in self.coef_names))
        lines.append(" " * width + "".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True)))
        for name, row in zip(self.coef_names, cells, strict=True):
            lines.append(
                f"{name:{width}}" + "".join(f"{c:>{w}}" for c, w in zip(row, widths, strict=True))
            )
        lines.append("")
        # metafor prints no prediction interval or back-transform for a meta-regression (they
        # would be at moderator values 0, which may be far outside the data)
        has_pi = math.isfinite(self.pi_lb) and self.p == 1
        if has_pi:
            lines.append(
                f"Prediction interval ({self.pi_dist}): [{self.pi_lb:.4f}, {self.pi_ub:.4f}]"
            )
        tr = self.transformed if self.measure != "PFT" or self.ni is not None else None
        if tr is not None and self.p == 1:
            pi = f", PI [{tr['pi'][0]:.4f}, {tr['pi'][1]:.4f}]" if has_pi else ""
            lines.append(
                f"Back-transformed ({tr['scale']}): {tr['estimate']:.4f} "
                f"[{tr['ci'][0]:.4f}, {tr['ci'][1]:.4f}]{pi}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        if not self._fitted:
            return f"RMA(method={self.method!r}, test={self.test!r})"
        return (
            f"RMA(method={self.method!r}, test={self.test!r}, k={self.k}, "
            f"estimate={self.estimate:.4f}, tau2={self.tau2:.4f})"
        )

