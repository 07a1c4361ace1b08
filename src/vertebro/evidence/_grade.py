"""Certainty of evidence: GRADE summary of findings and AHA class/level recommendation tables.

GRADE (Guyatt GH et al. BMJ 2008;336:924-6; Balshem H et al. J Clin Epidemiol 2011;64:401-6):
evidence from randomised trials starts *high*, from observational studies *low*; it is rated
down one or two levels for risk of bias, inconsistency, indirectness, imprecision and publication
bias, and (observational evidence) up for a large effect, a dose-response gradient or plausible
confounding that would reduce the effect. Result: high, moderate, low or very low. Every
non-zero rating must give its reason.

AHA/ACC classes and levels (the scheme SNIS-2014 uses; Jacobs AK et al. Circulation
2014;130:1208-17 for the methodology): class I (benefit >>> risk; should be done), IIa
(benefit >> risk; reasonable), IIb (benefit >= risk; may be considered), III (no benefit or
harm); level A (several randomised trials or meta-analyses), B (a single randomised trial or
non-randomised studies), C (consensus opinion, case studies or standard of care).

Input is YAML (see ``data/sof_example.yaml``); output is Markdown or HTML.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vertebro.errors import FieldError, InvalidInput

__all__ = [
    "AHA_CLASSES",
    "AHA_LEVELS",
    "CERTAINTY",
    "Outcome",
    "SummaryOfFindings",
    "load_sof",
    "render_html",
    "render_markdown",
]

CERTAINTY = {4: "high", 3: "moderate", 2: "low", 1: "very low"}
SYMBOLS = {
    4: "\u2295\u2295\u2295\u2295",
    3: "\u2295\u2295\u2295\u25ef",
    2: "\u2295\u2295\u25ef\u25ef",
    1: "\u2295\u25ef\u25ef\u25ef",
}
DOWN_DOMAINS = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")
UP_DOMAINS = ("large_effect", "dose_response", "plausible_confounding")
_DOMAIN_NAMES = {
    "risk_of_bias": "Risk of bias",
    "inconsistency": "Inconsistency",
    "indirectness": "Indirectness",
    "imprecision": "Imprecision",
    "publication_bias": "Publication bias",
    "large_effect": "Large effect",
    "dose_response": "Dose-response",
    "plausible_confounding": "Plausible confounding",
}
AHA_CLASSES = {
    "I": "Benefit >>> risk: should be performed",
    "IIa": "Benefit >> risk: reasonable to perform",
    "IIb": "Benefit >= risk: may be considered",
    "III": "No benefit, or harm: should not be performed",
}
AHA_LEVELS = {
    "A": "Several randomised trials or meta-analyses",
    "B": "A single randomised trial or non-randomised studies",
    "C": "Consensus opinion of experts, case studies or standard of care",
}


class Rating(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: int = 0
    reason: str | None = None


class Outcome(BaseModel):
    """One row of a summary-of-findings table."""

    model_config = ConfigDict(extra="forbid")
    outcome: str
    studies: int | None = Field(default=None, ge=0)
    participants: int | None = Field(default=None, ge=0)
    design: Literal["rct", "observational"]
    effect: str
    source: str | None = None
    domains: dict[str, Rating] = Field(default_factory=dict)
    upgrades: dict[str, Rating] = Field(default_factory=dict)
    reported: Literal["high", "moderate", "low", "very low"] | None = None
    comment: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Outcome:
        problems = []
        for name, r in self.domains.items():
            if name not in DOWN_DOMAINS:
                problems.append(
                    f"domains.{name}: unknown domain (one of {', '.join(DOWN_DOMAINS)})"
                )
            elif r.rating not in (0, -1, -2):
                problems.append(f"domains.{name}.rating: {r.rating} must be 0, -1 or -2")
            elif r.rating != 0 and not r.reason:
                problems.append(f"domains.{name}.reason: rating down needs a reason")
        for name, r in self.upgrades.items():
            if name not in UP_DOMAINS:
                problems.append(f"upgrades.{name}: unknown domain (one of {', '.join(UP_DOMAINS)})")
            elif r.rating not in (0, 1, 2) or (name != "large_effect" and r.rating == 2):
                problems.append(
                    f"upgrades.{name}.rating: {r.rating} is not allowed "
                    "(0 or +1; +2 only for large_effect)"
                )
            elif r.rating != 0 and not r.reason:
                problems.append(f"upgrades.{name}.reason: rating up needs a reason")
            elif r.rating != 0 and self.design == "rct":
                problems.append(f"upgrades.{name}: GRADE rates up observational evidence only")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def start(self) -> int:
        return 4 if self.design == "rct" else 2

    @property
    def score(self) -> int:
        total = self.start
        total += sum(r.rating for r in self.domains.values())
        total += sum(r.rating for r in self.upgrades.values())
        return max(1, min(4, total))

    @property
    def certainty(self) -> str:
        return CERTAINTY[self.score]

    def reasons(self) -> list[str]:
        out = []
        for name in DOWN_DOMAINS:
            r = self.domains.get(name)
            if r is not None and r.rating:
                out.append(f"{_DOMAIN_NAMES[name]} ({r.rating:+d}): {r.reason}")
        for name in UP_DOMAINS:
            r = self.upgrades.get(name)
            if r is not None and r.rating:
                out.append(f"{_DOMAIN_NAMES[name]} ({r.rating:+d}): {r.reason}")
        return out


class Recommendation(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    statement: str
    cls: Literal["I", "IIa", "IIb", "III"] = Field(alias="class")
    level: Literal["A", "B", "C"]
    source: str | None = None


class SummaryOfFindings(BaseModel):
    """A GRADE summary of findings and an optional AHA recommendation table."""

    model_config = ConfigDict(extra="forbid")
    title: str
    question: str | None = None
    note: str | None = None
    outcomes: list[Outcome] = Field(default_factory=list)
    recommendations: list[Recommendation] = Field(default_factory=list)
    recommendations_source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "question": self.question,
            "outcomes": [
                {
                    "outcome": o.outcome,
                    "studies": o.studies,
                    "participants": o.participants,
                    "design": o.design,
                    "effect": o.effect,
                    "certainty": o.certainty,
                    "start": CERTAINTY[o.start],
                    "reasons": o.reasons(),
                    "reported": o.reported,
                    "source": o.source,
                }
                for o in self.outcomes
            ],
            "recommendations": [
                {"statement": r.statement, "class": r.cls, "level": r.level, "source": r.source}
                for r in self.recommendations
            ],
        }


def parse_sof(raw: object, name: str = "<sof>") -> SummaryOfFindings:
    try:
        return SummaryOfFindings.model_validate(raw)
    except ValidationError as exc:
        errors = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e["loc"]) or "(root)"
            msg = e["msg"].removeprefix("Value error, ")
            errors.append(FieldError(loc, msg, name))
        raise InvalidInput(errors) from None


def load_sof(path: str | Path) -> SummaryOfFindings:
    """Read and validate a summary-of-findings YAML file."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput.field(str(p), f"cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise InvalidInput.field(str(p), f"is not valid YAML ({exc})") from None
    return parse_sof(raw, p.name)


