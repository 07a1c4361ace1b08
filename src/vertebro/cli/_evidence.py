"""``vertebro evidence``: pool studies, draw PRISMA flows, build GRADE tables, reproduce the seeds.

Thin: parse, call :mod:`vertebro.evidence`, format. Invalid input raises
:class:`~vertebro.errors.InvalidInput`, which the root app turns into exit code 2 (every problem
listed); other :class:`~vertebro.errors.VertebroError` exit 1.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from vertebro._atomic import atomic_open
from vertebro.errors import EvidenceError, FieldError, InvalidInput

from ._lazy import lazy_module
from ._output import Format, console, dumps, err_console, output_path, print_json
from ._registry import AsOpt, DbOpt, _registry

if TYPE_CHECKING:
    import numpy as np
    from rich.progress import Progress

    from vertebro import evidence as ev
else:  # loaded by the first evidence command that runs, not at start-up
    np = lazy_module("numpy")
    ev = lazy_module("vertebro.evidence")

__all__ = ["register"]

evidence_app = typer.Typer(
    name="evidence",
    help=(
        "Evidence synthesis: pool study-level data (metafor's definitions), PRISMA 2020 flow, "
        "GRADE and AHA tables, and the seed reproductions."
    ),
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the ``evidence`` group to the root app."""
    from ._evidence_models import add_commands  # multilevel, glmm: their own module

    add_commands(evidence_app)
    app.add_typer(evidence_app, name="evidence")



class DocFormat(StrEnum):
    markdown = "markdown"
    html = "html"
    json = "json"


FormatOption = Annotated[
    Format, typer.Option("--format", help="text for people, json for programs.")
]


def _note(text: str) -> None:
    """A note or warning for the reader, on stderr, so that stdout stays the result."""
    err_console().print(text, markup=False, soft_wrap=True)


def _note_skipped(lines: list[int | str], why: str) -> None:
    # ``why`` is written for several rows ("have a missing value", "lack the cells ...")
    n, where = len(lines), ", ".join(map(str, lines))
    if n == 1:
        verb, _, rest = why.partition(" ")
        why = f"{_SINGULAR.get(verb, verb)} {rest}"
    _note(f"note: {n} row{'' if n == 1 else 's'} {why} and {'was' if n == 1 else 'were'} left "
          f"out (line{'' if n == 1 else 's'} {where})")


_SINGULAR = {"have": "has", "lack": "lacks", "are": "is"}


def _progress() -> Progress:
    # on stderr, transient: stdout stays clean for JSON and pipes; rich.progress (and
    # rich.console with it) on first use, not for `vertebro --help`
    from rich.progress import Progress, SpinnerColumn, TextColumn

    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=err_console(), transient=True
    )


