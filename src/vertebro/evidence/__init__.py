"""Evidence synthesis for vertebral augmentation: study-level data, meta-analysis that agrees with
R's metafor, Sorensen-style N-weighted pooling, PRISMA 2020 flow diagrams, forest and funnel
plots, GRADE summary-of-findings and AHA class/level tables.

Public names are re-exported here (httpx style); the modules behind them are private::

    from vertebro.evidence import RMA, escalc
    eff = escalc("PLO", xi=[601, 59], ni=[760, 101])
    res = RMA(method="REML", test="knha").fit(eff.yi, eff.vi, measure="PLO")
    print(res.summary())

See ``docs/evidence.md`` for the CSV formats, the method notes and the command line.
"""

from ._batch import BatchResult, rma_batch
from ._bias import Egger, PetPeese, RankTest, TrimFill, egger, pet_peese, ranktest, trimfill
from ._dataset import data_text, load_curated
from ._formula import Design, model_matrix
from ._glmm import RMAGLMM
from ._grade import (
    AHA_CLASSES,
    AHA_LEVELS,
    CERTAINTY,
    Outcome,
    SummaryOfFindings,
    load_sof,
    parse_sof,
    render_html,
    render_markdown,
)
from ._influence import Influence, influence
from ._measures import MEASURES, Effects, escalc
from ._mh import TableModel, mantel_haenszel, peto
from ._multilevel import RMAMV
from ._permutest import PermTest, permutest
from ._plots import (
    CONTOUR_LEVELS,
    baujat_plot,
    forest_plot,
    funnel_contours,
    funnel_plot,
    save_figure,
)
from ._prisma import PrismaCounts, load_prisma, parse_prisma, prisma_diagram
from ._reproduce import (
    Check,
    cafe_responders,
    reproduce,
    sorensen_table2,
    sorensen_table2_rows,
    wilcoxon_all_improved,
)
from ._rma import METHODS, RMA, estimate_tau2, q_gen, tau2_qprofile
from ._sensitivity import Subgroups, cumulative, leave_one_out, subgroups
from ._studies import (
    COLUMNS,
    DESIGNS,
    MetaforData,
    StudyRow,
    check_consistency,
    effects_from_studies,
    format_studies,
    is_metafor_header,
    parse_metafor_csv,
    parse_studies,
    read_metafor_csv,
    read_studies,
    read_study_files,
)
from ._transform import back_transform, ipft, pft
from ._weighted import INTERVALS, WeightedMean, pooled_by_interval, weighted_mean

__all__ = [
    "AHA_CLASSES",
    "AHA_LEVELS",
    "CERTAINTY",
    "COLUMNS",
    "CONTOUR_LEVELS",
    "DESIGNS",
    "INTERVALS",
    "MEASURES",
    "METHODS",
    "RMA",
    "RMAGLMM",
    "RMAMV",
    "BatchResult",
    "Check",
    "Design",
    "Effects",
    "Egger",
    "Influence",
    "MetaforData",
    "Outcome",
    "PermTest",
    "PetPeese",
    "PrismaCounts",
    "RankTest",
    "StudyRow",
    "Subgroups",
    "SummaryOfFindings",
    "TableModel",
    "TrimFill",
    "WeightedMean",
    "back_transform",
    "baujat_plot",
    "cafe_responders",
    "check_consistency",
    "cumulative",
    "data_text",
    "effects_from_studies",
    "egger",
    "escalc",
    "estimate_tau2",
    "forest_plot",
    "format_studies",
    "funnel_contours",
    "funnel_plot",
    "influence",
    "ipft",
    "is_metafor_header",
    "leave_one_out",
    "load_curated",
    "load_prisma",
    "load_sof",
    "mantel_haenszel",
    "model_matrix",
    "parse_metafor_csv",
    "parse_prisma",
    "parse_sof",
    "parse_studies",
    "permutest",
    "pet_peese",
    "peto",
    "pft",
    "pooled_by_interval",
    "prisma_diagram",
    "q_gen",
    "ranktest",
    "read_metafor_csv",
    "read_studies",
    "read_study_files",
    "render_html",
    "render_markdown",
    "reproduce",
    "rma_batch",
    "save_figure",
    "sorensen_table2",
    "sorensen_table2_rows",
    "subgroups",
    "tau2_qprofile",
    "trimfill",
    "weighted_mean",
    "wilcoxon_all_improved",
]