def _studies_participants(o: Outcome) -> str:
    studies = "NR" if o.studies is None else str(o.studies)
    people = "NR" if o.participants is None else str(o.participants)
    return f"{studies} ({people})"


def _md(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def render_markdown(sof: SummaryOfFindings) -> str:
    """Markdown (GitHub tables) of the summary of findings and the recommendation table."""
    out = [f"# {_md(sof.title)}", ""]
    if sof.question:
        out += [f"**Question:** {_md(sof.question)}", ""]
    if sof.outcomes:
        out += [
            "| Outcome | Studies (participants) | Design | Effect | Certainty | Reasons |",
            "|---|---|---|---|---|---|",
        ]
        for o in sof.outcomes:
            sp = _studies_participants(o)
            reasons = "; ".join(o.reasons()) or "none"
            cert = f"{SYMBOLS[o.score]} {o.certainty.upper()}"
            if o.reported and o.reported != o.certainty:
                cert += f" (source rated: {o.reported})"
            elif o.reported:
                cert += " (as the source rated it)"
            design = "randomised" if o.design == "rct" else "observational"
            out.append(
                f"| {_md(o.outcome)} | {sp} | {design} (starts {CERTAINTY[o.start]}) "
                f"| {_md(o.effect)} | {cert} | {_md(reasons)} |"
            )
        out.append("")
        out.append(
            "GRADE: randomised evidence starts high, observational low; rated down for risk "
            "of bias, inconsistency, indirectness, imprecision, publication bias; rated up for "
            "large effect, dose-response, plausible confounding (Guyatt et al. BMJ 2008; "
            "Balshem et al. J Clin Epidemiol 2011)."
        )
        out.append("")
    if sof.recommendations:
        out += ["## Recommendations (AHA class and level of evidence)", ""]
        if sof.recommendations_source:
            out += [f"Source: {_md(sof.recommendations_source)}", ""]
        out += ["| # | Recommendation | Class | Level | Source |", "|---|---|---|---|---|"]
        for i, r in enumerate(sof.recommendations, 1):
            out.append(f"| {i} | {_md(r.statement)} | {r.cls} | {r.level} | {_md(r.source)} |")
        out += ["", "| Class | Meaning |", "|---|---|"]
        out += [f"| {k} | {v} |" for k, v in AHA_CLASSES.items()]
        out += ["", "| Level | Meaning |", "|---|---|"]
        out += [f"| {k} | {v} |" for k, v in AHA_LEVELS.items()]
        out.append("")
    if sof.note:
        out += [f"Note: {_md(sof.note)}", ""]
    return "\n".join(out)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.92rem}