def _clean(obj: Any) -> Any:
    """NaN/inf -> None so that the JSON is strict."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.floating):
        return _clean(float(obj))
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _batch_rows(res: ev.BatchResult, labels: list[str], key: str) -> list[dict[str, Any]]:
    return [
        {
            key: labels[i],
            "k": int(res.k[i]),
            "estimate": float(res.estimate[i]),
            "ci": [float(res.ci_lb[i]), float(res.ci_ub[i])],
            "pval": float(res.pval[i]),
            "tau2": float(res.tau2[i]),
            "i2": float(res.i2[i]),
        }
        for i in range(len(res))
    ]


_FILTERS = ("outcome", "technique", "population", "design", "unit", "interval", "statistic")


@evidence_app.command("pool")
def pool_cmd(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="CSV: vertebro study format or metafor columns. Several vertebro-format files "
            "are validated together and pooled as one (e.g. the curated studies and "
            "'from-registry' rows)."
        ),
    ],
    measure: Annotated[
        str | None,
        typer.Option(
            "--measure",
            help="metafor measure: RR OR RD PR PLO PAS PFT MN MD SMD GEN "
            "(default: PLO for events, MN for means, GEN for yi/vi).",
        ),
    ] = None,
    method: Annotated[
        str, typer.Option("--method", help="tau^2 estimator: EE FE DL REML ML PM HS SJ HE.")
    ] = "REML",
    knha: Annotated[
        bool, typer.Option("--knha", help="Hartung-Knapp(-Sidik-Jonkman) CI and t test.")
    ] = False,
    by: Annotated[
        str | None,
        typer.Option(
            "--by", help="Subgroup column (technique, design, ...; 'subgroup' in metafor CSVs)."
        ),
    ] = None,
    outcome: Annotated[
        str | None, typer.Option("--outcome", help="Keep rows of this outcome.")
    ] = None,
    technique: Annotated[
        str | None, typer.Option("--technique", help="Keep rows of this technique.")
    ] = None,
    unit: Annotated[
        str | None, typer.Option("--unit", help="Keep rows counted per patient|level|session.")
    ] = None,
    interval: Annotated[
        str | None, typer.Option("--interval", help="Keep rows of this interval code.")
    ] = None,
    population: Annotated[
        str | None, typer.Option("--population", help="Keep rows of this population (cancer, ...).")
    ] = None,
    mod: Annotated[
        str | None,
        typer.Option("--mod", help="Meta-regression on one numeric column (e.g. year, ablat)."),
    ] = None,
    mods_formula: Annotated[
        str | None,
        typer.Option(
            "--mods",
            help="Meta-regression on an R formula of columns, e.g. '~ ablat + factor(alloc)' "
            "(numeric terms, factor(column); text columns enter as factors).",
        ),
    ] = None,
    perm: Annotated[
        bool,
        typer.Option(
            "--permutest",
            help="Permutation test of the model (of the meta-regression with --mod/--mods): "
            "exact when <= 1000 permutations, else 1000 seeded random ones (metafor's permutest).",
        ),
    ] = False,
    level: Annotated[float, typer.Option("--level", help="Confidence level, percent.")] = 95.0,
    forest: Annotated[
        Path | None, typer.Option("--forest", help="Write a forest plot (.svg and .png).")
    ] = None,
    funnel: Annotated[
        Path | None, typer.Option("--funnel", help="Write a funnel plot (.svg and .png).")
    ] = None,
    contours: Annotated[
        bool,
        typer.Option(
            "--contours",
            help="Contour-enhanced funnel (with --funnel): significance regions p < .10, .05, "
            ".01 against 0, as metafor's funnel(level = c(90, 95, 99), refline = 0).",
        ),
    ] = False,
    bias: Annotated[
        bool, typer.Option("--bias", help="Egger's test, Begg's rank test and trim-and-fill.")
    ] = False,
    infl: Annotated[
        bool,
        typer.Option(
            "--influence",
            help="Influence diagnostics per study (rstudent, DFFITS, Cook's D, cov.r, ...).",
        ),
    ] = False,
    baujat: Annotated[
        Path | None,
        typer.Option(
            "--baujat",
            help="Write a Baujat plot (.svg and .png): each study's contribution to the "
            "heterogeneity against its influence on the pooled result (implies --influence).",
        ),
    ] = None,
    loo: Annotated[bool, typer.Option("--leave-one-out", help="Leave-one-out analysis.")] = False,
    cumul: Annotated[
        bool, typer.Option("--cumulative", help="Cumulative analysis by year.")
    ] = False,
    n_weighted: Annotated[
        bool,
        typer.Option(
            "--n-weighted",
            help="Sorensen-SpineJ-2019: the N-weighted mean of study means per outcome, "
            "technique and interval (rows with mean and n; no standard error).",
        ),
    ] = False,
    fmt: FormatOption = Format.text,
) -> None:
    """Pool studies: fixed or random effects, subgroups, plots (metafor's definitions)."""
    if contours and funnel is None:
        raise InvalidInput.field("--contours", "draws on the funnel plot: give --funnel too")
    for option, plot in (("--forest", forest), ("--funnel", funnel), ("--baujat", baujat)):
        if plot is not None:
            output_path(plot, option)  # before any work: vertebro never creates folders
    if n_weighted:
        _n_weighted_cmd(
            files,
            {"outcome": outcome, "technique": technique, "unit": unit, "interval": interval,
             "population": population},
            {"--measure": measure, "--by": by, "--mod": mod, "--mods": mods_formula,
             "--permutest": perm or None, "--contours": contours or None, "--forest": forest,
             "--funnel": funnel, "--bias": bias or None, "--knha": knha or None,
             "--leave-one-out": loo or None, "--cumulative": cumul or None,
             "--influence": infl or None, "--baujat": baujat},
            fmt,
        )
        return
    method = method.upper()
    if method not in ev.METHODS:
        raise InvalidInput.field("--method", f"{method!r} is not one of {', '.join(ev.METHODS)}")
    if measure is not None and measure.upper() not in ev.MEASURES:
        raise InvalidInput.field("--measure", f"{measure!r} is not one of {', '.join(ev.MEASURES)}")
    file = files[0]
    text, header = _read_csv(file)
    test = "knha" if knha else "z"
    if mod is not None and mods_formula is not None:
        raise InvalidInput.field("--mods", "give --mod or --mods, not both")
    mod_data: dict[str, list[object]] | None = None

    groups: list[str] | None = None
    mods: list[float] | None = None
    skipped: list[int | str] = []
    skip_why = ""
    years: list[int | None]
    data_labels: list[str] | None = None
    inputs: list[dict[str, Any]] | None = None
    if len(files) > 1 or _is_vertebro(header):
        rows, where, origin = _study_rows(files, text)
        wanted = {
            "outcome": outcome,
            "technique": technique,
            "unit": unit,
            "interval": interval,
            "population": population,
        }
        rows = _filter(rows, wanted)
        outcomes = sorted({r.outcome for r in rows})
        if len(outcomes) > 1:
            raise InvalidInput.field(
                "--outcome", f"the file has several outcomes; choose one: {', '.join(outcomes)}"
            )
        m = (measure or _default_measure(rows)).upper()
        eff, used = ev.effects_from_studies(rows, m)
        used_ids = {id(r) for r in used}
        skipped = [where[id(r)] for r in rows if id(r) not in used_ids]
        inputs = _contributions(files, origin, rows, used)
        labels = [_label(r) for r in used]
        years = [r.year for r in used]
        if by is not None:
            if by not in ev.COLUMNS:
                raise InvalidInput.field(
                    "--by", f"{by!r} is not a column ({', '.join(ev.COLUMNS)})"
                )
            groups = [str(getattr(r, by) or "not reported") for r in used]
        if m in ("PR", "PLO", "PAS", "PFT"):
            data_labels = [f"{r.events}/{r.denominator}" for r in used]
        if mod is not None:
            mods = _numeric_column(
                [getattr(r, mod, None) for r in used], mod, [r.line for r in used]
            )
        if mods_formula is not None:
            mod_data = {c: [getattr(r, c, None) for r in used] for c in ev.COLUMNS}
    elif ev.is_metafor_header(header):
        if measure is None:
            if "yi" in header:
                measure = "GEN"
            else:
                raise InvalidInput.field(
                    "--measure", "is required for this CSV (e.g. RR, PLO, SMD)"
                )
        md = ev.parse_metafor_csv(text, measure, file.name)
        m = md.effects.measure
        if md.omitted:
            skipped = list(md.omitted)
            skip_why = "have a missing value (NA or empty) in a cell the measure needs"
        eff, years = md.effects, md.year
        labels = [
            f"{s} {y}" if y is not None and str(y) not in s else s
            for s, y in zip(md.study, md.year, strict=True)
        ]
        if by is not None:
            if by != "subgroup" or md.subgroup is None:
                raise InvalidInput.field("--by", "metafor-style CSVs group by a 'subgroup' column")
            groups = md.subgroup
        lines = [i for i in range(2, 2 + len(md.study) + len(md.omitted)) if i not in md.omitted]
        raw = [r for i, r in enumerate(csv.DictReader(io.StringIO(text)), start=2)
               if i not in md.omitted]
        if m in ("PR", "PLO", "PAS", "PFT") and "xi" in md.columns:
            data_labels = [f"{r['xi'].strip()}/{r['ni'].strip()}" for r in raw]
        if mod is not None:
            if mod not in header:
                raise InvalidInput.field("--mod", f"{mod!r} is not a column of {file.name}")
            mods = _numeric_column([r.get(mod) for r in raw], mod, lines)
        if mods_formula is not None:
            mod_data = {c: [r.get(c) for r in raw] for c in header}
    else:
        raise InvalidInput(
            FieldError(
                "header",
                "is neither the vertebro study format (study, design, outcome, source, ...) nor "
                "metafor columns (ai,bi,ci,di | ai,n1i,ci,n2i | xi,ni | mi,sdi,ni | "
                "m1i,sd1i,n1i,m2i,sd2i,n2i | yi,vi | yi,sei)",
                file.name,
            )
        )

    with _progress() as progress:
        progress.add_task(f"Fitting {m} {method} (k = {len(eff)})", total=None)
        fit = ev.RMA(method, test, level=level).fit(
            eff.yi, eff.vi, measure=m, ni=eff.ni, slab=labels
        )
        result: dict[str, Any] = fit.to_dict()
        reg = None
        if mods is not None:
            try:
                reg = ev.RMA(method, test, level=level).fit(eff.yi, eff.vi, mods=mods, measure=m)
            except EvidenceError as exc:  # collinear, or too few studies: the input's fault
                raise InvalidInput.field("--mod", str(exc).removeprefix("mods: ")) from None
        elif mods_formula is not None and mod_data is not None:
            try:
                reg = ev.RMA(method, test, level=level).fit(
                    eff.yi, eff.vi, mods=mods_formula, data=mod_data, measure=m
                )
            except EvidenceError as exc:
                raise InvalidInput.field("--mods", str(exc).removeprefix("mods: ")) from None
        if reg is not None:
            result["meta_regression"] = {
                "moderator": mod if mod is not None else mods_formula,
                "tau2": reg.tau2,
                # pseudo R^2 (mixed effects) or weighted-least-squares adjusted R^2 (common
                # effect), as metafor 3.8 prints them
                "r2": None if not np.isfinite(reg.r2) else reg.r2,
                "qm": reg.qm,
                "qm_df": list(reg.qm_df),
                "qm_pval": reg.qm_pval,
                "qe": reg.q,
                "qe_df": reg.q_df,
                "coefficients": reg.to_dict()["coefficients"],
            }
        if perm:
            progress.add_task("Permutation test", total=None)
            result["permutest"] = ev.permutest(reg if reg is not None else fit).to_dict()
        sg = None
        if groups is not None:
            sg = ev.subgroups(
                eff.yi, eff.vi, groups, method=method, test=test, measure=m, ni=eff.ni, slab=labels
            )
            result.update(sg.to_dict())
        tf = None
        if bias:
            if len(eff) < 3:
                raise InvalidInput.field("--bias", "Egger's test and trim-and-fill need k >= 3")
            result["egger"] = ev.egger(eff.yi, eff.vi, method=method, test=test).to_dict()
            result["ranktest"] = ev.ranktest(eff.yi, eff.vi).to_dict()
            tf = ev.trimfill(eff.yi, eff.vi, method=method, test=test)
            result["trimfill"] = tf.to_dict()
        inf = None
        if infl or baujat is not None:
            if len(eff) < 3:
                raise InvalidInput.field("--baujat" if baujat else "--influence", "needs k >= 3")
            inf = ev.influence(fit)
            result["influence"] = inf.to_dict()["studies"]
        if loo:
            if len(eff) < 2:
                raise InvalidInput.field("--leave-one-out", "needs k >= 2")
            res = ev.leave_one_out(eff.yi, eff.vi, method=method, test=test, level=level)
            result["leave_one_out"] = _batch_rows(res, labels, "omitted")
        if cumul:
            order = [y if y is not None else 10**6 for y in years]
            res, idx = ev.cumulative(eff.yi, eff.vi, order, method=method, test=test, level=level)
            result["cumulative"] = _batch_rows(res, [labels[i] for i in idx], "added")
        written: list[str] = []
        if forest is not None:
            progress.add_task("Drawing forest plot", total=None)
            fig = ev.forest_plot(fit, subgroups=sg, data_labels=data_labels)  # fit carries level
            written += [str(p) for p in ev.save_figure(fig, forest)]
        if funnel is not None:
            progress.add_task("Drawing funnel plot", total=None)
            fig = ev.funnel_plot(
                fit, trimfill=tf, contours=ev.CONTOUR_LEVELS if contours else None
            )
            written += [str(p) for p in ev.save_figure(fig, funnel)]
        if baujat is not None and inf is not None:
            progress.add_task("Drawing Baujat plot", total=None)
            written += [str(p) for p in ev.save_figure(ev.baujat_plot(inf, fit), baujat)]
    if written:
        result["files"] = written
    if inputs is not None:
        result["inputs"] = inputs
    if skipped:
        result["skipped_lines"] = skipped
        _note_skipped(skipped, skip_why or f"lack the cells {m} needs")

    if fmt is Format.json:
        print_json(_clean(result))
        return
    out = console()
    out.print(fit.summary(), markup=False, highlight=False, soft_wrap=True)
    from rich.table import Table

    table = Table(title="Studies", show_lines=False)
    for col in ("study", "yi", "se", "weight %"):
        table.add_column(col, justify="left" if col == "study" else "right")
    for s, y, v, w in zip(fit.slab, fit.yi, fit.vi, fit.weights, strict=True):
        table.add_row(s, f"{y:.4f}", f"{np.sqrt(v):.4f}", f"{w:.1f}")
    out.print(table)
    if sg is not None:
        out.print(sg.summary(), markup=False, highlight=False, soft_wrap=True)
    if "meta_regression" in result:
        mr = result["meta_regression"]
        if reg is not None and mods_formula is not None:
            out.print(f"Meta-regression {mods_formula}", markup=False)
            out.print(reg.summary(), markup=False, highlight=False, soft_wrap=True)
        else:
            slope = mr["coefficients"][1]
            out.print(
                f"Meta-regression on {mod}: slope {slope['estimate']:.4f} "
                f"[{slope['ci'][0]:.4f}, {slope['ci'][1]:.4f}], QM = {mr['qm']:.4f}, "
                f"p = {mr['qm_pval']:.4f}; residual tau^2 = {mr['tau2']:.4f}; "
                + ("R^2 NA" if mr["r2"] is None else f"R^2 = {mr['r2']:.2f}%"),
                markup=False,
                soft_wrap=True,
            )
    if "permutest" in result:
        pt = result["permutest"]
        kind = "exact" if pt["exact"] else f"{pt['iterations']} random (seed 0)"
        ps = ", ".join(f"{n} p = {p:.4f}" for n, p in pt["pval"].items())
        out.print(
            f"Permutation test ({kind}): {ps}; omnibus p = {pt['qm_pval']:.4f}",
            markup=False,
            soft_wrap=True,
        )
    if "egger" in result:
        e = result["egger"]
        out.print(
            f"Egger's test ({e['model']}): slope {e['slope']:.4f}, {e['dist']} = {e['stat']:.4f}, "
            f"p = {e['pval']:.4f}; limit estimate {e['limit_estimate']:.4f}",
            markup=False,
            soft_wrap=True,
        )
        rk = result["ranktest"]
        out.print(
            f"Begg's rank correlation test: Kendall's tau = {rk['tau']:.4f}, p = {rk['pval']:.4f}"
            + ("" if rk["exact"] else " (normal approximation: ties)"),
            markup=False,
            soft_wrap=True,
        )
        t = result["trimfill"]
        out.print(
            f"Trim-and-fill ({t['estimator']}): {t['k0']} missing on the {t['side']} side; "
            f"adjusted estimate {t['adjusted']['estimate']:.4f} "
            f"[{t['adjusted']['ci'][0]:.4f}, {t['adjusted']['ci'][1]:.4f}]",
            markup=False,
            soft_wrap=True,
        )
    if inf is not None:
        out.print("Influence diagnostics (* influential by metafor's criteria)", markup=False)
        out.print(inf.summary(), markup=False, highlight=False, soft_wrap=True)
    for key, title in (("leave_one_out", "Leave-one-out"), ("cumulative", "Cumulative")):
        if key in result:
            tb = Table(title=title)
            for col in (
                "omitted" if key == "leave_one_out" else "added",
                "k",
                "estimate",
                f"{level:g}% CI",
                "tau2",
                "I2 %",
            ):
                tb.add_column(col)
            for r in result[key]:
                tb.add_row(
                    str(r["omitted" if key == "leave_one_out" else "added"]),
                    str(r["k"]),
                    f"{r['estimate']:.4f}",
                    f"[{r['ci'][0]:.4f}, {r['ci'][1]:.4f}]",
                    f"{r['tau2']:.4f}",
                    "NA" if not np.isfinite(r["i2"]) else f"{r['i2']:.1f}",
                )
            out.print(tb)
    for p in written:
        out.print(f"wrote {p}", markup=False)


def _read_csv(file: Path) -> tuple[str, list[str]]:
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInput.field(str(file), f"cannot be read ({exc.strerror})") from None
    header = next(csv.reader(io.StringIO(text)), [])
    return text, [h.strip() for h in header]


def _is_vertebro(header: list[str]) -> bool:
    return "study" in header and "design" in header and "source" in header


def _study_rows(
    files: list[Path], text: str
) -> tuple[list[ev.StudyRow], dict[int, int | str], dict[int, str]]:
    """Rows of one or several vertebro-format files (several: validated together, every
    problem named with its file), where each row came from (``line 3`` or ``a.csv:3``) and
    the name of its file (for the note of what each file contributed)."""
    if len(files) == 1:
        rows = ev.parse_studies(text, files[0].name)
        return rows, {id(r): r.line for r in rows}, {id(r): files[0].name for r in rows}
    errors: list[FieldError] = []
    for f in files:
        try:
            _, header = _read_csv(f)
        except InvalidInput as exc:
            errors += exc.errors
            continue
        if not _is_vertebro(header) and ev.is_metafor_header(header):
            errors.append(
                FieldError("files", "metafor-style CSVs are pooled one file at a time", f.name)
            )
    if errors:
        raise InvalidInput(errors)
    loaded = ev.read_study_files(files)
    rows = [r for _, rs in loaded for r in rs]
    return (
        rows,
        {id(r): f"{name}:{r.line}" for name, rs in loaded for r in rs},
        {id(r): name for name, rs in loaded for r in rs},
    )


def _filter(rows: list[ev.StudyRow], filters: dict[str, str | None]) -> list[ev.StudyRow]:
    """The rows that pass every given filter; how many each filter left out goes to stderr,
    so that rows never vanish without a word."""
    left_out: list[str] = []
    for col, val in filters.items():
        if val is None:
            continue
        kept = [r for r in rows if getattr(r, col) == val]
        if len(kept) < len(rows):
            left_out.append(f"--{col} {val}: {len(rows) - len(kept)}")
        rows = kept
    if left_out:
        _note(
            f"note: rows left out by the filters, in the order applied: {'; '.join(left_out)}"
        )
    return rows


def _contributions(
    files: list[Path], origin: dict[int, str], rows: list[ev.StudyRow], used: list[ev.StudyRow]
) -> list[dict[str, Any]] | None:
    """With several files: the rows each file has after the filters and in the pooling, on
    stderr, and a warning for a file that adds none (its rows may not share the filters, or a
    cell, with the others)."""
    if len(files) < 2:
        return None
    out: list[dict[str, Any]] = []
    for f in files:
        after = sum(1 for r in rows if origin[id(r)] == f.name)
        pooled = sum(1 for r in used if origin[id(r)] == f.name)
        out.append({"file": f.name, "rows_after_filters": after, "rows_pooled": pooled})
    _note(
        "note: rows per file after the filters (pooled): "
        + ", ".join(f"{c['file']} {c['rows_after_filters']} ({c['rows_pooled']})" for c in out)
    )
    for c in out:
        if not c["rows_pooled"]:
            _note(
                f"warning: {c['file']} contributes no row to the pooling: the result is the "
                "other files' alone"
            )
    return out


def _n_weighted_cmd(
    files: list[Path],
    filters: dict[str, str | None],
    unused: dict[str, Any],
    fmt: Format,
) -> None:
    """Sorensen-SpineJ-2019's pooling: per outcome, technique and interval, the mean of the
    study means weighted by N (their Methods; Table 2). Rows with statistic mean or
    weighted_mean and a mean, n, technique and interval take part."""
    given = [opt for opt, val in unused.items() if val is not None]
    if given:
        raise InvalidInput.field(
            "--n-weighted", f"does not combine with {', '.join(given)} (no variances are used)"
        )
    text, header = _read_csv(files[0])
    if len(files) == 1 and not _is_vertebro(header):
        raise InvalidInput(
            FieldError("header", "--n-weighted needs the vertebro study format", files[0].name)
        )
    rows, where, origin = _study_rows(files, text)
    rows = _filter(rows, filters)
    used = [
        r
        for r in rows
        if r.statistic in ("mean", "weighted_mean")
        and r.mean is not None
        and r.n is not None
        and r.technique is not None
        and r.interval is not None
    ]
    kept = {id(r) for r in used}
    skipped = [where[id(r)] for r in rows if id(r) not in kept]
    if not used:
        raise InvalidInput.field(
            "--n-weighted", "no row has a mean, n, technique and interval after the filters"
        )
    inputs = _contributions(files, origin, rows, used)
    populations = sorted({r.population or "(blank)" for r in used})
    if len(populations) > 1:
        # a mean of cancer and osteoporotic means describes no patient: make the choice explicit
        raise InvalidInput.field(
            "--population", f"the rows mix populations ({', '.join(populations)}); choose one"
        )
    # the same pooling that rebuilds Sorensen-SpineJ-2019 Table 2 (evidence.pooled_by_interval)
    pooled = ev.pooled_by_interval(
        (r.outcome, str(r.technique), str(r.interval), cast(float, r.mean), cast(int, r.n))
        for r in used
    )
    studies: dict[tuple[str, str, str], list[str]] = {}
    sources: dict[tuple[str, str, str], set[str]] = {}
    for r in used:
        studies.setdefault((r.outcome, str(r.technique), str(r.interval)), []).append(r.study)
        sources.setdefault((r.outcome, str(r.technique), str(r.interval)), set()).add(
            origin[id(r)]
        )
    if len(files) > 1 and all(len(s) < 2 for s in sources.values()):
        # e.g. the curated KPS rows (PVP+KP) and the registry's (PVP, KP): side by side, not pooled
        _note(
            "warning: no outcome, technique and interval has rows from more than one file: "
            "nothing is pooled across files"
        )
    out: list[dict[str, Any]] = [
        {"outcome": outcome, "technique": tech, "interval": iv, "mean": wm.mean, "n": wm.n,
         "k": wm.k, "studies": studies[(outcome, tech, iv)]}
        for (outcome, tech), cells in sorted(pooled.items())
        for iv, wm in cells.items()
    ]
    if skipped:
        _note_skipped(skipped, "are not means with n, technique and interval")
    if fmt is Format.json:
        print_json(
            {
                "method": "N-weighted mean of study means (Sorensen-SpineJ-2019)",
                "cells": out,
                "skipped_lines": skipped,
                **({"inputs": inputs} if inputs is not None else {}),
            }
        )
        return
    from rich.table import Table

    table = Table(title="N-weighted mean of study means (Sorensen-SpineJ-2019)")
    for col in ("outcome", "technique", "interval", "mean", "N", "k", "studies"):
        table.add_column(col, justify="right" if col in ("mean", "N", "k") else "left")
    for c in out:
        table.add_row(
            c["outcome"], c["technique"], ev.INTERVALS[c["interval"]], f"{c['mean']:.2f}",
            str(c["n"]), str(c["k"]), "; ".join(c["studies"]),
        )
    console().print(table)
    console().print(
        "No standard error or heterogeneity: a descriptive summary, not an inverse-variance "
        "meta-analysis.",
        markup=False,
        soft_wrap=True,
    )


def _numeric_column(values: list[Any], name: str, lines: list[int]) -> list[float]:
    out: list[float] = []
    errors: list[FieldError] = []
    for v, line in zip(values, lines, strict=True):
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            errors.append(FieldError(name, f"{v!r} is not a number (--mod)", f"line {line}"))
    if errors:
        raise InvalidInput(errors)
    return out


def _default_measure(rows: list[ev.StudyRow]) -> str:
    if any(r.events is not None and r.denominator is not None for r in rows):
        return "PLO"
    if any(r.mean is not None and r.sd is not None and r.n is not None for r in rows):
        return "MN"
    return "GEN"


def _label(r: ev.StudyRow) -> str:
    parts = [r.study]
    extra = [x for x in (r.technique, r.timepoint) if x]
    if extra:
        parts.append(f"({', '.join(extra)})")
    return " ".join(parts)


@evidence_app.command("prisma")
def prisma_cmd(
    counts: Annotated[Path, typer.Argument(help="PRISMA 2020 counts (JSON).")],
    out: Annotated[
        Path, typer.Option("--out", help="Diagram file (.svg or .png; both are written).")
    ],
    fmt: FormatOption = Format.text,
) -> None:
    """Draw the PRISMA 2020 flow diagram from a counts file."""
    output_path(out)
    c = ev.load_prisma(counts)
    with _progress() as progress:
        progress.add_task("Drawing PRISMA 2020 flow diagram", total=None)
        files = [str(p) for p in ev.save_figure(ev.prisma_diagram(c), out)]
    problems = c.checks()
    if fmt is Format.json:
        print_json(
            {"files": files, "included_studies": c.included_studies, "reconciliation": problems}
        )
        return
    for p in files:
        console().print(f"wrote {p}", markup=False)
    for p in problems:
        console().print(f"note: counts do not reconcile: {p}", markup=False, soft_wrap=True)


@evidence_app.command("grade")
def grade_cmd(
    sof: Annotated[Path, typer.Argument(help="Summary of findings (YAML).")],
    fmt: Annotated[
        DocFormat, typer.Option("--format", help="markdown, html or json.")
    ] = DocFormat.markdown,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """GRADE summary of findings and AHA class/level table, as Markdown or HTML."""
    if out is not None:
        output_path(out)
    s = ev.load_sof(sof)
    if fmt is DocFormat.json:
        text = dumps(s.to_dict()) + "\n"
    elif fmt is DocFormat.markdown:
        text = ev.render_markdown(s)
    else:
        text = ev.render_html(s)
    if out is not None:
        with atomic_open(out, "w", encoding="utf-8") as fh:
            fh.write(text)
        console().print(f"wrote {out}", markup=False)
    else:
        typer.echo(text, nl=False)


@evidence_app.command("reproduce")
def reproduce_cmd(fmt: FormatOption = Format.text) -> None:
    """Recompute the seed and reference numbers and show them beside the published ones.

    The Sorensen-SpineJ-2019 Table 2 block is a consistency check of the curated copy (its rows
    are the table's own cells), not a reproduction from study-level data."""
    with _progress() as progress:
        progress.add_task("Recomputing published numbers", total=None)
        checks = ev.reproduce()
    if fmt is Format.json:
        print_json(
            {"checks": [c.to_dict() for c in checks], "all_agree": all(c.agrees for c in checks)}
        )
        return
    out = console()
    for c in checks:
        mark = "agrees " if c.agrees else "DIFFERS"
        out.print(f"[{mark}] {c.name} ({c.source})", markup=False, soft_wrap=True)
        out.print(f"          published: {c.published}", markup=False, soft_wrap=True)
        out.print(f"          vertebro:  {c.vertebro}", markup=False, soft_wrap=True)
    t2 = ev.sorensen_table2()
    out.print("")
    out.print(
        "Sorensen-SpineJ-2019 Table 2, the curated copy (a consistency check, not a "
        "reproduction: the rows are the table's cells), mean (N):",
        markup=False,
        soft_wrap=True,
    )
    head = f"{'':18}" + "".join(f"{lab:>16}" for lab in ev.INTERVALS.values())
    out.print(head, markup=False, soft_wrap=True)
    for (oc, tech), cells in t2.items():
        vals = "".join(
            f"{f'{cells[iv][0]:.2f} ({cells[iv][1]})':>16}" if iv in cells else f"{'':>16}"
            for iv in ev.INTERVALS
        )
        out.print(f"{oc + ' ' + tech:18}{vals}", markup=False, soft_wrap=True)
    if not all(c.agrees for c in checks):
        raise typer.Exit(1)


_EXAMPLES = {
    "studies": "studies.csv",
    "prisma": "prisma_sorensen2019.json",
    "sof": "sof_example.yaml",
    "bcg": "reference/bcg.csv",
    "miller": "reference/miller1978.csv",
}


@evidence_app.command("example")
def example_cmd(
    name: Annotated[str, typer.Argument(help="studies | prisma | sof | bcg | miller")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print or save a shipped data file (curated studies, PRISMA counts, SOF, BCG, Miller)."""
    if name not in _EXAMPLES:
        raise InvalidInput.field("name", f"{name!r} is not one of {', '.join(_EXAMPLES)}")
    if out is not None:
        output_path(out)
    text = ev.data_text(_EXAMPLES[name])
    if name == "bcg":
        # metafor's dat.bcg names its cells tpos/tneg/cpos/cneg; write escalc's ai/bi/ci/di so
        # that `evidence pool FILE --measure RR` reads the file as it is
        head, _, body = text.partition("\n")
        for old, new in (("tpos", "ai"), ("tneg", "bi"), ("cpos", "ci"), ("cneg", "di")):
            head = head.replace(old, new)
        text = head + "\n" + body
    if out is None:
        typer.echo(text, nl=False)
    else:
        with atomic_open(out, "w", encoding="utf-8") as fh:
            fh.write(text)
        console().print(f"wrote {out}", markup=False)


@evidence_app.command("check")
def check_cmd(
    file: Annotated[Path, typer.Argument(help="A vertebro-format study CSV.")],
    fmt: FormatOption = Format.text,
) -> None:
    """Validate a study CSV (exit 2, all problems listed); flag percentages contradicting counts."""
    rows = ev.read_studies(file)
    warnings = ev.check_consistency(rows)
    if fmt is Format.json:
        print_json({"rows": len(rows), "warnings": warnings})
        return
    console().print(f"{file}: {len(rows)} valid rows", markup=False)
    for w in warnings:
        console().print(f"warning: {w}", markup=False, soft_wrap=True)


class RegistryBy(StrEnum):
    site = "site"
    all = "all"


@evidence_app.command("from-registry")
def from_registry_cmd(
    as_: AsOpt,
    out: Annotated[Path, typer.Option("--out", help="The study CSV to write.")],
    db: DbOpt = None,
    by: Annotated[
        RegistryBy,
        typer.Option("--by", help="One study per site, or the whole registry as one study."),
    ] = RegistryBy.site,
) -> None:
    """The registry's cohort as study rows (NRS, ODI, KPS by interval; cement leakage), to
    check and pool beside the published studies. Reads what --as may see (researchers: every
    site, pseudonymised; clinicians: their own site)."""
    output_path(out)
    # the records and the selection of the outcomes report (vertebro.analytics), so that
    # `analytics outcomes` and these rows say the same
    from vertebro import analytics

    with _registry(db) as reg:
        rows = analytics.study_rows_from_registry(
            reg, as_, exported_on=dt.date.today(), by=by.value
        )
    if not rows:
        raise EvidenceError(
            f"the registry holds no procedure that {as_!r} may see: no study rows, "
            f"nothing written to {out}"
        )
    text = ev.format_studies(rows)
    ev.parse_studies(text, out.name)  # what is written passes `vertebro evidence check`
    with atomic_open(out, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    studies = sorted({r.study for r in rows})
    console().print(
        f"wrote {len(rows)} study rows ({', '.join(studies)}) to {out}",
        markup=False,
        soft_wrap=True,
    )
