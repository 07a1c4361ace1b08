"""Clinical scores as pure functions: SINS, Bilsky ESCC, Genant, KPS/ECOG, ODI, RDQ, NRS, MCID,
and the prognostic scores of spinal metastases (revised Tokuhashi, Tomita, modified Bauer, NESMS).

Written by hand because no maintained library implements them; each function cites its
source. Plain ints and floats in, plain values out: the decision engine calls these in a
loop, so they are table lookups with validation, nothing heavier. Invalid input raises
:class:`vertebro.errors.InvalidInput` naming the field, the value and what was expected.
"""

from ._bauer import modified_bauer
from ._bilsky import ESCC_DESCRIPTIONS, ESCC_GRADES, escc_high_grade, parse_escc
from ._genant import Genant, genant, genant_grade, genant_morphology, height_loss_pct
from ._mcid import (
    MCIDThreshold,
    is_responder,
    kps_self_care_threshold,
    mcid_thresholds,
    parse_mcid_thresholds,
)
from ._nesms import nesms
from ._nrs import validate_nrs
from ._odi import ODI_MAX_MISSING, ODI_SECTIONS, odi_percent
from ._performance import (
    ECOG_VALUES,
    KPS_ECOG_TABLES,
    KPS_VALUES,
    KpsEcogTable,
    ecog_by_table,
    ecog_to_kps_range,
    kps_to_ecog,
    validate_ecog,
    validate_kps,
)
from ._prognosis import (
    FRANKEL_GRADES,
    VISCERAL_STATES,
    OddsRatio,
    PrognosticBand,
    PrognosticScore,
    prognosis_data,
)
from ._rdq import RDQ_ITEMS, rdq
from ._sins import (
    SINS,
    SINS_COMPONENTS,
    SINS_POINTS,
    sins,
    sins_category,
    sins_collapse,
    sins_from_level,
    sins_location,
)
from ._tokuhashi import tokuhashi
from ._tomita import tomita

__all__ = [
    "ECOG_VALUES",
    "ESCC_DESCRIPTIONS",
    "ESCC_GRADES",
    "FRANKEL_GRADES",
    "KPS_ECOG_TABLES",
    "KPS_VALUES",
    "ODI_MAX_MISSING",
    "ODI_SECTIONS",
    "RDQ_ITEMS",
    "SINS",
    "SINS_COMPONENTS",
    "SINS_POINTS",
    "VISCERAL_STATES",
    "Genant",
    "KpsEcogTable",
    "MCIDThreshold",
    "OddsRatio",
    "PrognosticBand",
    "PrognosticScore",
    "ecog_by_table",
    "ecog_to_kps_range",
    "escc_high_grade",
    "genant",
    "genant_grade",
    "genant_morphology",
    "height_loss_pct",
    "is_responder",
    "kps_self_care_threshold",
    "kps_to_ecog",
    "mcid_thresholds",
    "modified_bauer",
    "nesms",
    "odi_percent",
    "parse_escc",
    "parse_mcid_thresholds",
    "prognosis_data",
    "rdq",
    "sins",
    "sins_category",
    "sins_collapse",
    "sins_from_level",
    "sins_location",
    "tokuhashi",
    "tomita",
    "validate_ecog",
    "validate_kps",
    "validate_nrs",
]
