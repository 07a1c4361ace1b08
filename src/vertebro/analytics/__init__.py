"""Cohort reports from the registry. First piece: the quality audit of complication rates
against published thresholds (DESIGN.md section 1, "analytics").

>>> from vertebro.analytics import audit, registry_procedures       # doctest: +SKIP
>>> report = audit(registry_procedures(reg, "clin-demo1"), by="site")  # doctest: +SKIP

Analytics reads data and never writes clinical decisions; it imports the registry (to read)
and nothing imports it but the CLI. The arithmetic works on plain records, never the database.
"""

from __future__ import annotations

from ._audit import (
    GROUPINGS,
    AuditReport,
    Estimate,
    GroupAudit,
    LeakageAudit,
    audit,
    clinically_evident,
    procedure_event,
)
from ._plot import check_plot_path, funnel_figure, write_funnel_plot
from ._records import (
    ComplicationRecord,
    ProcedureRecord,
    procedures_from_export,
    registry_procedures,
)
from ._report import render_text
from ._stats import (
    STATUSES,
    FunnelLimits,
    classify,
    clopper_pearson,
    exceedance_p,
    funnel_limit,
    funnel_limits,
)
from ._thresholds import (
    CountingRule,
    Reference,
    Threshold,
    Thresholds,
    default_thresholds,
    load_thresholds,
    parse_thresholds,
)

__all__ = [
    "GROUPINGS",
    "STATUSES",
    "AuditReport",
    "ComplicationRecord",
    "CountingRule",
    "Estimate",
    "FunnelLimits",
    "GroupAudit",
    "LeakageAudit",
    "ProcedureRecord",
    "Reference",
    "Threshold",
    "Thresholds",
    "audit",
    "check_plot_path",
    "classify",
    "clinically_evident",
    "clopper_pearson",
    "default_thresholds",
    "exceedance_p",
    "funnel_figure",
    "funnel_limit",
    "funnel_limits",
    "load_thresholds",
    "parse_thresholds",
    "procedure_event",
    "procedures_from_export",
    "registry_procedures",
    "render_text",
    "write_funnel_plot",
]
