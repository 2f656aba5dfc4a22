"""Shared figure style: one colour per group across every figure, plain ratio axes, legends
outside the data.

>>> GROUP_COLORS[1], GROUP_COLORS[0]
('#1b6ca8', '#b5651d')
"""

from __future__ import annotations

from typing import Any

import numpy as np

# participants (treated = 1) and the comparison group (treated = 0), in every figure
GROUP_COLORS = {1: "#1b6ca8", 0: "#b5651d"}
RATIO_TICKS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
FINE_TICKS = (0.5, 0.6, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)


def ratio_axis(ax: Any, axis: str = "x", lo: float | None = None, hi: float | None = None) -> None:
    """A log-scale ratio axis with plain ticks (0.25, 0.5, 1, 2) instead of 10^0 notation."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    vmin, vmax = (ax.get_xlim() if axis == "x" else ax.get_ylim())
    vmin = lo if lo is not None else vmin
    vmax = hi if hi is not None else vmax
    ticks = [t for t in RATIO_TICKS if vmin * 0.999 <= t <= vmax * 1.001]
    if len(ticks) < 3:  # a narrow range: finer round values inside it
        ticks = [t for t in FINE_TICKS if vmin * 0.999 <= t <= vmax * 1.001] or [1.0]
    target.set_major_locator(FixedLocator(ticks))
    target.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    target.set_minor_locator(NullLocator())


def legend_outside(ax: Any, **kwargs: Any) -> Any:
    """A legend below the axes, never on top of the data."""
    kwargs.setdefault("frameon", False)
    kwargs.setdefault("fontsize", "small")
    handles, labels = ax.get_legend_handles_labels()
    ncol = kwargs.pop("ncol", min(len(labels), 3) or 1)
    return ax.legend(
        handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=ncol, **kwargs
    )


def nice_times(tmax: float, n: int = 5) -> np.ndarray:
    """Round, evenly spaced times from 0 within ``tmax`` (e.g. 0, 180, 360, 540, 720 days)."""
    steps = np.array([1, 2, 5, 7, 10, 14, 30, 60, 90, 180, 365, 730], dtype=float)
    raw = tmax / max(n - 1, 1)
    step = float(steps[np.searchsorted(steps, raw)] if raw <= steps[-1] else np.ceil(raw / 365) * 365)
    if tmax / step < n - 2 and step in steps[1:]:
        step = float(steps[np.searchsorted(steps, step) - 1])
    return np.arange(0.0, tmax + 1e-9, step)
