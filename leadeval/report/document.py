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
from leadeval.safe_csv import to_csv

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
    warning: str = ""  # e.g. a small-cell threshold below 11: stamped on every page and table

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


def text_cells(table: ReportTable) -> np.ndarray:
    """The text of every non-numeric cell of ``table`` (index included when it is shown): what
    :func:`check_no_identifiers` tests against the person identifiers."""
    frame = table.frame.reset_index() if table.index else table.frame
    return frame.select_dtypes(exclude="number").astype(str).to_numpy().ravel()


def check_no_identifiers(table: ReportTable, person_ids: Iterable[str] = ()) -> None:
    """Refuse a table that carries a person identifier, by column name or by value."""
    frame = table.frame.reset_index() if table.index else table.frame
    bad_cols = IDENTIFIER_COLUMNS.intersection(map(str, frame.columns))
    if bad_cols:
        raise LeadevalError(
            f"report table {table.name!r} has identifier column(s) {sorted(bad_cols)}; "
            "person-level data goes only to restricted/ with --restricted"
        )
    ids = person_ids if isinstance(person_ids, set | frozenset) else set(person_ids)
    if ids:
        # report tables are small: test each text cell against the set (DataFrame.isin would
        # hash every identifier of the roster again, for each table)
        hits = sum(v in ids for v in text_cells(table))
        if hits:
            raise LeadevalError(
                f"report table {table.name!r} contains {hits} person identifier value(s); "
                "person-level data goes only to restricted/ with --restricted"
            )


def with_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with a ``<column>_label`` beside each column of machine names (analysis keys,
    cohort columns, terms, cost categories): what ``tables/*.csv`` hold."""
    from leadeval.report.labels import LABELLED_COLUMNS, label

    out = frame.copy()
    for col in [c for c in out.columns if c in LABELLED_COLUMNS]:
        if f"{col}_label" in out.columns or not (
            out[col].dtype == object or pd.api.types.is_string_dtype(out[col])
        ):
            continue
        labels = out[col].map(lambda v: label(v) if isinstance(v, str) else v)
        out.insert(out.columns.get_loc(col) + 1, f"{col}_label", labels)
    return out


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """What the HTML shows: labels in place of machine names, plain headers."""
    from leadeval.report.labels import header

    out = with_labels(frame)
    for col in [c for c in out.columns if f"{c}_label" in out.columns]:
        out[col] = out.pop(f"{col}_label")
    out.columns = [header(c) for c in out.columns]
    return out


def format_cell(column: str, value: object) -> str:
    """A cell as printed: p-values as '<0.001' / '0.012', everything else by format_value."""
    if column in ("p_value", "p") and isinstance(value, float | np.floating) and np.isfinite(value):
        return "<0.001" if value < 0.001 else f"{value:.3f}"
    return format_value(value)


def table_csv(table: ReportTable) -> str:
    """The CSV text of a table: fixed float format and line ends, so reruns are byte-identical;
    machine names kept, with a ``<column>_label`` beside them; safe to open in a spreadsheet."""
    frame = with_labels(table.frame.reset_index() if table.index else table.frame)
    return to_csv(frame, index=False, lineterminator="\n", float_format="%.6g")


def table_html(table: ReportTable) -> str:
    frame = table.frame.reset_index() if table.index else table.frame
    raw_cols = list(frame.columns)
    shown = display_frame(frame)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    body = []
    for row in shown.itertuples(index=False):
        cells = "".join(
            f'<td class="{"num" if isinstance(v, int | float | np.number) else "txt"}">'
            f"{html.escape(format_cell(str(c), v))}</td>"
            for c, v in zip(raw_cols, row, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    wide = " class=\"wide\"" if len(shown.columns) > 7 else ""
    return (
        f"<table{wide}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


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
