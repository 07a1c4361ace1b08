"""The registry's dashboards: quality audit, outcomes, follow-up completeness, and the registry
pooled with the literature, for signed-in users.

Every number comes from the reports the CLI prints (``vertebro analytics audit``, ``analytics
outcomes``, ``evidence from-registry`` + ``evidence pool``), counted in the database with the
signed-in user as the acting user, so each dashboard shows what the registry lets that user
see (a clinician their own site, a researcher and an admin every site). Each plot is the
existing figure of that report (:func:`vertebro.analytics.funnel_figure`,
:func:`vertebro.analytics.outcomes_figure`, :func:`vertebro.evidence.forest_plot`) served as
SVG, and each page lays the same numbers out as a table beside it.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import matplotlib as mpl
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from matplotlib.figure import Figure

from vertebro import analytics
from vertebro import evidence as ev
from vertebro.analytics import AuditReport, OutcomesReport
from vertebro.errors import InvalidInput

from ._auth import CurrentUser, Principal, registry
from ._templates import templates

__all__ = ["POOLED_OUTCOMES", "Pooled", "pooled", "router", "svg_bytes"]

router = APIRouter(prefix="/dashboards", include_in_schema=False)

#: outcomes the registry and the curated literature share per technique (registry slug ->
#: label); KPS is left out: Sorensen-SpineJ-2019 reports it over both techniques only
POOLED_OUTCOMES = {"pain_vas": "pain (NRS / VAS 0-10)", "odi": "ODI (%)"}
_TECHNIQUES = {"PVP": "vertebroplasty", "KP": "kyphoplasty"}
_SEED_FILE = re.compile(r"^\S+\.txt \(([^)]+)\)")  # "000_ab.txt (SNIS-2014) Table 4"
_POPULATION = "cancer"  # the registry's patients; never pool means of other populations


def svg_bytes(fig: Figure) -> bytes:
    """``fig`` as SVG with a fixed hash salt and no date, so the same numbers give the same
    bytes; text is drawn as paths, so a browser without matplotlib's font shows the figure as
    it was laid out (with the browser's font, long labels overflow their places)."""
    buf = io.BytesIO()
    with mpl.rc_context({"svg.hashsalt": "vertebro", "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return buf.getvalue()


def _svg(make: Callable[[], Figure]) -> Response:
    return Response(svg_bytes(make()), media_type="image/svg+xml")


def _page(request: Request, user: Principal, name: str, **context: Any) -> HTMLResponse:
    scope = ("your site, " + user.site) if user.role == "clinician" and user.site else \
        "every site" + (" (pseudonymised)" if user.role == "researcher" else "")
    return templates.TemplateResponse(
        request, f"dashboards/{name}.html",
        {"principal": user, "scope": scope, "today": dt.date.today().isoformat(), **context})


# ---------------------------------------------------------------- index
@router.get("", response_class=HTMLResponse)
def index(request: Request, user: CurrentUser) -> HTMLResponse:
    return _page(request, user, "index")


# ---------------------------------------------------------------- quality audit
def _audit(request: Request, user: Principal) -> AuditReport:
    return analytics.registry_audit(registry(request), user.username, by="site")


def _plottable(report: AuditReport) -> bool:
    return any(g.n > 0 and g.known and g.possible for g in report.groups)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, user: CurrentUser) -> HTMLResponse:
    """Clinically evident complications per site against the SNIS-2014 threshold."""
    report = _audit(request, user)
    return _page(request, user, "audit", report=report, plot=_plottable(report),
                 threshold=report.thresholds.threshold,
                 rule=report.thresholds.counting_rule,
                 limits=report.thresholds.control_limits)


@router.get("/audit.svg")
async def audit_svg(request: Request, user: CurrentUser) -> Response:
    def make() -> Figure:
        return analytics.funnel_figure(_audit(request, user))  # none to plot: 422

    return await run_in_threadpool(_svg, make)


# ---------------------------------------------------------------- outcomes and completeness
def _outcomes(request: Request, user: Principal) -> OutcomesReport:
    return analytics.registry_outcomes(registry(request), user.username)


@router.get("/outcomes", response_class=HTMLResponse)
def outcomes_page(request: Request, user: CurrentUser) -> HTMLResponse:
    """Change from baseline per interval and technique, beside Sorensen-SpineJ-2019."""
    report = _outcomes(request, user)
    return _page(request, user, "outcomes", report=report, source=analytics.SORENSEN_SOURCE)


@router.get("/outcomes.svg")
async def outcomes_svg(request: Request, user: CurrentUser) -> Response:
    return await run_in_threadpool(_svg, lambda: analytics.outcomes_figure(
        _outcomes(request, user)))


@router.get("/completeness", response_class=HTMLResponse)
def completeness_page(request: Request, user: CurrentUser) -> HTMLResponse:
    """Who was seen at each interval, and the visits due, overdue and missed today."""
    reg = registry(request)
    report = _outcomes(request, user)
    visits: dict[str, dict[str, int]] = {}
    for row in reg.due(user.username, include_missed=True):
        counts = visits.setdefault(row["interval"], {"due": 0, "overdue": 0, "missed": 0})
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return _page(request, user, "completeness", report=report, visits=visits)


# ---------------------------------------------------------------- with the literature
@dataclass(frozen=True)
class Pooled:
    """One cell (outcome, technique, interval) of the registry beside the literature."""

    outcome: str
    technique: str
    interval: str
    registry: list[ev.StudyRow]  # the registry's site rows of the cell
    literature: list[ev.StudyRow]  # curated rows with a mean and n (Sorensen-SpineJ-2019)
    fit: ev.RMA | None  # random effects (REML) over the registry rows with an sd
    combined: ev.WeightedMean | None  # N-weighted mean of registry and literature rows

    @property
    def literature_sources(self) -> list[str]:
        """Each literature row's source as a reader cites it: ``Sorensen-SpineJ-2019, Table
        2`` (the curated rows name the seed file first, which means nothing to a reader)."""
        return [_SEED_FILE.sub(r"\1,", r.source) for r in self.literature]

    @property
    def label(self) -> str:
        return (f"{POOLED_OUTCOMES[self.outcome]}, {_TECHNIQUES[self.technique]}, "
                f"{ev.INTERVALS[self.interval]}")


def _choice(field: str, value: str, allowed: dict[str, str]) -> str:
    if value not in allowed:
        raise InvalidInput.field(field, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def pooled(request: Request, user: Principal, outcome: str, technique: str,
           interval: str) -> Pooled:
    """The registry's rows of one cell (``evidence from-registry``, one study per site),
    pooled by random effects, and N-weighted with the curated literature rows of the same
    cell (``evidence pool studies.csv registry.csv --n-weighted``)."""
    _choice("outcome", outcome, POOLED_OUTCOMES)
    _choice("technique", technique, _TECHNIQUES)
    _choice("interval", interval, ev.INTERVALS)

    def cell(r: ev.StudyRow) -> bool:
        return (r.outcome == outcome and r.technique == technique and r.interval == interval
                and r.population == _POPULATION and r.mean is not None and r.n is not None
                and r.statistic in ("mean", "weighted_mean"))

    rows = analytics.study_rows_from_registry(registry(request), user.username,
                                              exported_on=dt.date.today(), by="site")
    mine = [r for r in rows if cell(r)]
    literature = [r for r in ev.load_curated() if cell(r)]
    fit = None
    if any(r.sd is not None for r in mine):
        eff, used = ev.effects_from_studies(mine, "MN")
        fit = ev.RMA("REML").fit(eff.yi, eff.vi, measure="MN", ni=eff.ni,
                                 slab=[r.study for r in used])
    both = mine + literature
    combined = (ev.weighted_mean([float(r.mean or 0) for r in both], [r.n or 0 for r in both])
                if both else None)  # cell() kept only rows with a mean and an n
    return Pooled(outcome, technique, interval, mine, literature, fit, combined)


def _forest(p: Pooled) -> Figure:
    if p.fit is None:
        raise InvalidInput.field("plot", f"no registry row with a standard deviation for "
                                         f"{p.label}")
    fig = ev.forest_plot(p.fit, title=f"Registry sites: {p.label}")
    ax = fig.axes[0]
    for r in p.literature:  # the literature has no sd: a reference line, not a study row
        ax.axvline(float(r.mean or 0), color="tab:red", ls="--", lw=1.2)
        ax.annotate(f"{r.study} (N = {r.n}): {r.mean:.2f}", (float(r.mean or 0), 0),
                    xycoords=("data", "axes fraction"), xytext=(3, 3),
                    textcoords="offset points", color="tab:red", fontsize=8)
    lo, hi = ax.get_xlim()
    marks = [float(r.mean or 0) for r in p.literature]
    ax.set_xlim(min([lo, *marks]) - 0.05 * (hi - lo), max([hi, *marks]) + 0.05 * (hi - lo))
    return fig


_Outcome = Annotated[str, Query(max_length=32)]


@router.get("/pooled", response_class=HTMLResponse)
def pooled_page(request: Request, user: CurrentUser, outcome: _Outcome = "pain_vas",
                technique: _Outcome = "PVP", interval: _Outcome = "lt4w") -> HTMLResponse:
    """The registry's sites beside the literature for one outcome, technique and interval."""
    p = pooled(request, user, outcome, technique, interval)
    return _page(request, user, "pooled", p=p, outcomes=POOLED_OUTCOMES,
                 techniques=_TECHNIQUES, intervals=ev.INTERVALS)


@router.get("/pooled.svg")
async def pooled_svg(request: Request, user: CurrentUser, outcome: _Outcome = "pain_vas",
                     technique: _Outcome = "PVP", interval: _Outcome = "lt4w") -> Response:
    return await run_in_threadpool(
        _svg, lambda: _forest(pooled(request, user, outcome, technique, interval)))
