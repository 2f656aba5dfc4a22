"""Write a site's evaluation report: ``report.html``, ``tables/*.csv``, ``manifest.json`` (and
optionally ``report.pdf`` and person-level files in ``restricted/``).

>>> import leadeval as le
>>> paths = le.write_report(le.load_config("configs/seattle.yaml"), "reports/seattle")  # doctest: +SKIP
>>> paths.html                                                                            # doctest: +SKIP
PosixPath('reports/seattle/report.html')
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from leadeval.config import SiteConfig, load_config
from leadeval.errors import LeadevalError
from leadeval.evaluation import Evaluation, Progress, evaluate
from leadeval.extracts import write_quarantine
from leadeval.report.audit import check
from leadeval.report.cells import declare
from leadeval.report.disclosure import Disclosure, protect
from leadeval.report.document import render_html, write_tables
from leadeval.report.manifest import build_manifest, write_manifest
from leadeval.report.sections import build_document


@dataclass(frozen=True)
class ReportPaths:
    """Where a report was written, and the evaluation behind it."""

    folder: Path
    html: Path
    tables: Path
    manifest: Path
    pdf: Path | None
    restricted: Path | None
    evaluation: Evaluation
    disclosure: Disclosure | None = None


def disclose(ev: Evaluation) -> Disclosure:
    """The disclosure step: declare every published number, suppress, audit. Raises
    :class:`~leadeval.report.disclosure.DisclosureError` when the audit fails."""
    d = protect(declare(ev), ev.config.report.small_cell_threshold)
    check(d.audit)
    return d


def write_pdf(html: str, path: Path, base: Path) -> None:
    """Render the HTML report to PDF with WeasyPrint (``pip install leadeval[pdf]``)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as err:  # OSError: the Pango system library is missing
        raise LeadevalError(
            f"PDF output needs WeasyPrint and the Pango library ({err.__class__.__name__}: "
            f"{str(err).splitlines()[0]}); install it with `pip install 'leadeval[pdf]'` or ask "
            "for --format html"
        ) from None
    HTML(string=html, base_url=str(base)).write_pdf(path)


def write_restricted(ev: Evaluation, folder: Path) -> None:
    """Person-level outputs, only when asked for: never part of the shareable report."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    ev.cohort.persons.to_csv(folder / "persons.csv", index=False, lineterminator="\n")
    ev.cohort.flow.to_csv(folder / "cohort_flow_persons.csv", index=False, lineterminator="\n")
    if ev.matched is not None:
        ev.matched.data.to_csv(folder / "matched_sample.csv", index=False, lineterminator="\n")
    if not ev.extracts.clean:
        write_quarantine(ev.extracts, folder / "quarantine")


def write_report(
    config: SiteConfig | str | Path,
    out: str | Path | None = None,
    seed: int | None = None,
    formats: Sequence[str] | None = None,
    restricted: bool | None = None,
    progress: Progress | None = None,
) -> ReportPaths:
    """Run the evaluation and write its report into ``out`` (default ``reports/<site>``)."""
    cfg = config if isinstance(config, SiteConfig) else load_config(config)
    formats = tuple(formats or cfg.report.formats)
    unknown = sorted(set(formats) - {"html", "pdf"})
    if unknown:
        raise LeadevalError(f"unknown report format(s) {unknown}; allowed: html, pdf")
    restricted = cfg.report.restricted if restricted is None else restricted
    folder = Path(out) if out is not None else Path("reports") / cfg.site
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0)

    ev = evaluate(cfg, seed=seed, progress=progress)
    if progress:
        progress("disclosure control")
    disclosure_started = time.perf_counter()
    disclosure = disclose(ev)  # fails before anything is written
    disclosure_seconds = round(time.perf_counter() - disclosure_started, 3)
    if progress:
        progress("report")
    doc = build_document(ev, disclosure)
    folder.mkdir(parents=True, exist_ok=True)
    person_ids = ev.extracts.to_pandas("roster")["person_id"].astype(str)
    table_hashes = write_tables(doc, folder / "tables", person_ids)
    summary = [
        ("site", cfg.site),
        ("seed", str(ev.seed)),
        ("data through", cfg.data_end_date.isoformat()),
    ]
    html = render_html(doc, summary)
    html_path = folder / "report.html"
    html_path.write_text(html)
    outputs = {"report.html": hashlib.sha256(html.encode()).hexdigest()}
    pdf_path = None
    if "pdf" in formats:
        pdf_path = folder / "report.pdf"
        write_pdf(html, pdf_path, folder)
    restricted_path = None
    if restricted:
        restricted_path = folder / "restricted"
        write_restricted(ev, restricted_path)
    run = {
        "started_utc": started_at.isoformat(),
        "seconds": round(time.perf_counter() - started, 2),
    }
    run["disclosure_seconds"] = disclosure_seconds  # declare + suppress + audit
    manifest = build_manifest(cfg, ev.seed, table_hashes, run, outputs)
    manifest["disclosure"] = disclosure.audit.to_dict()
    if cfg.report.small_cell_warning:
        manifest["warning"] = cfg.report.small_cell_warning
    manifest_path = folder / "manifest.json"
    write_manifest(manifest, manifest_path)
    return ReportPaths(
        folder, html_path, folder / "tables", manifest_path, pdf_path, restricted_path, ev,
        disclosure,
    )
