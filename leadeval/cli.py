"""The ``leadeval`` command line: `validate`, `synth` (and `report` when it lands).

User errors (any :class:`~leadeval.errors.LeadevalError`) print a clear message, no traceback, and
exit with code 2.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from leadeval import __version__
from leadeval.errors import LeadevalError

app = typer.Typer(
    name="leadeval",
    help="Evaluate LEAD and similar pre-booking diversion programs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)

#: True in the ``leadeval`` console script (:func:`run`), False when ``app`` runs in-process
_SCRIPT = False


def run() -> None:
    """The ``leadeval`` console script: :data:`app`, with the garbage collector kept off objects
    that live until the process ends (see :func:`_freeze`); the interpreter's closing collections
    then skip the run's objects, which took seconds after a county's report."""
    global _SCRIPT
    _SCRIPT = True
    try:
        app()
    finally:
        gc.freeze()


def _freeze() -> None:
    """In the console script, move the objects made so far (the libraries just imported: some
    200,000) into the collector's permanent generation, so no full collection of the run scans
    them again. Not in-process (tests), where later objects must stay collectable."""
    if _SCRIPT:
        gc.freeze()


def user_errors_exit_2(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a LeadevalError into a one-paragraph message on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LeadevalError as err:
            err_console.print(
                f"[bold red]{type(err).__name__}[/]: {escape(str(err))}", highlight=False, markup=True
            )
            raise typer.Exit(2) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        console.print(f"leadeval {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """leadeval: matched comparisons, outcome models, costs and reports for diversion programs."""


def quality_table(extracts: Any, title: str) -> Any:
    """The data-quality table of a load: rows read, loaded, quarantined (top reasons), censored."""
    from rich import box
    from rich.table import Table

    reasons = extracts.quarantine_reasons
    wide = console.width >= 120  # the source column only when there is room for it
    table = Table(title=title, box=box.SIMPLE_HEAD)
    table.add_column("extract", no_wrap=True)
    if wide:
        table.add_column("source", overflow="ellipsis", no_wrap=True, max_width=32)
    for col in ("read", "loaded", "quarantined", "censored"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("top reasons", no_wrap=True)
    for row in extracts.quality.itertuples(index=False):
        top = reasons[reasons["extract"] == row.extract].sort_values(
            ["rows", "reason"], ascending=[False, True], kind="stable"
        )
        top_text = "\n".join(f"{r.reason} {r.rows:,}" for r in top.head(3).itertuples())
        style = "yellow" if row.quarantined else None
        cells = [row.extract] + ([row.source] if wide else [])
        cells += [f"{row.read:,}", f"{row.loaded:,}", f"{row.quarantined:,}", f"{row.censored:,}"]
        table.add_row(*cells, top_text, style=style)
    return table


def load_notes(extracts: Any) -> list[str]:
    """One line per extract with something to say about how it was read (dialect detected,
    spaces trimmed, dates after the data end kept and censored)."""
    q = extracts.quality
    return [f"{r.extract}: {r.notes}" for r in q.itertuples(index=False) if r.notes]


Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress display (it is off anyway when stderr "
                       "is not a terminal).")
]


def console_progress(title: str, stages: list[str], quiet: bool, sources: Any) -> Any:
    """The progress display on stderr (see :mod:`leadeval.progress`) of a run that loads the
    extracts ``sources`` (a config's ``extracts``)."""
    from leadeval.progress import ConsoleProgress, source_sizes

    enabled = err_console.is_terminal and not quiet
    sizes = source_sizes(sources) if enabled else None
    return ConsoleProgress(title, stages, err_console, enabled=enabled, extract_sizes=sizes)


@app.command()
@user_errors_exit_2
def validate(
    config: Annotated[Path, typer.Argument(help="Site config (YAML).")],
    quarantine_dir: Annotated[
        Path | None,
        typer.Option(
            "--quarantine-dir",
            help="Write the quarantined rows here (restricted data: a private folder, never shared).",
        ),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Load and validate a site's extracts and print the data-quality table.

    Exit code 0 when every row loaded, 1 when rows were quarantined, 2 on a user error
    (bad config, missing file, missing column, or any row problem with strict: true).
    """
    from leadeval.config import load_config
    from leadeval.extracts import load_extracts, quarantine_messages, write_quarantine

    cfg = load_config(config)
    with console_progress(cfg.site, ["extracts"], quiet, cfg.extracts) as bar:
        bar.progress("extracts")
        extracts = load_extracts(cfg, on_extract=bar.on_extract)
    console.print(quality_table(extracts, f"Data quality: {cfg.site} (data end {cfg.data_end_date})"))
    n_quarantined = int(extracts.quality["quarantined"].sum())
    for line in load_notes(extracts):
        console.print(f"  {escape(line)}", highlight=False)
    if n_quarantined:
        for line in quarantine_messages(extracts, cfg):
            console.print(f"  - {escape(line)}", highlight=False)
        console.print(
            f"[yellow]{n_quarantined:,} rows quarantined[/]; they are left out of every analysis."
        )
    else:
        console.print("[green]All rows loaded.[/]")
    if quarantine_dir is not None:
        paths = write_quarantine(extracts, quarantine_dir)
        console.print(f"Quarantined rows written to {escape(str(quarantine_dir))} "
                      f"({len(paths)} files, private to you).", highlight=False)
    raise typer.Exit(1 if n_quarantined else 0)


@app.command()
@user_errors_exit_2
def synth(
    out: Annotated[Path, typer.Option("--out", help="Output directory.")],
    profile: Annotated[str, typer.Option("--profile", help="seattle, santa_fe or longmont.")] = "seattle",
    participants: Annotated[
        int | None, typer.Option("--participants", help="LEAD participants (default: the profile's).")
    ] = None,
    pool: Annotated[
        int | None, typer.Option("--pool", help="Comparison-pool members (default: the profile's).")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Master seed (default: the profile's).")] = None,
    layout: Annotated[str, typer.Option("--layout", help="canonical or agency.")] = "canonical",
    fmt: Annotated[str, typer.Option("--format", help="Comma-separated: csv, parquet.")] = "csv,parquet",
    data_end_date: Annotated[
        str | None, typer.Option("--data-end-date", help="Override the profile's data end (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Write a synthetic site with planted effects: extracts, site.yaml, truth.csv, effects.json."""
    from leadeval.synth.writer import write_synthetic_site

    path = write_synthetic_site(
        profile, out, n_participants=participants, n_pool=pool, seed=seed, layout=layout,
        formats=fmt.split(","), data_end_date=data_end_date,
    )
    console.print(f"Synthetic {profile} site written to {path}", highlight=False)


@app.command()
@user_errors_exit_2
def init(
    folder: Annotated[Path, typer.Argument(help="Folder with the site's extract files.")],
    site: Annotated[str, typer.Option("--site", help="Short site name, e.g. king_county.")],
    data_end_date: Annotated[
        str, typer.Option("--data-end-date", help="Last date the extracts cover (YYYY-MM-DD).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Config file to write.")] = Path("site.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Start a site config from a folder of extracts: columns mapped from the files' headers."""
    import datetime as dt

    from leadeval.errors import ConfigError
    from leadeval.scaffold import init_config

    try:
        end = dt.date.fromisoformat(data_end_date)
    except ValueError:
        raise ConfigError(f"--data-end-date {data_end_date!r} is not a YYYY-MM-DD date", "init") from None
    if out.exists() and not force:
        raise ConfigError(f"{out} exists; pass --force to overwrite it", "init")
    text = init_config(folder, site, end, out)
    out.write_text(text)
    todo = sum(1 for line in text.splitlines() if line.startswith("#   "))
    console.print(f"Config written to {escape(str(out))}" + (
        f" ({todo} column(s) to map by hand: see the TODO lines at the top)" if todo else ""
    ), highlight=False)
    console.print(f"Next: leadeval validate {escape(str(out))}", highlight=False)


@app.command()
@user_errors_exit_2
def report(
    config: Annotated[Path, typer.Argument(help="Site config (YAML).")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: reports/<site>).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed for matching order, bootstrap, Monte Carlo.")
    ] = None,
    format: Annotated[
        str | None, typer.Option("--format", help="Comma-separated: html, pdf (default: config).")
    ] = None,
    restricted: Annotated[
        bool,
        typer.Option(
            "--restricted",
            help="Also write person-level outputs into OUT/restricted/ (never share that folder).",
        ),
    ] = False,
    quiet: Quiet = False,
) -> None:
    """Run a site's whole evaluation and write its report (HTML, tables/, manifest.json)."""
    from leadeval.config import load_config
    from leadeval.progress import report_stages
    from leadeval.report.writer import write_report

    _freeze()
    cfg = load_config(config)
    formats = [f.strip() for f in format.split(",") if f.strip()] if format else None
    stages = report_stages(cfg.design.comparison)
    with console_progress(cfg.site, stages, quiet, cfg.extracts) as bar:

        def progress(stage: str) -> None:
            if stage == "cohort":  # the later stages' libraries are imported by now (they load
                _freeze()  # beside the extracts, see write_report): keep them off the collector
            bar.progress(stage)

        paths = write_report(
            cfg, out=out, seed=seed, formats=formats, restricted=restricted or None,
            progress=progress, on_extract=bar.on_extract,
        )
    ev, d = paths.evaluation, paths.disclosure

    def shown(key: str) -> str:
        value = d.show(key)
        return f"{value:,}" if isinstance(value, int) else str(value)

    print_key_findings(ev, d)
    print_headline_table(ev, d)
    console.print(
        f"Extract rows quarantined: {shown('quality/all/quarantined')}; censored at the data "
        f"end: {shown('quality/all/censored')} (per extract in the report's data-quality "
        "section; row by row with `leadeval validate`).",
        highlight=False,
    )
    if cfg.report.small_cell_warning:
        console.print(f"[bold red]{escape(cfg.report.small_cell_warning)}[/]")
    console.print(f"Disclosure audit: {escape(d.audit.summary())}", highlight=False)
    if not ev.skipped.empty:
        console.print(f"[yellow]{len(ev.skipped)} analyses not estimated:[/]")
        for a, reason in ev.skipped.itertuples(index=False):
            console.print(f"  - {escape(a)}: {escape(reason)}", highlight=False)
    if ev.warnings:
        console.print(f"[yellow]{len(ev.warnings)} warnings[/] (listed in the report's methods).")
    console.print(f"Report: [bold]{paths.html}[/]  tables: {paths.tables}  manifest: {paths.manifest}")
    if paths.pdf:
        console.print(f"PDF: {paths.pdf}")


def print_key_findings(ev: Any, disclosure: Any) -> None:
    """The report's key findings (net benefit first), as the summary states them: only those
    the disclosure step publishes."""
    from leadeval.report.findings import key_findings
    from leadeval.report.labels import use_labels
    from leadeval.report.sections import SectionBuilder, finding_key

    cfg = ev.config
    with use_labels(cfg.report.labels, cfg.report.program_name, cfg.report.comparison_label):
        findings = [f for f in key_findings(ev) if not disclosure.is_hidden(finding_key(f))]
        builder = SectionBuilder(ev, disclosure)
        caveats = [*builder.balance_warning(), *builder.ph_caveats()]
    if findings:
        console.print(f"[bold]{escape(cfg.site)}: key findings[/]")
    for f in findings:
        indent = "      " if f.component else "  - "
        console.print(f"{indent}{escape(f.text)}", highlight=False)
    if caveats:
        console.print("[bold yellow]Caveats[/]")
        for text in caveats:
            console.print(f"  - {escape(text)}", highlight=False)


def print_headline_table(ev: Any, disclosure: Any) -> None:
    """The headline ratio estimates that the disclosure step publishes, with p-values as
    <0.001 / 0.012: the effects (comparisons with the matched group) in one table, and the
    within-person changes (a month vs the baseline month, after vs before) in another, titled a
    description, not an effect."""
    from leadeval.report.findings import is_description

    head = ev.headline()
    if head.empty:
        return
    describe = head["analysis"].map(is_description).to_numpy(dtype=bool)
    site = ev.config.site
    for rows, title in (
        (head[~describe], f"{site}: effects (ratio estimates)"),
        (head[describe], f"{site}: within-person change (a description, not an effect)"),
    ):
        if not rows.empty:
            console.print(_ratio_table(rows, disclosure, title))


def _ratio_table(rows: Any, disclosure: Any, title: str) -> Any:
    from rich.table import Table

    from leadeval.report.cells import est_key, model_key
    from leadeval.report.labels import label

    table = Table(title=title, show_lines=False)
    for col in ("analysis", "term", "ratio (95% CI)", "p", "events"):
        table.add_column(col, justify="left" if col in ("analysis", "term") else "right")
    for r in rows.itertuples(index=False):
        key = est_key(r.analysis, r.term)
        ratio, lo, hi, p = (disclosure.value(key, v) for v in
                            (r.ratio, r.ratio_low, r.ratio_high, r.p_value))
        hidden = disclosure.is_hidden(key)
        ci = "suppressed" if hidden else f"{ratio:.2f} ({lo:.2f}-{hi:.2f})"
        p = "" if hidden else ("<0.001" if p < 0.001 else f"{p:.3f}")
        events = disclosure.show(model_key(r.analysis, "events"))
        events = f"{events:,}" if isinstance(events, int) else str(events)
        table.add_row(label(r.analysis), label(r.term), ci, p, events)
    return table


@app.command()
@user_errors_exit_2
def monitor(
    config: Annotated[Path, typer.Argument(help="Site config (YAML).")],
    period: Annotated[
        str | None, typer.Option("--period", help="One quarter, e.g. 2024Q1 (default: all).")
    ] = None,
    start: Annotated[str | None, typer.Option("--from", help="First quarter, e.g. 2023Q1.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last quarter, e.g. 2024Q4.")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default: reports/<site>-monitor).")
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Write the quarterly program-monitoring page (monitor.html, tables/, manifest.json)."""
    from leadeval.config import load_config
    from leadeval.monitor import monitor_config
    from leadeval.report.monitor_page import write_monitor

    cfg = load_config(config)
    stages = ["extracts", "disclosure", "report"]
    with console_progress(f"{cfg.site} monitor", stages, quiet, monitor_config(cfg).extracts) as bar:
        paths = write_monitor(cfg, out=out, period=period, start=start, end=end,
                              progress=bar.progress, on_extract=bar.on_extract)
    r = paths.result
    console.print(
        f"{cfg.site}: {len(r.to_frame()['quarter'].unique())} quarters ({r.start} to {r.end}), "
        f"{len(r.areas)} areas.", highlight=False,
    )
    console.print(f"Page: [bold]{paths.html}[/]  tables: {paths.tables}  manifest: {paths.manifest}")
