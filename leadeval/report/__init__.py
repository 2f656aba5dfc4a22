"""Report: disclosure control (declared cells, complementary suppression, audit), tables, figures,
HTML rendering and the manifest.

The public names are imported on first use (PEP 562), like :mod:`leadeval`'s: ``leadeval report``
imports :mod:`leadeval.report.writer` before the extracts load, and the disclosure step and the
sections (statsmodels, scipy, matplotlib through the evaluation) load beside them (see
:func:`leadeval.report.writer.write_report`).
"""

from leadeval._lazy import lazy_names

_LAZY = {
    "AuditResult": "leadeval.report.audit",
    "audit": "leadeval.report.audit",
    "declare": "leadeval.report.cells",
    "Disclosure": "leadeval.report.disclosure",
    "DisclosureError": "leadeval.report.disclosure",
    "DisclosureProblem": "leadeval.report.disclosure",
    "protect": "leadeval.report.disclosure",
    "ReportDocument": "leadeval.report.document",
    "ReportFigure": "leadeval.report.document",
    "ReportSection": "leadeval.report.document",
    "ReportTable": "leadeval.report.document",
    "render_html": "leadeval.report.document",
    "write_tables": "leadeval.report.document",
    "SUPPRESSED": "leadeval.report.suppression",
    "suppress_counts": "leadeval.report.suppression",
}


__getattr__, __dir__ = lazy_names(globals(), _LAZY)


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
