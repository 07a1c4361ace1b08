"""What the prognostic scores share: the result type, survival bands, ranges over unknowns.

Written by hand: no maintained library implements the spinal-metastasis prognostic scores.
Every item of a score is scored as a range of points: a known input gives one value, an
unknown input (``None``) the item's whole range, so the total is a range too and the bands it
may fall in are all reported (as SINS does in the engine). The points, the primary-site
classes and the bands live in ``data/prognosis.yaml`` with their citations.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any, Final

from vertebro._yaml import load_yaml
from vertebro.errors import FieldError, InvalidInput

__all__ = [
    "FRANKEL_GRADES",
    "VISCERAL_STATES",
    "OddsRatio",
    "PrognosticBand",
    "PrognosticScore",
    "prognosis_data",
]

#: Frankel grades (Frankel HL et al. Paraplegia 1969;7(3):179-92): A complete ... E normal.
FRANKEL_GRADES: Final[tuple[str, ...]] = ("A", "B", "C", "D", "E")
#: visceral metastases: none, treatable (Tokuhashi's "removable") or untreatable
VISCERAL_STATES: Final[tuple[str, ...]] = ("none", "treatable", "untreatable")

Points = tuple[int, int]


@cache
def prognosis_data() -> Mapping[str, Any]:
    """The bundled ``scores/data/prognosis.yaml`` (points, primary classes, bands)."""
    text = files("vertebro.scores").joinpath("data/prognosis.yaml").read_text("utf-8")
    data: Mapping[str, Any] = load_yaml(text)
    return data


@dataclass(frozen=True)
class PrognosticBand:
    """One published band of a score: its totals, what it predicts and its source.

    ``months`` is the survival the band stands for, ``(low, high)`` with ``None`` for an
    open end, or ``None`` when the source gives no survival for the band (Tomita, NESMS).
    ``odds_ratio`` is a published effect of the band against a reference band (NESMS:
    Schoenfeld 2020), ``None`` when the source prints none.
    """

    code: str
    min: int
    max: int
    label: str
    months: tuple[float, float | None] | None
    treatment: str | None
    statistic: str | None = None  # "mean" when months is a cohort mean, else a prediction
    odds_ratio: OddsRatio | None = None


@dataclass(frozen=True)
class OddsRatio:
    """An odds ratio of ``outcome`` in a band against the band ``versus``, with its 95% CI."""

    outcome: str
    versus: str
    estimate: float
    ci95: tuple[float, float]


@dataclass(frozen=True)
class PrognosticScore:
    """A prognostic score, with ranges where inputs are unknown.

    ``total`` is set only when every item is known (or the unknowns cannot change it);
    ``range`` is (lowest, highest) possible total; ``points`` is the range of each item;
    ``unknown`` names the inputs that are not known; ``bands`` are every band some
    completion of the unknowns reaches, so a single band means the unknowns cannot change the
    prognostic group.
    """

    score: str
    name: str
    range: Points
    points: dict[str, Points]
    unknown: tuple[str, ...]
    bands: tuple[PrognosticBand, ...]
    reference: str
    source_table: str
    notes: tuple[str, ...] = field(default=())

    @property
    def total(self) -> int | None:
        lo, hi = self.range
        return lo if lo == hi else None

    @property
    def band(self) -> PrognosticBand | None:
        """The band, when the range falls in one band only."""
        return self.bands[0] if len(self.bands) == 1 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "name": self.name,
            "total": self.total,
            "range": list(self.range),
            "points": {k: list(v) for k, v in self.points.items()},
            "unknown": list(self.unknown),
            "bands": [
                {
                    "code": b.code,
                    "min": b.min,
                    "max": b.max,
                    "label": b.label,
                    "months": list(b.months) if b.months is not None else None,
                    "statistic": b.statistic,
                    "treatment": b.treatment,
                    "odds_ratio": {**asdict(b.odds_ratio), "ci95": list(b.odds_ratio.ci95)}
                    if b.odds_ratio
                    else None,
                }
                for b in self.bands
            ],
            "notes": list(self.notes),
            "reference": self.reference,
            "source_table": self.source_table,
        }


@cache
def _bands(key: str) -> tuple[PrognosticBand, ...]:
    return bands_of(prognosis_data()[key])


def bands_of(spec: Mapping[str, Any]) -> tuple[PrognosticBand, ...]:
    out = []
    for b in spec["bands"]:
        months = b.get("months")
        orr = b.get("odds_ratio")
        out.append(
            PrognosticBand(
                code=b["code"],
                min=b["min"],
                max=b["max"],
                label=b["label"],
                months=(months[0], months[1]) if months is not None else None,
                treatment=b.get("treatment"),
                statistic=b.get("statistic"),
                odds_ratio=None
                if orr is None
                else OddsRatio(
                    outcome=orr["outcome"],
                    versus=orr["versus"],
                    estimate=float(orr["estimate"]),
                    ci95=(float(orr["ci95"][0]), float(orr["ci95"][1])),
                ),
            )
        )
    return tuple(out)


def build(
    key: str,
    points: dict[str, Points],
    unknown: Iterable[str],
    *,
    reachable: Iterable[int] | None = None,
    notes: Sequence[str] = (),
) -> PrognosticScore:
    """The score ``key`` of ``data/prognosis.yaml`` from its item ranges (summed).

    ``reachable`` is the set of totals the unknowns can actually give, for a score whose
    items move in steps larger than one (Tomita's 1/2/4, NESMS's 2-point Bauer item and
    ceiling): the range is its ends, and only bands holding one of them are reported, so an
    unknown never opens a band no completion of the inputs reaches.
    """
    spec = prognosis_data()[key]
    if reachable is not None:
        totals = sorted(set(reachable))
        lo, hi = totals[0], totals[-1]
        bands = tuple(b for b in _bands(key) if any(b.min <= t <= b.max for t in totals))
    else:
        lo, hi = sum(p[0] for p in points.values()), sum(p[1] for p in points.values())
        bands = tuple(b for b in _bands(key) if b.max >= lo and b.min <= hi)
    return PrognosticScore(
        score=key,
        name=spec["name"],
        range=(lo, hi),
        points=points,
        unknown=tuple(dict.fromkeys(unknown)),
        bands=bands,
        reference=" ".join(str(spec["citation"]).split()),
        source_table=spec["table"],
        notes=tuple(notes),
    )


def span(values: Iterable[int]) -> Points:
    vs = list(values)
    return (min(vs), max(vs))


# ----------------------------------------------------------------------------- input checks
def check_count(errors: list[FieldError], name: str, value: object, low: int = 0) -> int | None:
    """A count of lesions, or ``None`` (unknown)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low or value > 1000:
        errors.append(FieldError(name, f"{value!r} is not a count ({low} or more)"))
        return None
    return value


