"""PRISMA 2020 flow diagram from a counts file (JSON), drawn with matplotlib as SVG and PNG.

Page MJ et al. The PRISMA 2020 statement. BMJ 2021;372:n71 (flow diagram for new and updated
reviews with searches of databases, registers and other sources). A count that the review did
not report is ``null`` and is drawn as "not reported"; nothing is invented. :meth:`checks`
reconciles the counts that are given and says where they do not add up.

Counts file (all counts optional except ``included_studies``)::

    {"title": "...", "source": "...",
     "previous": {"label": "...", "records": 150, "excluded": 85, "excluded_label": "..."},
     "databases": 243, "database_names": ["Ovid MEDLINE", ...], "registers": null,
     "duplicates_removed": null, "automation_removed": null, "other_removed": null,
     "screened": null, "screen_excluded": 73,
     "sought": null, "not_retrieved": null,
     "assessed": null, "excluded_reasons": [{"reason": "...", "n": 36}],
     "other_sources": 2, "other_source_names": ["citation searching"],
     "other_sought": null, "other_not_retrieved": null, "other_assessed": null,
     "other_excluded_reasons": [],
     "included_studies": 87, "included_reports": null, "notes": ["..."]}
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, ValidationError

from vertebro.errors import FieldError, InvalidInput

__all__ = ["PrismaCounts", "load_prisma", "prisma_diagram"]


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str
    n: NonNegativeInt | None = None


class Previous(BaseModel):
    """Studies or records carried over from a previous review (an update's starting point)."""

    model_config = ConfigDict(extra="forbid")
    label: str = "Studies included in previous version of review"
    records: NonNegativeInt | None = None
    excluded: NonNegativeInt | None = None
    excluded_label: str = "Excluded"


class PrismaCounts(BaseModel):
    """PRISMA 2020 counts; ``None`` means not reported."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = None
    source: str | None = None
    previous: Previous | None = None
    databases: NonNegativeInt | None = None
    database_names: list[str] = Field(default_factory=list)
    registers: NonNegativeInt | None = None
    duplicates_removed: NonNegativeInt | None = None
    automation_removed: NonNegativeInt | None = None
    other_removed: NonNegativeInt | None = None
    screened: NonNegativeInt | None = None
    screen_excluded: NonNegativeInt | None = None
    sought: NonNegativeInt | None = None
    not_retrieved: NonNegativeInt | None = None
    assessed: NonNegativeInt | None = None
    excluded_reasons: list[Reason] = Field(default_factory=list)
    other_sources: NonNegativeInt | None = None
    other_source_names: list[str] = Field(default_factory=list)
    other_sought: NonNegativeInt | None = None
    other_not_retrieved: NonNegativeInt | None = None
    other_assessed: NonNegativeInt | None = None
    other_excluded_reasons: list[Reason] = Field(default_factory=list)
    included_studies: NonNegativeInt
    included_reports: NonNegativeInt | None = None
    notes: list[str] = Field(default_factory=list)

    def checks(self) -> list[str]:
        """Where the reported counts do not reconcile (PRISMA arithmetic)."""
        out: list[str] = []

        def known(*xs: int | None) -> bool:
            return all(x is not None for x in xs)

        ident = None
        if self.databases is not None or self.registers is not None:
            ident = (self.databases or 0) + (self.registers or 0)
        removed = sum(
            x or 0 for x in (self.duplicates_removed, self.automation_removed, self.other_removed)
        )
        if ident is not None and self.screened is not None and ident - removed != self.screened:
            out.append(
                f"identified {ident} - removed {removed} = {ident - removed}, "
                f"but {self.screened} screened"
            )
        if known(self.screened, self.screen_excluded, self.sought):
            assert self.screened is not None and self.screen_excluded is not None
            if self.screened - self.screen_excluded != self.sought:
                out.append(
                    f"screened {self.screened} - excluded {self.screen_excluded} "
                    f"= {self.screened - self.screen_excluded}, but {self.sought} sought"
                )
        if known(self.sought, self.not_retrieved, self.assessed):
            assert self.sought is not None and self.not_retrieved is not None
            if self.sought - self.not_retrieved != self.assessed:
                out.append(
                    f"sought {self.sought} - not retrieved {self.not_retrieved} "
                    f"!= assessed {self.assessed}"
                )
        # end-to-end: what the reported exclusions leave, if unreported removals were zero
        excl_ft = [r.n for r in self.excluded_reasons]
        if ident is not None and all(n is not None for n in excl_ft):
            start = self.screened if self.screened is not None else ident - removed
            left = start - (self.screen_excluded or 0) - (self.not_retrieved or 0)
            left -= sum(n or 0 for n in excl_ft)
            prev = 0
            if self.previous is not None and self.previous.records is not None:
                prev = self.previous.records - (self.previous.excluded or 0)
            other = self.other_sources or 0
            other -= (self.other_not_retrieved or 0) + sum(
                r.n or 0 for r in self.other_excluded_reasons
            )
            implied = left + prev + other
            if implied != self.included_studies:
                assumed = []
                if self.screened is None:
                    assumed.append("no records were removed before screening")
                if self.not_retrieved is None:
                    assumed.append("every report sought was retrieved")
                cond = f" (assuming {' and '.join(assumed)})" if assumed else ""
                parts = f"{left} from the search"
                if self.previous is not None:
                    parts += f" + {prev} from the previous review"
                if self.other_sources is not None:
                    parts += f" + {other} from other sources"
                out.append(
                    f"the reported exclusions leave {parts} = {implied}{cond}, "
                    f"but {self.included_studies} studies are reported as included"
                )
        return out


def load_prisma(path: str | Path) -> PrismaCounts:
    """Read and validate a counts file; raises InvalidInput naming each bad field."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput.field(str(p), f"cannot be read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput.field(
            str(p), f"is not valid JSON ({exc.msg}, line {exc.lineno})"
        ) from None
    return parse_prisma(raw, p.name)


def parse_prisma(raw: object, name: str = "<counts>") -> PrismaCounts:
    try:
        return PrismaCounts.model_validate(raw)
    except ValidationError as exc:
        errors = [
            FieldError(".".join(str(x) for x in e["loc"]) or "(root)", e["msg"], name)
            for e in exc.errors()
        ]
        raise InvalidInput(errors) from None


def _n(x: int | None) -> str:
    # non-breaking spaces keep "(n = not reported)" on one line when boxes wrap
    return "not\u00a0reported" if x is None else f"{x:,}"


def prisma_diagram(c: PrismaCounts) -> Figure:
    """Draw the PRISMA 2020 flow diagram for counts ``c``."""
    has_prev = c.previous is not None
    has_other = c.other_sources is not None or bool(c.other_source_names)
    # column x-ranges in axis units
    cols: dict[str, tuple[float, float]] = {}
    x = 0.0
    if has_prev:
        cols["prev"] = (x, x + 19)
        x += 23
    cols["main"] = (x, x + 25)
    cols["excl"] = (x + 29, x + 54)
    x += 58
    if has_other:
        cols["other"] = (x, x + 21)
        cols["oexcl"] = (x + 24, x + 45)
        x += 45
    width_units = x
    fig_w = 2.0 + width_units * 0.118
    foot = []
    if c.source:
        foot.append(f"Source: {c.source}")
    foot.extend(c.notes)
    foot.extend(f"Counts do not reconcile: {m}." for m in c.checks())
    foot_lines: list[str] = []
    for f in foot:
        foot_lines.extend(textwrap.wrap(f, width=int(fig_w * 14)))
    foot_units = 2.6 * len(foot_lines) + (2.0 if foot_lines else 0.0)
    title_units = 5.0 if c.title else 0.0
    fig = Figure(figsize=(fig_w, 10.2 * (100 + foot_units + title_units) / 100))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    left_margin = 9.0
    ax.set_xlim(-left_margin, width_units + 1.5)
    ax.set_ylim(-foot_units, 100 + title_units)
    ax.axis("off")
    chars_per_unit = 1.7

    def box(
        col: str,
        yc: float,
        h: float,
        lines: list[str],
        *,
        bold_first: bool = False,
        fc: str = "white",
    ) -> tuple[float, float, float, float]:
        x0, x1 = cols[col]
        w = x1 - x0
        ax.add_patch(
            FancyBboxPatch(
                (x0, yc - h / 2), w, h, boxstyle="square,pad=0", fc=fc, ec="black", lw=0.9
            )
        )
        wrapped: list[str] = []
        for ln in lines:
            wrapped.extend(textwrap.wrap(ln, width=int(w * chars_per_unit)) or [""])
        ax.text(
            x0 + 1.0, yc, "\n".join(wrapped), va="center", ha="left", fontsize=8.3, linespacing=1.35
        )
        return x0, x1, yc - h / 2, yc + h / 2

    def arrow(p0: tuple[float, float], p1: tuple[float, float]) -> None:
        ax.add_patch(
            FancyArrowPatch(p0, p1, arrowstyle="-|>", mutation_scale=10, lw=0.9, color="black")
        )

    # header bars
    top = 97.5
    x0 = cols["prev"][0] if has_prev else cols["main"][0]
    if has_prev:
        px0, px1 = cols["prev"]
        ax.add_patch(
            FancyBboxPatch(
                (px0, top - 2.2), px1 - px0, 3.6, boxstyle="round,pad=0.3", fc="#d9d9d9", ec="none"
            )
        )
        ax.text(
            (px0 + px1) / 2,
            top - 0.4,
            "Previous studies",
            ha="center",
            va="center",
            fontsize=9,
            weight="bold",
        )
    mx0, mx1 = cols["main"][0], cols["excl"][1]
    ax.add_patch(
        FancyBboxPatch(
            (mx0, top - 2.2), mx1 - mx0, 3.6, boxstyle="round,pad=0.3", fc="#fce4a8", ec="none"
        )
    )
    ax.text(
        (mx0 + mx1) / 2,
        top - 0.4,
        "Identification of new studies via databases and registers",
        ha="center",
        va="center",
        fontsize=9,
        weight="bold",
    )
    if has_other:
        ox0, ox1 = cols["other"][0], cols["oexcl"][1]
        ax.add_patch(
            FancyBboxPatch(
                (ox0, top - 2.2), ox1 - ox0, 3.6, boxstyle="round,pad=0.3", fc="#d9d9d9", ec="none"
            )
        )
        ax.text(
            (ox0 + ox1) / 2,
            top - 0.4,
            "Identification of new studies via other methods",
            ha="center",
            va="center",
            fontsize=9,
            weight="bold",
        )
    del x0

    # phase labels on the left
    for label, y0, y1 in (("Identification", 78, 93), ("Screening", 25, 76), ("Included", 4, 23)):
        ax.add_patch(
            FancyBboxPatch(
                (-left_margin + 1.2, y0),
                4.2,
                y1 - y0,
                boxstyle="round,pad=0.3",
                fc="#9dc3e6",
                ec="none",
            )
        )
        ax.text(
            -left_margin + 3.3,
            (y0 + y1) / 2,
            label,
            rotation=90,
            ha="center",
            va="center",
            fontsize=9,
            weight="bold",
        )

    y_id, y_scr, y_sought, y_ass, y_inc = 85.5, 67.0, 52.0, 36.5, 12.5
    # identification
    db_lines = ["Records identified from:", f"Databases (n\u00a0=\u00a0{_n(c.databases)})"]
    if c.database_names:
        db_lines.append("(" + ", ".join(c.database_names) + ")")
    db_lines.append(f"Registers (n\u00a0=\u00a0{_n(c.registers)})")
    b_id = box("main", y_id, 13, db_lines)
    b_rm = box(
        "excl",
        y_id,
        13,
        [
            "Records removed before screening:",
            f"Duplicate records (n\u00a0=\u00a0{_n(c.duplicates_removed)})",
            f"Marked ineligible by automation tools (n\u00a0=\u00a0{_n(c.automation_removed)})",
            f"Removed for other reasons (n\u00a0=\u00a0{_n(c.other_removed)})",
        ],
    )
    arrow((b_id[1], y_id), (b_rm[0], y_id))
    b_s = box("main", y_scr, 8, [f"Records screened (n\u00a0=\u00a0{_n(c.screened)})"])
    b_se = box("excl", y_scr, 8, [f"Records excluded (n\u00a0=\u00a0{_n(c.screen_excluded)})"])
    arrow(((b_id[0] + b_id[1]) / 2, b_id[2]), ((b_s[0] + b_s[1]) / 2, b_s[3]))
    arrow((b_s[1], y_scr), (b_se[0], y_scr))
    b_so = box(
        "main", y_sought, 8, [f"Reports sought for retrieval (n\u00a0=\u00a0{_n(c.sought)})"]
    )
    b_nr = box(
        "excl", y_sought, 8, [f"Reports not retrieved (n\u00a0=\u00a0{_n(c.not_retrieved)})"]
    )
    arrow(((b_s[0] + b_s[1]) / 2, b_s[2]), ((b_so[0] + b_so[1]) / 2, b_so[3]))
    arrow((b_so[1], y_sought), (b_nr[0], y_sought))
    b_a = box(
        "main", y_ass, 8, [f"Reports assessed for eligibility (n\u00a0=\u00a0{_n(c.assessed)})"]
    )
    reasons = ["Reports excluded:"] + [
        f"{r.reason} (n\u00a0=\u00a0{_n(r.n)})" for r in c.excluded_reasons
    ]
    if not c.excluded_reasons:
        reasons.append("not reported")
    b_ex = box("excl", y_ass, max(8.0, 3.2 * len(reasons) + 1.5), reasons)
    arrow(((b_so[0] + b_so[1]) / 2, b_so[2]), ((b_a[0] + b_a[1]) / 2, b_a[3]))
    arrow((b_a[1], y_ass), (b_ex[0], y_ass))
    inc_lines = [
        f"Studies included in review (n\u00a0=\u00a0{_n(c.included_studies)})",
        f"Reports of included studies (n\u00a0=\u00a0{_n(c.included_reports)})",
    ]
    b_inc = box("main", y_inc, 9, inc_lines, fc="#eaf2e3")
    arrow(((b_a[0] + b_a[1]) / 2, b_a[2]), ((b_inc[0] + b_inc[1]) / 2, b_inc[3]))

    if has_prev and c.previous is not None:
        pv = c.previous
        b_p = box("prev", y_id, 13, [pv.label, f"(n\u00a0=\u00a0{_n(pv.records)})"])
        px0, px1 = cols["prev"]
        line_x = px0 + 3.0
        cols["prev_excl"] = (px0 + 6.0, px1)
        b_pe = box(
            "prev_excl", y_ass, 12, [f"{pv.excluded_label} (n\u00a0=\u00a0{_n(pv.excluded)})"]
        )
        ax.plot([line_x, line_x], [b_p[2], y_inc], color="black", lw=0.9)
        arrow((line_x, y_ass), (b_pe[0], y_ass))
        arrow((line_x, y_inc), (b_inc[0], y_inc))
    if has_other:
        names = ", ".join(c.other_source_names) if c.other_source_names else "other methods"
        b_o = box(
            "other",
            y_id,
            13,
            ["Records identified from:", f"{names} (n\u00a0=\u00a0{_n(c.other_sources)})"],
        )
        b_os = box(
            "other",
            y_sought,
            8,
            [f"Reports sought for retrieval (n\u00a0=\u00a0{_n(c.other_sought)})"],
        )
        b_onr = box(
            "oexcl",
            y_sought,
            8,
            [f"Reports not retrieved (n\u00a0=\u00a0{_n(c.other_not_retrieved)})"],
        )
        b_oa = box(
            "other",
            y_ass,
            8,
            [f"Reports assessed for eligibility (n\u00a0=\u00a0{_n(c.other_assessed)})"],
        )
        oreasons = ["Reports excluded:"] + [
            f"{r.reason} (n\u00a0=\u00a0{_n(r.n)})" for r in c.other_excluded_reasons
        ]
        if not c.other_excluded_reasons:
            oreasons.append("not reported")
        b_oex = box("oexcl", y_ass, max(8.0, 3.2 * len(oreasons) + 1.5), oreasons)
        arrow(((b_o[0] + b_o[1]) / 2, b_o[2]), ((b_os[0] + b_os[1]) / 2, b_os[3]))
        arrow((b_os[1], y_sought), (b_onr[0], y_sought))
        arrow(((b_os[0] + b_os[1]) / 2, b_os[2]), ((b_oa[0] + b_oa[1]) / 2, b_oa[3]))
        arrow((b_oa[1], y_ass), (b_oex[0], y_ass))
        ox = (b_oa[0] + b_oa[1]) / 2
        ax.plot([ox, ox], [b_oa[2], y_inc], color="black", lw=0.9)
        arrow((ox, y_inc), (b_inc[1], y_inc))

    if c.title:
        ax.text(
            -left_margin + 1.2,
            100 + title_units - 1.2,
            c.title,
            ha="left",
            va="top",
            fontsize=11,
            weight="bold",
        )
    if foot_lines:
        ax.text(
            -left_margin + 1.2,
            1.5,
            "\n".join(foot_lines),
            ha="left",
            va="top",
            fontsize=7.8,
            color="#333333",
            linespacing=1.4,
        )
    return fig
