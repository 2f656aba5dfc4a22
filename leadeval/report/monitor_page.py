"""The quarterly program-monitoring page: ``monitor.html`` (trend charts, a table per area),
``tables/*.csv`` and ``manifest.json`` — what ``leadeval monitor CONFIG`` writes.

Every count of people passes small-cell suppression (threshold ``report.small_cell_threshold``)
before it is shown, charted or written: within each quarter the areas add up to 'all areas', so a
lone small area is protected by a complementary cell (:mod:`leadeval.report.suppression`); meetings,
contacts and days to first contact are hidden where the clients behind them are suppressed.

>>> import leadeval as le
>>> paths = write_monitor(le.load_config("configs/seattle.yaml"), "reports/seattle-monitor")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import NullFormatter

from leadeval.config import SiteConfig, load_config
from leadeval.monitor import (
    ALL_AREAS,
    BY_AREA_COLUMNS,
    DERIVED,
    PEOPLE_COUNTS,
    MonitorResult,
    monitor_config,
    monitor_site,
)
from leadeval.progress import StageClock, fan_out
from leadeval.report.disclosure import Disclosure, DisclosureProblem, protect
from leadeval.report.document import (
    ReportDocument,
    ReportFigure,
    ReportSection,
    ReportTable,
    render_html,
    write_tables,
)
from leadeval.report.figures import svg_text
from leadeval.report.manifest import build_manifest, write_manifest
from leadeval.report.suppression import SUPPRESSED, SUPPRESSION_NOTE
from leadeval.safe_csv import to_csv

METRIC_WORDS = {
    "referrals": "referrals received",
    "enrolments": "enrolments",
    "enrolled_end": "enrolled clients at quarter end",
    "exits": "exits",
    "substantive_meetings": "substantive meetings with clients",
    "people_met": "clients met (substantive)",
    "contacts": "all contacts",
    "people_contacted": "clients contacted",
    "first_contacts": "referrals with a first contact",
    "median_days_to_first_contact": "median days from referral to first contact",
}
CHART_METRICS = ("referrals", "enrolments", "enrolled_end", "substantive_meetings", "exits",
                 "median_days_to_first_contact")


@dataclass(frozen=True)
class MonitorPaths:
    folder: Path
    html: Path
    tables: Path
    manifest: Path
    result: MonitorResult


def monitor_disclosure(result: MonitorResult, k: int) -> Disclosure:
    """The disclosure step over every count the page publishes (``MONITOR_DISCLOSURE``): each
    count of people per quarter and area, the 'all areas' row as the sum of the areas, the
    numbers derived from a count (withheld with it), and the site's people enrolled. Primary and
    complementary suppression (MILP) with the audit, as for the evaluation report."""
    full = result.by_area
    p = DisclosureProblem()
    for col in PEOPLE_COUNTS:
        for q, g in full.groupby("quarter", sort=False):
            parts, whole = [], None
            for area, v in zip(g["area"], g[col], strict=True):
                if pd.isna(v):
                    continue
                key = p.count(f"mon/{col}/{q}/{area}", v)
                if area == ALL_AREAS:
                    whole = key
                else:
                    parts.append(key)
            if whole is not None and parts:
                p.total(whole, parts)
    for col, base in DERIVED.items():
        for q, area in zip(full["quarter"], full["area"], strict=True):
            if f"mon/{base}/{q}/{area}" in p.cells:
                p.derive(f"mon/{col}/{q}/{area}", [f"mon/{base}/{q}/{area}"])
    for q, v in zip(result.site_totals["quarter"], result.site_totals["people_enrolled"],
                    strict=True):
        if not pd.isna(v):
            p.derive(f"mon/site/{q}/derived", [p.count(f"mon/site/{q}/people_enrolled", v)])
    return protect(p, k)


def suppression_masks(result: MonitorResult, d: Disclosure) -> dict[str, pd.Series]:
    """Per column of the per-area table, a boolean mask of the cells the disclosure step
    withholds (a missing value is shown as missing)."""
    full = result.by_area
    masks: dict[str, pd.Series] = {}
    for col in [*PEOPLE_COUNTS, *DERIVED]:
        hidden = [
            (not pd.isna(v)) and d.is_hidden(f"mon/{col}/{q}/{a}")
            for q, a, v in zip(full["quarter"], full["area"], full[col], strict=True)
        ]
        masks[col] = pd.Series(hidden, index=full.index, dtype=bool)
    return masks


def publish_monitor(
    result: MonitorResult, k: int, d: Disclosure | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-area and site-wide tables of the requested period as they may be published
    (object columns, withheld cells shown as '*')."""
    d = d if d is not None else monitor_disclosure(result, k)
    full = result.by_area
    shown = full[BY_AREA_COLUMNS].astype(object).copy()
    for col, m in suppression_masks(result, d).items():
        shown.loc[m.to_numpy(), col] = SUPPRESSED
    keep = full["period_index"].between(result.start.ordinal, result.end.ordinal).to_numpy()
    by_area = shown[keep].reset_index(drop=True)
    site = result.site_frame().astype(object)
    hide = np.array([d.is_hidden(f"mon/site/{q}/derived") for q in site["quarter"]], dtype=bool)
    site.loc[hide, ["people_enrolled", "participant_months", "cost_per_participant_month"]] = (
        SUPPRESSED
    )
    site["spending"] = pd.to_numeric(site["spending"], errors="coerce").round(2)
    site["cost_per_participant_month"] = site["cost_per_participant_month"].map(
        lambda v: v if v == SUPPRESSED or pd.isna(v) else round(float(v), 2)
    )
    return by_area, site


