"""Plots of model results. Each takes a result (never raw data) and returns the matplotlib Axes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from leadeval._style import GROUP_COLORS, legend_outside, nice_times, ratio_axis
from leadeval.errors import ModelError
from leadeval.models.results import CurveResult, ModelResult


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4.5))
    return ax


def _steps(ax, g: pd.DataFrame, start: float, label: str, band: bool, color=None, ls="-"):
    t = np.r_[0.0, g["time"].to_numpy()]
    est = np.r_[start, g["estimate"].to_numpy()]
    (line,) = ax.step(t, est, where="post", label=label, color=color, linestyle=ls)
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
    xlabel: str | None = None,
    legend_title: str | None = None,
):
    """Kaplan-Meier curves with confidence bands and the numbers at risk under the axis.

    ``at_risk_times`` default to round, evenly spaced times (0, 180, 360... days), which are also
    the x ticks, so each count sits under its tick; the counts are persons at risk (unweighted),
    the numbers a reader can check. ``at_risk_text`` ({group: [text per time]}) replaces them,
    e.g. with ``<11`` where a report may not print a small number. Each group keeps its colour
    (``GROUP_COLORS``) in every figure.
    """
    from matplotlib.transforms import blended_transform_factory

    if km.kind != "survival":
        raise ModelError(f"plot_km needs a survival curve from fit_km; got {km.kind}")
    ax = _axes(ax)
    labels = labels or {}
    groups = sorted(km.curves["group"].unique(), reverse=True)  # participants first
    for level in groups:
        _steps(
            ax,
            km.curves[km.curves["group"] == level],
            1.0,
            str(labels.get(level, level)),
            band,
            color=GROUP_COLORS.get(level),
        )
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("proportion without the event")
    ax.set_xlabel(xlabel or km.details.get("duration", "time"))
    tmax = float(km.curves["time"].max())
    times = np.asarray(at_risk_times if at_risk_times is not None else nice_times(tmax))
    ax.set_xlim(0, max(tmax, float(times.max())) * 1.02)
    ax.set_xticks(times, [f"{t:g}" for t in times])
    ax.legend(title=legend_title, frameon=False, loc="lower left")
    table = km.at(times)
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    ax.text(0, -0.2, "Number at risk", transform=ax.transAxes, fontsize=8, weight="bold")
    for i, level in enumerate(groups):
        y = -0.27 - 0.07 * i
        row = table[table["group"] == level].sort_values("time")
        texts = (
            list(at_risk_text[level])
            if at_risk_text is not None
            else [f"{int(n)}" for n in row["at_risk"]]
        )
        for t, text in zip(row["time"], texts, strict=True):
            ax.text(t, y, text, transform=trans, ha="center", va="center", fontsize=8,
                    color=GROUP_COLORS.get(level, "black"))
        ax.text(-0.07, y, str(labels.get(level, level)), transform=ax.transAxes, ha="right",
                va="center", fontsize=8, color=GROUP_COLORS.get(level, "black"))
    return ax


def plot_cumulative_incidence(
    ci: CurveResult,
    ax=None,
    states: Sequence[str] | None = None,
    band=True,
    labels: dict | None = None,
    state_labels: dict | None = None,
    xlabel: str = "days since the index date",
):
    """Aalen-Johansen cumulative incidence, one line per group and state: the group's colour,
    one line style per state, the legend below the axes."""
    if ci.kind != "cumulative_incidence":
        raise ModelError(f"plot_cumulative_incidence needs cumulative_incidence(); got {ci.kind}")
    ax = _axes(ax)
    labels, state_labels = labels or {}, state_labels or {}
    curves = ci.curves
    line_styles = ["-", "--", ":", "-."]
    styles = {s: line_styles[i % 4] for i, s in enumerate(sorted(curves["state"].unique()))}
    for (level, state), g in curves.groupby(["group", "state"], sort=True):
        if states is None or state in states:
            name = f"{state_labels.get(state, state)}, {labels.get(level, f'{ci.group}={level}')}"
            _steps(ax, g, 0.0, name, band, color=GROUP_COLORS.get(level), ls=styles[state])
    ax.set_ylim(0, None)
    ax.set_ylabel("cumulative incidence")
    ax.set_xlabel(xlabel)
    legend_outside(ax, ncol=2)
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
    ax.set_yticks(y)
    ax.set_yticklabels(list(labels) if labels is not None else [r[0] for r in rows])
    ratio_axis(ax, "x", lo=min(float(lo.min()), 1.0) / 1.15, hi=max(float(hi.max()), 1.0) * 1.15)
    ax.set_xlim(min(float(lo.min()), 1.0) / 1.15, max(float(hi.max()), 1.0) * 1.15)
    ax.set_xlabel("ratio with 95% CI (below 1: fewer events among participants)")
    return ax


def plot_panel_trajectory(fit: ModelResult, ax=None, ylabel: str | None = None):
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
        color=GROUP_COLORS[1],
    )
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    lo_v = min(float(frame["ratio_low"].min()), 1.0) / 1.15
    hi_v = max(float(frame["ratio_high"].max()), 1.0) * 1.15
    ratio_axis(ax, "y", lo=lo_v, hi=hi_v)
    ax.set_ylim(lo_v, hi_v)
    ax.set_xlabel(f"month relative to the index month (baseline = {fit.details.get('baseline_month', '')})")
    ax.set_ylabel(ylabel or f"odds ratio vs baseline: {fit.outcome}")
    return ax
