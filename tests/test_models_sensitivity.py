"""E-values (VanderWeele & Ding 2017, Ann Intern Med 167:268-274) and Rosenbaum sign-test
bounds (Rosenbaum 2002, Observational Studies, sec. 4.3) checked against published values and
direct binomial computations worked by hand in the docstrings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from models_helpers import data

from leadeval.errors import ModelError
from leadeval.models import e_value, fit_logistic, rosenbaum_bounds


def test_e_value_published_example():
    """VanderWeele & Ding (2017): RR 3.9 (95% CI 1.8-8.7) -> E-value 7.26, limit 3.0."""
    ev = e_value(3.9, 1.8, 8.7)
    assert ev.point == pytest.approx(7.26, abs=0.005)
    assert ev.limit == pytest.approx(3.0, abs=1e-12)  # 1.8 + sqrt(1.8 * 0.8) = 3 exactly


def test_e_value_protective_and_null_interval():
    """Protective ratios use 1/RR and the upper limit: RR 0.5 -> 2 + sqrt(2) = 3.414; an interval
    including 1 gives a limit E-value of exactly 1."""
    ev = e_value(0.5, 0.3, 0.8)
    assert ev.point == pytest.approx(2 + np.sqrt(2))
    assert ev.limit == pytest.approx(1.25 + np.sqrt(1.25 * 0.25))
    assert e_value(0.8, 0.5, 1.2).limit == 1.0


def test_e_value_common_outcome_conversions():
    """Common outcome: OR -> sqrt(OR) (VanderWeele & Ding 2017, Table 2); HR -> (1 - 0.5^sqrt(HR))
    / (1 - 0.5^sqrt(1/HR)) (VanderWeele 2020 conversion). Rare outcome: used as is."""
    ev = e_value(0.40, kind="or", rare=False)
    rr = np.sqrt(0.40)
    assert ev.rr == pytest.approx(rr) and ev.point == pytest.approx(
        1 / rr + np.sqrt(1 / rr * (1 / rr - 1))
    )
    assert e_value(0.40, kind="or", rare=True).rr == 0.40
    hr = e_value(2.0, kind="hr", rare=False)
    assert hr.rr == pytest.approx((1 - 0.5 ** np.sqrt(2)) / (1 - 0.5 ** np.sqrt(0.5)))
    with pytest.raises(ModelError, match="must be a positive number"):
        e_value(-1.0)


def test_every_ratio_in_results_has_e_value():
    """to_frame(): every finite ratio gets an E-value; the OR of a common outcome is converted."""
    rossi = data("rossi")
    fit = fit_logistic(rossi, "arrest", "fin", ["age"], weights=None, cluster=None)
    out = fit.to_frame().set_index("term")
    assert np.isnan(out.loc["(Intercept)", "e_value"])
    row = out.loc["fin"]
    expected = e_value(row["ratio"], row["ratio_low"], row["ratio_high"], kind="or", rare=False)
    assert row["e_value"] == pytest.approx(expected.point)
    assert row["e_value_limit"] == pytest.approx(expected.limit)


def _pairs(n_pairs, t_better, c_better, concordant_events=0):
    """Build 1:1 pairs: t_better pairs where only the control has the event, c_better where only
    the treated has it, the rest concordant."""
    rows = []
    for i in range(n_pairs):
        if i < t_better:
            yt, yc = 0, 1
        elif i < t_better + c_better:
            yt, yc = 1, 0
        elif i < t_better + c_better + concordant_events:
            yt, yc = 1, 1
        else:
            yt, yc = 0, 0
        rows += [(i, 1, yt), (i, 0, yc)]
    return pd.DataFrame(rows, columns=["subclass", "treated", "y"])


def test_rosenbaum_bounds_hand_computed():
    """D = 10 discordant pairs, T = 9 favour treatment. Gamma = 1: P(Bin(10, 1/2) >= 9) =
    11/1024. Gamma = 2: p+ = 2/3, P(Bin(10, 2/3) >= 9) = 10 (2/3)^9 (1/3) + (2/3)^10 =
    4 (2/3)^9 = 2048/19683; lower bound with p- = 1/3: 10 (1/3)^9 (2/3) + (1/3)^10 = 21/3^10."""
    d = _pairs(30, 9, 1, concordant_events=5)
    res = rosenbaum_bounds(d, "y", gammas=(1.0, 2.0))
    tab = res.details["table"].set_index("gamma")
    assert res.details["discordant"] == 10 and res.details["treated_better"] == 9
    assert res.p_value == pytest.approx(11 / 1024)
    assert tab.loc[1.0, "p_upper"] == pytest.approx(11 / 1024)
    assert tab.loc[2.0, "p_upper"] == pytest.approx(2048 / 19683)
    assert tab.loc[2.0, "p_lower"] == pytest.approx(21 / 3**10)
    # the critical Gamma: the upper bound reaches 0.05 between 1 and 2
    g = res.details["gamma_critical"]
    assert 1 < g < 2
    from scipy import stats

    assert (
        stats.binom.sf(8, 10, g / (1 + g))
        < 0.05
        < stats.binom.sf(8, 10, (g * 1.01) / (1 + g * 1.01))
    )


def test_rosenbaum_drops_pairs_with_a_missing_outcome():
    """A pair whose outcome is missing for one member (an incomplete window) is dropped, not
    mistaken for a non-1:1 set: same bounds as the complete pairs alone, and the drop is counted."""
    d = _pairs(30, 9, 1, concordant_events=5)
    broken = pd.DataFrame({"subclass": [99, 99], "treated": [1, 0], "y": [np.nan, 1.0]})
    res = rosenbaum_bounds(pd.concat([d, broken], ignore_index=True), "y", gammas=(1.0,))
    assert res.details["pairs_dropped_missing_outcome"] == 1
    assert res.details["discordant"] == 10 and res.p_value == pytest.approx(11 / 1024)


def test_rosenbaum_needs_one_to_one_pairs():
    """Sets with two controls are not pairs: a clear error."""
    d = pd.concat([_pairs(5, 3, 1), pd.DataFrame({"subclass": [0], "treated": [0], "y": [1]})])
    with pytest.raises(ModelError, match="needs 1:1 pairs"):
        rosenbaum_bounds(d, "y")