def _chart_values(result: MonitorResult, d: Disclosure) -> pd.DataFrame:
    """All quarters (trend context) with withheld cells as NaN: what the charts may draw."""
    full = result.by_area
    masks = suppression_masks(result, d)
    vals = full.copy()
    for col, m in masks.items():
        vals.loc[m.to_numpy(), col] = np.nan
    return vals[vals["period_index"] <= result.end.ordinal]


def _quarter_axis(ax, quarters: list[str]) -> None:
    step = max(1, len(quarters) // 8)
    ax.set_xticks(range(0, len(quarters), step))
    ax.set_xticklabels(quarters[::step], rotation=45, ha="right", fontsize=7)


def trend_figure(result: MonitorResult, d: Disclosure) -> str:
    """Six small trend charts (one line per area, 'all areas' bold); gaps are suppressed cells."""
    vals, k = _chart_values(result, d), d.k
    quarters = list(dict.fromkeys(vals["quarter"]))
    pos = {q: i for i, q in enumerate(quarters)}
    fig, axes = plt.subplots(3, 2, figsize=(10, 10.5))
    colors = plt.get_cmap("tab10")
    for ax, metric in zip(axes.ravel(), CHART_METRICS, strict=True):
        for i, area in enumerate([*result.areas, ALL_AREAS]):
            d = vals[vals["area"] == area]
            x = d["quarter"].map(pos).to_numpy()
            y = pd.to_numeric(d[metric], errors="coerce").to_numpy(float)
            if area == ALL_AREAS:
                ax.plot(x, y, color="black", lw=2.2, marker=".", label=ALL_AREAS)
            else:
                ax.plot(x, y, color=colors(i % 10), lw=1.2, marker=".", ms=3,
                        label=area.replace("_", " "))
        ax.set_title(METRIC_WORDS[metric], fontsize=10)
        if pd.to_numeric(vals[metric], errors="coerce").fillna(0).eq(0).all():
            ax.text(0.5, 0.5, f"every non-zero cell has fewer than {k} people\n(suppressed)",
                    transform=ax.transAxes, ha="center", va="center", fontsize=9, color="#5a6570")
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", color="#e5e8eb")
        lo, hi = result.start.ordinal, result.end.ordinal
        sel = [pos[q] for q, o in zip(vals["quarter"], vals["period_index"], strict=True)
               if lo <= o <= hi]
        if sel and len(quarters) > 1:
            ax.axvspan(min(sel) - 0.4, max(sel) + 0.4, color="#fff1c9", zorder=0)
        _quarter_axis(ax, quarters)
    axes[0, 0].legend(fontsize=7, frameon=False, ncol=2)
    fig.subplots_adjust(hspace=0.55, wspace=0.18, left=0.06, right=0.98, top=0.96, bottom=0.07)
    return svg_text(fig)


def spending_figure(result: MonitorResult, d: Disclosure) -> str | None:
    site = result.site_totals[result.site_totals["period_index"] <= result.end.ordinal]
    if site["spending"].isna().all():
        return None
    quarters = list(site["quarter"])
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    x = np.arange(len(quarters))
    a1.bar(x, site["spending"].to_numpy(float) / 1000, color="#2b6a8f")
    a1.set_title("program spending ($ thousands)", fontsize=10)
    thin = np.array([d.is_hidden(f"mon/site/{q}/derived") for q in site["quarter"]], dtype=bool)
    cpm = site["cost_per_participant_month"].where(~thin).to_numpy(float)
    a2.plot(x, cpm, marker=".", color="#b5562a")
    a2.set_yscale("log")
    a2.yaxis.set_minor_formatter(NullFormatter())
    a2.set_title("cost per enrolled participant-month ($, log scale)", fontsize=10)
    for ax in (a1, a2):
        _quarter_axis(ax, quarters)
        ax.grid(axis="y", color="#e5e8eb")
    fig.subplots_adjust(wspace=0.2, left=0.06, right=0.98, top=0.9, bottom=0.2)
    return svg_text(fig)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_") or "area"


def monitor_document(
    result: MonitorResult, cfg: SiteConfig, d: Disclosure | None = None
) -> tuple[ReportDocument, pd.DataFrame]:
    """The page as a :class:`ReportDocument` (rendered by the report's template), and the tidy
    per-area table of the period (for ``tables/monitor_by_area.csv``), printing only what the
    disclosure step ``d`` allows (run here by default)."""
    k = cfg.report.small_cell_threshold
    d = d if d is not None else monitor_disclosure(result, k)
    by_area, site = publish_monitor(result, k, d)
    program = cfg.report.program_name
    period = str(result.start) if result.start == result.end else f"{result.start} to {result.end}"
    intro = [
        f"{program} program figures for {period}, per quarter and per area, from the roster, the "
        f"case-management contacts and the program ledger (data through "
        f"{result.data_end_date:%d %B %Y}).",
        f"Counts of fewer than {k} people are suppressed ('*'), and further cells are withheld "
        "(chosen by the same disclosure step as the evaluation report) so that no suppressed "
        "area can be worked out or narrowed from the 'all areas' totals; meetings, contacts and "
        "days to first contact are hidden where the clients behind them are. Audit: "
        f"{d.audit.summary()}. Chart gaps are withheld cells; the shaded band is the requested "
        "period.",
        *result.notes,
    ]
    figs = [ReportFigure("Trends by area", trend_figure(result, d),
                         "Each line is an area; the bold line is all areas.")]
    sp = spending_figure(result, d)
    if sp:
        figs.append(ReportFigure("Spending and cost per enrolled participant-month", sp,
                                 "Start-up quarters cost many times the later ones."))
    sections = [ReportSection("trends", "Trends", tuple(intro), (), tuple(figs))]
    cols = [c for c in BY_AREA_COLUMNS if c not in ("area",)]
    for area in (ALL_AREAS, *result.areas):
        t = by_area[by_area["area"] == area][cols].rename(
            columns={c: METRIC_WORDS.get(c, c) for c in cols})
        sections.append(ReportSection(
            f"area-{_slug(area)}", area.replace("_", " ").capitalize() if area != ALL_AREAS
            else "All areas", (),
            (ReportTable(f"monitor_{_slug(area)}", f"Quarterly figures: {area.replace('_', ' ')}",
                         t.reset_index(drop=True)),),
        ))
    sections.append(ReportSection(
        "site-costs", "Spending and cost per participant-month (whole site)", (
            "Spending is the program ledger's amounts in the quarter's months; participant-months "
            "count each enrolled client once in every month with an enrolled day.",),
        (ReportTable("monitor_site", "Site-wide spending by quarter", site),),
    ))
    sections.append(ReportSection("definitions", "What each figure means", _definitions(cfg)))
    doc = ReportDocument(
        title=f"{program} quarterly monitoring: {cfg.site.replace('_', ' ').title()}",
        subtitle=f"{period} · data through {result.data_end_date:%d %B %Y} · leadeval",
        sections=tuple(sections),
        footnotes=(SUPPRESSION_NOTE.format(k=k),),
    )
    return doc, by_area


def _definitions(cfg: SiteConfig) -> tuple[str, ...]:
    m = cfg.monitor
    q = "calendar quarters" if m.quarter_start_month == 1 else (
        f"fiscal quarters of a year starting in month {m.quarter_start_month}")
    return (
        f"Quarters: {q}. Area: the roster's area"
        f"{' mapped by monitor.areas' if m.areas else ''}; participants without one are 'unknown'.",
        "Referrals received: participants whose referral date is in the quarter. Enrolments: "
        "enrolment date in the quarter. Enrolled clients at quarter end: enrolled on or before "
        "the last day of the quarter and neither exited nor died by then. Exits: exit date in the "
        "quarter.",
        "Substantive meetings: contacts marked substantive in the quarter; all contacts: every "
        "contact row; both by the client's area.",
        "Median days from referral to first contact: among the quarter's referrals with a first "
        "contact (the roster's first-contact date, else the earliest contact after referral).",
        "Cost per enrolled participant-month: the quarter's spending divided by its enrolled "
        "participant-months.",
    )


def write_monitor(
    config: SiteConfig | str | Path,
    out: str | Path | None = None,
    period: str | None = None,
    start: str | None = None,
    end: str | None = None,
    progress: Callable[[str], None] | None = None,
    on_extract: Callable[[str, dict], None] | None = None,
) -> MonitorPaths:
    """Compute and write the monitoring page into ``out`` (default ``reports/<site>-monitor``):
    ``monitor.html``, ``tables/*.csv`` (one per area, the site table, and the tidy
    ``monitor_by_area.csv``) and ``manifest.json`` (stage timings in its ``run`` block);
    ``progress``/``on_extract``: see :mod:`leadeval.progress`."""
    cfg = config if isinstance(config, SiteConfig) else load_config(config)
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    clock = StageClock()
    progress = fan_out(clock, progress)
    progress("extracts")
    result = monitor_site(cfg, period=period, start=start, end=end,
                          on_extract=fan_out(clock.extract_loaded, on_extract))
    progress("disclosure control")
    d = monitor_disclosure(result, cfg.report.small_cell_threshold)  # before anything is written
    progress("report")
    doc, by_area = monitor_document(result, cfg, d)
    folder = Path(out) if out is not None else Path("reports") / f"{cfg.site}-monitor"
    folder.mkdir(parents=True, exist_ok=True)
    hashes = write_tables(doc, folder / "tables")
    text = to_csv(by_area, index=False, lineterminator="\n", float_format="%.6g")
    (folder / "tables" / "monitor_by_area.csv").write_text(text)
    hashes["monitor_by_area.csv"] = hashlib.sha256(text.encode()).hexdigest()
    summary = [("site", cfg.site), ("quarters", f"{result.start} to {result.end}"),
               ("data through", cfg.data_end_date.isoformat())]
    html = render_html(doc, summary)
    html_path = folder / "monitor.html"
    html_path.write_text(html)
    outputs = {"monitor.html": hashlib.sha256(html.encode()).hexdigest()}
    run = {"started_utc": started_at.isoformat(),
           "seconds": round(time.perf_counter() - started, 2)}
    clock.finish()  # not reproducible by design, like the start time
    run |= clock.to_dict()
    manifest = build_manifest(monitor_config(cfg), cfg.seed, hashes, run, outputs)
    manifest["period"] = {"from": str(result.start), "to": str(result.end)}
    manifest["disclosure"] = d.audit.to_dict()
    manifest_path = folder / "manifest.json"
    write_manifest(manifest, manifest_path)
    return MonitorPaths(folder, html_path, folder / "tables", manifest_path, result)
