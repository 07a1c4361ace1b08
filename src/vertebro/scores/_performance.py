"""Performance status: Karnofsky (KPS) and ECOG, and conversion between them.

Written by hand (table lookups). Published KPS->ECOG tables disagree, so every conversion
names the table it used (DESIGN.md section 5). Buccheri 1996 is not shipped: its table maps
groups of both scales onto three shared grades, not KPS onto single ECOG values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from vertebro.errors import InvalidInput

__all__ = [
    "ECOG_VALUES",
    "KPS_ECOG_TABLES",
    "KPS_VALUES",
    "KpsEcogTable",
    "ecog_by_table",
    "ecog_to_kps_range",
    "kps_to_ecog",
    "validate_ecog",
    "validate_kps",
]

# Karnofsky DA, Burchenal JH 1949: 100 (normal) to 0 (dead) in steps of 10.
KPS_VALUES: Final[tuple[int, ...]] = tuple(range(0, 101, 10))
# Oken MM et al. 1982: 0 (fully active) to 5 (dead).
ECOG_VALUES: Final[tuple[int, ...]] = tuple(range(6))

# Karnofsky DA, Burchenal JH. The clinical evaluation of chemotherapeutic agents in cancer.
#   In: MacLeod CM, ed. Evaluation of Chemotherapeutic Agents. Columbia Univ Press; 1949:191-205.
# Oken MM et al. Toxicity and response criteria of the Eastern Cooperative Oncology Group.
#   Am J Clin Oncol 1982;5(6):649-55.


@dataclass(frozen=True)
class KpsEcogTable:
    """One published KPS -> ECOG conversion: its name, citation and the mapping."""

    name: str
    citation: str
    mapping: Mapping[int, int]  # every value of KPS_VALUES -> ECOG 0-5


def _table(name: str, citation: str, bands: dict[tuple[int, int], int]) -> KpsEcogTable:
    mapping = {kps: ecog for (lo, hi), ecog in bands.items() for kps in range(lo, hi + 1, 10)}
    assert sorted(mapping) == list(KPS_VALUES), name  # a table must cover the whole scale
    return KpsEcogTable(name, citation, MappingProxyType(mapping))


# KPS 0 is dead in Karnofsky's scale and ECOG 5 is dead in Oken's, in every table; the
# empirical tables (Ma, Prasad) only studied living patients, so 0 -> 5 is added by definition.
KPS_ECOG_TABLES: Final[Mapping[str, KpsEcogTable]] = MappingProxyType(
    {
        "conventional": _table(
            "conventional",
            "Conventional pairing of the Karnofsky scale (Karnofsky DA, Burchenal JH 1949) "
            "with the ECOG scale (Oken MM et al. Am J Clin Oncol 1982;5(6):649-55)",
            {(90, 100): 0, (70, 80): 1, (50, 60): 2, (30, 40): 3, (10, 20): 4, (0, 0): 5},
        ),
        "ma2010": _table(
            "ma2010",
            "Ma C, Bandukwala S, Burman D, et al. Interconversion of three measures of "
            "performance status: an empirical analysis. Eur J Cancer 2010;46(18):3175-83. "
            "doi:10.1016/j.ejca.2010.06.126",
            {(100, 100): 0, (80, 90): 1, (60, 70): 2, (40, 50): 3, (10, 30): 4, (0, 0): 5},
        ),
        "prasad2018": _table(
            "prasad2018",
            "Prasad KT, Kaur H, Muthu V, et al. Interconversion of two commonly used "
            "performance tools: an analysis of 5844 paired assessments in 1501 lung cancer "
            "patients. World J Clin Oncol 2018;9(7):140-7. doi:10.5306/wjco.v9.i7.140",
            {(100, 100): 0, (80, 90): 1, (70, 70): 2, (50, 60): 3, (10, 40): 4, (0, 0): 5},
        ),
    }
)

# ECOG -> (lowest KPS, highest KPS), precomputed per table: the engine calls this in a loop.
_ECOG_RANGES: Final[dict[str, dict[int, tuple[int, int]]]] = {
    name: {
        e: (
            min(k for k, v in t.mapping.items() if v == e),
            max(k for k, v in t.mapping.items() if v == e),
        )
        for e in ECOG_VALUES
    }
    for name, t in KPS_ECOG_TABLES.items()
}


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)  # e.g. 70.0 read from JSON
    return None


def validate_kps(value: object, field: str = "kps") -> int:
    """A Karnofsky performance status, checked.

    Parameters
    ----------
    value : object
        0-100 in steps of 10 (an int, or a float with no fraction such as ``70.0``).
    field : str
        Field name used in the error message.

    Raises
    ------
    InvalidInput
        e.g. ``kps: 55 is not a Karnofsky score (0-100 in steps of 10)``.

    References
    ----------
    Karnofsky DA, Burchenal JH. In: MacLeod CM, ed. Evaluation of Chemotherapeutic Agents.
    Columbia University Press; 1949:191-205.
    """
    kps = _integer(value)
    if kps is None or kps not in KPS_VALUES:
        raise InvalidInput.field(
            field, f"{value!r} is not a Karnofsky score (0-100 in steps of 10)"
        )
    return kps


def validate_ecog(value: object, field: str = "ecog") -> int:
    """An ECOG performance status, checked: 0-5 (5 = dead).

    References
    ----------
    Oken MM et al. Am J Clin Oncol 1982;5(6):649-55.
    """
    ecog = _integer(value)
    if ecog is None or ecog not in ECOG_VALUES:
        raise InvalidInput.field(field, f"{value!r} is not an ECOG performance status (0-5)")
    return ecog


def _get_table(table: str) -> str:
    if table not in KPS_ECOG_TABLES:
        raise InvalidInput.field(
            "table", f"{table!r} is not a KPS-ECOG table ({', '.join(KPS_ECOG_TABLES)})"
        )
    return table


def kps_to_ecog(kps: int, table: str = "conventional") -> int:
    """ECOG performance status for a KPS, by a named conversion table.

    Parameters
    ----------
    kps : int
        Karnofsky score, 0-100 in steps of 10.
    table : str
        A key of :data:`KPS_ECOG_TABLES`: ``"conventional"`` (100/90->0, 80/70->1,
        60/50->2, 40/30->3, 20/10->4, 0->5), ``"ma2010"`` or ``"prasad2018"``.

    References
    ----------
    Karnofsky DA, Burchenal JH 1949; Oken MM et al. Am J Clin Oncol 1982;5(6):649-55;
    Ma C et al. Eur J Cancer 2010;46(18):3175-83; Prasad KT et al. World J Clin Oncol
    2018;9(7):140-7.
    """
    return KPS_ECOG_TABLES[_get_table(table)].mapping[validate_kps(kps)]


def ecog_to_kps_range(ecog: int, table: str = "conventional") -> tuple[int, int]:
    """The KPS values (lowest, highest) that a table maps to an ECOG status.

    ``ecog_to_kps_range(1)`` is ``(70, 80)`` with the conventional table; ECOG 5 is
    ``(0, 0)``.

    References
    ----------
    As for :func:`kps_to_ecog`.
    """
    return _ECOG_RANGES[_get_table(table)][validate_ecog(ecog)]


def ecog_by_table(kps: int) -> dict[str, int]:
    """The ECOG status each shipped table gives a KPS, by table name.

    ``ecog_by_table(70)`` is ``{"conventional": 1, "ma2010": 2, "prasad2018": 2}``: the
    tables disagree, so a KPS and an ECOG recorded together are consistent when at least one
    table pairs them.

    References
    ----------
    As for :func:`kps_to_ecog`.
    """
    kps = validate_kps(kps)
    return {name: t.mapping[kps] for name, t in KPS_ECOG_TABLES.items()}
