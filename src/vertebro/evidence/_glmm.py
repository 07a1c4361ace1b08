"""Random-effects logistic model for proportions (metafor's ``rma.glmm(measure="PLO")``).

``RMAGLMM().fit(xi, ni)`` fits the model metafor calls ``UM.FS`` for one-group proportions:
``x_i ~ Binomial(n_i, p_i)``, ``logit(p_i) = mu + u_i``, ``u_i ~ N(0, tau2)``, by maximum
likelihood, the likelihood integrated over ``u_i`` by adaptive Gauss-Hermite quadrature with 7
nodes per study, as ``lme4::glmer(cbind(xi, ni - xi) ~ 1 + (1 | study), nAGQ = 7)`` which metafor
calls (Stijnen, Hamza & Ozdemir, Stat Med 2010;29:3046; Viechtbauer, J Stat Softw 2010;36(3)).
Studies with 0 (or n) events enter with their exact binomial likelihood: nothing is added to
the counts, which is why this model suits leakage and complication rates with zero events.

What is computed, as metafor (3.8) does:

* the quadrature: for each study the conditional mode of the spherical random effect
  ``u = b / tau`` and the curvature there, 7 nodes of the Gauss-Hermite rule centred and scaled on
  them (adaptive quadrature; Pinheiro & Bates, J Comput Graph Stat 1995;4:12);
* ``se``: from the inverse of the Hessian of the deviance over (tau, mu) by central differences
  with step 1e-4, as ``vcov`` of a glmer fit (lme4's ``deriv12``);
* ``I^2`` and ``H^2`` from tau2 and the "typical" within-study variance of the logits
  (``escalc("PLO")``, 1/2 added to the cells of zero-event studies);
* heterogeneity tests against the saturated model (one proportion per study): the likelihood
  ratio test ``QE.LRT = -2 (ll_FE - ll_sat)`` and the Wald-type test ``QE.Wld``, which equals
  Cochran's Q of the observed logits (variances 1/x + 1/(n - x)); a study with 0 or n events has
  an infinite logit in the saturated model and adds nothing to it (its Wald term vanishes in the
  limit that glm approaches), on k - 1 degrees of freedom.

Written by hand (numpy + scipy): no Python library fits a binomial GLMM by adaptive
Gauss-Hermite quadrature like lme4 (statsmodels' ``BinomialBayesMixedGLM`` is a variational
Bayes fit), and agreement with metafor needs the same 7-node integral.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special, stats

from vertebro.errors import EvidenceError

from ._fitted import Coefficients, choice, fmt_p, level_percent, p_eq

__all__ = ["RMAGLMM"]

FloatArray = NDArray[np.float64]

#: nodes of the quadrature per study; metafor's default ``nAGQ = 7``
NAGQ = 7
#: step of the finite-difference Hessian, as lme4's ``deriv12``
HESS_STEP = 1e-4
METHODS: tuple[str, ...] = ("ML", "EE")


def _binom_ll(x: FloatArray, n: FloatArray, eta: FloatArray) -> FloatArray:
    """Binomial log-likelihood kernel x eta - n log(1 + e^eta) (constants apart)."""
    return np.asarray(x * eta - n * np.logaddexp(0.0, eta))


class _AGQ:
    """The 7-node adaptive Gauss-Hermite log-likelihood of one dataset."""

    def __init__(self, x: FloatArray, n: FloatArray, nagq: int = NAGQ) -> None:
        self.x, self.n = x, n
        z, w = np.polynomial.hermite_e.hermegauss(nagq)  # weight exp(-z^2 / 2)
        self.z = z
        self.logw = np.log(w / math.sqrt(2 * math.pi))  # weights of N(0, 1), summing to 1
        self.const = float(
            np.sum(special.gammaln(n + 1) - special.gammaln(x + 1) - special.gammaln(n - x + 1))
        )
        self._u = np.zeros_like(x)

    def loglik(self, tau: float, mu: float) -> float:
        """log L(mu, tau), binomial constants included (as glmer's logLik)."""
        tau = abs(tau)  # the integral is even in tau
        x, n = self.x, self.n
        u = self._u.copy()

        # conditional modes of h(u) = -loglik(mu + tau u) + u^2 / 2 (convex): Newton
        # (h' is increasing; a Newton step that does not shrink |h'| is halved)
        def grad(u: FloatArray) -> FloatArray:
            return np.asarray(-tau * (x - n * special.expit(mu + tau * u)) + u)

        g = grad(u)
        for _ in range(200):
            p = special.expit(mu + tau * u)
            step = g / (tau * tau * n * p * (1 - p) + 1)
            new = u - step
            g_new = grad(new)
            for _ in range(50):
                bad = np.abs(g_new) > np.abs(g)
                if not bad.any():
                    break
                step = np.where(bad, 0.5 * step, step)
                new = u - step
                g_new = grad(new)
            u, g = new, g_new
            if np.max(np.abs(step)) < 1e-13:
                break
        self._u = u
        p = special.expit(mu + tau * u)
        s = 1 / np.sqrt(tau * tau * n * p * (1 - p) + 1)
        nodes = u[:, None] + s[:, None] * self.z[None, :]
        eta = mu + tau * nodes
        terms = _binom_ll(x[:, None], n[:, None], eta) - 0.5 * nodes**2 + 0.5 * self.z[None, :] ** 2
        li = np.log(s) + special.logsumexp(terms + self.logw[None, :], axis=1)
        return float(np.sum(li) + self.const)


class RMAGLMM(Coefficients):
    """Random-effects logistic model for proportions, ``rma.glmm(measure="PLO")``, model UM.FS.

    Parameters
    ----------
    method
        ``"ML"`` (default; random effects) or ``"EE"`` (common effect: a logistic regression).
    level
        Confidence level in percent.

    References
    ----------
    Stijnen T, Hamza TH, Ozdemir P. Random effects meta-analysis of event outcome in the
    framework of the generalized linear mixed model with applications in sparse data. Stat Med
    2010;29(29):3046-67. doi:10.1002/sim.4040
    Viechtbauer W. Conducting meta-analyses in R with the metafor package. J Stat Softw
    2010;36(3):1-48. doi:10.18637/jss.v036.i03

    Examples
    --------
    >>> res = RMAGLMM().fit([0, 2, 5, 1], [40, 55, 60, 30])
    >>> 0 < res.transformed["estimate"] < 0.1
    True
    """

    def __init__(self, method: str = "ML", level: float = 95.0) -> None:
        m = choice("method", method, METHODS, " (rma.glmm fits by ML)")
        self.method, self.level = m, level_percent(level)
        self.measure = "PLO"
        self._fitted = False

    def fit(self, xi: ArrayLike, ni: ArrayLike, *, slab: Sequence[str] | None = None) -> RMAGLMM:
        """Fit to ``xi`` events out of ``ni`` per study; returns ``self``."""
        x = np.atleast_1d(np.asarray(xi, float))
        n = np.atleast_1d(np.asarray(ni, float))
        if x.ndim != 1 or x.shape != n.shape:
            raise EvidenceError("xi and ni: must be one-dimensional and of the same length")
        k = int(x.shape[0])
        if k < 2:
            raise EvidenceError("rma.glmm needs at least 2 studies (k < 2)")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(n))):
            raise EvidenceError("xi and ni: must be finite numbers")
        if np.any(x != np.round(x)) or np.any(n != np.round(n)):
            raise EvidenceError("xi and ni: counts must be whole numbers")
        if np.any(x < 0) or np.any(n < 1) or np.any(x > n):
            raise EvidenceError("xi and ni: need 0 <= xi <= ni and ni >= 1")
        if np.sum(x) == 0 or np.sum(x) == np.sum(n):
            what = "no study has an event" if np.sum(x) == 0 else "every patient had the event"
            raise EvidenceError(
                f"xi: {what}, so the pooled logit is infinite; report the counts instead"
            )
        self.k, self.xi, self.ni = k, x, n
        self.slab = list(slab) if slab is not None else [str(i + 1) for i in range(k)]
        agq = _AGQ(x, n)
        self._agq = agq
        mu_fe = float(special.logit(np.sum(x) / np.sum(n)))
        ll_fe = float(np.sum(_binom_ll(x, n, np.full(k, mu_fe))) + agq.const)
        if self.method == "EE":
            tau, mu = 0.0, mu_fe
            p = np.sum(x) / np.sum(n)
            var = 1 / (np.sum(n) * p * (1 - p))
        else:
            tau, mu = self._optimise(agq, mu_fe)
            var = self._var_mu(agq, tau, mu)
        self.tau2 = tau * tau
        se = math.sqrt(var)
        alpha = 1 - self.level / 100
        crit = float(stats.norm.ppf(1 - alpha / 2))
        self.crit = crit
        # one coefficient (the pooled logit), kept as arrays like the other models
        self.beta = np.array([mu])
        self.se_beta = np.array([se])
        self.stat_beta = self.beta / se
        self.pval_beta = 2 * stats.norm.sf(np.abs(self.stat_beta))
        self.ci_lb_beta = self.beta - crit * se
        self.ci_ub_beta = self.beta + crit * se
        self.loglik = ll_fe if self.method == "EE" else agq.loglik(tau, mu)

        # heterogeneity against the saturated model (one proportion per study)
        with np.errstate(divide="ignore", invalid="ignore"):
            ph = x / n
            ll_sat_terms = special.xlogy(x, ph) + special.xlogy(n - x, 1 - ph)
        ll_sat = float(np.sum(ll_sat_terms) + agq.const)
        self.qe_df = k - 1
        self.qe_lrt = max(0.0, -2 * (ll_fe - ll_sat))
        inner = (x > 0) & (x < n)
        if np.sum(inner) >= 2:
            yl = np.log(x[inner] / (n[inner] - x[inner]))
            wl = 1 / (1 / x[inner] + 1 / (n[inner] - x[inner]))
            yb = np.sum(wl * yl) / np.sum(wl)
            self.qe_wld = max(0.0, float(np.sum(wl * (yl - yb) ** 2)))
        else:
            self.qe_wld = 0.0
        self.qe_lrt_pval = float(stats.chi2.sf(self.qe_lrt, self.qe_df))
        self.qe_wld_pval = float(stats.chi2.sf(self.qe_wld, self.qe_df))

        # I^2, H^2 from the escalc("PLO") variances (1/2 added to zero-cell studies), metafor
        zero = (x == 0) | (x == n)
        add = np.where(zero, 0.5, 0.0)
        vi = 1 / (x + add) + 1 / (n - x + add)
        w = 1 / vi
        tr_p = float(np.sum(w) - np.sum(w * w) / np.sum(w))
        self.vt = (k - 1) / tr_p
        self.i2 = 100 * self.tau2 / (self.vt + self.tau2)
        self.h2 = self.tau2 / self.vt + 1
        parms = 1 if self.method == "EE" else 2
        self.aic = -2 * self.loglik + 2 * parms
        self.bic = -2 * self.loglik + parms * math.log(k)
        self._fitted = True
        return self

    @staticmethod
    def _optimise(agq: _AGQ, mu_fe: float) -> tuple[float, float]:
        """ML (tau, mu), the global maximum.

        The likelihood is even in tau, so tau = 0 is always a stationary point and a local
        search started near it can stop there. So the profile likelihood (mu maximised for each
        tau; log-concave in mu) is scanned on a grid of tau (0 and 30 geometric steps to 12),
        Nelder-Mead with tight tolerances starts from the grid's best point, Newton steps on
        finite differences polish it, and the result is compared with the best grid point and
        the boundary tau = 0.
        """

        def nll(par: FloatArray) -> float:
            return -agq.loglik(float(par[0]), float(par[1]))

        def profile(tau: float, start: float) -> tuple[float, float]:
            r = optimize.minimize_scalar(
                lambda m: -agq.loglik(tau, float(m)),
                bracket=(start - 0.5, start + 0.5),
                method="brent",
                options={"xtol": 1e-12},
            )
            return float(r.fun), float(r.x)

        taus = np.concatenate([[0.0], np.geomspace(0.02, 12.0, 30)])
        prof = []
        mu = mu_fe
        for t in taus:
            f_t, mu = profile(float(t), mu)
            prof.append((f_t, float(t), mu))
        f0, _, mu0 = prof[0]
        _, t_best, mu_best = min(prof)
        start = np.array([max(t_best, 0.02), mu_best])
        simplex = np.array(
            [start, start + np.array([0.25 * start[0], 0.0]), start + np.array([0.0, 0.1])]
        )
        res = optimize.minimize(
            nll,
            start,
            method="Nelder-Mead",
            options={
                "xatol": 1e-10,
                "fatol": 1e-13,
                "maxiter": 20000,
                "maxfev": 40000,
                "initial_simplex": simplex,
            },
        )
        par = np.array([abs(float(res.x[0])), float(res.x[1])])
        for _ in range(20):
            g, H = _grad_hess(nll, par, 1e-5)
            if par[0] < 1e-6:  # at the boundary: mu alone
                step = np.array([0.0, g[1] / H[1, 1]])
            else:
                try:
                    step = np.linalg.solve(H, g)
                except np.linalg.LinAlgError:
                    break
            new = par - step
            new[0] = abs(new[0])
            if nll(new) > nll(par):
                break
            par = new
            if np.max(np.abs(step)) < 1e-11:
                break
        cands = [par, np.array([t_best, mu_best]), np.array([0.0, mu0])]
        best = min(cands, key=nll)
        if best[0] < 1e-6 and f0 <= nll(best) + 1e-10:
            best = np.array([0.0, mu0])
        return float(best[0]), float(best[1])

    @staticmethod
    def _var_mu(agq: _AGQ, tau: float, mu: float) -> float:
        """Var(mu) as lme4's vcov: the mu block of 2 H^-1, H the deviance Hessian over (tau, mu)."""

        def dev(par: FloatArray) -> float:
            return -2 * agq.loglik(float(par[0]), float(par[1]))

        _, H = _grad_hess(dev, np.array([tau, mu]), HESS_STEP)
        try:
            inv = np.linalg.inv(H)
        except np.linalg.LinAlgError:
            inv = np.full((2, 2), math.nan)
        if not (np.isfinite(inv[1, 1]) and inv[1, 1] > 0 and np.linalg.eigvalsh(H).min() > 0):
            # not a maximum in tau (should not occur): the variance of mu given tau
            return float(2 / H[1, 1])
        return float(2 * inv[1, 1])

    # ------------------------------------------------------------ results
    @property
    def tau(self) -> float:
        return math.sqrt(self.tau2)

    def loglik_at(self, tau2: float, mu: float) -> float:
        """The quadrature log-likelihood of the fitted data at other parameter values."""
        self._check()
        return self._agq.loglik(math.sqrt(tau2), mu)

    @property
    def transformed(self) -> dict[str, Any]:
        """Estimate and CI as proportions (inverse logit)."""
        self._check()
        f = special.expit
        return {
            "scale": "proportion",
            "estimate": float(f(self.estimate)),
            "ci": [float(f(self.ci_lb)), float(f(self.ci_ub))],
        }

    def to_dict(self) -> dict[str, Any]:
        self._check()
        return {
            "model": "rma.glmm, measure PLO, model UM.FS (binomial-normal, 7-node adaptive GHQ)",
            "k": self.k,
            "measure": "PLO",
            "method": self.method,
            "level": self.level,
            **self._estimate_dict("z"),
            "tau2": self.tau2,
            "tau": self.tau,
            "i2": self.i2,
            "h2": self.h2,
            "qe_wald": self.qe_wld,
            "qe_wald_pval": self.qe_wld_pval,
            "qe_lrt": self.qe_lrt,
            "qe_lrt_pval": self.qe_lrt_pval,
            "qe_df": self.qe_df,
            "loglik": self.loglik,
            "aic": self.aic,
            "bic": self.bic,
            "zero_event_studies": int(np.sum(self.xi == 0)),
            "transformed": self.transformed,
            "studies": [
                {"study": s, "xi": int(a), "ni": int(b)}
                for s, a, b in zip(self.slab, self.xi, self.ni, strict=True)
            ],
        }

    def summary(self) -> str:
        """Plain text in the layout of metafor's ``print.rma.glmm``."""
        self._check()
        kind = "Random-effects" if self.method == "ML" else "Common-effect"
        zeros = int(np.sum(self.xi == 0))
        lines = [
            f"{kind} logistic model (rma.glmm, measure PLO, model UM.FS, {self.method}), "
            f"k = {self.k}" + (f", {zeros} with zero events" if zeros else ""),
            "",
        ]
        if self.method == "ML":
            lines.append(f"tau^2 = {self.tau2:.4f}; tau = {self.tau:.4f}")
            lines.append(f"I^2 = {self.i2:.2f}%; H^2 = {self.h2:.2f}")
        lines += [
            "Tests for heterogeneity:",
            f"  Wald-type test: Q({self.qe_df}) = {self.qe_wld:.4f}, {p_eq(self.qe_wld_pval)}",
            f"  Likelihood ratio test: Q({self.qe_df}) = {self.qe_lrt:.4f}, "
            f"{p_eq(self.qe_lrt_pval)}",
            "",
            " " * 10
            + "".join(
                f"{h:>{n}}"
                for h, n in [("estimate", 10), ("se", 9), ("zval", 9), ("pval", 9), ("ci.lb", 10)]
            )
            + f"{'ci.ub':>10}",
            f"{'intrcpt':10}{self.estimate:>10.4f}{self.se:>9.4f}{self.zval:>9.4f}"
            f"{fmt_p(self.pval):>9}{self.ci_lb:>10.4f}{self.ci_ub:>10.4f}",
            "",
        ]
        tr = self.transformed
        lines.append(
            f"Back-transformed (proportion): {tr['estimate']:.4f} "
            f"[{tr['ci'][0]:.4f}, {tr['ci'][1]:.4f}]"
        )
        return "\n".join(lines)


def _grad_hess(f: Any, x: FloatArray, d: float) -> tuple[FloatArray, FloatArray]:
    """Central-difference gradient and Hessian (the stencil of lme4's ``deriv12``)."""
    m = len(x)
    fx = f(x)
    g = np.empty(m)
    H = np.empty((m, m))
    e = np.eye(m) * d
    for i in range(m):
        fp, fm = f(x + e[i]), f(x - e[i])
        g[i] = (fp - fm) / (2 * d)
        H[i, i] = (fp - 2 * fx + fm) / (d * d)
        for j in range(i):
            H[i, j] = H[j, i] = (
                f(x + e[i] + e[j]) - f(x + e[i] - e[j]) - f(x - e[i] + e[j]) + f(x - e[i] - e[j])
            ) / (4 * d * d)
    return g, H

