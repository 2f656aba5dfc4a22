"""Covariate balance before and after matching or weighting (MatchIt's ``summary.matchit``).

For a covariate *x*, treatment *T* and weights *w* (all 1 before matching):

* **Means**: weighted group means :math:`\\bar x_1, \\bar x_0`.
* **SMD** = :math:`(\\bar x_1 - \\bar x_0) / s`, where the denominator *s* is computed once, on the
  full sample before matching, with no matching weights, so before/after are comparable: ATT ->
  the SD of the treated group; ATE -> :math:`\\sqrt{(s_1^2 + s_0^2)/2}`. Binary (0/1) variables
  are standardised too, with :math:`s^2 = p(1-p)` (MatchIt's convention with
  ``standardize = TRUE``; cobalt would leave them raw). Continuous variances use the n - 1
  denominator. When :math:`|\\bar x_1 - \\bar x_0| < \\sqrt{\\epsilon}` the raw difference is
  reported (as MatchIt does).
* **Variance ratio** :math:`s^2_{1,w}/s^2_{0,w}` with weighted variances
  :math:`\\sum \\tilde w (x - \\bar x)^2 / (1 - \\sum \\tilde w^2)`, :math:`\\tilde w = w/\\sum w`;
  not defined for binary variables.
* **eCDF mean / max**: mean and maximum over the distinct values of *x* of
  :math:`|F_{1,w}(x) - F_{0,w}(x)|` (the last distinct value, where both are 1, included in the
  mean, as MatchIt does); for binary variables both equal :math:`|\\bar x_1 - \\bar x_0|`.
* **Effective sample size** (Kish): :math:`(\\sum w)^2 / \\sum w^2` per group.

Categorical covariates are expanded into one 0/1 indicator per level (all levels), named
``variable[level]`` (the one scheme of :mod:`leadeval.formulas`); ``addl``, ``squares`` and
``interactions`` add rows for transformed terms and pairwise products.
Reference: tests/reference/matching/ (MatchIt 4.5.1 ``bal1var``, checked against ``summary()``).

Example
-------
>>> import numpy as np, pandas as pd
>>> df = pd.DataFrame({"treated": [1, 1, 0, 0, 0], "x": [1.0, 2.0, 1.0, 3.0, 5.0]})
>>> b = compute_balance(df, ["x"], weights=np.array([1, 1, 1, 1, 0.0]), warn=False)
>>> round(float(b.to_frame().loc[0, "smd_after"]), 3)
-0.707
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadeval.errors import BalanceWarning, MatchingError
from leadeval.formulas import FormulaTermError, design
from leadeval.matching._frame import text_levels

_EPS = np.sqrt(np.finfo(float).eps)
STATS = ("mean_treated", "mean_control", "smd", "var_ratio", "ecdf_mean", "ecdf_max")


@dataclass(frozen=True)
class Balance:
    """Balance statistics before and after matching.

    Attributes
    ----------
    table : one row per variable: ``variable, binary`` and, for ``before`` and ``after``,
        ``mean_treated, mean_control, smd, var_ratio, ecdf_mean, ecdf_max`` (``<stat>_before``,
        ``<stat>_after``)
    sample_sizes : ``group, n_before, n_after, ess_before, ess_after``
    estimand : "ATT" or "ATE" (sets the SMD denominator)
    threshold : |SMD| above which balance is flagged
    """

    table: pd.DataFrame
    sample_sizes: pd.DataFrame
    estimand: str
    threshold: float

    def to_frame(self) -> pd.DataFrame:
        """The per-variable table."""
        return self.table.copy()

    @property
    def imbalanced(self) -> list[str]:
        """Variables whose |SMD| after matching exceeds the threshold."""
        t = self.table
        return t.loc[t["smd_after"].abs() > self.threshold, "variable"].tolist()

    def summary(self) -> str:
        """A few lines for a log or a report."""
        t = self.table
        lines = [
            f"Balance ({self.estimand}; SMD threshold {self.threshold:g}):",
            f"  max |SMD| before {np.nanmax(np.abs(t['smd_before'])):.3f}, "
            f"after {np.nanmax(np.abs(t['smd_after'])):.3f}",
        ]
        bad = self.imbalanced
        lines.append(
            f"  {len(bad)} variable(s) above threshold after"
            + (f": {', '.join(bad)}" if bad else "")
        )
        for _, r in self.sample_sizes.iterrows():
            lines.append(
                f"  {r['group']}: n {r['n_before']} -> {r['n_after']}, "
                f"effective n {r['ess_before']:.1f} -> {r['ess_after']:.1f}"
            )
        return "\n".join(lines)


def _wvar(x: np.ndarray, w: np.ndarray | None, binary: bool) -> float:
    """Weighted variance (see module docstring); ``w`` None = unit weights (n - 1 denominator)."""
    if w is None:
        m = float(x.mean())
        return m * (1 - m) if binary else float(np.var(x, ddof=1))
    w = w / w.sum()
    m = float(np.sum(w * x))
    if binary:
        return m * (1 - m)
    return float(np.sum(w * (x - m) ** 2) / (1 - np.sum(w**2)))


def _pooled_sd_proportional(x: np.ndarray, t: np.ndarray, binary: bool) -> float:
    n = len(x)
    if binary:
        v = sum(x[g].sum() * (1 - x[g].sum() / g.sum()) / n for g in (t, ~t))
        return float(np.sqrt(v))
    dev = np.where(t, x - x[t].mean(), x - x[~t].mean())
    return float(np.sqrt(np.sum(dev**2) / (n - 2)))


def _sd_denominator(x: np.ndarray, t: np.ndarray, binary: bool, estimand: str) -> float:
    if estimand == "ATT":
        sd = np.sqrt(_wvar(x[t], None, binary))
    else:
        sd = np.sqrt((_wvar(x[t], None, binary) + _wvar(x[~t], None, binary)) / 2)
    if not np.isfinite(sd) or sd < _EPS:
        sd = _pooled_sd_proportional(x, t, binary)
    return float(sd)


def distinct_values(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct values of ``x`` and how many values of ``x`` are at most each one.

    Whole numbers over a range no wider than ``x`` is long (counts, days, ages: most covariates)
    are counted with ``np.bincount`` in one pass; other values are sorted."""
    if len(x):
        lo, hi = float(x.min()), float(x.max())
        if np.isfinite(lo) and np.isfinite(hi) and hi - lo < len(x) and np.all(x == np.round(x)):
            counts = np.bincount((x - lo).astype(np.int64), minlength=int(hi - lo) + 1)
            seen = np.flatnonzero(counts)
            return lo + seen, np.cumsum(counts)[seen]
    xs = np.sort(x)
    last = np.append(xs[1:] != xs[:-1], True)
    return xs[last], np.flatnonzero(last) + 1


