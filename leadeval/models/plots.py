"""Plots of model results. Each takes a result (never raw data) and returns the matplotlib Axes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from leadeval.errors import ModelError
from leadeval.models.results import CurveResult, ModelResult


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4.5))
    return ax


def _steps(ax, g: pd.DataFrame, start: float, label: str, band: bool):
    t = np.r_[0.0, g["time"].to_numpy()]
    est = np.r_[start, g["estimate"].to_numpy()]
    (line,) = ax.step(t, est, where="post", label=label)
    if band:
        lo = np.r_[start, g["conf_low"].to_numpy()]
        hi = np.r_[start, g["conf_high"].to_numpy()]
        ax.fill_between(t, lo, hi, step="post", alpha=0.2, color=line.get_color(), linewidth=0)
    return line


def plot_km(
    km: CurveResult,
    ax=None,
    at_risk_times: Sequence[float] | None = None,
    labels: dict | None = None,
    band: bool = True,
    at_risk_text: dict | None = None,
):
    """Kaplan-Meier curves with confidence bands and a numbers-at-risk table under the axis.

    ``at_risk_times`` default to 5 evenly spaced times; the table shows persons at risk
    (unweighted), the numbers a reader can check. ``at_risk_text`` ({group: [text per time]})
    replaces them, e.g. with ``<11`` where a report may not print a small number.
    """
    if km.kind != "survival":
        raise ModelError(f"plot_km needs a survival curve from fit_km; got {km.kind}")
    ax = _axes(ax)
    labels = labels or {}
    groups = sorted(km.curves["group"].unique())
    for level in groups:
        _steps(ax, km.curves[km.curves["group"] == level], 1.0, str(labels.get(level, level)), band)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("proportion without the event")
    ax.set_xlabel(km.details.get("duration", "time"))
    ax.legend(title=km.group, frameon=False)
    tmax = float(km.curves["time"].max())
    times = np.asarray(at_risk_times if at_risk_times is not None else np.linspace(0, tmax, 5))
    table = km.at(times)
    cell_text = [
        list(at_risk_text[level])
        if at_risk_text is not None
        else [f"{int(v)}" for v in table[table["group"] == level].sort_values("time")["at_risk"]]
        for level in groups
    ]
    tab = ax.table(
        cellText=cell_text,
        rowLabels=[str(labels.get(level, level)) for level in groups],
        colLabels=[f"{t:g}" for t in times],
        loc="bottom",
        bbox=[0.0, -0.25 - 0.07 * len(groups), 1.0, 0.07 * (len(groups) + 1)],
        edges="open",
    )
    tab.auto_set_font_size(False)
    tab.set_fontsize(8)
    ax.set_title("numbers at risk shown below", loc="right", fontsize=8)
    return ax


def plot_cumulative_incidence(
    ci: CurveResult, ax=None, states: Sequence[str] | None = None, band=True
):
    """Aalen-Johansen cumulative incidence, one line per group and state."""
    if ci.kind != "cumulative_incidence":
        raise ModelError(f"plot_cumulative_incidence needs cumulative_incidence(); got {ci.kind}")
    ax = _axes(ax)
    curves = ci.curves
    for (level, state), g in curves.groupby(["group", "state"], sort=True):
        if states is None or state in states:
            _steps(ax, g, 0.0, f"{state} ({ci.group}={level})", band)
    ax.set_ylim(0, None)
    ax.set_ylabel("cumulative incidence")
    ax.set_xlabel("time")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_forest(
    results: Sequence[ModelResult] | ModelResult,
    terms: Sequence[str] | None = None,
    ax=None,
    labels: Sequence[str] | None = None,
):
    """Forest plot of ratios (log scale) with their confidence intervals, one row per result
    and term (default: each result's first ratio term, usually the treatment)."""
    results = [results] if isinstance(results, ModelResult) else list(results)
    rows = []
    for res in results:
        frame = res.to_frame()
        frame = frame[np.isfinite(frame["ratio"])]
        if terms is not None:
            frame = frame[frame["term"].isin(terms)]
        elif len(frame):
            effect = res.details.get("effect_term")
            frame = (
                frame[frame["term"] == effect] if effect in set(frame["term"]) else frame.iloc[:1]
            )
        for r in frame.itertuples():
            rows.append(
                (f"{res.outcome}: {r.term} ({res.ratio_name})", r.ratio, r.ratio_low, r.ratio_high)
            )
    if not rows:
        raise ModelError("plot_forest: no ratio terms to plot")
    ax = _axes(ax)
    y = np.arange(len(rows))[::-1]
    est = np.array([r[1] for r in rows])
    lo = np.array([r[2] for r in rows])
    hi = np.array([r[3] for r in rows])
    ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="o", color="black", capsize=3)
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(y)
    ax.set_yticklabels(list(labels) if labels is not None else [r[0] for r in rows])
    ax.set_xlabel("ratio (95% CI), log scale")
    return ax


def plot_panel_trajectory(fit: ModelResult, ax=None):
    """Monthly odds ratios vs the baseline month from :func:`fit_panel_gee` (``month=m`` terms),
    with CIs, on a log scale."""
    frame = fit.to_frame()
    frame = frame[frame["term"].str.startswith("month=")]
    if frame.empty:
        raise ModelError("plot_panel_trajectory needs fit_panel_gee(..., by_month=True)")
    month = frame["term"].str.removeprefix("month=").astype(int).to_numpy()
    ax = _axes(ax)
    ax.errorbar(
        month,
        frame["ratio"],
        yerr=[frame["ratio"] - frame["ratio_low"], frame["ratio_high"] - frame["ratio"]],
        fmt="o-",
        capsize=2,
    )
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel(f"month (baseline = {fit.details.get('baseline_month', '')})")
    ax.set_ylabel(f"odds ratio vs baseline: {fit.outcome}")
    return ax
