"""Program cost curves from the program ledger and enrolment: the funders' curves.

For calendar month *t* of the program, with spending :math:`S_t` (ledger sum) and enrolled
participant-months :math:`n_t`:

.. math::
    c_t = S_t / n_t, \\qquad
    \\bar c_t = \\frac{\\sum_{s \\le t} S_s}{\\sum_{s \\le t} n_s}\\ \\text{(running average)}

A participant counts in month *t* (``count='any_day'``, default) when enrolled on any day of it:
enrollment date on or before the month's last day and exit (or death, or the data end) on or after
its first day; ``count='fraction'`` counts the fraction of the month's days enrolled instead.
Spending in months with no one enrolled (start-up) enters the running average, which is why
Seattle's average ($899 including start-up) exceeds its late monthly cost ($532).

The projection fits monthly spending as fixed plus variable cost, :math:`S_t = F + v n_t + e_t`
(OLS over months with :math:`n_t > 0`), so the cost per participant-month at enrolment *n* is
:math:`F/n + v`, with its confidence and prediction intervals divided by *n*.

Example
-------
>>> import pandas as pd
>>> from leadeval.costs import program_cost_curve
>>> ledger = pd.DataFrame({"month": ["2012-01", "2012-02"], "category": "staff",
...                        "amount": [1000.0, 1200.0]})
>>> roster = pd.DataFrame({"person_id": ["a", "b"], "group": "lead",
...     "enrollment_date": ["2012-01-15", "2012-02-01"], "exit_date": [None, None]})
>>> curve = program_cost_curve(ledger, roster, dollar_year="nominal")
>>> curve.table["cost_per_participant_month"].tolist()
[1000.0, 600.0]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from leadeval._sm import sm
from leadeval.costs.unit_costs import cpi_table, inflate
from leadeval.errors import CostError

__all__ = [
    "CostCurveFit",
    "ProgramCostCurve",
    "enrolment_by_month",
    "program_cost_curve",
    "program_cost_per_month",
]


def _frame(obj: Any, name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """``obj`` as a DataFrame; of an engine table only ``columns`` (those it has), when given."""
    if isinstance(obj, pd.DataFrame):
        return obj.copy()
    tables = getattr(obj, "tables", None)
    if tables is not None:  # Extracts
        if name not in tables:
            raise CostError(f"the extracts have no '{name}' table; add the {name} extract")
        obj = tables[name]
    if hasattr(obj, "to_pandas"):
        if columns is not None and hasattr(obj, "select"):  # not a county roster's every column
            obj = obj.select(*[c for c in dict.fromkeys(columns) if c in obj.columns])
        return obj.to_pandas()
    raise CostError(
        f"expected a DataFrame, an Ibis table or Extracts for {name}; got {type(obj).__name__}"
    )


def _month_start(s: pd.Series, what: str) -> pd.Series:
    txt = s.astype("string")
    out = pd.to_datetime(txt, format="%Y-%m", errors="coerce")
    other = out.isna() & txt.notna()
    out[other] = pd.to_datetime(txt[other], errors="coerce")
    bad = out.isna()
    if bad.any():
        rows = bad[bad].index[:5].tolist()
        raise CostError(
            f"{what}: {int(bad.sum())} month value(s) not in YYYY-MM form (rows {rows}, e.g. "
            f"{s[bad].head(3).tolist()}); write months as YYYY-MM"
        )
    return out.dt.to_period("M").dt.to_timestamp()


def enrolment_by_month(
    roster: Any,
    months: pd.DatetimeIndex,
    *,
    start: str = "enrollment_date",
    count: Literal["any_day", "fraction"] = "any_day",
    data_end_date: dt.date | None = None,
) -> pd.Series:
    """Enrolled participant-months in each month of ``months`` (first-of-month dates).

    Parameters
    ----------
    roster : DataFrame, Ibis table or Extracts
        LEAD participants (rows with ``group == 'pool'`` are ignored) with ``start`` (default
        ``enrollment_date``; rows without one are not enrolled), and optionally ``exit_date`` and
        ``death_date`` (the enrolment ends on the earlier; inclusive).
    months : DatetimeIndex
    count : {'any_day', 'fraction'}
    data_end_date : date, optional
        Open enrolments end here (default: the Extracts' data end date, else the last day of the
        last month).

    Returns
    -------
    pandas.Series of float, indexed by month.
    """
    if data_end_date is None:
        data_end_date = getattr(roster, "data_end_date", None)  # Extracts know their data end
    df = _frame(roster, "roster", [start, "group", "exit_date", "death_date"])
    if start not in df.columns:
        raise CostError(f"roster has no column {start!r}; map the enrollment date or choose start=")
    if count not in ("any_day", "fraction"):
        raise CostError(f"count must be 'any_day' or 'fraction'; got {count!r}")
    if "group" in df.columns:
        df = df[df["group"].astype("string") == "lead"]
    s = pd.to_datetime(df[start]).dt.normalize()
    last = months.max() + pd.offsets.MonthEnd(0)
    end = pd.Series(pd.Timestamp(data_end_date) if data_end_date else last, index=df.index)
    for col in ("exit_date", "death_date"):
        if col in df.columns:
            end = pd.concat([end, pd.to_datetime(df[col])], axis=1).min(axis=1)
    keep = s.notna() & (end >= s)
    s, end = s[keep], end[keep]
    base = months.min()
    nm = len(months)

    def idx(ts: pd.Series) -> np.ndarray:
        return ((ts.dt.year - base.year) * 12 + ts.dt.month - base.month).to_numpy()

    i0, i1 = idx(s), idx(end)

    def spread(first: np.ndarray, stop: np.ndarray) -> np.ndarray:
        """1 for every month index in [first, stop), clipped to the range: one cumsum."""
        lo, hi = np.clip(first, 0, nm), np.clip(stop, 0, nm)
        ok = hi > lo
        diff = np.zeros(nm + 1)
        np.add.at(diff, lo[ok], 1.0)
        np.add.at(diff, hi[ok], -1.0)
        return np.cumsum(diff)[:nm]

    if count == "any_day":
        full = spread(i0, i1 + 1)
    else:
        dim = months.days_in_month.to_numpy()
        full = spread(i0 + 1, i1)  # whole months strictly between the first and the last
        d0, d1 = s.dt.day.to_numpy(), end.dt.day.to_numpy()
        one = i0 == i1
        inside0 = (i0 >= 0) & (i0 < nm)
        inside1 = (i1 >= 0) & (i1 < nm) & ~one
        j0 = i0[inside0]
        first_days = np.where(one, (end - s).dt.days.to_numpy() + 1, 0)[inside0]
        first_days = np.where(one[inside0], first_days, dim[j0] - d0[inside0] + 1)
        np.add.at(full, j0, first_days / dim[j0])
        j1 = i1[inside1]
        np.add.at(full, j1, d1[inside1] / dim[j1])
    return pd.Series(full, index=months, name="participant_months")


@dataclass(frozen=True)
class CostCurveFit:
    """OLS fit of monthly spending on enrolment, :math:`S_t = F + v n_t`."""

    fixed: float
    variable: float
    cov: np.ndarray
    resid_var: float
    df_resid: float
    n_months: int
    result: Any  # statsmodels RegressionResults

    def project(self, enrolment: float | np.ndarray, conf_level: float = 0.95) -> pd.DataFrame:
        """Cost per participant-month at enrolment ``n``: :math:`F/n + v`, with the confidence
        interval of the mean (``conf_low/conf_high``) and the prediction interval of one month
        (``pred_low/pred_high``)."""
        n = np.atleast_1d(np.asarray(enrolment, float))
        if (n <= 0).any():
            raise CostError("projection needs enrolment > 0")
        sf = self.result.get_prediction(np.column_stack([np.ones_like(n), n])).summary_frame(
            alpha=1 - conf_level
        )
        return pd.DataFrame(
            {
                "enrolment": n,
                "estimate": sf["mean"].to_numpy() / n,
                "std_error": sf["mean_se"].to_numpy() / n,
                "conf_low": sf["mean_ci_lower"].to_numpy() / n,
                "conf_high": sf["mean_ci_upper"].to_numpy() / n,
                "pred_low": sf["obs_ci_lower"].to_numpy() / n,
                "pred_high": sf["obs_ci_upper"].to_numpy() / n,
            }
        )

    def to_frame(self) -> pd.DataFrame:
        ci = self.result.conf_int()
        return pd.DataFrame(
            {
                "term": ["fixed_per_month", "variable_per_participant_month"],
                "estimate": [self.fixed, self.variable],
                "std_error": np.sqrt(np.diag(self.cov)),
                "conf_low": np.asarray(ci)[:, 0],
                "conf_high": np.asarray(ci)[:, 1],
                "p_value": np.asarray(self.result.pvalues),
                "n": self.n_months,
            }
        )


@dataclass(frozen=True)
class ProgramCostCurve:
    """Program spending per enrolled participant-month, by program month.

    Attributes
    ----------
    table : pandas.DataFrame
        ``month, program_month`` (1 = first ledger month), ``spending, participant_months,
        cost_per_participant_month`` (NaN with nobody enrolled), ``cumulative_spending,
        cumulative_participant_months, running_average``.
    dollar_year : int or None
        Constant-dollar year of the amounts (None: nominal, as in the ledger).
    """

    table: pd.DataFrame
    dollar_year: int | None

    @property
    def average(self) -> float:
        """Total spending / total participant-months (start-up included)."""
        t = self.table
        return float(t["spending"].sum() / t["participant_months"].sum())

    def month_below(
        self, level: float, which: Literal["monthly", "running"] = "monthly"
    ) -> int | None:
        """First program month whose cost per participant-month (``monthly``) or running average
        (``running``) is below ``level``; None if never."""
        col = {"monthly": "cost_per_participant_month", "running": "running_average"}.get(which)
        if col is None:
            raise CostError(f"which must be 'monthly' or 'running'; got {which!r}")
        hit = self.table.loc[self.table[col] < level, "program_month"]
        return int(hit.iloc[0]) if len(hit) else None

    def fit(self, min_month: int = 1) -> CostCurveFit:
        """Fit :math:`S_t = F + v n_t` over program months >= ``min_month`` with enrolment > 0."""
        t = self.table[
            (self.table["participant_months"] > 0) & (self.table["program_month"] >= min_month)
        ]
        if len(t) < 3:
            raise CostError(
                f"need at least 3 months with enrolment to fit the cost curve; got {len(t)}"
            )
        x = sm.add_constant(t["participant_months"].to_numpy(float), has_constant="add")
        res = sm.OLS(t["spending"].to_numpy(float), x).fit()
        return CostCurveFit(
            fixed=float(res.params[0]),
            variable=float(res.params[1]),
            cov=np.asarray(res.cov_params()),
            resid_var=float(res.scale),
            df_resid=float(res.df_resid),
            n_months=len(t),
            result=res,
        )

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()


def program_cost_curve(
    ledger: Any,
    roster: Any | None = None,
    *,
    enrolment: pd.Series | None = None,
    start: str = "enrollment_date",
    count: Literal["any_day", "fraction"] = "any_day",
    dollar_year: int | Literal["nominal"] | None = None,
    costs: Any = None,
    cpi: pd.Series | None = None,
    data_end_date: dt.date | None = None,
) -> ProgramCostCurve:
    """Cost per participant-month by program month, from the ledger and the roster.

    Parameters
    ----------
    ledger : DataFrame, Ibis table or Extracts
        ``month`` (YYYY-MM or a date), ``amount`` (``category`` is summed over).
    roster : DataFrame, Ibis table or Extracts, optional
        For :func:`enrolment_by_month`; or give ``enrolment`` directly.
    enrolment : Series, optional
        Participant-months indexed by first-of-month dates.
    dollar_year : int or "nominal"
        Restate each month's spending in this year's dollars by the CPI of its calendar year;
        ``"nominal"`` keeps the ledger's current dollars (a curve that cannot then be combined
        with constant-dollar savings). Without it the year comes from ``costs``; with neither,
        a :class:`~leadeval.errors.CostError` (mixing nominal and constant dollars is the mistake
        this prevents).
    costs : SiteConfig or CostsConfig, optional
        Supplies ``dollar_year`` (``costs.dollar_year``) and the CPI table when not given.

    Returns
    -------
    ProgramCostCurve
    """
    from leadeval.costs.person_costs import config_of

    cost_cfg, _ = config_of(costs)
    if dollar_year is None:
        if cost_cfg is None:
            raise CostError(
                "program_cost_curve: say which dollars: dollar_year=<year> (e.g. the config's "
                "costs.dollar_year), costs=<config>, or dollar_year='nominal' for the ledger's "
                "current dollars"
            )
        dollar_year = cost_cfg.dollar_year
    if cpi is None and cost_cfg is not None and dollar_year != "nominal":
        cpi = cpi_table(cost_cfg.cpi_path)
    if dollar_year == "nominal":
        dollar_year = None
    elif not isinstance(dollar_year, int | np.integer):
        raise CostError(f"dollar_year must be a year or 'nominal'; got {dollar_year!r}")
    led = _frame(ledger, "program_ledger")
    for col in ("month", "amount"):
        if col not in led.columns:
            raise CostError(f"program ledger has no column {col!r}; map it in the config")
    led["month"] = _month_start(led["month"], "program ledger")
    amt = pd.to_numeric(led["amount"], errors="coerce")
    if amt.isna().any():
        rows = amt[amt.isna()].index[:5].tolist()
        raise CostError(
            f"program ledger: {int(amt.isna().sum())} amount(s) missing or not numeric (rows {rows})"
        )
    led["amount"] = amt.astype(float)
    spend = led.groupby("month")["amount"].sum()
    months = pd.date_range(spend.index.min(), spend.index.max(), freq="MS")
    spend = spend.reindex(months, fill_value=0.0)
    if dollar_year is not None:
        cpi = cpi_table() if cpi is None else cpi
        factors = {y: inflate(1.0, int(y), dollar_year, cpi) for y in sorted(set(months.year))}
        spend = spend * months.year.map(factors).to_numpy(float)
    if enrolment is None:
        if roster is None:
            raise CostError("give the roster (enrollment and exit dates) or enrolment by month")
        pm = enrolment_by_month(
            roster, months, start=start, count=count, data_end_date=data_end_date
        )
    else:
        pm = enrolment.copy()
        pm.index = pd.DatetimeIndex(pm.index).to_period("M").to_timestamp()
        pm = pm.reindex(months, fill_value=0.0).astype(float)
    spend_v, pm_v = spend.to_numpy(float), pm.to_numpy(float)
    cum_s, cum_n = np.cumsum(spend_v), np.cumsum(pm_v)
    with np.errstate(invalid="ignore", divide="ignore"):
        per = np.where(pm_v > 0, spend_v / pm_v, np.nan)
        run = np.where(cum_n > 0, cum_s / cum_n, np.nan)
    table = pd.DataFrame(
        {
            "month": months,
            "program_month": np.arange(1, len(months) + 1),
            "spending": spend_v,
            "participant_months": pm_v,
            "cost_per_participant_month": per,
            "cumulative_spending": cum_s,
            "cumulative_participant_months": cum_n,
            "running_average": run,
        }
    )
    return ProgramCostCurve(table, None if dollar_year is None else int(dollar_year))


def program_cost_per_month(program_cost: Any, dollar_year: int, cpi: pd.Series | None = None):
    """Program cost per participant-month in ``dollar_year`` dollars, from a number (taken to be
    in those dollars), a :class:`ProgramCostCurve` (its average; must be in the same dollars) or a
    ProgramCostInput (restated from its price year). A nominal or other-year curve is an error."""
    if isinstance(program_cost, ProgramCostCurve):
        if program_cost.dollar_year != dollar_year:
            have = program_cost.dollar_year or "nominal"
            raise CostError(
                f"the program cost curve is in {have} dollars but the savings are in "
                f"{dollar_year} dollars; rebuild it with program_cost_curve(..., "
                f"dollar_year={dollar_year})"
            )
        return program_cost.average
    if hasattr(program_cost, "price_year") and hasattr(program_cost, "amount"):
        return float(
            inflate(program_cost.amount, program_cost.price_year, dollar_year, cpi if cpi is not None else cpi_table())
        )
    return float(program_cost)
