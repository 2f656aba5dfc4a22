"""Per-person costs by window and category, from the cohort's counts and the unit costs.

For person *i*, period *p* (pre or post) and category *c*:

.. math:: \\text{cost}_{ipc} = \\frac{1}{d_{ip}} \\sum_{k \\in c} \\text{price}_k \\, x_{i,p,m(k)}

where :math:`x_{i,p,m}` is the cohort count of measure *m* (``{m}_pre_{P}d`` or ``{m}_post_{Q}d``)
and :math:`d_{ip}` is 1 (``scale='window'``: dollars per person over the window) or the observed
years in the window (``scale='year'``: dollars per person-year). Observed years are
:math:`P/365.25` before the index date and :math:`\\min(Q, \\text{followup\\_days})/365.25` after
(``followup_days`` for the whole follow-up, ``post_window='all'``), i.e. the cohort's
``observed_days_post_{Q}d`` when present. Observed time, not the
incarceration-free exposure, is the denominator: jail days cost money during incarceration.

Example
-------
>>> import pandas as pd
>>> from leadeval.costs import person_costs, unit_cost_table
>>> persons = pd.DataFrame({"person_id": ["a"], "treated": [1], "followup_days": [400],
...                         "bookings_pre_365d": [2], "bookings_post_365d": [1]})
>>> uc = unit_cost_table({"booking": {"measure": "bookings", "amount": 500, "price_year": 2019}},
...                      dollar_year=2019)
>>> pc = person_costs(persons, uc, scale="window")
>>> pc.data[["cost_pre_booking", "cost_post_booking"]].iloc[0].tolist()
[1000.0, 500.0]
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from leadeval.config import CostsConfig, SiteConfig
from leadeval.costs.unit_costs import UnitCostTable, unit_cost_table
from leadeval.errors import CostError, CostWarning

__all__ = ["PersonCosts", "count_column", "person_costs"]

DAYS_PER_YEAR = 365.25
Scale = Literal["year", "window"]


def count_column(measure: str, period: str, window: int | str) -> str:
    """Cohort column holding ``measure`` counted in ``period`` ('pre'/'post') over ``window`` days.

    >>> count_column("jail_days", "post", 365), count_column("jail_days", "post", "all")
    ('jail_days_post_365d', 'jail_days_post_all')
    """
    return f"{measure}_{period}_all" if window == "all" else f"{measure}_{period}_{int(window)}d"


def as_frame(obj: Any, what: str = "data") -> pd.DataFrame:
    """The DataFrame behind a Cohort (``.persons``), a MatchedSample (``.data``) or a frame."""
    if isinstance(obj, pd.DataFrame):
        return obj
    for attr in ("data", "persons"):
        val = getattr(obj, attr, None)
        if isinstance(val, pd.DataFrame):
            return val
    raise CostError(
        f"expected a pandas DataFrame, a MatchedSample (.data) or a Cohort (.persons) as {what}; "
        f"got {type(obj).__name__}"
    )


def config_of(costs: Any) -> tuple[CostsConfig | None, int | None]:
    """The CostsConfig behind ``costs`` (a SiteConfig, a CostsConfig or neither) and the site seed."""
    if isinstance(costs, SiteConfig):
        return costs.costs, costs.seed
    return (costs if isinstance(costs, CostsConfig) else None), None


def default_seed(seed: int | None, cfg: CostsConfig | None, site_seed: int | None) -> int:
    """``seed``, else ``costs.seed``, else the site seed, else 0."""
    for s in (seed, cfg.seed if cfg else None, site_seed):
        if s is not None:
            return int(s)
    return 0


def resolve_unit_costs(
    unit_costs: UnitCostTable | CostsConfig | dict, dollar_year: int | None = None
) -> UnitCostTable:
    if isinstance(unit_costs, UnitCostTable):
        return unit_costs
    return unit_cost_table(unit_costs, dollar_year=dollar_year)


@dataclass(frozen=True)
class PeriodArrays:
    """Counts and denominators of one frame, rows sorted by person_id (internal currency)."""

    person_id: np.ndarray
    measures: tuple[str, ...]
    pre: np.ndarray  # n x K counts
    post: np.ndarray  # n x K counts
    d_pre: np.ndarray  # n denominators (1 or years)
    d_post: np.ndarray


def period_arrays(
    df: pd.DataFrame,
    measures: tuple[str, ...],
    pre_window: int,
    post_window: int | str,
    scale: Scale,
) -> PeriodArrays:
    """Count matrices and denominators; ``df`` must already be sorted by person_id."""
    if scale not in ("year", "window"):
        raise CostError(f"scale must be 'year' or 'window'; got {scale!r}")
    need = [
        count_column(m, p, w)
        for m in measures
        for p, w in (("pre", pre_window), ("post", post_window))
    ]
    obs_col = count_column("observed_days", "post", post_window)
    if scale == "year" and obs_col not in df.columns:
        need.append("followup_days")
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise CostError(
            f"cohort lacks column(s) {missing} needed for the unit costs' measures; build the cohort "
            f"with pre window {pre_window} and post window {post_window}, or remove the unit costs "
            "whose measure the site does not record"
        )
    pre = df[[count_column(m, "pre", pre_window) for m in measures]].to_numpy(
        float, na_value=np.nan
    )
    post = df[[count_column(m, "post", post_window) for m in measures]].to_numpy(
        float, na_value=np.nan
    )
    for arr, period, w in ((pre, "pre", pre_window), (post, "post", post_window)):
        bad_r, bad_c = np.nonzero(~np.isfinite(arr) | (arr < 0))
        if bad_r.size:
            col = count_column(measures[bad_c[0]], period, w)
            ids = df["person_id"].to_numpy()[bad_r[:5]].tolist() if "person_id" in df else bad_r[:5]
            raise CostError(
                f"{bad_r.size} missing or negative count(s), e.g. column {col} for person_id {ids}; "
                "costs need a count (0 when nothing happened) for every person"
            )
    n = len(df)
    if scale == "window":
        d_pre = np.ones(n)
        d_post = np.ones(n)
        wc = f"window_complete_post_{post_window}d"
        if (
            post_window != "all"
            and wc in df.columns
            and not df[wc].fillna(False).astype(bool).all()
        ):
            k = int((~df[wc].fillna(False).astype(bool)).sum())
            warnings.warn(
                f"{k} person(s) have an incomplete {post_window}-day post window ({wc} is False): "
                "their window totals under-count; use scale='year' (per observed year) instead",
                CostWarning,
                stacklevel=3,
            )
    else:
        d_pre = np.full(n, pre_window / DAYS_PER_YEAR)
        if obs_col in df.columns:  # the cohort's own observed days in the window
            obs = df[obs_col].to_numpy(float, na_value=np.nan)
        else:
            fu = df["followup_days"].to_numpy(float, na_value=np.nan)
            obs = fu if post_window == "all" else np.minimum(float(post_window), fu)
        bad = ~np.isfinite(obs) | (obs <= 0)
        if bad.any():
            ids = df["person_id"].to_numpy()[bad][:5].tolist() if "person_id" in df else []
            raise CostError(
                f"{int(bad.sum())} person(s) have no observed post time (followup_days <= 0 or "
                f"missing), e.g. person_id {ids}; drop them from the cohort before costing"
            )
        d_post = obs / DAYS_PER_YEAR
    pid = df["person_id"].astype(str).to_numpy() if "person_id" in df else np.arange(n).astype(str)
    return PeriodArrays(pid, measures, pre, post, d_pre, d_post)


def sort_persons(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in a stable order (person_id), so results never depend on input row order."""
    if "person_id" not in df.columns:
        raise CostError("the frame needs a person_id column")
    if df["person_id"].duplicated().any():
        dup = df.loc[df["person_id"].duplicated(), "person_id"].head(5).tolist()
        raise CostError(f"person_id must be unique in the person-level frame; duplicated: {dup}")
    key = df["person_id"].astype(str)
    return df.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)