def check_choice(
    errors: list[FieldError], name: str, value: object, choices: Sequence[str]
) -> str | None:
    if value is None:
        return None
    code = value.strip() if isinstance(value, str) else value
    if isinstance(code, str) and name == "frankel":
        code = code.upper()
    elif isinstance(code, str):
        code = code.lower()
    if code not in choices:
        errors.append(FieldError(name, f"{value!r} is not one of {', '.join(choices)}"))
        return None
    return str(code)


def check_kps(errors: list[FieldError], value: object) -> Points | None:
    """A Karnofsky score (10-100 in steps of 10) or a range of them, e.g. from an ECOG."""
    if value is None:
        return None
    pair = value if isinstance(value, tuple | list) else (value, value)
    ok = len(pair) == 2 and all(
        not isinstance(v, bool) and isinstance(v, int) and v % 10 == 0 and 10 <= v <= 100
        for v in pair
    )
    if not ok or pair[0] > pair[1]:
        errors.append(
            FieldError("kps", f"{value!r} is not a Karnofsky score (10-100 in steps of 10)")
        )
        return None
    return (int(pair[0]), int(pair[1]))


def check_bool(errors: list[FieldError], name: str, value: object) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    errors.append(FieldError(name, f"{value!r} is not true, false or unknown (null)"))
    return None


def check_albumin(errors: list[FieldError], value: object) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= 10
    ):
        errors.append(
            FieldError("albumin_g_dl", f"{value!r} is not a serum albumin in g/dL (0-10)")
        )
        return None
    return float(value)


def primary_key(primary: str | None) -> str | None:
    """vertebro's primary-site key: lower case, spaces as underscores; None if not given."""
    if primary is None:
        return None
    key = primary.strip().lower().replace(" ", "_").replace("-", "_")
    return key or None


def raise_if(errors: list[FieldError]) -> None:
    if errors:
        raise InvalidInput(errors)


def by_count(table: Sequence[Mapping[str, Any]], count: int | None) -> Points:
    """Points of a count from rows ``{min, max (None = open), points}``; all rows if unknown."""
    rows = [
        r["points"]
        for r in table
        if count is None or (r["min"] <= count and (r["max"] is None or count <= r["max"]))
    ]
    return span(rows)


def by_kps(table: Sequence[Mapping[str, Any]], kps: Points | None) -> Points:
    rows = [
        r["points"]
        for r in table
        if kps is None or (r["max"] >= kps[0] and r["min"] <= kps[1])
    ]
    return span(rows)
