"""Cost savings: weighted pre/post change per group, difference-in-differences, cluster bootstrap.

For group *g* (LEAD or comparison), period *p* and measure *m*, the weighted rate is the ratio

.. math:: \\bar x_{gpm} = \\frac{\\sum_{i \\in g} w_i x_{ipm}}{\\sum_{i \\in g} w_i d_{ip}}

with matching weights :math:`w_i` and denominators :math:`d_{ip}` (1 per person over the window, or
observed years: see :mod:`leadeval.costs.person_costs`). Dollars are :math:`\\bar x \\cdot P` with
the constant-dollar price matrix *P* (measures x categories). The change in a group is
post minus pre; the **savings** (difference-in-differences) is

.. math:: S = (\\bar c_{\\text{comp,post}} - \\bar c_{\\text{comp,pre}})
            - (\\bar c_{\\text{lead,post}} - \\bar c_{\\text{lead,pre}})

positive when LEAD participants' costs fell relative to the comparison group. CIs are percentile
intervals from a cluster bootstrap that resamples matched sets (``subclass``; a person without one
is their own cluster), computed as one matrix product (:mod:`leadeval.costs.bootstrap`).
``std_error`` is the bootstrap SD; ``p_value`` is the normal approximation
:math:`2\\Phi(-|S|/\\mathrm{se})` for changes and savings.

Example
-------
>>> import pandas as pd
>>> from leadeval.costs import cost_savings
>>> df = pd.DataFrame({"person_id": list("abcd"), "treated": [1, 1, 0, 0],
...     "subclass": [1, 2, 1, 2], "weights": 1.0,
...     "jail_days_pre_365d": [10, 20, 10, 20], "jail_days_post_365d": [0, 10, 15, 25]})
>>> uc = {"jail_day": {"measure": "jail_days", "amount": 100, "price_year": 2019}}
>>> s = cost_savings(df, uc, dollar_year=2019, scale="window", replicates=200, seed=1)
>>> float(s.savings)  # comparison +5 days, LEAD -10 days: 15 days x $100
1500.0
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from leadeval.config import CostsConfig, SiteConfig
from leadeval.costs.bootstrap import bootstrap_totals, cluster_codes, cluster_sums, percentile_ci
from leadeval.costs.person_costs import (
    Scale,
    as_frame,
    config_of,
    default_seed,
    period_arrays,
    resolve_unit_costs,
    sort_persons,
)
from leadeval.costs.unit_costs import UnitCostTable
from leadeval.errors import CostError, CostWarning
from leadeval.models._data import DEFAULT_WEIGHTS, weights_column

__all__ = ["ClientYearCosts", "SavingsResult", "client_year_costs", "cost_savings"]

GROUPS = ("comparison", "lead")  # index 0 = treated 0, index 1 = treated 1
PERIODS = ("pre", "post")
RESULT_COLUMNS = [
    "term",
    "category",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "p_value",
    "n",
]


def _check_weights(df: pd.DataFrame, weights: str | None) -> np.ndarray:
    weights = weights_column(df, weights, "costs")
    if weights is None:
        return np.ones(len(df))
    w = pd.to_numeric(df[weights], errors="coerce").to_numpy(float, na_value=np.nan)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        ids = df.loc[bad, "person_id"].head(5).tolist()
        raise CostError(
            f"column {weights}: {int(bad.sum())} missing or negative weight(s), e.g. person_id {ids}; "
            "use the weights of a MatchedSample (>= 0)"
        )
    return w


def _treated(df: pd.DataFrame) -> np.ndarray:
    if "treated" not in df.columns:
        raise CostError("the matched data needs a 'treated' column (1 = LEAD, 0 = comparison)")
    t = pd.to_numeric(df["treated"], errors="coerce")
    if not t.isin([0, 1]).all():
        bad = df.loc[~t.isin([0, 1]), "treated"].head(5).tolist()
        raise CostError(f"column treated must be 0 or 1; got {bad}")
    return t.to_numpy(int)


def _rates(tot: np.ndarray, k: int) -> np.ndarray:
    """Totals laid out as (group, [pre K, post K, d_pre, d_post]) -> rates (..., 2, 2, K)."""
    t = tot.reshape(*tot.shape[:-1], 2, 2 * k + 2)
    num = t[..., : 2 * k].reshape(*tot.shape[:-1], 2, 2, k)
    den = t[..., 2 * k :]
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den[..., None]


@dataclass(frozen=True)
class SavingsResult:
    """Pre/post costs by group, their changes and the DiD savings, with bootstrap replicates.

    Attributes
    ----------
    unit_costs : UnitCostTable
    measures : tuple of str
        Measures in the order of the last axis of ``rates``.
    rates : ndarray, shape (2, 2, K)
        Weighted count per person (or per person-year) by group (comparison, lead), period
        (pre, post) and measure.
    boot_rates : ndarray, shape (B, 2, 2, K)
        The same in each bootstrap replicate.
    n_lead, n_comparison, n_clusters : int
        People with weight > 0 in each group; clusters resampled.
    scale, pre_window, post_window, conf_level, seed
    excluded_incomplete : int
        People left out because their post window is incomplete (``complete_windows``).
    """

    unit_costs: UnitCostTable
    measures: tuple[str, ...]
    rates: np.ndarray
    boot_rates: np.ndarray
    n_lead: int
    n_comparison: int
    n_clusters: int
    scale: str
    pre_window: int
    post_window: int | str
    conf_level: float
    seed: int | None
    excluded_incomplete: int = 0

    @property
    def dollar_year(self) -> int:
        return self.unit_costs.dollar_year

    def _prices(self, by: str) -> tuple[np.ndarray, tuple[str, ...]]:
        p, labels = self.unit_costs.price_matrix(by)
        return np.column_stack([p, p.sum(axis=1)]), (*labels, "total")

    def dollars(self, by: str = "category") -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """Point and replicate dollars, shapes (2, 2, C+1) and (B, 2, 2, C+1), and the labels."""
        p, labels = self._prices(by)
        return self.rates @ p, self.boot_rates @ p, labels

    @property
    def savings(self) -> float:
        """Total DiD savings per participant (per year under ``scale='year'``)."""
        pt, _, _ = self.dollars()
        return float(_did(pt)[-1])

    def savings_replicates(self, by: str = "category") -> pd.DataFrame:
        """Bootstrap replicates of the DiD savings in dollars, one column per category + total."""
        _, bt, labels = self.dollars(by)
        return pd.DataFrame(_did(bt), columns=list(labels))

    def effect_replicates(self) -> np.ndarray:
        """Bootstrap replicates (B x K) of the DiD reduction in each measure (comparison change
        minus LEAD change, in units per person or person-year): the effects Monte Carlo draws."""
        return _did(self.boot_rates)

    def to_frame(self, by: str = "category") -> pd.DataFrame:
        """Tidy table: for each category (and ``total``) the terms ``pre_lead, post_lead,
        change_lead, pre_comparison, post_comparison, change_comparison, savings``."""
        pt, bt, labels = self.dollars(by)
        return _table(pt, bt, labels, self.conf_level, self.n_lead, self.n_comparison, by)

    def counts_frame(self) -> pd.DataFrame:
        """The same table in units of each measure (counts or days, per person or person-year)."""
        return _table(
            self.rates,
            self.boot_rates,
            self.measures,
            self.conf_level,
            self.n_lead,
            self.n_comparison,
            "measure",
        )


def _did(x: np.ndarray) -> np.ndarray:
    """(..., 2 groups, 2 periods, F) -> comparison change minus LEAD change, (..., F)."""
    change = x[..., :, 1, :] - x[..., :, 0, :]
    return change[..., 0, :] - change[..., 1, :]


def _table(pt, bt, labels, conf_level, n_lead, n_comp, label_col) -> pd.DataFrame:
    terms = {}
    for gi, g in enumerate(GROUPS):
        for pi, p in enumerate(PERIODS):
            terms[f"{p}_{g}"] = (pt[gi, pi], bt[:, gi, pi], False)
        terms[f"change_{g}"] = (pt[gi, 1] - pt[gi, 0], bt[:, gi, 1] - bt[:, gi, 0], True)
    terms["savings"] = (_did(pt), _did(bt), True)
    order = [
        "pre_lead",
        "post_lead",
        "change_lead",
        "pre_comparison",
        "post_comparison",
        "change_comparison",
        "savings",
    ]
    n_of = {"lead": n_lead, "comparison": n_comp}
    rows = []
    for term in order:
        est, reps, test = terms[term]
        se = np.nanstd(reps, axis=0, ddof=1)
        lo, hi = percentile_ci(reps, conf_level)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = 2 * stats.norm.sf(np.abs(est) / se) if test else np.full(len(labels), np.nan)
        grp = term.rsplit("_", 1)[-1]
        n = n_of.get(grp, n_lead + n_comp)
        for j, lab in enumerate(labels):
            rows.append([term, lab, est[j], se[j], lo[j], hi[j], p[j], n])
    cols = [c if c != "category" else label_col for c in RESULT_COLUMNS]
    return pd.DataFrame(rows, columns=cols)


def cost_savings(
    matched: Any,
    costs: SiteConfig | CostsConfig | UnitCostTable | dict,
    *,
    pre_window: int | None = None,
    post_window: int | str | None = None,
    scale: Scale | None = None,
    weights: str | None = DEFAULT_WEIGHTS,
    cluster: str | None = "subclass",
    replicates: int | None = None,
    seed: int | None = None,
    conf_level: float | None = None,
    dollar_year: int | None = None,
    complete_windows: bool | None = None,
) -> SavingsResult:
    """Per-participant cost change pre to post in each group and the DiD savings, with a cluster
    bootstrap.

    Parameters
    ----------
    matched : MatchedSample, DataFrame or Cohort
        Person rows with ``person_id``, ``treated``, the cohort counts of every priced measure,
        ``followup_days`` (for ``scale='year'``), and optionally ``weights`` and ``subclass``.
    costs : SiteConfig, CostsConfig, UnitCostTable or mapping of unit costs
        A (Site or Costs) config also supplies the defaults of every keyword below.
    pre_window, post_window : int (days), post may be 'all'
    scale : {'year', 'window'}
        Dollars per person-year of observed time (default) or per person over the window.
    weights, cluster : str or None
        Weight column (missing -> 1) and cluster column (missing/NA -> one cluster per person).
    replicates : int
        Bootstrap replicates (default 2000).
    seed : int
        Bootstrap seed (default ``costs.seed``, else the site seed, else 0).
    conf_level : float
        Default 0.95.
    complete_windows : bool
        Only people whose post window is complete (``window_complete_post_<w>d``), e.g. for
        ``scale='window'`` totals; default ``costs.complete_windows_only`` (False). The people
        left out (not their matched partners) are counted in ``excluded_incomplete``.

    Returns
    -------
    SavingsResult
    """
    cfg, site_seed = config_of(costs)
    costs = cfg or costs
    pre_window = pre_window or (cfg.pre_window if cfg else 365)
    post_window = post_window or (cfg.post_window if cfg else 365)
    scale = scale or (cfg.scale if cfg else "year")
    replicates = replicates or (cfg.bootstrap_replicates if cfg else 2000)
    seed = default_seed(seed, cfg, site_seed)
    conf_level = conf_level or (cfg.conf_level if cfg else 0.95)
    uc = resolve_unit_costs(costs, dollar_year)

    df = sort_persons(as_frame(matched, "matched"))
    complete = complete_windows if complete_windows is not None else bool(
        cfg and cfg.complete_windows_only
    )
    excluded = 0
    if complete and post_window != "all":
        wc = f"window_complete_post_{post_window}d"
        if wc not in df.columns:
            raise CostError(
                f"complete_windows needs the cohort column {wc}; add {post_window} to the "
                "design's post_windows or set costs.complete_windows_only: false"
            )
        ok = df[wc].fillna(False).astype(bool).to_numpy()
        excluded = int((~ok).sum())
        df = df.loc[ok]
    t = _treated(df)
    w = _check_weights(df, weights)
    if not (w[t == 1].sum() > 0 and w[t == 0].sum() > 0):
        raise CostError("need LEAD (treated=1) and comparison (treated=0) people with weight > 0")
    arr = period_arrays(df, uc.measures, pre_window, post_window, scale)
    k = len(uc.measures)
    block = np.column_stack([arr.pre, arr.post, arr.d_pre, arr.d_post]) * w[:, None]
    x = np.zeros((len(df), 2 * block.shape[1]))
    for gi in (0, 1):  # group blocks side by side: comparison then LEAD
        rows = t == gi
        x[rows, gi * block.shape[1] : (gi + 1) * block.shape[1]] = block[rows]
    codes, g = cluster_codes(df, cluster)
    a = cluster_sums(codes, x, g)
    rates = _rates(a.sum(axis=0), k)
    boot = _rates(bootstrap_totals(a, replicates, seed), k)
    bad = ~np.isfinite(boot).all(axis=(1, 2, 3))
    if bad.any():
        warnings.warn(
            f"{int(bad.sum())} of {replicates} bootstrap replicates drew no LEAD or no comparison "
            "weight and were dropped; the matched sample is very small",
            CostWarning,
            stacklevel=2,
        )
        boot = boot[~bad]
    return SavingsResult(
        unit_costs=uc,
        measures=uc.measures,
        rates=rates,
        boot_rates=boot,
        n_lead=int(((t == 1) & (w > 0)).sum()),
        n_comparison=int(((t == 0) & (w > 0)).sum()),
        n_clusters=g,
        scale=scale,
        pre_window=pre_window,
        post_window=post_window,
        conf_level=conf_level,
        seed=seed,
        excluded_incomplete=excluded,
    )


@dataclass(frozen=True)
class ClientYearCosts:
    """Santa Fe's comparison: per client-year, LEAD (program + system) vs system-as-usual.

    Attributes
    ----------
    table : pandas.DataFrame
        Terms ``lead_system, program, lead_total, system_as_usual, savings, percent_savings``
        with ``estimate, std_error, conf_low, conf_high`` (bootstrap; the program cost is fixed).
    baseline : str
    """

    table: pd.DataFrame
    baseline: str

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def __getitem__(self, term: str) -> float:
        return float(self.table.set_index("term").loc[term, "estimate"])


def client_year_costs(
    savings: SavingsResult,
    program_cost_per_month: Any,
    baseline: str = "did",
) -> ClientYearCosts:
    """Per client-year totals, program + system, against system-as-usual.

    .. math::
        \\text{LEAD total} = \\bar c_{\\text{lead,post}} + 12\\,p, \\qquad
        \\text{savings} = \\text{SAU} - \\text{LEAD total}, \\qquad
        \\% = 100\\,\\text{savings}/\\text{SAU}

    with *p* the program cost per participant-month. System-as-usual (SAU) is, with
    ``baseline='did'`` (default), the LEAD group's counterfactual post cost
    :math:`\\bar c_{\\text{lead,post}} + S` (its pre cost plus the comparison group's change),
    or with ``baseline='comparison'`` the comparison group's post cost as reported by Santa Fe
    ($7,541 vs $9,099: savings $1,558, 17%).

    Example
    -------
    With post system costs of $5,000 (LEAD) and $9,000 (comparison) per year and a program at
    $200 a month, ``baseline='comparison'`` gives LEAD total $7,400, savings $1,600 (17.8%).
    """
    if savings.scale != "year":
        raise CostError(
            "client-year costs need savings on scale='year'; rerun cost_savings(..., scale='year')"
        )
    if baseline not in ("did", "comparison"):
        raise CostError(f"baseline must be 'did' or 'comparison'; got {baseline!r}")
    from leadeval.costs.program import program_cost_per_month as in_dollars

    pt, bt, _ = savings.dollars()
    # a curve must be in the savings' dollars; a ProgramCostInput is restated from its price year
    program = 12.0 * in_dollars(program_cost_per_month, savings.dollar_year)

    def terms(x: np.ndarray) -> dict[str, np.ndarray]:
        lead_sys = x[..., 1, 1, -1]
        sau = lead_sys + _did(x)[..., -1] if baseline == "did" else x[..., 0, 1, -1]
        total = lead_sys + program
        return {
            "lead_system": lead_sys,
            "program": np.full_like(lead_sys, program),
            "lead_total": total,
            "system_as_usual": sau,
            "savings": sau - total,
            "percent_savings": 100 * (sau - total) / sau,
        }

    point, reps = terms(pt), terms(bt)
    rows = []
    for term in point:
        lo, hi = percentile_ci(reps[term], savings.conf_level)
        rows.append(
            [term, float(point[term]), float(np.nanstd(reps[term], ddof=1)), float(lo), float(hi)]
        )
    table = pd.DataFrame(rows, columns=["term", "estimate", "std_error", "conf_low", "conf_high"])
    table["n"] = savings.n_lead + savings.n_comparison
    return ClientYearCosts(table, baseline)
