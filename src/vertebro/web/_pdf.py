"""The tumour-board report as PDF, from the same report view as the page and the text report.

WeasyPrint lays out HTML and CSS for print (page margins, running headers, page counters),
which is what a handout needs; it needs the pango libraries of the system. The document is
the report page's body (``_report_body.html``) in a print layout (``report_pdf.html``):
the patient identifier, date, author, guideline and versions head every page, the page
number and the decision-support notice foot every page, and the last part says who ran it
and what produced it. Nothing is fetched while rendering: only ``data:`` URLs are allowed,
so patient-entered text can never make the server load a file or a URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vertebro.assess import ReportView

from ._templates import templates

__all__ = ["ReportMeta", "render_pdf"]


@dataclass(frozen=True)
class ReportMeta:
    """What the engine output does not know: whose report, when, by whom."""

    patient: str  # the registry pseudonym, or "unsaved"
    date: str
    author: str  # the signed-in user, or "not signed in"
    guideline: str
    reference: str = ""  # where it is stored: "registry assessment 12, site A"


def render_pdf(view: ReportView, case: dict[str, Any], meta: ReportMeta) -> bytes:
    """The report as PDF bytes (A4)."""
    # Imported here: loading WeasyPrint loads pango, which only the PDF route needs.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    html = templates.get_template("report_pdf.html").render(view=view, case=case, meta=meta)
    fetcher = URLFetcher(allowed_protocols=["data"])
    # write_pdf() without a target returns the document as bytes.
    return bytes(HTML(string=html, url_fetcher=fetcher).write_pdf())