def _ecdf_stats(
    x: np.ndarray,
    t: np.ndarray,
    w: np.ndarray | None,
    distinct: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[float, float]:
    """Mean and max over the distinct values u of x of |F_1(u) - F_0(u)| (``w`` None = before).

    No sort of all units: before matching (unit weights) the treated are counted at each u and
    the controls are the complement; after, the difference of the two weighted eCDFs is a step
    function that moves only at the values of the units with a weight, so it is summed over
    those steps (each step's |F_1 - F_0| times the number of distinct values it covers).
    """
    u, n_le = distinct_values(x) if distinct is None else distinct
    if w is None:
        n1 = int(t.sum())
        c1 = np.cumsum(np.bincount(np.searchsorted(u, np.sort(x[t])), minlength=len(u)))
        e = np.abs(c1 / n1 - (n_le - c1) / (len(x) - n1))
        return float(e.mean()), float(e.max())
    keep = w != 0
    sw = np.where(t, w / w[t].sum(), -w / w[~t].sum())[keep]
    o = np.argsort(x[keep], kind="stable")
    pos = np.searchsorted(u, x[keep][o])
    last = np.append(pos[1:] != pos[:-1], True)  # one step per distinct value with weight
    steps = np.abs(np.cumsum(sw[o])[last])
    covers = np.diff(np.append(pos[last], len(u)))
    return float(np.sum(steps * covers) / len(u)), float(steps.max())


def balance_stats(
    x: np.ndarray,
    t: np.ndarray,
    w: np.ndarray | None,
    sd: float,
    binary: bool,
    distinct: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, float]:
    """The six statistics of one variable (``w`` None = before matching; ``distinct`` the result
    of :func:`distinct_values` of ``x``, computed if not given)."""
    out = dict.fromkeys(STATS, np.nan)
    x1, x0 = x[t], x[~t]
    if w is None:
        w1 = w0 = None
        out["mean_treated"], out["mean_control"] = float(x1.mean()), float(x0.mean())
        too_small = len(x1) < 2 and len(x0) < 2
    else:
        w = np.asarray(w, dtype=float)
        w1, w0 = w[t], w[~t]
        out["mean_treated"] = float(np.sum(w1 * x1) / w1.sum())
        out["mean_control"] = float(np.sum(w0 * x0) / w0.sum())
        too_small = (w1 != 0).sum() < 2 and (w0 != 0).sum() < 2
    mdiff = out["mean_treated"] - out["mean_control"]
    if abs(mdiff) <= _EPS:
        out["smd"] = mdiff
    elif not too_small:
        out["smd"] = mdiff / sd
    if binary:
        out["ecdf_mean"] = out["ecdf_max"] = abs(mdiff)
    elif not too_small:
        out["var_ratio"] = _wvar(x1, w1, False) / _wvar(x0, w0, False)
        out["ecdf_mean"], out["ecdf_max"] = _ecdf_stats(x, t, w, distinct)
    return out


def _balance_columns(
    frame: pd.DataFrame,
    covariates: list[str],
    categorical: list[str] = (),
    distance: np.ndarray | None = None,
    addl: list[str] = (),
    interactions: bool = False,
    squares: bool = False,
) -> dict[str, Callable[[], np.ndarray]]:
    """The balance variables of :func:`balance_matrix`, in its order, each as a function that
    makes its column: :func:`compute_balance` makes them one at a time, so a state's millions
    of units never hold the whole matrix (and its consolidated copy) at once."""
    base: dict[str, Callable[[], np.ndarray]] = {}
    owner: dict[str, str] = {}
    for c in covariates:
        base[c] = lambda c=c: frame[c].to_numpy(dtype=float)
        owner[c] = c
    for c in categorical:
        codes, levels = text_levels(frame[c])
        for k, lvl in enumerate(levels):
            base[f"{c}[{lvl}]"] = lambda codes=codes, k=k: (codes == k).astype(float)
            owner[f"{c}[{lvl}]"] = c
    cols = {"distance": lambda: np.asarray(distance, dtype=float)} if distance is not None else {}
    cols |= base
    if addl:
        try:
            X, names = design(frame, list(addl), intercept=False)
        except FormulaTermError as err:
            raise MatchingError(f"matching.balance.addl: {err}") from None
        cols |= {n: (lambda j=j: X[:, j]) for j, n in enumerate(names) if n not in cols}
    if squares:
        for c in covariates:
            x = base[c]()
            if not np.all((x == 0) | (x == 1)):
                cols.setdefault(f"{c} ** 2", lambda c=c: base[c]() ** 2)
    if interactions:  # opt-in: the products are kept (whether one is constant needs it made)
        keys = list(base)
        for i, a in enumerate(keys):
            for b in keys[i + 1 :]:
                prod = base[a]() * base[b]()
                if owner[a] != owner[b] and np.ptp(prod) > 0:
                    cols.setdefault(f"{a}:{b}", lambda prod=prod: prod)
    return cols


def balance_matrix(
    frame: pd.DataFrame,
    covariates: list[str],
    categorical: list[str] = (),
    distance: np.ndarray | None = None,
    addl: list[str] = (),
    interactions: bool = False,
    squares: bool = False,
) -> pd.DataFrame:
    """Numeric matrix of the balance variables: distance, numeric covariates, level indicators
    ``var[level]``, then the extra rows: ``addl`` formulaic terms (``log1p(x)``...), squares
    ``x ** 2`` of non-binary covariates and pairwise products ``a:b`` (not of two levels of one
    variable), as cobalt's ``addl``, ``poly = 2`` and ``int = TRUE``."""
    cols = _balance_columns(
        frame, covariates, categorical, distance, addl, interactions, squares
    )
    return pd.DataFrame({v: make() for v, make in cols.items()}, index=frame.index)


def compute_balance(
    frame: pd.DataFrame,
    covariates: list[str],
    weights: np.ndarray,
    categorical: list[str] = (),
    distance: np.ndarray | None = None,
    estimand: str = "ATT",
    threshold: float = 0.1,
    warn: bool = True,
    addl: list[str] = (),
    interactions: bool = False,
    squares: bool = False,
) -> Balance:
    """Balance of ``frame`` (all units, with ``treated``) before and after ``weights``.

    Parameters
    ----------
    frame : all units (matched and not), with a 0/1 ``treated`` column
    covariates : numeric (or 0/1) columns; categorical : expanded into level indicators
    weights : matching/weighting weights for every row (0 = not in the matched sample)
    distance : optional distance/score, reported as the first row ``distance``
    estimand : "ATT" (treated SD) or "ATE" (pooled SD) in the SMD denominator
    addl, interactions, squares : extra rows (see :func:`balance_matrix`): formulaic terms such
        as ``log1p(arrests_pre_365d)``, pairwise products, squares. A score that enters a count
        linearly can look balanced on the raw covariate while ``log1p`` of it or its products
        are not (cobalt's advice: check balance on the terms the outcome may depend on).

    Warns
    -----
    BalanceWarning when any |SMD| after matching exceeds ``threshold``.
    """
    columns = _balance_columns(
        frame, list(covariates), list(categorical), distance, list(addl), interactions, squares
    )
    t = frame["treated"].to_numpy() == 1
    w = np.asarray(weights, dtype=float)
    kept = w != 0  # units without weight change no statistic: "after" is computed on the rest
    rows = []
    for v, make in columns.items():
        x = make()
        binary = bool(np.all((x == 0) | (x == 1)))
        sd = _sd_denominator(x, t, binary, estimand)
        distinct = None if binary else distinct_values(x)
        before = balance_stats(x, t, None, sd, binary, distinct)
        after = balance_stats(x[kept], t[kept], w[kept], sd, binary, distinct)
        rows.append(
            {"variable": v, "binary": binary}
            | {f"{k}_before": before[k] for k in STATS}
            | {f"{k}_after": after[k] for k in STATS}
        )
    table = pd.DataFrame(rows)

    def ess(a: np.ndarray) -> float:
        a = a[a > 0]
        return float(a.sum() ** 2 / np.sum(a**2)) if len(a) else 0.0

    sizes = pd.DataFrame(
        [
            {
                "group": g,
                "n_before": int(m.sum()),
                "n_after": int((w[m] > 0).sum()),
                "ess_before": float(m.sum()),
                "ess_after": ess(w[m]),
            }
            for g, m in (("treated", t), ("control", ~t))
        ]
    )
    bal = Balance(table, sizes, estimand, threshold)
    if warn and bal.imbalanced:
        warnings.warn(
            f"{len(bal.imbalanced)} covariate(s) have |SMD| > {threshold:g} after matching: "
            f"{', '.join(bal.imbalanced)}; consider a caliper, exact strata, more covariates in the "
            "score model, or adjusting for them in the outcome model",
            BalanceWarning,
            stacklevel=3,
        )
    return bal
