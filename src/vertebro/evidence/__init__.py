"""Evidence synthesis: study-level data, meta-analysis (metafor's definitions), PRISMA, plots,
certainty of evidence. Public names are re-exported here; the modules behind them are private.
"""

from ._batch import BatchResult, rma_batch
from ._measures import MEASURES, Effects, escalc
from ._rma import METHODS, RMA, estimate_tau2
from ._transform import back_transform, ipft, pft

__all__ = [
    "MEASURES",
    "METHODS",
    "RMA",
    "BatchResult",
    "Effects",
    "back_transform",
    "escalc",
    "estimate_tau2",
    "ipft",
    "pft",
    "rma_batch",
]
