"""Matched comparison groups: propensity scores, nearest-neighbour/exact/CEM matching, IPTW,
balance diagnostics, plots and a matched Table 1 (MatchIt's semantics; see docs/matching.md).

>>> import leadeval.matching as lm
>>> sorted(lm.METHODS)
['cem', 'exact', 'iptw', 'nearest']
"""

from leadeval.matching.balance import Balance, compute_balance
from leadeval.matching.core import METHODS, MatchedSample, discard_units, match
from leadeval.matching.exact import coarsen, weights_from_subclass
from leadeval.matching.nearest import match_nearest_arrays, weights_from_pairs
from leadeval.matching.plots import plot_balance, plot_overlap
from leadeval.matching.propensity import PropensityResult, fit_propensity
from leadeval.matching.table_one import table_one
from leadeval.matching.weighting import iptw_weights

__all__ = [
    "METHODS",
    "Balance",
    "MatchedSample",
    "PropensityResult",
    "coarsen",
    "compute_balance",
    "discard_units",
    "fit_propensity",
    "iptw_weights",
    "match",
    "match_nearest_arrays",
    "plot_balance",
    "plot_overlap",
    "table_one",
    "weights_from_pairs",
    "weights_from_subclass",
]
