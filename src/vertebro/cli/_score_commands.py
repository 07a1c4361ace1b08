"""The commands of ``vertebro score``, registered on ``_score.score_app`` when imported.

Thin: parse, call :mod:`vertebro.scores`, format. Invalid input raises
:class:`~vertebro.errors.InvalidInput`, which the root app turns into exit code 2. Some option
help is built from the score tables (KPS-ECOG tables, MCID measures), so this module loads
:mod:`vertebro.scores` and its YAML; ``vertebro --help`` lists the group without it.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from vertebro import scores
from vertebro.errors import FieldError, InvalidInput

from ._output import Format, console, print_json
from ._score import score_app

__all__: list[str] = []

_FISHER = "Fisher CG et al. Spine 2010;35(22):E1221-9"
_BILSKY = "Bilsky MH et al. J Neurosurg Spine 2010;13(3):324-8"
_GENANT = "Genant HK et al. J Bone Miner Res 1993;8(9):1137-48"
_FAIRBANK = "Fairbank JC, Pynsent PB. Spine 2000;25(22):2940-52"
_ROLAND = "Roland M, Morris R. Spine 1983;8(2):141-4"
_SNIS = "SNIS-2014 (standard of practice), CAFE trial section"
_GENANT_NAMES = {0: "normal", 1: "mild", 2: "moderate", 3: "severe"}



FormatOption = Annotated[
    Format, typer.Option("--format", help="text for people, json for programs.")
]

def _emit(fmt: Format, data: dict[str, Any], lines: list[str]) -> None:
    if fmt is Format.json:
        print_json(data)
    else:
        for line in lines:
            # soft_wrap: let the terminal wrap long citations, so piped output keeps whole lines
            console().print(line, markup=False, highlight=False, soft_wrap=True)


@score_app.command("sins")
def sins_cmd(
    level: Annotated[str, typer.Option(help="Vertebra, e.g. T9.")],
    pain: Annotated[str, typer.Option(help="mechanical, occasional (non-mechanical) or none.")],
    lesion: Annotated[str, typer.Option(help="lytic, mixed or blastic.")],
    alignment: Annotated[str, typer.Option(help="subluxation, deformity or normal.")],
    height_loss: Annotated[float, typer.Option(help="Vertebral body height loss, percent.")],
    posterolateral: Annotated[str, typer.Option(help="bilateral, unilateral or none.")],
    body_involved_over_50: Annotated[
        bool, typer.Option(help="More than half the body involved (counts only without collapse).")
    ] = False,
    fmt: FormatOption = Format.text,
) -> None:
    """Spinal Instability Neoplastic Score (Fisher 2010)."""
    s = scores.sins_from_level(
        level,
        pain=pain,
        lesion=lesion,
        alignment=alignment,
        height_loss_pct=height_loss,
        posterolateral=posterolateral,
        body_involved_over_50=body_involved_over_50,
    )
    data = {
        "score": "sins",
        "level": level.strip().upper(),
        "total": s.total,
        "category": s.category,
        "points": s.points,
        "descriptors": s.descriptors,
        "reference": _FISHER,
    }
    lines = [f"SINS {s.total} ({s.category}) at {data['level']}"]
    lines += [f"  {c:<15} {s.descriptors[c]:<22} {s.points[c]}" for c in scores.SINS_COMPONENTS]
    lines.append(f"  {_FISHER}")
    _emit(fmt, data, lines)


@score_app.command("escc")
def escc_cmd(
    grade: Annotated[str, typer.Argument(help="Bilsky grade: 0, 1a, 1b, 1c, 2 or 3.")],
    fmt: FormatOption = Format.text,
) -> None:
    """Bilsky epidural spinal cord compression grade."""
    g = scores.parse_escc(grade)
    high = scores.escc_high_grade(g)
    data = {
        "score": "escc",
        "grade": g,
        "description": scores.ESCC_DESCRIPTIONS[g],
        "high_grade": high,
        "reference": _BILSKY,
    }
    lines = [
        f"ESCC {g} ({'high' if high else 'low'} grade): {scores.ESCC_DESCRIPTIONS[g]}",
        f"  {_BILSKY}",
    ]
    _emit(fmt, data, lines)


@score_app.command("genant")
def genant_cmd(
    height_loss: Annotated[float | None, typer.Option(help="Height loss, percent.")] = None,
    anterior: Annotated[float | None, typer.Option(help="Anterior height.")] = None,
    middle: Annotated[float | None, typer.Option(help="Middle height.")] = None,
    posterior: Annotated[float | None, typer.Option(help="Posterior height.")] = None,
    reference: Annotated[float | None, typer.Option(help="Reference (expected) height.")] = None,
    fmt: FormatOption = Format.text,
) -> None:
    """Genant semi-quantitative fracture grade, from a height loss or from heights."""
    g = scores.genant(
        height_loss_pct=height_loss,
        anterior=anterior,
        middle=middle,
        posterior=posterior,
        reference=reference,
    )
    data = {
        "score": "genant",
        "grade": g.grade,
        "height_loss_pct": g.height_loss_pct,
        "morphology": g.morphology,
        "reference": _GENANT,
    }
    shape = f", {g.morphology}" if g.morphology else ""
    lines = [
        f"Genant grade {g.grade} ({_GENANT_NAMES[g.grade]}): "
        f"height loss {g.height_loss_pct:.1f}%{shape}",
        f"  {_GENANT}",
    ]
    _emit(fmt, data, lines)


@score_app.command("kps")
def kps_cmd(
    kps: Annotated[int, typer.Argument(help="Karnofsky score, 0-100 in steps of 10.")],
    table: Annotated[
        str, typer.Option(help=f"KPS-ECOG table: {', '.join(scores.KPS_ECOG_TABLES)}.")
    ] = "conventional",
    fmt: FormatOption = Format.text,
) -> None:
    """Karnofsky performance status, with its ECOG equivalent."""
    ecog = scores.kps_to_ecog(kps, table)
    self_care = scores.kps_self_care_threshold()
    citation = scores.KPS_ECOG_TABLES[table].citation
    data = {
        "score": "kps",
        "kps": kps,
        "ecog": ecog,
        "table": table,
        "table_citation": citation,
        "self_care": kps >= self_care,
        "self_care_threshold": self_care,
        "self_care_reference": _SNIS,
    }
    lines = [
        f"KPS {kps} -> ECOG {ecog} (table: {table})",
        f"  {'at or above' if kps >= self_care else 'below'} the self-care threshold of "
        f"KPS {self_care} ({_SNIS})",
        f"  {citation}",
    ]
    _emit(fmt, data, lines)


@score_app.command("ecog")
def ecog_cmd(
    ecog: Annotated[int, typer.Argument(help="ECOG performance status, 0-5.")],
    table: Annotated[
        str, typer.Option(help=f"KPS-ECOG table: {', '.join(scores.KPS_ECOG_TABLES)}.")
    ] = "conventional",
    fmt: FormatOption = Format.text,
) -> None:
    """ECOG performance status, with the KPS range it corresponds to."""
    lo, hi = scores.ecog_to_kps_range(ecog, table)
    citation = scores.KPS_ECOG_TABLES[table].citation
    data = {
        "score": "ecog",
        "ecog": ecog,
        "kps_range": [lo, hi],
        "table": table,
        "table_citation": citation,
    }
    span = f"{lo}" if lo == hi else f"{lo}-{hi}"
    _emit(fmt, data, [f"ECOG {ecog} -> KPS {span} (table: {table})", f"  {citation}"])


def _odi_sections(values: list[str]) -> list[int | None]:
    out: list[int | None] = []
    errors: list[FieldError] = []
    for i, raw in enumerate(values):
        if raw.strip() == "-":
            out.append(None)
        elif raw.strip().isdigit():
            out.append(int(raw))
        else:
            errors.append(
                FieldError(f"sections[{i}]", f"{raw!r} is not an ODI section score (0-5 or -)")
            )
    if errors:
        raise InvalidInput(errors)
    return out


@score_app.command("odi")
def odi_cmd(
    sections: Annotated[
        list[str], typer.Argument(help="The 10 section scores (0-5) in order; '-' if unanswered.")
    ],
    max_missing: Annotated[
        int, typer.Option(help="Unanswered sections tolerated (Fairbank & Pynsent 2000: 1).")
    ] = scores.ODI_MAX_MISSING,
    fmt: FormatOption = Format.text,
) -> None:
    """Oswestry Disability Index from section scores (numbers only, no questionnaire text)."""
    parsed = _odi_sections(sections)
    odi = scores.odi_percent(parsed, max_missing=max_missing)
    answered = sum(s is not None for s in parsed)
    data = {
        "score": "odi",
        "odi_percent": odi,
        "answered": answered,
        "sections": parsed,
        "reference": _FAIRBANK,
    }
    lines = [
        f"ODI {odi:.1f}% ({answered} of {scores.ODI_SECTIONS} sections answered)",
        f"  {_FAIRBANK}",
    ]
    _emit(fmt, data, lines)


@score_app.command("rdq")
def rdq_cmd(
    value: Annotated[int, typer.Argument(help="Number of statements that apply, 0-24.")],
    fmt: FormatOption = Format.text,
) -> None:
    """Roland-Morris Disability Questionnaire score."""
    r = scores.rdq(value)
    data = {"score": "rdq", "rdq": r, "max": scores.RDQ_ITEMS, "reference": _ROLAND}
    _emit(fmt, data, [f"RDQ {r} of {scores.RDQ_ITEMS}", f"  {_ROLAND}"])


@score_app.command("responder")
def responder_cmd(
    measure: Annotated[
        str, typer.Option(help="Measure with an MCID: " + ", ".join(scores.mcid_thresholds()))
    ],
    baseline: Annotated[float, typer.Option(help="Score before treatment.")],
    follow_up: Annotated[float, typer.Option(help="Score at follow-up.")],
    points: Annotated[
        float | None, typer.Option(help="Override: MCID in points (replaces the default pair).")
    ] = None,
    percent: Annotated[
        float | None, typer.Option(help="Override: MCID in % of baseline (replaces the default).")
    ] = None,
    fmt: FormatOption = Format.text,
) -> None:
    """Whether a change reaches the minimal clinically important difference."""
    thresholds = scores.mcid_thresholds()
    ok = scores.is_responder(measure, baseline, follow_up, points=points, percent=percent)
    t = thresholds[measure]
    overridden = points is not None or percent is not None
    use_points, use_percent = (points, percent) if overridden else (t.points, t.percent)
    change = follow_up - baseline
    data = {
        "score": "responder",
        "measure": measure,
        "baseline": baseline,
        "follow_up": follow_up,
        "change": change,
        "direction": t.direction,
        "mcid_points": use_points,
        "mcid_percent": use_percent,
        "responder": ok,
        "citation": "override given on the command line" if overridden else t.citation,
    }
    rule = " or ".join(
        part
        for part in (
            f"{use_points:g} points" if use_points is not None else "",
            f"{use_percent:g}% of baseline" if use_percent is not None else "",
        )
        if part
    )
    better = "lower" if t.direction == "decrease" else "higher"
    lines = [
        f"{measure} {baseline:g} -> {follow_up:g} (change {change:+g}, {better} is better): "
        f"{'responder' if ok else 'not a responder'}",
        f"  MCID {rule}; {data['citation']}",
    ]
    _emit(fmt, data, lines)


# ----------------------------------------------------------------------------- prognosis
# Every option may be left out: an unknown input gives a range of totals and of bands.
PrimaryOpt = Annotated[
    str | None,
    typer.Option(help="Primary site: breast, lung, prostate, renal, thyroid, myeloma, "
                 "lymphoma, colorectal, unknown (not identified), ..."),
]
VisceralOpt = Annotated[
    str | None, typer.Option(help="Visceral metastases: none, treatable or untreatable.")
]
ExtraOpt = Annotated[
    int | None, typer.Option(help="Number of extraspinal bone metastases (0 or more).")
]
SpinalOpt = Annotated[
    int | None, typer.Option(help="Number of vertebral (spinal) metastases (1 or more).")
]


def _range_text(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else f"{lo}-{hi}"


def _emit_prognosis(fmt: Format, result: scores.PrognosticScore) -> None:
    lo, hi = result.range
    head = f"{result.name} {_range_text(lo, hi)}"
    if result.band is not None:
        head += f": {result.band.label}"
    lines = [head]
    if result.band is None:
        lines.append("  unknown inputs leave these bands open:")
        lines += [f"    {_range_text(b.min, b.max)}: {b.label}" for b in result.bands]
    for b in result.bands if result.band is not None else ():
        if b.treatment:
            lines.append(f"  {b.treatment}")
    lines += [f"  {item:<30} {_range_text(*pts)}" for item, pts in result.points.items()]
    if result.unknown:
        lines.append(f"  unknown: {', '.join(result.unknown)}")
    lines += [f"  note: {n}" for n in result.notes]
    lines.append(f"  {result.reference} ({result.source_table})")
    _emit(fmt, result.to_dict(), lines)


@score_app.command("tokuhashi")
def tokuhashi_cmd(
    kps: Annotated[int | None, typer.Option(help="Karnofsky performance status, 10-100.")] = None,
    extraspinal: ExtraOpt = None,
    spinal: SpinalOpt = None,
    visceral: VisceralOpt = None,
    primary: PrimaryOpt = None,
    frankel: Annotated[
        str | None, typer.Option(help="Frankel grade A-E (palsy; E = none).")
    ] = None,
    fmt: FormatOption = Format.text,
) -> None:
    """Revised Tokuhashi score (Tokuhashi 2005): 0-8 under 6 months, 9-11 6 months or
    more, 12-15 a year or more."""
    _emit_prognosis(
        fmt,
        scores.tokuhashi(
            kps=kps,
            extraspinal_bone_metastases=extraspinal,
            spinal_metastases=spinal,
            visceral_metastases=visceral,
            primary=primary,
            frankel=frankel,
        ),
    )


def _four_factor_command(name: str, score: str, doc: str) -> None:
    """Register ``vertebro score NAME``: a score of the four shared prognostic factors.

    Tomita and the modified Bauer score take the same four inputs, so one command body serves
    both; ``score`` names the function of :mod:`vertebro.scores` (looked up when it runs).
    """

    def command(
        primary: PrimaryOpt = None,
        visceral: VisceralOpt = None,
        extraspinal: ExtraOpt = None,
        spinal: SpinalOpt = None,
        fmt: FormatOption = Format.text,
    ) -> None:
        compute = getattr(scores, score)
        _emit_prognosis(
            fmt,
            compute(
                primary=primary,
                visceral_metastases=visceral,
                extraspinal_bone_metastases=extraspinal,
                spinal_metastases=spinal,
            ),
        )

    command.__doc__ = doc
    score_app.command(name)(command)


# (command, function of vertebro.scores, help): the scores of the four shared factors
_FOUR_FACTOR_SCORES = (
    ("tomita", "tomita", "Tomita score (Tomita 2001), 2-10, with its treatment goal."),
    ("bauer", "modified_bauer", "Modified Bauer score (Leithner 2008), 0-4."),
)
for _name, _score, _doc in _FOUR_FACTOR_SCORES:
    _four_factor_command(_name, _score, _doc)


@score_app.command("nesms")
def nesms_cmd(
    primary: PrimaryOpt = None,
    visceral: VisceralOpt = None,
    extraspinal: ExtraOpt = None,
    spinal: SpinalOpt = None,
    ambulatory: Annotated[
        bool | None, typer.Option("--ambulatory/--not-ambulatory", help="Walks independently.")
    ] = None,
    albumin: Annotated[float | None, typer.Option(help="Serum albumin, g/dL.")] = None,
    fmt: FormatOption = Format.text,
) -> None:
    """New England Spinal Metastasis Score (Ghori 2015, Schoenfeld 2016), 0-3."""
    _emit_prognosis(
        fmt,
        scores.nesms(
            primary=primary,
            visceral_metastases=visceral,
            extraspinal_bone_metastases=extraspinal,
            spinal_metastases=spinal,
            ambulatory=ambulatory,
            albumin_g_dl=albumin,
        ),
    )