@dataclass(frozen=True)
class PersonCosts:
    """Per-person costs by period and category (constant dollars).

    Attributes
    ----------
    data : pandas.DataFrame
        One row per person (sorted by person_id): ``person_id``, ``treated`` (if given),
        ``years_pre``, ``years_post`` (observed years; 1.0 under ``scale='window'``), and
        ``cost_{pre|post}_{category}`` plus ``cost_{pre|post}_total``.
    categories : tuple of str
    scale, pre_window, post_window, dollar_year
    """

    data: pd.DataFrame
    categories: tuple[str, ...]
    scale: str
    pre_window: int
    post_window: int | str
    dollar_year: int

    def to_frame(self) -> pd.DataFrame:
        """Long form: ``person_id, treated, period, category, cost``."""
        cols = [c for c in self.data.columns if c.startswith("cost_")]
        ids = [c for c in ("person_id", "treated") if c in self.data.columns]
        long = self.data.melt(id_vars=ids, value_vars=cols, var_name="key", value_name="cost")
        parts = long["key"].str.removeprefix("cost_").str.split("_", n=1)
        long["period"] = parts.str[0]
        long["category"] = parts.str[1]
        return long[[*ids, "period", "category", "cost"]]


def person_costs(
    persons: Any,
    unit_costs: UnitCostTable | CostsConfig | dict,
    pre_window: int | None = None,
    post_window: int | str | None = None,
    scale: Scale | None = None,
    dollar_year: int | None = None,
) -> PersonCosts:
    """Cost of each person's system use before and after the index date, by category.

    Parameters
    ----------
    persons : DataFrame, Cohort or MatchedSample
        Person-level counts named ``{measure}_pre_{P}d`` / ``{measure}_post_{Q}d``.
    unit_costs : UnitCostTable, CostsConfig or mapping
        Prices; a CostsConfig also gives the default windows and scale.
    pre_window, post_window : int, or 'all' for post
        Window lengths in days (default from the CostsConfig, else 365).
    scale : {'year', 'window'}
        Dollars per observed person-year (default) or per person over the window.

    Returns
    -------
    PersonCosts
    """
    cfg, _ = config_of(unit_costs)
    unit_costs = cfg or unit_costs
    pre_window = pre_window or (cfg.pre_window if cfg else 365)
    post_window = post_window or (cfg.post_window if cfg else 365)
    scale = scale or (cfg.scale if cfg else "year")
    uc = resolve_unit_costs(unit_costs, dollar_year)
    df = sort_persons(as_frame(persons, "persons"))
    arr = period_arrays(df, uc.measures, pre_window, post_window, scale)
    price, cats = uc.price_matrix("category")
    out = {"person_id": df["person_id"].to_numpy()}
    if "treated" in df.columns:
        out["treated"] = df["treated"].to_numpy()
    out["years_pre"] = arr.d_pre
    out["years_post"] = arr.d_post
    for period, x, d in (("pre", arr.pre, arr.d_pre), ("post", arr.post, arr.d_post)):
        c = (x @ price) / d[:, None]
        for j, cat in enumerate(cats):
            out[f"cost_{period}_{cat}"] = c[:, j]
        out[f"cost_{period}_total"] = c.sum(axis=1)
    return PersonCosts(pd.DataFrame(out), cats, scale, pre_window, post_window, uc.dollar_year)
