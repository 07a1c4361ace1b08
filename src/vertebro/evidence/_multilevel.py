"""Multilevel random-effects model for several estimates nested in one study (metafor's ``rma.mv``).

``RMAMV(method="REML").fit(yi, vi, study=..., estimate=...)`` fits metafor's
``rma.mv(yi, vi, random = ~ 1 | study/estimate)``: each estimate j of study i is
``y_ij = x_ij'b + u_i + e_ij + eps_ij`` with ``u_i ~ N(0, sigma2[0])`` shared by the estimates of
a study, ``e_ij ~ N(0, sigma2[1])`` for each estimate and the known sampling error
``eps_ij ~ N(0, v_ij)``. The use case is a study that reports an outcome at several follow-up
intervals (Sorensen-SpineJ-2019, Table 2): its estimates are not independent, and pooling them as
if they were overstates the precision.

Definitions follow metafor (Viechtbauer, J Stat Softw 2010;36(3)) and the three-level model of
Konstantopoulos (Res Synth Methods 2011;2:61):

* ML and REML log-likelihoods as metafor's ``fit.stats`` (the REML one with metafor's
  ``REMLf = TRUE`` term ``+ log|X'X| / 2``), beta by generalised least squares at the estimated
  variance components, ``vb = (X'V^-1 X)^-1``.
* ``test="t"``: t(k - p) quantiles and p-values, no variance adjustment (rma.mv's ``test="t"`` with
  ``dfs="residual"``; unlike rma.uni's Knapp-Hartung it does not rescale ``vb``).
* Q test of heterogeneity: ``QE = sum (y - X b_FE)^2 / v`` on k - p df, as rma.mv computes it.
* Prediction interval ``b +/- crit sqrt(se^2 + sigma2[0] + sigma2[1])`` (metafor's ``predict``).
* A factor with one level (one study) has its component fixed to 0, as metafor does; either
  component can be fixed at a value (``sigma2=(None, 0.1)``, metafor's ``sigma2 = c(NA, 0.1)``).

The optimisation is profile-safe: either component may lie on the boundary 0, and the
likelihood surface can have a ridge or a second peak, so the (restricted) log-likelihood is
evaluated on a bounded grid (0 and geometric steps in each component), and projected Newton
steps (observed information, Fisher's expected information where the observed one is not
positive definite, halved until the likelihood rises) are run from the grid's best point, from
the best point of each boundary face and from (0, 0); the highest of them is returned.

V is block-diagonal by study, so every likelihood, score and information is a sum over study
blocks (stacked and padded to one size for numpy's batched linear algebra), and the cost grows
with the number of studies times the cube of the largest block, not with k^3.

Written by hand (numpy + scipy): statsmodels' ``MixedLM`` estimates a residual variance where a
meta-analysis has known sampling variances, so it cannot fit this model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from vertebro.errors import EvidenceError

from ._fitted import Coefficients, choice, fmt_p, level_percent, p_eq
from ._transform import back_transform, transform_name

__all__ = ["RMAMV"]

FloatArray = NDArray[np.float64]
METHODS: tuple[str, ...] = ("ML", "REML")
TESTS: tuple[str, ...] = ("z", "t")

#: grid points per variance component (0 plus geometric steps); 24 x 24 evaluations of the
#: likelihood, each a Cholesky factorisation of V
GRID_POINTS = 24
_TOL = 1e-13
_MAXITER = 500
_LOG2PI = math.log(2 * math.pi)


def _indicator(labels: Sequence[Any]) -> tuple[FloatArray, int]:
    """Indicator matrix Z (k x levels) of a factor and its number of levels."""
    codes: dict[Any, int] = {}
    idx = np.array([codes.setdefault(lab, len(codes)) for lab in labels])
    Z = np.zeros((len(labels), len(codes)))
    Z[np.arange(len(labels)), idx] = 1.0
    return Z, len(codes)


class _Model:
    """The likelihood of one dataset as a function of the two variance components.

    V is block-diagonal by study, so the log-likelihood alone (the grid and the line searches)
    is computed on the stacked study blocks, padded to one size (padding: variance 1, y and X
    0, which adds nothing); the score and information use the dense k x k matrices.
    """

    def __init__(
        self,
        y: FloatArray,
        v: FloatArray,
        X: FloatArray,
        Z1: FloatArray,
        Z2: FloatArray,
        reml: bool,
    ) -> None:
        self.y, self.v, self.X, self.reml = y, v, X, reml
        self.k, self.p = int(X.shape[0]), int(X.shape[1])
        self.logdet_xx = float(np.linalg.slogdet(X.T @ X)[1])
        study = np.argmax(Z1, axis=1)
        pair = np.argmax(Z2, axis=1)
        n_s = Z1.shape[1]
        size = np.bincount(study, minlength=n_s)
        m = int(size.max())
        pos = np.zeros(self.k, dtype=int)
        seen = np.zeros(n_s, dtype=int)
        for i, st in enumerate(study):
            pos[i] = seen[st]
            seen[st] += 1
        self.Yb = np.zeros((n_s, m))
        self.Xb = np.zeros((n_s, m, self.p))
        self.V0 = np.tile(np.eye(m), (n_s, 1, 1))
        self.G1b = np.zeros((n_s, m, m))
        self.G2b = np.zeros((n_s, m, m))
        self.Yb[study, pos] = y
        self.Xb[study, pos] = X
        self.V0[study, pos, pos] = v
        for i in range(self.k):
            same = study == study[i]
            self.G1b[study[i], pos[i], pos[same]] = 1.0
            self.G2b[study[i], pos[i], pos[same & (pair == pair[i])]] = 1.0

    def parts(self, s: FloatArray) -> dict[str, Any]:
        """GLS fit at ``s``: per-study W_i = V_i^-1, W_i X_i, (X'WX)^-1, beta, P y, loglik."""
        V = self.V0 + s[0] * self.G1b + s[1] * self.G2b
        W = np.linalg.inv(V)
        logdet_v = float(np.sum(np.linalg.slogdet(V)[1]))
        WX = W @ self.Xb
        Wy = np.einsum("smk,sk->sm", W, self.Yb)
        A = np.einsum("smp,smq->pq", self.Xb, WX)
        c = np.einsum("smp,sm->p", self.Xb, Wy)
        Ainv = np.linalg.inv(A)
        beta = Ainv @ c
        rb = self.Yb - self.Xb @ beta
        Py = np.einsum("smk,sk->sm", W, rb)  # P y = W r
        ll = self._ll(logdet_v, float(np.linalg.slogdet(A)[1]), float(np.sum(rb * Py)))
        return {"ll": ll, "W": W, "WX": WX, "Ainv": Ainv, "Py": Py, "beta": beta, "vb": Ainv}

    def _ll(self, logdet_v: float, logdet_a: float, rss: float) -> float:
        if self.reml:
            return (
                -0.5 * (self.k - self.p) * _LOG2PI
                + 0.5 * self.logdet_xx
                - 0.5 * logdet_v
                - 0.5 * logdet_a
                - 0.5 * rss
            )
        return -0.5 * self.k * _LOG2PI - 0.5 * logdet_v - 0.5 * rss

    def loglik(self, s: FloatArray) -> float:
        """The (restricted) log-likelihood at ``s`` (Cholesky only: the grid's workhorse)."""
        V = self.V0 + s[0] * self.G1b + s[1] * self.G2b
        L = np.linalg.cholesky(V)
        rhs = np.concatenate([self.Yb[..., None], self.Xb], axis=2)
        sol = np.linalg.solve(V, rhs)  # V_i^-1 [y_i, X_i]
        Wy, WX = sol[..., 0], sol[..., 1:]
        A = np.einsum("smp,smq->pq", self.Xb, WX)
        c = np.einsum("smp,sm->p", self.Xb, Wy)
        beta = np.linalg.solve(A, c)
        rss = float(np.sum(self.Yb * Wy) - beta @ c)
        logdet_v = 2 * float(np.sum(np.log(np.diagonal(L, axis1=1, axis2=2))))
        return self._ll(logdet_v, float(np.linalg.slogdet(A)[1]), rss)

    def score_info(self, s: FloatArray) -> tuple[float, FloatArray, FloatArray, FloatArray]:
        """log-likelihood, score, observed and expected information at ``s``.

        With P = W - U, U = WX (X'WX)^-1 X'W, and G_j the block-diagonal design of component j:
        score_j = (y'P G_j P y - tr(Q G_j)) / 2 and expected information tr(Q G_a Q G_b) / 2
        (Q = P for REML, W for ML); observed information y'P G_a P G_b P y - tr(Q G_a Q G_b)/2.
        Every trace is a sum over the study blocks plus p x p corrections for U.
        """
        q = self.parts(s)
        W, WX, Ainv, Py = q["W"], q["WX"], q["Ainv"], q["Py"]
        Gs = (self.G1b, self.G2b)
        g = [np.einsum("smk,sk->sm", G, Py) for G in Gs]  # G_j P y
        WG = [W @ G for G in Gs]
        B = [np.einsum("smp,smk,skq->pq", WX, G, WX) for G in Gs]  # X'W G_j W X
        WXg = [np.einsum("smp,sm->p", WX, gj) for gj in g]
        score = np.empty(2)
        fisher = np.empty((2, 2))
        obs = np.empty((2, 2))
        for a in range(2):
            tr_q = float(np.einsum("smm->", WG[a]))
            if self.reml:
                tr_q -= float(np.trace(Ainv @ B[a]))
            score[a] = 0.5 * float(np.sum(Py * g[a])) - 0.5 * tr_q
            for b in range(2):
                tqq = float(np.einsum("smk,skm->", WG[a], WG[b]))
                if self.reml:
                    C_ab = np.einsum("smp,smk,skq->pq", WX, Gs[a] @ WG[b], WX)
                    C_ba = np.einsum("smp,smk,skq->pq", WX, Gs[b] @ WG[a], WX)
                    tqq += float(
                        -np.trace(Ainv @ C_ab)
                        - np.trace(Ainv @ C_ba)
                        + np.trace(Ainv @ B[a] @ Ainv @ B[b])
                    )
                fisher[a, b] = 0.5 * tqq
                gpg = float(np.einsum("sm,smk,sk->", g[a], W, g[b])) - float(WXg[a] @ Ainv @ WXg[b])
                obs[a, b] = gpg - 0.5 * tqq
        return float(q["ll"]), score, obs, fisher


def _newton(model: _Model, start: FloatArray, free: NDArray[np.bool_]) -> tuple[FloatArray, int]:
    """Projected Newton ascent from ``start`` over the components marked ``free`` (>= 0); the
    others keep their value in ``start``."""
    s = start.astype(float)
    for it in range(1, _MAXITER + 1):
        ll, g, obs, fisher = model.score_info(s)
        # a component at 0 whose score points down stays there (Karush-Kuhn-Tucker)
        act = free & ~((s <= 0) & (g <= 0))
        if not act.any():
            return s, it
        ia = np.flatnonzero(act)
        H = obs[np.ix_(ia, ia)]
        if np.any(np.linalg.eigvalsh(H) <= 0):
            H = fisher[np.ix_(ia, ia)]
        step = np.zeros(2)
        step[ia] = np.linalg.solve(H, g[ia])
        lam = 1.0
        for _ in range(60):
            new = np.maximum(s + lam * step, 0.0)
            if model.loglik(new) >= ll - 1e-12 * abs(ll):
                break
            lam *= 0.5
        else:
            return s, it
        done = np.all(np.abs(new - s) <= _TOL * np.maximum(1.0, s))
        s = new
        if done:
            return s, it
    raise EvidenceError(f"rma.mv: the variance components did not converge in {_MAXITER} steps")


def estimate_sigma2(model: _Model, fixed: FloatArray) -> tuple[FloatArray, int]:
    """Global maximum of the (restricted) likelihood over sigma2 >= 0; components with a
    number in ``fixed`` are held at it (NaN: estimated)."""
    y, v = model.y, model.v
    top = max(4 * float(np.ptp(y)) ** 2, 10 * float(np.max(v)), 1e-8)
    lo = 1e-3 * min(float(np.min(v)), top)
    axis = np.concatenate([[0.0], lo * (top / lo) ** np.linspace(0, 1, GRID_POINTS - 1)])
    free = np.isnan(fixed)
    a0 = axis if free[0] else fixed[:1]
    a1 = axis if free[1] else fixed[1:]
    ll = np.array([[model.loglik(np.array([s0, s1])) for s1 in a1] for s0 in a0])
    top0, top1 = np.unravel_index(int(np.argmax(ll)), ll.shape)
    starts = [
        (int(top0), int(top1)),
        (0, int(np.argmax(ll[0, :]))),  # best with sigma2[0] = 0 (or its fixed value)
        (int(np.argmax(ll[:, 0])), 0),  # best with sigma2[1] = 0
    ]
    best, best_ll, its = np.zeros(2), -math.inf, ll.size
    for i0, i1 in dict.fromkeys(starts):
        start = np.array([a0[i0], a1[i1]])
        face = free & (start > 0)  # a start on a face explores that face
        for cand_free in (free, face):
            s, it = _newton(model, start, cand_free)
            its += it
            val = model.loglik(s)
            if val > best_ll:
                best, best_ll = s, val
    corner = np.where(free, 0.0, fixed)
    if model.loglik(corner) > best_ll:
        best = corner
    return best, its


class RMAMV(Coefficients):
    """Multilevel random-effects model ``random = ~ 1 | study/estimate`` (metafor's ``rma.mv``).

    Parameters
    ----------
    method
        ``"REML"`` (default) or ``"ML"``.
    test
        ``"z"`` (normal) or ``"t"`` (t distribution with k - p degrees of freedom, as metafor).
    level
        Confidence level in percent.

    References
    ----------
    Konstantopoulos S. Fixed effects and variance components estimation in three-level
    meta-analysis. Res Synth Methods 2011;2(1):61-76. doi:10.1002/jrsm.35
    Viechtbauer W. Conducting meta-analyses in R with the metafor package. J Stat Softw
    2010;36(3):1-48. doi:10.18637/jss.v036.i03

    Examples
    --------
    >>> res = RMAMV().fit([0.1, 0.3, 0.2, 0.6, 0.5], [0.02, 0.03, 0.02, 0.04, 0.03],
    ...                   study=["a", "a", "b", "b", "c"])
    >>> res.sigma2.shape
    (2,)
    """

    def __init__(self, method: str = "REML", test: str = "z", level: float = 95.0) -> None:
        m = choice("method", method, METHODS)
        t = choice("test", test, TESTS, upper=False)
        level = level_percent(level)
        self.method, self.test, self.level = m, t, float(level)
        self._fitted = False

    def fit(
        self,
        yi: ArrayLike,
        vi: ArrayLike,
        *,
        study: Sequence[Any],
        estimate: Sequence[Any] | None = None,
        mods: ArrayLike | None = None,
        sigma2: Sequence[float | None] | None = None,
        measure: str = "GEN",
        slab: Sequence[str] | None = None,
        names: tuple[str, str] = ("study", "estimate"),
    ) -> RMAMV:
        """Fit to effects ``yi`` (variances ``vi``) grouped by ``study``; returns ``self``.

        ``estimate`` labels the estimates within a study (default: each row is one); rows of
        one study with the same label share the estimate-level effect, as in metafor.
        ``sigma2`` fixes variance components as metafor's ``sigma2 = c(NA, 0.1)`` does: a number
        holds that component at it, None estimates it. ``names`` (the two columns) label the
        components in ``summary()``, as metafor prints ``district`` and ``district/school``.
        """
        y = np.atleast_1d(np.asarray(yi, float))
        v = np.atleast_1d(np.asarray(vi, float))
        k = int(y.shape[0])
        if y.ndim != 1 or y.shape != v.shape:
            raise EvidenceError("yi and vi: must be one-dimensional and of the same length")
        if len(study) != k:
            raise EvidenceError(f"study: {len(study)} labels for {k} estimates")
        est = list(range(k)) if estimate is None else list(estimate)
        if len(est) != k:
            raise EvidenceError(f"estimate: {len(est)} labels for {k} estimates")
        if k < 2:
            raise EvidenceError("a multilevel model needs at least 2 estimates (k < 2)")
        if not (np.all(np.isfinite(y)) and np.all(np.isfinite(v))):
            raise EvidenceError("yi and vi: must be finite numbers")
        if np.any(v <= 0):
            raise EvidenceError("vi: sampling variances must be > 0")
        X = np.ones((k, 1))
        if mods is not None:
            x = np.asarray(mods, float).reshape(k, -1)
            if not np.all(np.isfinite(x)):
                raise EvidenceError("mods: moderator values must be finite")
            X = np.column_stack([X, x])
        p = X.shape[1]
        if k <= p or np.linalg.matrix_rank(X) < p:
            raise EvidenceError(f"the moderators are collinear or too many for k = {k}")
        studies = [str(s) for s in study]
        Z1, n1 = _indicator(studies)
        Z2, n2 = _indicator(list(zip(studies, (str(e) for e in est), strict=True)))
        if n2 == n1:
            raise EvidenceError(
                "study: every study has one estimate, so the two variance components cannot be "
                "told apart; use the two-level model (RMA) instead"
            )
        fixed = np.full(2, math.nan)
        if sigma2 is not None:
            if len(sigma2) != 2:
                raise EvidenceError("sigma2: give two values (study, estimate); None estimates")
            for j, val in enumerate(sigma2):
                if val is not None:
                    if not (math.isfinite(val) and val >= 0):
                        raise EvidenceError(f"sigma2[{j}]: {val!r} must be a number >= 0")
                    fixed[j] = float(val)
        # metafor: a factor with a single level has its variance component fixed to 0
        for j, nl in enumerate((n1, n2)):
            if nl == 1 and np.isnan(fixed[j]):
                fixed[j] = 0.0
        fixed0 = ~np.isnan(fixed)
        model = _Model(y, v, X, Z1, Z2, reml=self.method == "REML")
        s, its = estimate_sigma2(model, fixed)
        q = model.parts(s)

        self.k, self.p = k, p
        self.yi, self.vi, self.X = y, v, X
        self.study, self.estimate_label = studies, [str(e) for e in est]
        self.measure = measure.upper()
        self.slab = list(slab) if slab is not None else [str(i + 1) for i in range(k)]
        self.sigma2 = s
        self.sigma2_fixed = fixed0
        self.nlvls = (n1, n2)
        self.names = names
        self.iterations = its
        self.beta, self.vb = q["beta"], q["vb"]
        se = np.sqrt(np.diag(self.vb))
        df = k - p
        self.df = df
        alpha = 1 - self.level / 100
        use_t = self.test == "t"
        self.dist = f"t({df})" if use_t else "z"
        crit = float(stats.t.ppf(1 - alpha / 2, df) if use_t else stats.norm.ppf(1 - alpha / 2))
        self.crit = crit
        stat = self.beta / se
        pv = 2 * (stats.t.sf(np.abs(stat), df) if use_t else stats.norm.sf(np.abs(stat)))
        self.se_beta, self.stat_beta, self.pval_beta = se, stat, pv
        self.ci_lb_beta, self.ci_ub_beta = self.beta - crit * se, self.beta + crit * se

        # heterogeneity: the common-effect residual sum of squares, as rma.mv
        w = 1 / v
        XtW = X.T * w
        b_fe = np.linalg.solve(XtW @ X, XtW @ y)
        self.q = float(np.sum(w * (y - X @ b_fe) ** 2))
        self.q_df = df
        self.q_pval = float(stats.chi2.sf(self.q, df))

        pse = math.sqrt(float(se[0]) ** 2 + float(np.sum(s)))
        self.pi_lb = float(self.beta[0]) - crit * pse
        self.pi_ub = float(self.beta[0]) + crit * pse

        # fit statistics as metafor's fit.stats (the column of the fitted method)
        self.loglik = float(q["ll"])
        parms = p + int(np.sum(~fixed0))
        n_eff = k - p if self.method == "REML" else k
        self.parms = parms
        self.aic = -2 * self.loglik + 2 * parms
        self.bic = -2 * self.loglik + parms * math.log(n_eff)
        m_ = max(n_eff, parms + 2)
        self.aicc = -2 * self.loglik + 2 * parms * m_ / (m_ - parms - 1)
        self._model = model
        self._fitted = True
        return self

    # ------------------------------------------------------------ results
    def loglik_at(self, sigma2: ArrayLike) -> float:
        """The (restricted) log-likelihood of the fitted data at other variance components."""
        self._check()
        return self._model.loglik(np.asarray(sigma2, float))

    @property
    def transformed(self) -> dict[str, Any] | None:
        """Back-transformed estimate, CI and PI (RR, OR, PLO, PAS); None for other measures."""
        self._check()
        if transform_name(self.measure) is None or self.measure == "PFT":
            return None
        vals = back_transform(
            self.measure,
            np.array([self.estimate, self.ci_lb, self.ci_ub, self.pi_lb, self.pi_ub]),
            None,
        )
        return {
            "scale": transform_name(self.measure),
            "estimate": float(vals[0]),
            "ci": [float(vals[1]), float(vals[2])],
            "pi": [float(vals[3]), float(vals[4])],
        }

    def to_dict(self) -> dict[str, Any]:
        """Results as plain JSON-ready values."""
        self._check()
        out: dict[str, Any] = {
            "model": "rma.mv, random = ~ 1 | study/estimate",
            "k": self.k,
            "measure": self.measure,
            "method": self.method,
            "test": self.test,
            "level": self.level,
            **self._estimate_dict(self.dist),
            "sigma2": {"study": float(self.sigma2[0]), "estimate": float(self.sigma2[1])},
            "nlvls": {"study": self.nlvls[0], "estimate": self.nlvls[1]},
            "sigma2_fixed": [
                name for name, f in zip(("study", "estimate"), self.sigma2_fixed, strict=True) if f
            ],
            "q": self.q,
            "q_df": self.q_df,
            "q_pval": self.q_pval,
            "pi": [self.pi_lb, self.pi_ub],
            "loglik": self.loglik,
            "aic": self.aic,
            "bic": self.bic,
            "aicc": self.aicc,
        }
        if self.p > 1:
            out["coefficients"] = [
                {
                    "name": "intrcpt" if j == 0 else f"mod{j}",
                    "estimate": float(self.beta[j]),
                    "se": float(self.se_beta[j]),
                    "stat": float(self.stat_beta[j]),
                    "pval": float(self.pval_beta[j]),
                    "ci": [float(self.ci_lb_beta[j]), float(self.ci_ub_beta[j])],
                }
                for j in range(self.p)
            ]
        tr = self.transformed
        if tr is not None:
            out["transformed"] = tr
        return out

    def summary(self) -> str:
        """Plain text in the layout of metafor's ``print.rma.mv``."""
        self._check()
        lines = [
            f"Multilevel random-effects model (rma.mv, {self.method}), k = {self.k}, "
            f"measure {self.measure}",
            "",
            "Variance components:",
            f"{'':12}{'estim':>9}{'sqrt':>9}{'nlvls':>7}  factor",
        ]
        for j, name in enumerate((self.names[0], "/".join(self.names))):
            s = float(self.sigma2[j])
            fixed = "  (fixed)" if self.sigma2_fixed[j] else ""
            lines.append(
                f"sigma^2.{j + 1:<4}{s:>9.4f}{math.sqrt(s):>9.4f}{self.nlvls[j]:>7}  {name}{fixed}"
            )
        lines += [
            "",
            f"Test for heterogeneity: Q({self.q_df}) = {self.q:.4f}, {p_eq(self.q_pval)}",
            f"logLik ({self.method}) = {self.loglik:.4f}; AIC = {self.aic:.4f}; "
            f"BIC = {self.bic:.4f}",
            "",
        ]
        stat = "t" if self.test == "t" else "z"
        head = [("estimate", 10), ("se", 9), (stat + "val", 9), ("pval", 9), ("ci.lb", 10)]
        lines.append(" " * 10 + "".join(f"{h:>{n}}" for h, n in head) + f"{'ci.ub':>10}")
        for j in range(self.p):
            name = "intrcpt" if j == 0 else f"mod{j}"
            lines.append(
                f"{name:10}{self.beta[j]:>10.4f}{self.se_beta[j]:>9.4f}{self.stat_beta[j]:>9.4f}"
                f"{fmt_p(float(self.pval_beta[j])):>9}{self.ci_lb_beta[j]:>10.4f}"
                f"{self.ci_ub_beta[j]:>10.4f}"
            )
        lines += ["", f"Prediction interval ({self.dist}): [{self.pi_lb:.4f}, {self.pi_ub:.4f}]"]
        tr = self.transformed
        if tr is not None:
            lines.append(
                f"Back-transformed ({tr['scale']}): {tr['estimate']:.4f} "
                f"[{tr['ci'][0]:.4f}, {tr['ci'][1]:.4f}], PI [{tr['pi'][0]:.4f}, {tr['pi'][1]:.4f}]"
            )
        return "\n".join(lines)

