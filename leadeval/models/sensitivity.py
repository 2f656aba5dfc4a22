"""Sensitivity to unmeasured confounding: E-values and Rosenbaum bounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from leadeval.errors import ModelError
from leadeval.models._data import as_frame, binary, require_columns
from leadeval.models.results import TestResult


@dataclass(frozen=True)
class EValue:
    """E-values for a ratio (``point``) and for its confidence limit nearest to 1 (``limit``),
    with the risk ratio each was computed from (``rr``, ``rr_limit``)."""

    point: float
    limit: float
    rr: float
    rr_limit: float
    kind: str
    rare: bool

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.__dict__])


def _to_rr(x: float, kind: str, rare: bool) -> float:
    """Approximate risk ratio (VanderWeele & Ding 2017, Table 2 / VanderWeele 2017 for HR)."""
    if kind == "rr" or rare:
        return x
    if kind == "or":
        return float(np.sqrt(x))
    if kind == "hr":
        return float((1 - 0.5 ** np.sqrt(x)) / (1 - 0.5 ** np.sqrt(1 / x)))
    raise ModelError(f"e_value: kind must be 'rr', 'or', 'hr' or 'rate'; got {kind!r}")


def _e(rr: float) -> float:
    rr = 1 / rr if rr < 1 else rr
    return float(rr + np.sqrt(rr * (rr - 1)))


def e_value(
    estimate: float,
    lower: float | None = None,
    upper: float | None = None,
    kind: str = "rr",
    rare: bool = True,
) -> EValue:
    r"""E-value (VanderWeele & Ding 2017): the minimum strength of association, on the risk-ratio
    scale, that an unmeasured confounder would need with both treatment and outcome to explain
    away the estimate:

    .. math:: E = RR + \sqrt{RR\,(RR - 1)} \quad (RR \ge 1;\ \text{use } 1/RR \text{ below } 1)

    For the confidence limit nearest 1 the same formula applies, and E = 1 when the interval
    includes 1. Odds ratios (``kind="or"``) and hazard ratios (``"hr"``) are used as risk ratios
    when the outcome is rare (< 15%, ``rare=True``); for a common outcome
    :math:`RR \approx \sqrt{OR}` and :math:`RR \approx (1 - 0.5^{\sqrt{HR}}) / (1 - 0.5^{\sqrt{1/HR}})`.
    Rate ratios (``"rate"``) are treated as risk ratios.

    Examples
    --------
    >>> ev = e_value(3.9, 1.8, 8.7)   # VanderWeele & Ding (2017), breastfeeding example
    >>> round(ev.point, 2), round(ev.limit, 2)
    (7.26, 3.0)
    """
    kind = "rr" if kind == "rate" else kind
    if not np.isfinite(estimate) or estimate <= 0:
        raise ModelError(f"e_value: the ratio must be a positive number; got {estimate}")
    rr = _to_rr(estimate, kind, rare)
    lo = _to_rr(lower, kind, rare) if lower is not None and np.isfinite(lower) else np.nan
    hi = _to_rr(upper, kind, rare) if upper is not None and np.isfinite(upper) else np.nan
    if rr >= 1:
        rr_lim = lo
        limit = np.nan if np.isnan(lo) else (1.0 if lo <= 1 else _e(lo))
    else:
        rr_lim = hi
        limit = np.nan if np.isnan(hi) else (1.0 if hi >= 1 else _e(hi))
    return EValue(
        point=_e(rr), limit=float(limit), rr=rr, rr_limit=float(rr_lim), kind=kind, rare=rare
    )


def rosenbaum_bounds(
    data: Any,
    outcome: str,
    treatment: str = "treated",
    pair: str = "subclass",
    gammas: tuple[float, ...] = (1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0),
    alpha: float = 0.05,
) -> TestResult:
    r"""Rosenbaum bounds for a matched-pair binary outcome (McNemar sign test).

    Among the D discordant pairs, let T be the number in which the *control* had the event and
    the treated person did not (evidence that treatment prevents the event). With no hidden bias
    T ~ Binomial(D, 1/2). If hidden bias can multiply the odds of treatment by at most
    :math:`\Gamma` within a pair, the one-sided p-value lies between
    :math:`P(\mathrm{Bin}(D, 1/(1+\Gamma)) \ge T)` and :math:`P(\mathrm{Bin}(D, \Gamma/(1+\Gamma)) \ge T)`
    (Rosenbaum 2002, Observational Studies, sec. 4.3). ``details["table"]`` lists both bounds per
    Gamma; ``details["gamma_critical"]`` is the largest Gamma on a fine grid at which the upper
    bound is still below ``alpha``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"subclass": [1, 1, 2, 2, 3, 3], "treated": [1, 0, 1, 0, 1, 0],
    ...                   "y": [0, 1, 0, 1, 1, 0]})
    >>> rosenbaum_bounds(d, "y").details["discordant"]
    3
    """
    model = "rosenbaum_bounds"
    frame = as_frame(data, model)
    require_columns(frame, [outcome, treatment, pair], model)
    t_all = binary(frame, treatment, model)
    sizes = pd.DataFrame({"pair": frame[pair].to_numpy(), "t": t_all}).groupby(["pair", "t"]).size()
    sizes = sizes.unstack(fill_value=0)
    if not ((sizes.get(0, 0) == 1) & (sizes.get(1, 0) == 1)).all():
        bad = list(sizes.index[~((sizes.get(0, 0) == 1) & (sizes.get(1, 0) == 1))][:5])
        raise ModelError(
            f"{model}: needs 1:1 pairs (one treated, one control per '{pair}'); pairs {bad} are not. "
            "Use 1:1 matching without replacement, or drop incomplete pairs"
        )
    # A pair with a missing outcome (e.g. an incomplete window) carries no comparison: drop it.
    missing = frame[outcome].isna().groupby(frame[pair]).transform("any").to_numpy(bool)
    n_dropped = int(frame.loc[missing, pair].nunique())
    frame = frame.loc[~missing]
    y = binary(frame, outcome, model)
    wide = pd.DataFrame({"pair": frame[pair].to_numpy(), "t": t_all[~missing], "y": y})
    yy = wide.pivot_table(index="pair", columns="t", values="y", aggfunc="first")
    t_count = int(((yy[0] == 1) & (yy[1] == 0)).sum())
    d_count = int((yy[0] != yy[1]).sum())
    rows = []
    for g in gammas:
        p_plus = g / (1 + g)
        rows.append(
            {
                "gamma": g,
                "p_lower": float(stats.binom.sf(t_count - 1, d_count, 1 - p_plus)),
                "p_upper": float(stats.binom.sf(t_count - 1, d_count, p_plus)),
            }
        )
    grid = np.exp(np.linspace(0, np.log(20), 2000))
    ok = stats.binom.sf(t_count - 1, d_count, grid / (1 + grid)) < alpha
    crit = float(grid[ok].max()) if ok.any() else np.nan
    p0 = float(stats.binom.sf(t_count - 1, d_count, 0.5))
    return TestResult(
        name="Rosenbaum sign-test bounds (matched pairs)",
        statistic=float(t_count),
        df=d_count,
        p_value=p0,
        details={
            "table": pd.DataFrame(rows),
            "discordant": d_count,
            "pairs_dropped_missing_outcome": n_dropped,
            "treated_better": t_count,
            "pairs": int(len(yy)),
            "gamma_critical": crit,
        },
    )
