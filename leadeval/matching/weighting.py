"""Inverse probability of treatment weighting (IPTW) from the propensity score e(x).

.. math::

    \\text{ATE: } w_i = \\frac{T_i}{e_i} + \\frac{1 - T_i}{1 - e_i}, \\qquad
    \\text{ATT: } w_i = T_i + (1 - T_i)\\frac{e_i}{1 - e_i}.

Stabilised (default): ATE weights are multiplied by :math:`\\bar T` (treated) and
:math:`1 - \\bar T` (controls), the marginal treatment probabilities; ATT control weights by
:math:`(1 - \\bar T)/\\bar T`, so that control weights average about 1. Stabilising rescales
each group by a constant, so it changes no weighted mean or SMD, only the weights' scale.
Trimming (``trim = (lo, hi)`` percentiles) truncates weights at those percentiles of the
weights being trimmed: all weights for ATE, control weights only for ATT (treated weights stay
1), as WeightIt's ``trim()`` does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadeval.config import MatchingConfig
from leadeval.errors import MatchingError
from leadeval.matching._frame import TREAT
from leadeval.matching._result import MethodResult
from leadeval.matching.propensity import PropensityResult


def iptw_weights(
    score: np.ndarray,
    treated: np.ndarray,
    estimand: str = "ATT",
    stabilize: bool = True,
    trim: tuple[float, float] | None = None,
) -> np.ndarray:
    """IPTW weights (see module docstring); ``treated`` is a bool array."""
    e = np.asarray(score, dtype=float)
    p = treated.mean()
    if estimand == "ATE":
        w = np.where(treated, 1 / e, 1 / (1 - e))
        if stabilize:
            w = w * np.where(treated, p, 1 - p)
        target = np.ones(len(w), dtype=bool)
    else:
        w = np.where(treated, 1.0, e / (1 - e))
        if stabilize:
            w = np.where(treated, w, w * (1 - p) / p)
        target = ~treated
    if trim is not None:
        lo, hi = np.percentile(w[target], trim)
        w = np.where(target, np.clip(w, lo, hi), w)
    return w


def iptw(
    frame: pd.DataFrame,
    spec: MatchingConfig,
    propensity: PropensityResult | None,
    distance: np.ndarray | None,
    discarded: np.ndarray,
) -> MethodResult:
    """Registry entry: IPTW; discarded units get weight 0 (reason ``discarded_common_support``)."""
    if propensity is None:
        raise MatchingError(
            "IPTW needs a fitted propensity score; distance_column gives a distance, not a score"
        )
    treated = frame[TREAT].to_numpy() == 1
    w = np.zeros(len(frame))
    keep = ~discarded
    w[keep] = iptw_weights(
        propensity.score[keep], treated[keep], spec.estimand, spec.stabilize, spec.trim
    )
    rows = np.arange(len(frame))
    un = rows[treated & discarded]
    return MethodResult(
        w, None, None, un, np.full(len(un), "discarded_common_support", dtype=object)
    )
