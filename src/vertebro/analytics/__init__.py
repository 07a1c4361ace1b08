"""Cohort reports from the registry: the quality audit of complication rates against
published thresholds, the comparative-effectiveness report (kyphoplasty vs vertebroplasty,
IPTW and Kaplan-Meier), the outcomes report (change from baseline, MCID responders,
Sorensen-SpineJ-2019 pooled means beside), and the registry's cohort as study rows for
``vertebro evidence`` (DESIGN.md sections 1 and 2, "analytics").

>>> from vertebro.analytics import audit, outcomes, registry_procedures   # doctest: +SKIP
>>> report = audit(registry_procedures(reg, "clin-demo1"), by="site")      # doctest: +SKIP
>>> changes = outcomes(registry_procedures(reg, "clin-demo1"))             # doctest: +SKIP

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
    audit_of_counts,
    clinically_evident,
    is_leak,
    procedure_event,
)
from ._compare import (
    Balance,
    CompareReport,
    Difference,
    Effect,
    KMCurve,
    SurvivalComparison,
    compare,
    fracture_or_death,
    iptw_weights,
    kaplan_meier,
    propensity_scores,
    smd,
    truncate_weights,
    weighted_difference,
)
from ._compare_cif import CIFCurve, cumulative_incidence
from ._compare_data import CompareRecord, compare_records, compare_settings
from ._compare_plot import km_figure, love_figure, write_km_plot, write_love_plot
from ._compare_report import render_compare_text
from ._from_registry import (
    registry_audit,
    registry_compare,
    registry_outcomes,
    study_rows_from_registry,
)
from ._outcomes import (
    MEASURES,
    SELECTION,
    Completeness,
    IntervalOutcome,
    MeasureOutcome,
    OutcomesReport,
    Responders,
    TechniqueOutcomes,
    baseline_value,
    index_procedures,
    interval_value,
    outcomes,
    outcomes_of_counts,
    patient_value,
)
from ._outcomes_plot import outcomes_figure, write_outcomes_plot
from ._outcomes_report import render_outcomes_text
from ._paired import (
    EXACT_MAX_N,
    MeanCI,
    PairedChange,
    WilcoxonResult,
    mean_ci,
    paired_change,
    wilcoxon_signed_rank,
)
from ._plot import check_plot_path, funnel_figure, write_funnel_plot
from ._pooled import SORENSEN_SOURCE, PooledMean, sorensen_pooled_means
from ._records import (
    ComplicationRecord,
    FollowUpRecord,
    ProcedureRecord,
    is_visit,
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
    first_flagged,
    funnel_limit,
    funnel_limits,
)
from ._study_rows import REGISTRY_OUTCOMES, registry_study_rows, study_rows_of_counts
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
    "EXACT_MAX_N",
    "GROUPINGS",
    "MEASURES",
    "REGISTRY_OUTCOMES",
    "SELECTION",
    "SORENSEN_SOURCE",
    "STATUSES",
    "AuditReport",
    "Balance",
    "CIFCurve",
    "CompareRecord",
    "CompareReport",
    "Completeness",
    "ComplicationRecord",
    "CountingRule",
    "Difference",
    "Effect",
    "Estimate",
    "FollowUpRecord",
    "FunnelLimits",
    "GroupAudit",
    "IntervalOutcome",
    "KMCurve",
    "LeakageAudit",
    "MeanCI",
    "MeasureOutcome",
    "OutcomesReport",
    "PairedChange",
    "PooledMean",
    "ProcedureRecord",
    "Reference",
    "Responders",
    "SurvivalComparison",
    "TechniqueOutcomes",
    "Threshold",
    "Thresholds",
    "WilcoxonResult",
    "audit",
    "audit_of_counts",
    "baseline_value",
    "check_plot_path",
    "classify",
    "clinically_evident",
    "clopper_pearson",
    "compare",
    "compare_records",
    "compare_settings",
    "cumulative_incidence",
    "default_thresholds",
    "exceedance_p",
    "first_flagged",
    "fracture_or_death",
    "funnel_figure",
    "funnel_limit",
    "funnel_limits",
    "index_procedures",
    "interval_value",
    "iptw_weights",
    "is_leak",
    "is_visit",
    "kaplan_meier",
    "km_figure",
    "load_thresholds",
    "love_figure",
    "mean_ci",
    "outcomes",
    "outcomes_figure",
    "outcomes_of_counts",
    "paired_change",
    "parse_thresholds",
    "patient_value",
    "procedure_event",
    "procedures_from_export",
    "propensity_scores",
    "registry_audit",
    "registry_compare",
    "registry_outcomes",
    "registry_procedures",
    "registry_study_rows",
    "render_compare_text",
    "render_outcomes_text",
    "render_text",
    "smd",
    "sorensen_pooled_means",
    "study_rows_from_registry",
    "study_rows_of_counts",
    "truncate_weights",
    "weighted_difference",
    "wilcoxon_signed_rank",
    "write_funnel_plot",
    "write_km_plot",
    "write_love_plot",
    "write_outcomes_plot",
]
