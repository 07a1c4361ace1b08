"""Effect sizes and sampling variances, following metafor's ``escalc`` conventions.

Viechtbauer W. Conducting meta-analyses in R with the metafor package. J Stat Softw 2010;36(3).
Measure codes, formulas, the default continuity correction (``add=1/2, to="only0"``: add 1/2 to
every cell of a study that has a zero cell; no correction for PAS and PFT) and the large-sample
variances (``vtype="LS"``) are metafor's.

Written by hand because statsmodels' ``effectsize_2proportions`` and ``effectsize_smd`` follow
other conventions (a per-cell zero correction; an approximate Hedges correction ``1 - 3/(4N - 9)``
and a ``2(N - 3.94)`` variance denominator), so they do not reproduce metafor's numbers.

| code | data | yi | vi |
|---|---|---|---|
| RR | ai,bi,ci,di | log risk ratio | 1/ai - 1/n1i + 1/ci - 1/n2i |
| OR | ai,bi,ci,di | log odds ratio | 1/ai + 1/bi + 1/ci + 1/di |
| RD | ai,bi,ci,di | risk difference | p1(1-p1)/n1 + p2(1-p2)/n2 |
| PR | xi,ni | proportion | p(1-p)/n |
| PLO | xi,ni | logit | 1/xi + 1/(ni-xi) |
| PAS | xi,ni | asin(sqrt(p)) | 1/(4n) |
| PFT | xi,ni | Freeman-Tukey, half scale (metafor) | 1/(4n+2) |
| MN | mi,sdi,ni | mean | sd^2/n |
| MD | m1i,sd1i,n1i,m2i,sd2i,n2i | mean difference | sd1^2/n1 + sd2^2/n2 |
| SMD | same | Hedges' g (exact correction) | 1/n1 + 1/n2 + g^2/(2(n1+n2)) |
| IR | xi,ti | incidence rate | xi/ti^2 |
| IRLN | xi,ti | log incidence rate | 1/xi |
| IRR | x1i,t1i,x2i,t2i | log incidence rate ratio | 1/x1i + 1/x2i |
| ROM | m1i,sd1i,n1i,m2i,sd2i,n2i | log ratio of means | sd1^2/(n1 m1^2) + sd2^2/(n2 m2^2) |
| COR | ri,ni | correlation | (1 - r^2)^2/(n - 1) |
| ZCOR | ri,ni | Fisher's z | 1/(n - 3) |
| GEN | yi,vi or yi,sei | as given | as given |

Incidence measures take the continuity correction on a zero count (``xi``; for IRR either
group's). ROM is Hedges, Gurevitch & Curtis (Ecology 1999;80:1150); ZCOR is Fisher (1921).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import gammaln

from vertebro.errors import EvidenceError

__all__ = ["MEASURES", "Effects", "Measure", "escalc"]

Measure = Literal[
    "RR", "OR", "RD", "PR", "PLO", "PAS", "PFT", "IR", "IRLN", "IRR", "MN", "MD", "SMD", "ROM",
    "COR", "ZCOR", "GEN",
]

#: Every measure code and the metafor argument names it needs (alternatives separated by "|").
MEASURES: dict[str, tuple[str, ...]] = {
    "RR": ("ai", "bi|n1i", "ci", "di|n2i"),
    "OR": ("ai", "bi|n1i", "ci", "di|n2i"),
    "RD": ("ai", "bi|n1i", "ci", "di|n2i"),
    "PR": ("xi", "ni"),
    "PLO": ("xi", "ni"),
    "PAS": ("xi", "ni"),
    "PFT": ("xi", "ni"),
    "IR": ("xi", "ti"),
    "IRLN": ("xi", "ti"),
    "IRR": ("x1i", "t1i", "x2i", "t2i"),
    "MN": ("mi", "sdi", "ni"),
    "MD": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    "SMD": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    "ROM": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    "COR": ("ri", "ni"),
    "ZCOR": ("ri", "ni"),
    "GEN": ("yi", "vi|sei"),
}


@dataclass(frozen=True)
class Effects:
    """Observed effects ``yi`` with sampling variances ``vi`` (metafor's names).

    ``ni`` is the total sample size of each study when known (needed for Miller's PFT
    back-transformation); ``measure`` is the metafor code.
    """

    yi: NDArray[np.float64]
    vi: NDArray[np.float64]
    measure: str
    ni: NDArray[np.float64] | None = None

    @property
    def sei(self) -> NDArray[np.float64]:
        return np.sqrt(self.vi)

    def __len__(self) -> int:
        return int(self.yi.shape[0])


def _arr(x: ArrayLike | None, name: str) -> NDArray[np.float64]:
    if x is None:
        raise EvidenceError(f"{name}: required for this measure")
    return np.atleast_1d(np.asarray(x, dtype=float))


def _cmi(m: NDArray[np.float64]) -> NDArray[np.float64]:
    """Exact small-sample correction of Hedges (1981): Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2))."""
    return np.asarray(np.exp(gammaln(m / 2) - 0.5 * np.log(m / 2) - gammaln((m - 1) / 2)))


def escalc(
    measure: str,
    *,
    ai: ArrayLike | None = None,
    bi: ArrayLike | None = None,
    ci: ArrayLike | None = None,
    di: ArrayLike | None = None,
    n1i: ArrayLike | None = None,
    n2i: ArrayLike | None = None,
    xi: ArrayLike | None = None,
    ni: ArrayLike | None = None,
    mi: ArrayLike | None = None,
    sdi: ArrayLike | None = None,
    m1i: ArrayLike | None = None,
    sd1i: ArrayLike | None = None,
    m2i: ArrayLike | None = None,
    sd2i: ArrayLike | None = None,
    yi: ArrayLike | None = None,
    vi: ArrayLike | None = None,
    sei: ArrayLike | None = None,
    ti: ArrayLike | None = None,
    ri: ArrayLike | None = None,
    x1i: ArrayLike | None = None,
    t1i: ArrayLike | None = None,
    x2i: ArrayLike | None = None,
    t2i: ArrayLike | None = None,
    add: float | None = None,
    to: Literal["only0", "all", "none"] = "only0",
) -> Effects:
    """Compute effect sizes as metafor's ``escalc(measure, ...)`` does.

    Parameters
    ----------
    measure
        One of RR, OR, RD, PR, PLO, PAS, PFT, IR, IRLN, IRR, MN, MD, SMD, ROM, COR, ZCOR, GEN.
    add, to
        Continuity correction: ``add`` (default 1/2, and 0 for PAS and PFT) is added to every cell
        of studies with a zero cell (``to="only0"``), of all studies (``"all"``) or never.

    Returns
    -------
    Effects
        ``yi``, ``vi``, the measure and the total sample sizes ``ni``.

    References
    ----------
    Viechtbauer W. J Stat Softw 2010;36(3):1-48 (metafor ``escalc``).
    Hedges LV. J Educ Stat 1981;6:107-28 (exact bias correction of g).
    Freeman MF, Tukey JW. Ann Math Stat 1950;21:607-11 (double arcsine).
    """
    m = measure.upper()
    if m not in MEASURES:
        raise EvidenceError(f"measure: {measure!r} is not one of {', '.join(MEASURES)}")
    if add is None:
        add = 0.0 if m in ("PAS", "PFT") else 0.5
    if to == "none":
        add = 0.0

    if m in ("RR", "OR", "RD"):
        a = _arr(ai, "ai")
        c = _arr(ci, "ci")
        b = _arr(bi, "bi") if bi is not None else _arr(n1i, "bi or n1i") - a
        d = _arr(di, "di") if di is not None else _arr(n2i, "di or n2i") - c
        if np.any(np.stack([a, b, c, d]) < 0):
            raise EvidenceError("counts: cannot be negative or exceed the group size")
        zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
        corr = np.where(zero, add, 0.0) if to == "only0" else np.full_like(a, add)
        a, b, c, d = a + corr, b + corr, c + corr, d + corr
        n1, n2 = a + b, c + d
        p1, p2 = a / n1, c / n2
        with np.errstate(divide="ignore", invalid="ignore"):
            if m == "RR":
                y = np.log(p1) - np.log(p2)
                v = 1 / a - 1 / n1 + 1 / c - 1 / n2
            elif m == "OR":
                y = np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2))
                v = 1 / a + 1 / b + 1 / c + 1 / d
            else:
                y = p1 - p2
                v = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
        n_tot = n1 + n2 - 4 * corr
        return Effects(np.asarray(y, float), np.asarray(v, float), m, n_tot)

    if m in ("PR", "PLO", "PAS", "PFT"):
        x = _arr(xi, "xi")
        n = _arr(ni, "ni")
        if np.any(x > n) or np.any(x < 0):
            raise EvidenceError("xi: events must lie between 0 and ni")
        n_raw = n.copy()
        miss = n - x
        zero = (x == 0) | (miss == 0)
        corr = np.where(zero, add, 0.0) if to == "only0" else np.full_like(x, add)
        x, miss = x + corr, miss + corr
        n = x + miss
        p = x / n
        with np.errstate(divide="ignore", invalid="ignore"):
            if m == "PR":
                y, v = p, p * (1 - p) / n
            elif m == "PLO":
                y, v = np.log(p / (1 - p)), 1 / x + 1 / miss
            elif m == "PAS":
                y, v = np.arcsin(np.sqrt(p)), 1 / (4 * n)
            else:
                y = 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))
                v = 1 / (4 * n + 2)
        return Effects(np.asarray(y, float), np.asarray(v, float), m, n_raw)

    if m in ("IR", "IRLN"):
        x, t = _arr(xi, "xi"), _arr(ti, "ti")
        if np.any(x < 0) or np.any(t <= 0):
            raise EvidenceError("xi, ti: events must be >= 0 and person-time > 0")
        x = x + (np.where(x == 0, add, 0.0) if to == "only0" else add)
        with np.errstate(divide="ignore"):
            if m == "IR":
                return Effects(x / t, x / t**2, m, None)
            return Effects(np.log(x / t), 1 / x, m, None)

    if m == "IRR":
        a, ta = _arr(x1i, "x1i"), _arr(t1i, "t1i")
        c, tc = _arr(x2i, "x2i"), _arr(t2i, "t2i")
        corr = np.where((a == 0) | (c == 0), add, 0.0) if to == "only0" else np.full_like(a, add)
        a, c = a + corr, c + corr
        with np.errstate(divide="ignore"):
            return Effects(np.log(a / ta) - np.log(c / tc), 1 / a + 1 / c, m, None)

    if m in ("COR", "ZCOR"):
        r, n = _arr(ri, "ri"), _arr(ni, "ni")
        if np.any(np.abs(r) > 1):
            raise EvidenceError("ri: correlations must lie between -1 and 1")
        with np.errstate(divide="ignore"):
            if m == "COR":
                return Effects(r.copy(), (1 - r**2) ** 2 / (n - 1), m, n)
            return Effects(np.arctanh(r), np.where(n > 3, 1 / (n - 3), np.nan), m, n)

    if m == "MN":
        mean, sd, n = _arr(mi, "mi"), _arr(sdi, "sdi"), _arr(ni, "ni")
        return Effects(mean.copy(), sd**2 / n, m, n)

    if m in ("MD", "SMD", "ROM"):
        a1, s1, n1 = _arr(m1i, "m1i"), _arr(sd1i, "sd1i"), _arr(n1i, "n1i")
        a2, s2, n2 = _arr(m2i, "m2i"), _arr(sd2i, "sd2i"), _arr(n2i, "n2i")
        if m == "MD":
            return Effects(a1 - a2, s1**2 / n1 + s2**2 / n2, m, n1 + n2)
        if m == "ROM":
            with np.errstate(divide="ignore", invalid="ignore"):
                y = np.log(a1 / a2)
            return Effects(y, s1**2 / (n1 * a1**2) + s2**2 / (n2 * a2**2), m, n1 + n2)
        dfree = n1 + n2 - 2
        sdp = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / dfree)
        g = _cmi(dfree) * (a1 - a2) / sdp
        v = 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2))
        return Effects(g, v, m, n1 + n2)

    # GEN: effects already computed
    y = _arr(yi, "yi")
    if vi is not None:
        v = _arr(vi, "vi")
    elif sei is not None:
        v = _arr(sei, "sei") ** 2
    else:
        raise EvidenceError("vi or sei: required for measure GEN")
    n_opt = _arr(ni, "ni") if ni is not None else None
    return Effects(y.copy(), v, m, n_opt)


def required_columns(measure: str) -> Sequence[str]:
    """The metafor column names a plain CSV needs for ``measure`` (alternatives joined by '|')."""
    return MEASURES[measure.upper()]
