"""The report as data (sections of prose, tables and figures) and its rendering to HTML and CSV.

Sections are built from results elsewhere (``leadeval.report.sections``); this module only formats.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import markupsafe
import numpy as np
import pandas as pd

from leadeval.errors import LeadevalError

IDENTIFIER_COLUMNS = frozenset(
    {"person_id", "arrest_id", "charge_id", "booking_id", "call_id", "source_row"}
)


@dataclass(frozen=True)
class ReportTable:
    """A table shown in the report and written to ``tables/<name>.csv``."""

    name: str
    title: str
    frame: pd.DataFrame
    note: str = ""
    index: bool = False


@dataclass(frozen=True)
class ReportFigure:
    title: str
    svg: str
    caption: str = ""


@dataclass(frozen=True)
class ReportSection:
    key: str
    title: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[ReportTable, ...] = ()
    figures: tuple[ReportFigure, ...] = ()
    skipped: str | None = None
    box: tuple[tuple[str, bool], ...] = ()  # key findings: (sentence, is a component)


@dataclass(frozen=True)
class ReportDocument:
    title: str
    subtitle: str
    sections: tuple[ReportSection, ...]
    footnotes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def tables(self) -> list[ReportTable]:
        return [t for s in self.sections for t in s.tables]


def format_value(value: object, digits: int = 3) -> str:
    """How a cell prints: integers plainly, floats to ``digits`` significant places, NA as '–'."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "–"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        v = float(value)
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v):,}"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.{digits}g}" if abs(v) < 1e-3 else f"{v:,.{max(digits - 1, 0)}f}"
    return str(value)


def check_no_identifiers(table: ReportTable, person_ids: Iterable[str] = ()) -> None:
    """Refuse a table that carries a person identifier, by column name or by value."""
    frame = table.frame.reset_index() if table.index else table.frame
    bad_cols = IDENTIFIER_COLUMNS.intersection(map(str, frame.columns))
    if bad_cols:
        raise LeadevalError(
            f"report table {table.name!r} has identifier column(s) {sorted(bad_cols)}; "
            "person-level data goes only to restricted/ with --restricted"
        )
    ids = set(person_ids)
    if ids:
        text = frame.select_dtypes(exclude="number").astype(str)
        hits = text.isin(ids).to_numpy().sum()
        if hits:
            raise LeadevalError(
                f"report table {table.name!r} contains {hits} person identifier value(s); "
                "person-level data goes only to restricted/ with --restricted"
            )


def table_csv(table: ReportTable) -> str:
    """The CSV text of a table: fixed float format and line ends, so reruns are byte-identical."""
    frame = table.frame
    return frame.to_csv(index=table.index, lineterminator="\n", float_format="%.6g")


def table_html(table: ReportTable) -> str:
    frame = table.frame.reset_index() if table.index else table.frame
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = "".join(
            f'<td class="{"num" if isinstance(v, int | float | np.number) else "txt"}">'
            f"{html.escape(format_value(v))}</td>"
            for v in row
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("leadeval", "report/templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(doc: ReportDocument, manifest_summary: Sequence[tuple[str, str]] = ()) -> str:
    """The whole report as one self-contained HTML page (inline CSS and SVG; no network)."""
    template = _ENV.get_template("report.html.j2")
    return template.render(
        doc=doc,
        table_html=lambda t: markupsafe.Markup(table_html(t)),
        svg=markupsafe.Markup,
        manifest_summary=manifest_summary,
    )


def write_tables(
    doc: ReportDocument, folder: Path, person_ids: Iterable[str] = ()
) -> dict[str, str]:
    """Write every table as CSV; return {file name: sha256}. Checks each for identifiers first."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = frozenset(person_ids)
    hashes = {}
    for table in doc.tables:
        check_no_identifiers(table, ids)
        text = table_csv(table)
        name = f"{table.name}.csv"
        (folder / name).write_text(text)
        hashes[name] = hashlib.sha256(text.encode()).hexdigest()
    return hashes
