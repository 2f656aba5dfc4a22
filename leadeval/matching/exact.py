"""Exact matching and coarsened exact matching (CEM), MatchIt's ``method = "exact"``/``"cem"``.

Units are grouped into strata by their joint covariate values (CEM: after coarsening numeric
covariates into bins). Strata holding both treated and control units are kept; the others are
dropped. Weights follow MatchIt's ``weights.subclass``, with :math:`n_{1s}, n_{0s}` the treated
and control counts of stratum *s* and :math:`n_s = n_{1s} + n_{0s}`:

* ATT: treated 1; controls :math:`n_{1s}/n_{0s}`, scaled so they sum to the number of matched
  controls.
* ATE: treated :math:`n_s/n_{1s}`, controls :math:`n_s/n_{0s}`, each group scaled to sum to its
  number of matched units.

CEM bins (MatchIt's ``cem_matchit``): a number of bins *b* (or ``"sturges"``:
:math:`b = \\lceil \\log_2 n + 1 \\rceil`) cuts ``[min, max]`` into *b* equal-width bins whose
outer edges are open (-inf, +inf); a list gives the cut values. Categorical columns are not
coarsened.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadeval.config import MatchingConfig
from leadeval.matching._frame import TREAT
from leadeval.matching._result import MethodResult
from leadeval.matching.propensity import PropensityResult


def weights_from_subclass(subclass: np.ndarray, treated: np.ndarray, estimand: str) -> np.ndarray:
    """MatchIt's ``weights.subclass`` (see module docstring). ``subclass`` is -1 for no stratum."""
    w = np.zeros(len(subclass))
    ins = subclass >= 0
    i1, i0 = ins & treated, ins & ~treated
    m = int(subclass.max()) + 1 if ins.any() else 0
    n1 = np.bincount(subclass[i1], minlength=m).astype(float)
    n0 = np.bincount(subclass[i0], minlength=m).astype(float)
    if estimand == "ATT":
        w[i1] = 1.0
        w[i0] = (n1 / n0)[subclass[i0]]
    else:
        w[i1] = ((n1 + n0) / n1)[subclass[i1]]
        w[i0] = ((n1 + n0) / n0)[subclass[i0]]
        w[i1] *= i1.sum() / w[i1].sum()
    w[i0] *= i0.sum() / w[i0].sum()
    return w


def _stratify(frame: pd.DataFrame, columns: list[str], discarded: np.ndarray) -> MethodResult:
    treated = frame[TREAT].to_numpy() == 1
    codes = frame.groupby(columns, sort=True, dropna=False).ngroup().to_numpy()
    codes = np.where(discarded, -1, codes)
    keep_codes = np.intersect1d(codes[treated & (codes >= 0)], codes[~treated & (codes >= 0)])
    kept = np.isin(codes, keep_codes) & (codes >= 0)
    sub = np.full(len(frame), -1, dtype=np.int64)
    sub[kept] = np.searchsorted(keep_codes, codes[kept])
    rows = np.arange(len(frame))
    un = rows[treated & ~kept]
    reasons = np.where(discarded[un], "discarded_common_support", "no_control_in_stratum")
    return sub, un, reasons.astype(object)


def _result(frame, spec, sub, un, reasons) -> MethodResult:
    treated = frame[TREAT].to_numpy() == 1
    if not (sub >= 0).any():
        from leadeval.errors import MatchingError

        raise MatchingError(
            f"{spec.method} matching found no stratum with both treated and control units; "
            "match on fewer covariates or coarsen them (matching.cutpoints)"
        )
    w = weights_from_subclass(sub, treated, spec.estimand)
    subclass = np.where(sub >= 0, sub + 1, None).astype(object)
    return MethodResult(w, subclass, None, un, reasons)


def exact(
    frame: pd.DataFrame,
    spec: MatchingConfig,
    propensity: PropensityResult | None,
    distance: np.ndarray | None,
    discarded: np.ndarray,
) -> MethodResult:
    """Registry entry: exact matching on ``covariates + categorical + exact``."""
    cols = list(dict.fromkeys([*spec.covariates, *spec.categorical, *spec.exact]))
    return _result(frame, spec, *_stratify(frame, cols, discarded))


def coarsen(x: np.ndarray, bins: list[float] | int | str) -> np.ndarray:
    """Bin codes of ``x`` as MatchIt's ``cem_matchit`` (``findInterval`` on the breaks)."""
    x = np.asarray(x, dtype=float)
    if isinstance(bins, str):  # "sturges"
        bins = int(np.ceil(np.log2(len(x)) + 1))
    if isinstance(bins, int):
        breaks = np.linspace(x.min(), x.max(), bins + 1)
        breaks[0], breaks[-1] = -np.inf, np.inf
    else:
        breaks = np.concatenate([[-np.inf], np.unique(np.asarray(bins, dtype=float)), [np.inf]])
    return np.searchsorted(breaks, x, side="right")


def cem(
    frame: pd.DataFrame,
    spec: MatchingConfig,
    propensity: PropensityResult | None,
    distance: np.ndarray | None,
    discarded: np.ndarray,
) -> MethodResult:
    """Registry entry: coarsened exact matching (numeric ``covariates`` binned, see above)."""
    coarse = frame.copy()
    for c in spec.covariates:
        coarse[c] = coarsen(frame[c].to_numpy(), spec.cutpoints.get(c, "sturges"))
    cols = list(dict.fromkeys([*spec.covariates, *spec.categorical, *spec.exact]))
    return _result(frame, spec, *_stratify(coarse, cols, discarded))
