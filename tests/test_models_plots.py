"""Plots take results and return Axes (smoke + content checks on the drawn artists)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from models_helpers import data  # noqa: E402

from leadeval.errors import ModelError  # noqa: E402
from leadeval.models import (  # noqa: E402
    cumulative_incidence,
    fit_cox,
    fit_km,
    fit_logistic,
    fit_panel_gee,
    plot_cumulative_incidence,
    plot_forest,
    plot_km,
    plot_panel_trajectory,
)


def test_plot_km_with_at_risk_table():
    """Two curves and the persons at risk under the axis, each count at its own time (the x
    position of its tick), so the numbers line up with the plot; default times are round."""
    rossi = data("rossi")
    km = fit_km(rossi, "week", "arrest", group="fin", weights=None)
    ax = plot_km(km, at_risk_times=[0, 26, 52])
    assert len(ax.get_lines()) == 2
    counts = [t for t in ax.texts if t.get_text().isdigit() and t.get_position()[0] >= 0]
    assert str(int((rossi["fin"] == 0).sum())) in {t.get_text() for t in counts}
    assert sorted({t.get_position()[0] for t in counts}) == [0, 26, 52]
    assert list(ax.get_xticks()) == [0, 26, 52]
    plt.close("all")
    ax = plot_km(km)
    assert list(ax.get_xticks()) == [0, 14, 28, 42]  # round, evenly spaced weeks
    plt.close("all")
    with pytest.raises(ModelError, match="needs a survival curve"):
        plot_km(cumulative_incidence(data("compete"), "time", "event"))


def test_plot_forest_and_others():
    rossi = data("rossi")
    cox = fit_cox(rossi, "week", "arrest", "fin", ["age"], weights=None, cluster=None)
    logit = fit_logistic(rossi, "arrest", "fin", weights=None, cluster=None)
    ax = plot_forest([cox, logit])
    assert len(ax.get_yticklabels()) == 2 and ax.get_xscale() == "log"
    ax = plot_cumulative_incidence(cumulative_incidence(data("compete"), "time", "event"))
    assert len(ax.get_lines()) == 6  # 2 groups x 3 states
    fit = fit_panel_gee(data("panel"), "sheltered")
    ax = plot_panel_trajectory(fit)
    assert np.isclose(len(ax.get_lines()[0].get_xdata()), 19)
    plt.close("all")
