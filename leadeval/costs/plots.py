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

from leadeval._style import GROUP_COLORS, legend_outside  # noqa: E402

_COLORS = {"lead": GROUP_COLORS[1], "comparison": GROUP_COLORS[0]}


def _ax(ax: Axes | None, size: tuple[float, float] = (7, 4)) -> Axes:
    if ax is None:
        import matplotlib.pyplot as plt  # here, so importing leadeval never starts a GUI backend

        _, ax = plt.subplots(figsize=size)
    return ax


def _per(scale: str) -> str:
    return "per person-year" if scale == "year" else "per person"


def plot_cost_bars(
    savings: SavingsResult,
    ax: Axes | None = None,
    category_labels: dict | None = None,
    group_names: tuple[str, str] = ("LEAD", "Comparison"),
) -> Axes:
    """Stacked bars of mean cost by category: pre and post, for LEAD and comparison; the
    legend sits to the right of the bars, never on them."""
    ax = _ax(ax)
    pt, _, labels = savings.dollars()
    cats = labels[:-1]
    xs = np.arange(4)
    lead, comp = group_names
    names = [f"{lead}\nyear before", f"{lead}\nyear after", f"{comp}\nyear before",
             f"{comp}\nyear after"]
    order = [(1, 0), (1, 1), (0, 0), (0, 1)]
    bottom = np.zeros(4)
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    for j, cat in enumerate(cats):
        h = np.array([pt[g, p, j] for g, p in order])
        name = (category_labels or {}).get(cat, cat)
        ax.bar(xs, h, bottom=bottom, color=cmap(j % 10), label=name, edgecolor="white")
        bottom += h
    ax.set_xticks(xs, names)
    ax.set_ylabel(f"Cost ({savings.dollar_year} $, {_per(savings.scale)})")
    ax.set_title("System costs before and after the index date")
    ax.yaxis.set_major_formatter(_dollars())
    ax.legend(title="Cost category", frameon=False, fontsize="small", loc="upper left",
              bbox_to_anchor=(1.01, 1.0))
    return ax


def _dollars():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{'−' if v < 0 else ''}${abs(v):,.0f}")


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
    ax.yaxis.set_major_formatter(_dollars())
    legend_outside(ax, ncol=2)
    return ax


def plot_program_cost(curve: ProgramCostCurve, ax: Axes | None = None, clip: bool = True) -> Axes:
    """Cost per participant-month and its running average by program month, with enrolment
    (participant-months) as bars on a second axis.

    With ``clip`` (default) the cost axis is linear and stops at a few times the typical cost,
    and the start-up months above it are written on the figure with their value, so the curve
    is readable without a log scale."""
    ax = _ax(ax)
    t = curve.table
    ax2 = ax.twinx()
    ax2.bar(
        t["program_month"],
        t["participant_months"],
        color="lightgrey",
        alpha=0.6,
        label="Enrolled participant-months (right axis)",
    )
    ax2.set_ylabel("Enrolled participant-months")
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    cost = t["cost_per_participant_month"].to_numpy(float)
    ax.plot(
        t["program_month"],
        cost,
        marker="o",
        ms=3,
        color=_COLORS["lead"],
        label="Cost per participant-month",
    )
    ax.plot(
        t["program_month"], t["running_average"], color="black", ls="--", label="Running average"
    )
    finite = cost[np.isfinite(cost)]
    if clip and finite.size:
        top = 2.5 * float(np.nanmedian(finite))
        if np.nanmax(finite) > top:
            ax.set_ylim(0, top)
            over = t[t["cost_per_participant_month"] > top]
            text = "; ".join(
                f"month {int(r.program_month)}: \\${r.cost_per_participant_month:,.0f}"
                for r in over.head(4).itertuples()
            )
            more = f" and {len(over) - 4} more" if len(over) > 4 else ""
            ax.text(0.0, -0.32, f"Start-up months above the axis: {text}{more}",
                    transform=ax.transAxes, ha="left", va="top", fontsize=7, color="#444")
        else:
            ax.set_ylim(0, None)
    ax.set_xlabel("Program month")
    dy = f"{curve.dollar_year} $" if curve.dollar_year else "nominal $"
    ax.set_ylabel(f"Cost per participant-month ({dy})")
    ax.yaxis.set_major_formatter(_dollars())
    ax.set_title("Program cost per participant-month")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2,
              frameon=False, fontsize="small")
    return ax


def plot_net_benefit(mc: MonteCarloResult, ax: Axes | None = None, bins: int = 60) -> Axes:
    """Histogram of Monte Carlo net benefit per participant, with P(benefits > costs)."""
    ax = _ax(ax)
    net = mc.draws["net_benefit"].to_numpy()
    ax.hist(net, bins=bins, color=_COLORS["lead"], alpha=0.8)
    ax.axvline(0, color="black", lw=1)
    ax.axvline(float(np.mean(net)), color=_COLORS["comparison"], ls="--", label="Mean")
    ax.set_xlabel("Net benefit per participant (present value; benefits minus program cost)")
    ax.xaxis.set_major_formatter(_dollars())
    ax.set_ylabel("Draws")
    ax.set_title(f"Chance benefits exceed costs: {mc.prob_positive:.0%}")
    legend_outside(ax)
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
