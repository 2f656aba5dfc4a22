"""Report: disclosure control (declared cells, complementary suppression, audit), tables, figures,
HTML rendering and the manifest."""

from leadeval.report.audit import AuditResult, audit
from leadeval.report.cells import declare
from leadeval.report.disclosure import Disclosure, DisclosureError, DisclosureProblem, protect
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
    "AuditResult",
    "Disclosure",
    "DisclosureError",
    "DisclosureProblem",
    "ReportDocument",
    "ReportFigure",
    "ReportSection",
    "ReportTable",
    "audit",
    "declare",
    "protect",
    "render_html",
    "suppress_counts",
    "write_tables",
]