th,td{border:1px solid #bbb;padding:.4rem .6rem;vertical-align:top;text-align:left}
th{background:#f0f0f0}.high{background:#d9ead3}.moderate{background:#e6f2d9}
.low{background:#fff2cc}.very-low{background:#f4cccc}.note{color:#555;font-size:.85rem}
"""


def render_html(sof: SummaryOfFindings) -> str:
    """A standalone HTML page with the same content as :func:`render_markdown`."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(sof.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(sof.title)}</h1>",
    ]
    if sof.question:
        parts.append(f"<p><strong>Question:</strong> {e(sof.question)}</p>")
    if sof.outcomes:
        parts.append(
            "<table><thead><tr><th>Outcome</th><th>Studies (participants)</th><th>Design</th>"
            "<th>Effect</th><th>Certainty</th><th>Reasons</th></tr></thead><tbody>"
        )
        for o in sof.outcomes:
            reasons = "".join(f"<li>{e(r)}</li>" for r in o.reasons()) or "<li>none</li>"
            rep = ""
            if o.reported:
                rep = f"<br><span class=note>source rated: {e(o.reported)}</span>"
            design = "randomised" if o.design == "rct" else "observational"
            parts.append(
                f"<tr><td>{e(o.outcome)}</td>"
                f"<td>{_studies_participants(o)}</td>"
                f"<td>{design} (starts {CERTAINTY[o.start]})</td><td>{e(o.effect)}</td>"
                f'<td class="{o.certainty.replace(" ", "-")}">'
                f"{SYMBOLS[o.score]} {e(o.certainty.upper())}{rep}</td>"
                f"<td><ul>{reasons}</ul></td></tr>"
            )
        parts.append("</tbody></table>")
    if sof.recommendations:
        parts.append("<h2>Recommendations (AHA class and level of evidence)</h2>")
        if sof.recommendations_source:
            parts.append(f"<p>Source: {e(sof.recommendations_source)}</p>")
        parts.append(
            "<table><thead><tr><th>#</th><th>Recommendation</th><th>Class</th><th>Level</th>"
            "<th>Source</th></tr></thead><tbody>"
        )
        for i, r in enumerate(sof.recommendations, 1):
            parts.append(
                f"<tr><td>{i}</td><td>{e(r.statement)}</td><td>{r.cls}</td><td>{r.level}</td>"
                f"<td>{e(r.source or '')}</td></tr>"
            )
        parts.append(
            "</tbody></table><table><thead><tr><th>Class</th><th>Meaning</th></tr></thead><tbody>"
        )
        parts.extend(f"<tr><td>{k}</td><td>{e(v)}</td></tr>" for k, v in AHA_CLASSES.items())
        parts.append(
            "</tbody></table><table><thead><tr><th>Level</th><th>Meaning</th></tr></thead><tbody>"
        )
        parts.extend(f"<tr><td>{k}</td><td>{e(v)}</td></tr>" for k, v in AHA_LEVELS.items())
        parts.append("</tbody></table>")
    if sof.note:
        parts.append(f'<p class="note">{e(sof.note)}</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
