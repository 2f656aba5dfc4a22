"""Balance and overlap plots: functions of results that return the matplotlib Axes.

Example
-------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import numpy as np, pandas as pd
>>> from leadeval.matching import compute_balance, plot_balance
>>> df = pd.DataFrame({"treated": [1, 1, 0, 0, 0], "x": [1.0, 2.0, 1.0, 3.0, 5.0]})
>>> ax = plot_balance(compute_balance(df, ["x"], np.ones(5), warn=False))
>>> ax.get_xlabel()
'Absolute standardized mean difference'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from leadeval.matching.balance import Balance


def _axes(ax: Any, size: tuple[float, float]):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=size)
    return ax


def plot_balance(balance: Balance, ax: Any = None, absolute: bool = True, labels: Any = None):
    """Love plot: |SMD| of each variable before (open circles) and after (filled) matching,
    with the threshold as a dashed line. Variables are ordered by their SMD before."""
    t = balance.to_frame()
    before, after = t["smd_before"].to_numpy(), t["smd_after"].to_numpy()
    if absolute:
        before, after = np.abs(before), np.abs(after)
    order = np.argsort(np.nan_to_num(before, nan=0.0), kind="stable")
    ax = _axes(ax, (6, 0.3 * len(t) + 1.5))
    y = np.arange(len(t))
    ax.scatter(before[order], y, facecolors="none", edgecolors="C3", label="Before")
    ax.scatter(after[order], y, color="C0", label="After")
    ax.set_yticks(y)
    names = t["variable"].to_numpy()[order]
    ax.set_yticklabels([labels(v) for v in names] if callable(labels) else names)
    thr = balance.threshold
    for x in [thr] if absolute else [-thr, thr]:
        ax.axvline(x, ls="--", color="grey", lw=1)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(("Absolute standardized" if absolute else "Standardized") + " mean difference")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08 - 1.2 / max(len(t), 1)), ncol=2,
              frameon=False)
    return ax


def plot_overlap(matched: Any, ax: Any = None, bins: int = 30, labels: dict | None = None):
    """Distribution of the distance (propensity score or its logit) by group, before (all units,
    outlined) and after matching (weighted, filled)."""
    names = {1: "Treated", 0: "Control", **(labels or {})}
    d = matched.all_units
    if d["distance"].isna().all():
        raise ValueError("this matched sample has no distance to plot (no propensity score)")
    ax = _axes(ax, (6, 4))
    x = d["distance"].to_numpy()
    edges = np.histogram_bin_edges(x, bins=bins)
    from leadeval._style import GROUP_COLORS

    for g, color, name in ((1, GROUP_COLORS[1], names[1]), (0, GROUP_COLORS[0], names[0])):
        m = d["treated"].to_numpy() == g
        ax.hist(
            x[m],
            bins=edges,
            density=True,
            histtype="step",
            color=color,
            lw=1.2,
            label=f"{name}, before",
        )
        w = d["weights"].to_numpy()[m]
        if w.sum() > 0:
            ax.hist(
                x[m],
                bins=edges,
                weights=w,
                density=True,
                alpha=0.35,
                color=color,
                label=f"{name}, after",
            )
    label = "logit(propensity score)" if matched.spec.distance == "logit" else "propensity score"
    if matched.spec.distance_column:
        label = matched.spec.distance_column
    ax.set_xlabel(label)
    ax.set_ylabel("Density")
    from leadeval._style import legend_outside

    legend_outside(ax, ncol=2)
    return ax
