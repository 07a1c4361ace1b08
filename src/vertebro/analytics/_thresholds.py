"""Thresholds, reference rates and the counting rule of the quality audit, as data.

The numbers live in ``analytics/data/thresholds.yaml``, each with its source, so that a quality
lead can check them against the papers and a site can substitute its own file. The file is
validated here (pydantic); every problem is reported as :class:`~vertebro.errors.InvalidInput`
naming the field, e.g. ``thresholds[0].rate: 1.5: Input should be less than 1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vertebro.errors import FieldError, InvalidInput

__all__ = [
    "POPULATION",
    "ControlLimits",
    "CountingRule",
    "Reference",
    "Source",
    "Threshold",
    "Thresholds",
    "default_thresholds",
    "load_thresholds",
    "parse_thresholds",
]

#: vertebro is for cancer-related fractures (DESIGN.md section 1): the audit applies the
#: threshold for neoplastic fractures.
POPULATION: Final = "neoplastic"


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Source(_Data):
    seed: str = Field(min_length=1, description="short name of the source, e.g. SNIS-2014")
    section: str = Field(min_length=1)

    def __str__(self) -> str:
        return f"{self.seed}, {self.section}"


class CountingRule(_Data):
    """Which complications make a procedure an event (see the ``says`` and ``why`` texts)."""

    id: str = Field(min_length=1)
    unit: Literal["procedure"]
    severity_grade_at_least: int = Field(ge=1, le=5)
    leak_types: tuple[str, ...] = Field(min_length=1)
    says: str = Field(min_length=1)
    why: str = Field(min_length=1)
    citation: str = Field(min_length=1)


class Threshold(_Data):
    id: str = Field(min_length=1)
    source: Source
    population: Literal["neoplastic", "osteoporotic"]
    rate: float = Field(gt=0, lt=1)
    counts: str = Field(min_length=1)
    says: str = Field(min_length=1)


class Reference(_Data):
    """A published rate shown beside the registry's for context; never a threshold."""

    id: str = Field(min_length=1)
    source: Source
    measure: Literal["cement_leakage", "symptomatic_complications"]
    technique: Literal["vertebroplasty", "kyphoplasty"]
    unit: Literal["patient", "level", "procedure"]
    events: int = Field(ge=0)
    n: int | None = Field(None, gt=0)
    percent: float | None = Field(None, ge=0, le=100)
    note: str = ""

    @model_validator(mode="after")
    def _rate_given(self) -> Reference:
        if self.n is None and self.percent is None:
            raise ValueError("give n or percent")
        if self.n is not None and self.events > self.n:
            raise ValueError(f"events {self.events} > n {self.n}")
        return self

    @property
    def rate(self) -> float:
        """The published proportion: as printed when a percent is given, else events / n."""
        if self.percent is not None:
            return self.percent / 100
        assert self.n is not None
        return self.events / self.n


class ControlLimits(_Data):
    alert: float = Field(gt=0.5, lt=1)
    alarm: float = Field(gt=0.5, lt=1)
    citation: str = Field(min_length=1)
    says: str = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> ControlLimits:
        if self.alarm <= self.alert:
            raise ValueError(f"alarm {self.alarm} must be above alert {self.alert}")
        return self


class Thresholds(_Data):
    version: int = Field(ge=1)
    counting_rule: CountingRule
    thresholds: tuple[Threshold, ...] = Field(min_length=1)
    references: tuple[Reference, ...] = ()
    control_limits: ControlLimits

    @model_validator(mode="after")
    def _one_per_population(self) -> Thresholds:
        found = sum(1 for t in self.thresholds if t.population == POPULATION)
        if found != 1:
            raise ValueError(
                f"exactly one threshold for the {POPULATION!r} population is needed, found {found}"
            )
        return self

    @property
    def threshold(self) -> Threshold:
        """The threshold the audit applies (neoplastic fractures)."""
        return next(t for t in self.thresholds if t.population == POPULATION)

    def reference(self, measure: str, technique: str) -> Reference | None:
        return next(
            (r for r in self.references if r.measure == measure and r.technique == technique), None
        )


def _field_errors(exc: ValidationError) -> list[FieldError]:
    out = []
    for e in exc.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]).lstrip(".")
        msg = str(e["msg"]).removeprefix("Value error, ")
        if e["type"] not in ("missing", "extra_forbidden") and not isinstance(e["input"], dict):
            msg = f"{e['input']!r}: {msg}"
        out.append(FieldError(loc or "thresholds file", msg))
    return out


def parse_thresholds(data: Mapping[str, Any]) -> Thresholds:
    """Validate data shaped like ``analytics/data/thresholds.yaml``.

    Raises
    ------
    InvalidInput
        Listing every problem, each naming its field.
    """
    if not isinstance(data, Mapping):
        raise InvalidInput.field("thresholds file", "not a mapping of keys to values")
    try:
        return Thresholds.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(_field_errors(exc)) from None


def load_thresholds(path: str | Path) -> Thresholds:
    """Read and validate a thresholds file (a site's own, in the shipped file's format)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput.field(str(path), f"cannot read YAML: {exc}") from None
    return parse_thresholds(data)


@cache
def default_thresholds() -> Thresholds:
    """The shipped thresholds: SNIS-2014 all-complication rate 10% for neoplastic fractures
    (2% osteoporotic, not applied), Sorensen-SpineJ-2019 reference rates, Spiegelhalter 2005
    control limits.

    References
    ----------
    SNIS-2014, "All complications". Sorensen-SpineJ-2019, Table 1. Spiegelhalter DJ. Stat Med
    2005;24(8):1185-1202.
    """
    text = files("vertebro.analytics").joinpath("data", "thresholds.yaml").read_text("utf-8")
    return parse_thresholds(yaml.safe_load(text))
