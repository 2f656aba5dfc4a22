"""Cumulative cost difference over follow-up months, from the person-month panel.

For group *g* and panel month *m*, the weighted cost per person-month is

.. math:: \\bar c_{gm} = \\frac{\\sum_i w_i \\sum_k \\text{price}_k x_{i m k}}
                              {\\sum_i w_i \\, \\text{days}_{im} / 30.4375}

over the person-months present (``days_observed``; 1 month each when the panel has no such
column). The baseline :math:`\\bar c_{g,\\text{pre}}` pools every pre month (``month_offset < 0``).
The savings in month :math:`m \\ge 1` (the index month 0 holds the index event and is left out) and
their running sum are

.. math:: s_m = (\\bar c_{\\text{comp},m} - \\bar c_{\\text{comp,pre}})
              - (\\bar c_{\\text{lead},m} - \\bar c_{\\text{lead,pre}}), \\qquad
          S_M = \\sum_{m=1}^{M} s_m

with a band from the same cluster bootstrap as :func:`~leadeval.costs.cost_savings`. Only unit
costs whose measure is a panel column (``arrests``, ``jail_days``, ``ems_calls``...) take part.

Example
-------
>>> import pandas as pd
>>> from leadeval.costs import cumulative_savings
>>> panel = pd.DataFrame({"person_id": ["a", "a", "b", "b"], "month_offset": [-1, 1, -1, 1],
...                       "jail_days": [2, 0, 2, 3]})
>>> matched = pd.DataFrame({"person_id": ["a", "b"], "treated": [1, 0], "subclass": [1, 1]})
>>> uc = {"jail_day": {"measure": "jail_days", "amount": 100, "price_year": 2019}}
>>> cs = cumulative_savings(panel, matched, uc, dollar_year=2019, replicates=50)
>>> cs.table["cumulative"].tolist()  # comparison +1 day, LEAD -2 days: 3 x $100
[300.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from leadeval.config import CostsConfig, SiteConfig
from leadeval.costs.bootstrap import bootstrap_totals, cluster_codes, percentile_ci
from leadeval.costs.person_costs import (
    as_frame,
    config_of,
    default_seed,
    resolve_unit_costs,
    sort_persons,
)
from leadeval.costs.savings import _check_weights, _treated
from leadeval.costs.unit_costs import UnitCostTable
from leadeval.errors import CostError
from leadeval.models._data import DEFAULT_WEIGHTS

__all__ = ["CumulativeSavings", "cumulative_savings"]

DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class CumulativeSavings:
    """Monthly and cumulative DiD savings per participant over follow-up months.

    Attributes
    ----------
    table : pandas.DataFrame
        ``month, lead, comparison`` (cost per person-month), ``savings`` (month's DiD),
        ``savings_low, savings_high``, ``cumulative, conf_low, conf_high``, ``n_lead,
        n_comparison`` (people present that month).
    baseline : dict
        Pre-period cost per person-month by group.
    measures_used, measures_missing : tuple of str
        Priced measures found / not found in the panel.
    dollar_year : int
    """

    table: pd.DataFrame
    baseline: dict
    measures_used: tuple[str, ...]
    measures_missing: tuple[str, ...]
    dollar_year: int
    conf_level: float

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()


def cumulative_savings(
    panel: Any,
    matched: Any,
    costs: SiteConfig | CostsConfig | UnitCostTable | dict,
    *,
    max_month: int | None = None,
    weights: str | None = DEFAULT_WEIGHTS,
    cluster: str | None = "subclass",
    replicates: int | None = None,
    seed: int | None = None,
    conf_level: float | None = None,
    dollar_year: int | None = None,
) -> CumulativeSavings:
    """Cumulative cost difference (comparison minus LEAD, net of baseline) by follow-up month.

    Parameters
    ----------
    panel : DataFrame or Cohort
        Person-months (``Cohort.panel``): ``person_id, month_offset``, measure columns and
        optionally ``days_observed``.
    matched : MatchedSample or DataFrame
        ``person_id, treated`` and optionally ``weights, subclass``; panel people absent from it
        are dropped.
    costs : CostsConfig, UnitCostTable or mapping
    max_month : int, optional
        Last follow-up month (default: the panel's last).
    """
    cfg, site_seed = config_of(costs)
    costs = cfg or costs
    replicates = replicates or (cfg.bootstrap_replicates if cfg else 2000)
    seed = default_seed(seed, cfg, site_seed)
    conf_level = conf_level or (cfg.conf_level if cfg else 0.95)
    uc = resolve_unit_costs(costs, dollar_year)
    pnl = panel.panel if hasattr(panel, "panel") else as_frame(panel, "panel")
    for col in ("person_id", "month_offset"):
        if col not in pnl.columns:
            raise CostError(f"the panel needs column {col!r} (Cohort.panel)")
    used = tuple(m for m in uc.measures if m in pnl.columns)
    missing = tuple(m for m in uc.measures if m not in pnl.columns)
    if not used:
        raise CostError(
            f"none of the priced measures {list(uc.measures)} is a panel column "
            f"({sorted(pnl.columns)}); price a panel measure such as jail_days"
        )
    tab = uc.table[uc.table["measure"].isin(used)]
    price = tab.groupby("measure")["amount"].sum().reindex(list(used)).to_numpy(float)

    people = sort_persons(as_frame(matched, "matched"))
    t = _treated(people)
    w = _check_weights(people, weights)
    codes, g = cluster_codes(people, cluster)
    # each panel row's person in ``people`` (-1: not matched): the panel's millions of ids are
    # factorised once and only their distinct values are looked up as text
    codes_pid, distinct = pd.factorize(pnl["person_id"])
    found = pd.Index(people["person_id"].astype(str)).get_indexer(
        pd.Index(distinct).astype(str)
    )
    row = np.append(found, -1)[codes_pid]  # a missing id (code -1) takes the appended -1
    keep = row >= 0
    pm = pnl.loc[keep]
    row = row[keep]
    off = pm["month_offset"].to_numpy(int)
    top = int(off.max()) if max_month is None else int(max_month)
    if top < 1:
        raise CostError("the panel has no follow-up month >= 1 to accumulate")
    sel = (off < 0) | ((off >= 1) & (off <= top))
    pm, row, off = pm.loc[sel], row[sel], off[sel]
    x = pm[list(used)].to_numpy(float, na_value=np.nan)
    if not np.isfinite(x).all():
        raise CostError(
            f"panel columns {list(used)} have missing values; counts must be 0 when nothing happened"
        )
    cost = x @ price
    months_obs = (
        pm["days_observed"].to_numpy(float, na_value=np.nan) / DAYS_PER_MONTH
        if "days_observed" in pm.columns
        else np.ones(len(pm))
    )
    slot = np.where(off < 0, 0, off)  # 0 = pooled pre months, m = follow-up month m
    ns = top + 1
    col = (t[row] * ns + slot) * 2
    wr = w[row]
    coo = sparse.coo_matrix(
        (
            np.concatenate([wr * cost, wr * months_obs, (wr > 0).astype(float)]),
            (
                np.concatenate([codes[row]] * 3),
                np.concatenate([col, col + 1, 4 * ns + t[row] * ns + slot]),
            ),
        ),
        shape=(g, 6 * ns),
    )
    a = coo.toarray()
    n_present = a[:, 4 * ns :].sum(axis=0).reshape(2, ns)

    def curves(tot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r = tot[..., : 4 * ns].reshape(*tot.shape[:-1], 2, ns, 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = r[..., 0] / r[..., 1]  # (..., group, slot)
        change = mean[..., 1:] - mean[..., :1]
        return change[..., 0, :] - change[..., 1, :], mean

    s_pt, mean_pt = curves(a.sum(axis=0))
    s_bt, _ = curves(bootstrap_totals(a, replicates, seed))
    cum_pt, cum_bt = np.cumsum(s_pt), np.cumsum(s_bt, axis=1)
    lo, hi = percentile_ci(cum_bt, conf_level)
    slo, shi = percentile_ci(s_bt, conf_level)
    table = pd.DataFrame(
        {
            "month": np.arange(1, ns),
            "lead": mean_pt[1, 1:],
            "comparison": mean_pt[0, 1:],
            "savings": s_pt,
            "savings_low": slo,
            "savings_high": shi,
            "cumulative": cum_pt,
            "conf_low": lo,
            "conf_high": hi,
            "n_lead": n_present[1, 1:].astype(int),
            "n_comparison": n_present[0, 1:].astype(int),
        }
    )
    return CumulativeSavings(
        table=table,
        baseline={"lead": float(mean_pt[1, 0]), "comparison": float(mean_pt[0, 0])},
        measures_used=used,
        measures_missing=missing,
        dollar_year=uc.dollar_year,
        conf_level=conf_level,
    )
