"""Write a site's evaluation report: ``report.html``, ``tables/*.csv``, ``manifest.json`` (and
optionally ``report.pdf`` and person-level files in ``restricted/``).

>>> import leadeval as le
>>> paths = le.write_report(le.load_config("configs/seattle.yaml"), "reports/seattle")  # doctest: +SKIP
>>> paths.html                                                                            # doctest: +SKIP
PosixPath('reports/seattle/report.html')
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import numpy as np

from leadeval.cohort import Cohort
from leadeval.cohort.persons import PersonSource
from leadeval.config import SiteConfig, load_config
from leadeval.errors import LeadevalError
from leadeval.extracts import Extracts, load_extracts, write_quarantine
from leadeval.progress import StageClock, fan_out
from leadeval.report.manifest import build_manifest, sha256_file, write_manifest
from leadeval.safe_csv import to_csv

if TYPE_CHECKING:  # at run time the functions are bound by _late() (see _LATE)
    from leadeval.evaluation import Evaluation, Progress, evaluate
    from leadeval.report.audit import check
    from leadeval.report.cells import declare
    from leadeval.report.disclosure import Disclosure, protect
    from leadeval.report.document import ReportDocument, render_html, text_cells, write_tables
    from leadeval.report.sections import build_document

#: the names of the stages after the load (the evaluation, the disclosure step, the sections:
#: statsmodels, scipy, matplotlib and the rest, some 2 CPU s of imports). :func:`write_report`
#: imports them in a thread while the extracts load, whose time is mostly DuckDB's, outside
#: the GIL; they become this module's globals when first needed (:func:`_late`), so
#: ``writer.evaluate`` and ``writer.protect`` are there to read or monkeypatch as before.
_LATE = {
    "evaluate": "leadeval.evaluation",
    "check": "leadeval.report.audit",
    "declare": "leadeval.report.cells",
    "protect": "leadeval.report.disclosure",
    "render_html": "leadeval.report.document",
    "text_cells": "leadeval.report.document",
    "write_tables": "leadeval.report.document",
    "build_document": "leadeval.report.sections",
}


def _late() -> None:
    """Bind the :data:`_LATE` names as globals; a name already bound (a test's monkeypatch) stays."""
    g = globals()
    for name, module in _LATE.items():
        if name not in g:
            g[name] = getattr(import_module(module), name)


def __getattr__(name: str):
    if name in _LATE:
        _late()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _import_late_modules() -> threading.Thread:
    """Start importing the :data:`_LATE` modules in a thread. Nothing it does is relied on: a
    module it imported is simply there when the run needs it; one that failed is imported
    again by :func:`_late` in the main thread, which raises the error there."""

    def run() -> None:
        for module in dict.fromkeys(_LATE.values()):
            try:
                import_module(module)
            except BaseException:  # noqa: BLE001 -- see the docstring: _late raises it
                return

    thread = threading.Thread(target=run, name="leadeval-imports")
    thread.start()
    return thread


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
    _late()
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


PERSON_ROWS = 100_000  # persons.csv is written this many people at a time


def write_persons(cohort: Cohort, path: Path, rows: int = PERSON_ROWS) -> None:
    """``persons.csv``: the bytes of ``to_csv(cohort.persons)``, written ``rows`` people at a
    time from the engine, so a state's person table (millions of people by ~120 columns) is
    never one frame. Each part has the whole table's dtypes (:class:`PersonSource`), and every
    cell is formatted on its own (dates are whole days), so the parts add up to the same text."""
    source = cohort.person_source
    if not isinstance(source, PersonSource):  # a ready frame
        to_csv(cohort.persons, path, index=False, lineterminator="\n")
        return
    n = len(cohort.keys)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        for start in range(0, max(n, 1), rows):
            part = source.frame(keep=np.arange(start, min(start + rows, n), dtype=np.int64))
            to_csv(part, fh, index=False, header=start == 0, lineterminator="\n")
            del part


def write_restricted(ev: Evaluation, folder: Path) -> None:
    """Person-level outputs, only when asked for: never part of the shareable report."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    write_persons(ev.cohort, folder / "persons.csv")
    to_csv(ev.cohort.flow, folder / "cohort_flow_persons.csv", index=False, lineterminator="\n")
    if ev.matched is not None:
        to_csv(ev.matched.data, folder / "matched_sample.csv", index=False, lineterminator="\n")
    if not ev.extracts.clean:
        write_quarantine(ev.extracts, folder / "quarantine")


def identifiers_in(doc: ReportDocument, extracts: Extracts) -> frozenset[str]:
    """The text cells of the report's tables that are a roster ``person_id``, found in the
    engine: the few thousand cells go to the roster, not the roster (a state's millions of
    ids) to Python. :func:`~leadeval.report.document.write_tables` refuses a table holding one."""
    _late()
    cells = sorted({v for t in doc.tables for v in text_cells(t)})
    if not cells:
        return frozenset()
    roster = extracts["roster"]
    ids = roster.select(value=roster["person_id"].cast("string"))
    wanted = ibis.memtable({"value": cells}, schema={"value": "string"})
    hits = ids.filter(ids["value"].isin(wanted["value"])).distinct().to_pyarrow()
    return frozenset(hits.column("value").to_pylist())


MANIFEST = "manifest.json"


def check_out_folder(folder: Path) -> None:
    """Refuse an output folder before any work: a file, a folder leadeval did not write (not
    empty and no leadeval manifest), or a parent that cannot be written."""
    if folder.exists() and not folder.is_dir():
        raise LeadevalError(
            f"--out {folder} is a file, not a folder; give a folder for the report"
        )
    if folder.is_dir() and any(folder.iterdir()):
        manifest = folder / MANIFEST
        ours = False
        if manifest.is_file():
            try:
                data = json.loads(manifest.read_text())
                # "written_by" since 0.1; earlier reports are known by their manifest's keys
                ours = isinstance(data, dict) and (
                    data.get("written_by") == "leadeval"
                    or {"site", "config_sha256", "tables"} <= set(data)
                )
            except (OSError, ValueError):
                ours = False
        if not ours:
            raise LeadevalError(
                f"--out {folder} is a folder with files that leadeval did not write (no leadeval "
                "manifest.json); give an empty or new folder, or a previous report's folder"
            )
    parent = folder.parent if not folder.exists() else folder
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise LeadevalError(f"--out {folder}: cannot write in {parent}")


def _swap_into_place(tmp: Path, folder: Path) -> None:
    """Replace ``folder`` (if any) by the finished ``tmp`` folder, so old and new never mix."""
    if folder.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
        os.replace(folder, old / folder.name)
        os.replace(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, folder)


def _output_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` except tables/ and the manifest (relative paths)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel != MANIFEST and not rel.startswith("tables/"):
            out[rel] = sha256_file(path)
    return out


def write_report(
    config: SiteConfig | str | Path,
    out: str | Path | None = None,
    seed: int | None = None,
    formats: Sequence[str] | None = None,
    restricted: bool | None = None,
    progress: Progress | None = None,
    on_extract: Callable[[str, dict], None] | None = None,
) -> ReportPaths:
    """Run the evaluation and write its report into ``out`` (default ``reports/<site>``).

    ``progress(stage)`` is called as each stage starts and ``on_extract(name, row)`` after each
    extract is loaded (see :mod:`leadeval.progress`); the seconds and peak memory of every
    stage go into the manifest's ``run`` block either way."""
    cfg = config if isinstance(config, SiteConfig) else load_config(config)
    formats = tuple(formats or cfg.report.formats)
    unknown = sorted(set(formats) - {"html", "pdf"})
    if unknown:
        raise LeadevalError(f"unknown report format(s) {unknown}; allowed: html, pdf")
    restricted = cfg.report.restricted if restricted is None else restricted
    folder = Path(out) if out is not None else Path("reports") / cfg.site
    check_out_folder(folder)
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0)

    clock = StageClock()
    progress = fan_out(clock, progress)
    progress("extracts")
    folder.parent.mkdir(parents=True, exist_ok=True)
    # the extracts live in an on-disk engine database (spilling beyond engine.memory_limit) in a
    # private work folder beside the report, removed when the run ends, whatever happens
    imports = _import_late_modules()  # beside the load (see _LATE)
    with tempfile.TemporaryDirectory(prefix=f".{folder.name}.work-", dir=folder.parent) as work:
        try:
            extracts = load_extracts(
                cfg, on_extract=fan_out(clock.extract_loaded, on_extract), work_dir=work
            )
        finally:
            imports.join()
        _late()
        ev = evaluate(cfg, seed=seed, extracts=extracts, progress=progress)
    progress("disclosure control")
    disclosure_started = time.perf_counter()
    disclosure = disclose(ev)  # fails before anything is written
    seconds = round(time.perf_counter() - disclosure_started, 3)  # declare + suppress + audit
    disclosure = dataclasses.replace(disclosure, seconds=seconds)
    progress("report")
    doc = build_document(ev, disclosure)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.new-", dir=folder.parent))
    try:
        paths = _write_all(
            cfg, ev, doc, disclosure, tmp, formats, restricted, started, started_at, clock
        )
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    tmp.chmod(0o755)
    _swap_into_place(tmp, folder)
    return ReportPaths(
        folder,
        folder / "report.html",
        folder / "tables",
        folder / MANIFEST,
        folder / "report.pdf" if paths["pdf"] else None,
        folder / "restricted" if paths["restricted"] else None,
        ev,
        disclosure,
    )


def _write_all(
    cfg, ev, doc, disclosure, folder: Path, formats, restricted, started, started_at, clock
) -> dict:
    """Write every output into ``folder`` (the temporary folder) and the manifest last."""
    table_hashes = write_tables(doc, folder / "tables", identifiers_in(doc, ev.extracts))
    summary = [
        ("site", cfg.site),
        ("seed", str(ev.seed)),
        ("data through", cfg.data_end_date.isoformat()),
    ]
    html = render_html(doc, summary)
    html_path = folder / "report.html"
    html_path.write_text(html)
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
    run["disclosure_seconds"] = disclosure.seconds  # declare + suppress + audit
    clock.finish()  # stage timings: like the start time, not part of what a rerun reproduces
    run |= clock.to_dict()
    manifest = build_manifest(cfg, ev.seed, table_hashes, run, _output_hashes(folder))
    manifest["disclosure"] = disclosure.audit.to_dict()
    if cfg.report.small_cell_warning:
        manifest["warning"] = cfg.report.small_cell_warning
    write_manifest(manifest, folder / MANIFEST)
    return {"pdf": pdf_path is not None, "restricted": restricted_path is not None}
