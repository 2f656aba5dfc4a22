"""The funders' cost figures, as functions of results; each returns the matplotlib Axes.

Example
-------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from leadeval.costs import benefit_cost, plot_net_benefit  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from leadeval.costs.benefit_cost import MonteCarloResult
from leadeval.costs.monthly import CumulativeSavings
from leadeval.costs.program import ProgramCostCurve
from leadeval.costs.savings import SavingsResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "plot_cost_bars",
    "plot_cost_vs_enrolment",
    "plot_cumulative_savings",
    "plot_net_benefit",
    "plot_program_cost",
]

_COLORS = {"lead": "#1b6ca8", "comparison": "#b5651d"}


def _ax(ax: Axes | None, size: tuple[float, float] = (7, 4)) -> Axes:
    if ax is None:
        import matplotlib.pyplot as plt  # here, so importing leadeval never starts a GUI backend

        _, ax = plt.subplots(figsize=size)
    return ax


def _per(scale: str) -> str:
    return "per person-year" if scale == "year" else "per person"


def plot_cost_bars(savings: SavingsResult, ax: Axes | None = None) -> Axes:
    """Stacked bars of mean cost by category: pre and post, for LEAD and comparison."""
    ax = _ax(ax)
    pt, _, labels = savings.dollars()
    cats = labels[:-1]
    xs = np.arange(4)
    names = ["LEAD pre", "LEAD post", "Comparison pre", "Comparison post"]
    order = [(1, 0), (1, 1), (0, 0), (0, 1)]
    bottom = np.zeros(4)
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    for j, cat in enumerate(cats):
        h = np.array([pt[g, p, j] for g, p in order])
        ax.bar(xs, h, bottom=bottom, color=cmap(j % 10), label=cat, edgecolor="white")
        bottom += h
    ax.set_xticks(xs, names)
    ax.set_ylabel(f"Cost ({savings.dollar_year} $, {_per(savings.scale)})")
    ax.set_title("System costs before and after the index date")
    ax.legend(title="Category", frameon=False, fontsize="small")
    return ax


def plot_cumulative_savings(cum: CumulativeSavings, ax: Axes | None = None) -> Axes:
    """Cumulative cost difference (comparison minus LEAD, net of baseline) with its band."""
    ax = _ax(ax)
    t = cum.table
    ax.fill_between(
        t["month"],
        t["conf_low"],
        t["conf_high"],
        color=_COLORS["lead"],
        alpha=0.2,
        label=f"{int(cum.conf_level * 100)}% bootstrap band",
    )
    ax.plot(t["month"], t["cumulative"], color=_COLORS["lead"], label="Cumulative savings")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("Months since index date")
    ax.set_ylabel(f"Savings per participant ({cum.dollar_year} $)")
    ax.set_title("Cumulative avoided system cost")
    ax.legend(frameon=False, fontsize="small")
    return ax


def plot_program_cost(curve: ProgramCostCurve, ax: Axes | None = None) -> Axes:
    """Cost per participant-month and its running average by program month, with enrolment
    (participant-months) as bars on a second axis."""
    ax = _ax(ax)
    t = curve.table
    ax2 = ax.twinx()
    ax2.bar(
        t["program_month"],
        t["participant_months"],
        color="lightgrey",
        alpha=0.6,
        label="Participant-months",
    )
    ax2.set_ylabel("Enrolled participant-months")
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.plot(
        t["program_month"],
        t["cost_per_participant_month"],
        marker="o",
        ms=3,
        color=_COLORS["lead"],
        label="Cost per participant-month",
    )
    ax.plot(
        t["program_month"], t["running_average"], color="black", ls="--", label="Running average"
    )
    ax.set_xlabel("Program month")
    dy = f"{curve.dollar_year} $" if curve.dollar_year else "$"
    ax.set_ylabel(f"Cost per participant-month ({dy})")
    ax.set_title("Program cost per participant-month")
    ax.legend(frameon=False, fontsize="small", loc="upper right")
    return ax


def plot_net_benefit(mc: MonteCarloResult, ax: Axes | None = None, bins: int = 60) -> Axes:
    """Histogram of Monte Carlo net benefit per participant, with P(benefits > costs)."""
    ax = _ax(ax)
    net = mc.draws["net_benefit"].to_numpy()
    ax.hist(net, bins=bins, color=_COLORS["lead"], alpha=0.8)
    ax.axvline(0, color="black", lw=1)
    ax.axvline(float(np.mean(net)), color=_COLORS["comparison"], ls="--", label="Mean")
    ax.set_xlabel("Net benefit per participant (present value, $)")
    ax.set_ylabel("Draws")
    ax.set_title(f"Chance benefits exceed costs: {mc.prob_positive:.0%}")
    ax.legend(frameon=False, fontsize="small")
    return ax


def plot_cost_vs_enrolment(
    curve: ProgramCostCurve,
    ax: Axes | None = None,
    project_to: float | None = None,
    conf_level: float = 0.95,
    min_month: int = 1,
) -> Axes:
    """Cost per participant-month against enrolled participant-months (one point per program
    month), with the fitted fixed + variable curve :math:`F/n + v` and its confidence band,
    extended to ``project_to`` participants when given."""
    ax = _ax(ax)
    t = curve.table[curve.table["participant_months"] > 0]
    ax.scatter(
        t["participant_months"],
        t["cost_per_participant_month"],
        s=12,
        color=_COLORS["lead"],
        label="Program months",
    )
    fit = curve.fit(min_month=min_month)
    hi = max(float(t["participant_months"].max()), float(project_to or 0))
    grid = np.linspace(max(float(t["participant_months"].min()), 1.0), hi, 200)
    p = fit.project(grid, conf_level)
    ax.plot(grid, p["estimate"], color="black", label="Fitted F/n + v")
    ax.fill_between(
        grid,
        p["conf_low"],
        p["conf_high"],
        color="black",
        alpha=0.15,
        label=f"{int(conf_level * 100)}% CI",
    )
    ax.set_xlabel("Enrolled participant-months in the month")
    dy = f"{curve.dollar_year} $" if curve.dollar_year else "$"
    ax.set_ylabel(f"Cost per participant-month ({dy})")
    ax.set_title("Program cost per participant vs enrolment")
    ax.legend(frameon=False, fontsize="small")
    return ax
