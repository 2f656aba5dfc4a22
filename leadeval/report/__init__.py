"""Report: small-cell suppression, tables, figures, HTML rendering and the manifest."""

from leadeval.report.document import (
    ReportDocument,
    ReportFigure,
    ReportSection,
    ReportTable,
    render_html,
    write_tables,
)
from leadeval.report.suppression import SUPPRESSED, suppress_counts

__all__ = [
    "SUPPRESSED",
    "ReportDocument",
    "ReportFigure",
    "ReportSection",
    "ReportTable",
    "render_html",
    "suppress_counts",
    "write_tables",
]
