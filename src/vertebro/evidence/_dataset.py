"""The curated dataset shipped with vertebro (``vertebro/evidence/data/``), loaded with
``importlib.resources`` so that it works from a wheel or a zip as well as from a checkout.

* ``studies.csv``: every study-level or pooled figure the seeds report for the evidence module,
  one row each, citing seed file and table (format: :mod:`vertebro.evidence._studies`).
* ``prisma_sorensen2019.json``: the PRISMA counts reported by Sorensen-SpineJ-2019.
* ``sof_example.yaml``: an example GRADE summary of findings and the SNIS-2014 AHA table.
* ``reference/bcg.csv``, ``reference/miller1978.csv``: metafor's reference data sets (metadat;
  Colditz et al. 1994; Miller 1978), unchanged.
"""

from __future__ import annotations

from importlib import resources

from ._studies import StudyRow, parse_studies

__all__ = ["data_text", "load_curated"]


def data_text(name: str) -> str:
    """Text of a file in ``vertebro/evidence/data``, e.g. ``"reference/bcg.csv"``."""
    node = resources.files("vertebro.evidence").joinpath("data")
    for part in name.split("/"):
        node = node.joinpath(part)
    return node.read_text(encoding="utf-8")


def load_curated() -> list[StudyRow]:
    """The curated study rows (validated on load)."""
    return parse_studies(data_text("studies.csv"), "studies.csv")
