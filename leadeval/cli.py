"""The ``leadeval`` command line: `validate`, `synth` (and `report` when it lands).

User errors (any :class:`~leadeval.errors.LeadevalError`) print a clear message, no traceback, and
exit with code 2.
"""

from __future__ import annotations

import functools
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
) -> None:
    """Load and validate a site's extracts and print the data-quality table.

    Exit code 0 when every row loaded, 1 when rows were quarantined, 2 on a user error
    (bad config, missing file, missing column, or any row problem with strict: true).
    """
    from rich import box
    from rich.table import Table

    from leadeval.config import load_config
    from leadeval.extracts import load_extracts, quarantine_messages, write_quarantine

    cfg = load_config(config)
    extracts = load_extracts(cfg)
    reasons = extracts.quarantine_reasons
    wide = console.width >= 110  # the source column only when there is room for it
    table = Table(title=f"Data quality: {cfg.site} (data end {cfg.data_end_date})",
                  box=box.SIMPLE_HEAD)
    table.add_column("extract", no_wrap=True)
    if wide:
        table.add_column("source", overflow="ellipsis", no_wrap=True, max_width=32)
    for col in ("read", "loaded", "quarantined"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("top reasons", no_wrap=True)
    for row in extracts.quality.itertuples(index=False):
        top = reasons[reasons["extract"] == row.extract].sort_values(
            ["rows", "reason"], ascending=[False, True], kind="stable"
        )
        top_text = "\n".join(f"{r.reason} {r.rows:,}" for r in top.head(3).itertuples())
        style = "yellow" if row.quarantined else None
        cells = [row.extract] + ([row.source] if wide else [])
        cells += [f"{row.read:,}", f"{row.loaded:,}", f"{row.quarantined:,}", top_text]
        table.add_row(*cells, style=style)
    console.print(table)
    n_quarantined = int(extracts.quality["quarantined"].sum())
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
) -> None:
    """Run a site's whole evaluation and write its report (HTML, tables/, manifest.json)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from leadeval.config import load_config
    from leadeval.report.writer import write_report

    cfg = load_config(config)
    formats = [f.strip() for f in format.split(",") if f.strip()] if format else None
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=err_console, transient=True, disable=not err_console.is_terminal,
    ) as bar:
        task = bar.add_task(f"{cfg.site}: starting", total=None)
        paths = write_report(
            cfg, out=out, seed=seed, formats=formats, restricted=restricted or None,
            progress=lambda stage: bar.update(task, description=f"{cfg.site}: {stage}"),
        )
    ev = paths.evaluation
    print_key_findings(ev)
    print_headline_table(ev)
    if not ev.skipped.empty:
        console.print(f"[yellow]{len(ev.skipped)} analyses not estimated:[/]")
        for a, reason in ev.skipped.itertuples(index=False):
            console.print(f"  - {escape(a)}: {escape(reason)}", highlight=False)
    if ev.warnings:
        console.print(f"[yellow]{len(ev.warnings)} warnings[/] (listed in the report's methods).")
    console.print(f"Report: [bold]{paths.html}[/]  tables: {paths.tables}  manifest: {paths.manifest}")
    if paths.pdf:
        console.print(f"PDF: {paths.pdf}")


def print_key_findings(ev: Any) -> None:
    """The report's key findings (net benefit first), as the summary states them."""
    from leadeval.report.findings import key_findings
    from leadeval.report.labels import use_labels

    cfg = ev.config
    with use_labels(cfg.report.labels, cfg.report.program_name, cfg.report.comparison_label):
        findings = key_findings(ev)
    if not findings:
        return
    console.print(f"[bold]{escape(cfg.site)}: key findings[/]")
    for f in findings:
        indent = "      " if f.component else "  - "
        console.print(f"{indent}{escape(f.text)}", highlight=False)
    from leadeval.report.sections import SectionBuilder

    with use_labels(cfg.report.labels, cfg.report.program_name, cfg.report.comparison_label):
        builder = SectionBuilder(ev)
        caveats = [*builder.balance_warning(), *builder.ph_caveats()]
    if caveats:
        console.print("[bold yellow]Caveats[/]")
        for text in caveats:
            console.print(f"  - {escape(text)}", highlight=False)


def print_headline_table(ev: Any) -> None:
    """The headline ratio estimates, with p-values as <0.001 / 0.012."""
    from rich.table import Table

    from leadeval.report.labels import label

    k = ev.config.report.small_cell_threshold
    head = ev.headline()
    if head.empty:
        return
    table = Table(title=f"{ev.config.site}: ratio estimates", show_lines=False)
    for col in ("analysis", "term", "ratio (95% CI)", "p", "events"):
        table.add_column(col, justify="left" if col in ("analysis", "term") else "right")
    for r in head.itertuples(index=False):
        thin = r.events is not None and r.events == r.events and r.events < k
        ci = "suppressed" if thin else f"{r.ratio:.2f} ({r.ratio_low:.2f}-{r.ratio_high:.2f})"
        p = "" if thin else ("<0.001" if r.p_value < 0.001 else f"{r.p_value:.3f}")
        table.add_row(
            label(r.analysis), label(r.term), ci, p, "<" + str(k) if thin else f"{r.events:,.0f}"
        )
    console.print(table)
