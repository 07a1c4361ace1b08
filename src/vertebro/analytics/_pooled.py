"""Published pooled means shown beside the registry's outcomes: Sorensen-SpineJ-2019 Table 2.

The numbers are not retyped here: they are read from the curated evidence dataset
(``vertebro/evidence/data/studies.csv``, selected by
:func:`vertebro.evidence.sorensen_table2_rows`), where each row cites the table it comes from
and which ``vertebro evidence reproduce`` checks cell by cell. The review pooled study means
weighted by N; KPS is pooled over vertebroplasty and kyphoplasty together (too few studies
reported it per technique), and pain was reported as VAS 0-10, which the registry records as
NRS 0-10. They are reference values from other cohorts, not targets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any, Final

__all__ = ["SORENSEN_SOURCE", "PooledMean", "sorensen_pooled_means"]

SORENSEN_SOURCE: Final = "Sorensen-SpineJ-2019, Table 2"

# the curated dataset's outcome and technique names -> the registry's
_OUTCOMES: Final = {"pain_vas": "nrs", "odi": "odi", "kps": "kps"}
_TECHNIQUES: Final = {
    "PVP": ("vertebroplasty",),
    "KP": ("kyphoplasty",),
    "PVP+KP": ("vertebroplasty", "kyphoplasty"),
}


@dataclass(frozen=True)
class PooledMean:
    """One cell of Sorensen-SpineJ-2019 Table 2: a mean weighted by N, and that N."""

    measure: str
    technique: str
    interval: str
    mean: float
    n: int
    pooled_over: str  # "vertebroplasty", "kyphoplasty" or "vertebroplasty and kyphoplasty"
    source: str = SORENSEN_SOURCE

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "reference, not a target",
            "mean": self.mean,
            "n": self.n,
            "pooled_over": self.pooled_over,
            "source": self.source,
        }


@cache
def sorensen_pooled_means() -> Mapping[tuple[str, str, str], PooledMean]:
    """Sorensen-SpineJ-2019 Table 2 as ``{(measure, technique, interval): PooledMean}``, with
    the registry's names (``nrs``/``odi``/``kps``, ``vertebroplasty``/``kyphoplasty``,
    interval codes of :data:`vertebro.registry.vocab.INTERVALS`).

    References
    ----------
    Sorensen ST et al. Spine J 2019 (systematic review of 87 studies, 3426 patients), Table 2.
    """
    # imported here: the evidence package is only needed when a report is built
    from vertebro.evidence import sorensen_table2_rows

    out: dict[tuple[str, str, str], PooledMean] = {}
    for row in sorensen_table2_rows():
        if (
            row.outcome not in _OUTCOMES
            or row.technique not in _TECHNIQUES
            or "Table 2" not in row.source
            or row.interval is None
            or row.mean is None
            or row.n is None
        ):
            continue
        techniques = _TECHNIQUES[row.technique]
        for tech in techniques:
            measure = _OUTCOMES[row.outcome]
            out[(measure, tech, row.interval)] = PooledMean(
                measure=measure,
                technique=tech,
                interval=row.interval,
                mean=row.mean,
                n=row.n,
                pooled_over=" and ".join(techniques),
            )
    return MappingProxyType(out)
