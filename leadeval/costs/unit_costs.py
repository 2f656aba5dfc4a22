"""Unit costs in constant dollars: the CPI-U table and the conversion of each configured unit cost.

A cost stated in price-year dollars is restated in the analysis' dollar year by the ratio of annual
CPI-U averages:

.. math:: c_{Y} = c_{y} \\cdot \\frac{\\mathrm{CPI}_{Y}}{\\mathrm{CPI}_{y}}

The shipped table (``leadeval/data/cpi_u.csv``) holds BLS series CUUR0000SA0 annual averages
1990-2025; ``costs.cpi_path`` in the site config replaces it.

Example
-------
>>> from leadeval.costs import cpi_table, inflate
>>> round(inflate(100.0, 2015, 2019, cpi_table()), 2)
107.86
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from leadeval.config import CostsConfig, UnitCost
from leadeval.errors import CostError, CostWarning

__all__ = ["UnitCostTable", "cpi_table", "inflate", "unit_cost_table"]


def cpi_table(path: str | Path | None = None) -> pd.Series:
    """Annual CPI-U averages indexed by year (int), as a float Series named ``cpi``.

    Parameters
    ----------
    path : str or Path, optional
        A CSV with columns ``year,cpi`` (optional ``status``; ``provisional`` rows warn when used).
        Lines starting with ``#`` are comments. Default: the table shipped with leadeval.

    Returns
    -------
    pandas.Series
        ``cpi`` by ``year``; ``attrs['provisional']`` lists the provisional years.
    """
    if path is None:
        with resources.files("leadeval").joinpath("data", "cpi_u.csv").open() as fh:
            df = pd.read_csv(fh, comment="#")
        label = "leadeval/data/cpi_u.csv"
    else:
        path = Path(path)
        if not path.is_file():
            raise CostError(
                f"CPI table not found: {path}; fix costs.cpi_path (a CSV with year,cpi)"
            )
        df = pd.read_csv(path, comment="#")
        label = str(path)
    missing = {"year", "cpi"} - set(df.columns)
    if missing:
        raise CostError(
            f"{label}: missing column(s) {sorted(missing)}; the CPI table needs columns year,cpi"
        )
    cpi = pd.to_numeric(df["cpi"], errors="coerce")
    bad = df.index[cpi.isna() | (cpi <= 0)].tolist()
    if bad:
        raise CostError(
            f"{label}: {len(bad)} row(s) with a missing or non-positive cpi (data rows {bad[:10]}); "
            "give a positive index value for every year"
        )
    years = pd.to_numeric(df["year"], errors="coerce")
    if years.isna().any() or years.duplicated().any():
        raise CostError(f"{label}: column year must hold each year once, as a whole number")
    out = pd.Series(cpi.to_numpy(float), index=years.astype(int).to_numpy(), name="cpi")
    out.index.name = "year"
    out = out.sort_index()
    prov = []
    if "status" in df.columns:
        prov = sorted(years[df["status"].astype(str).str.lower() == "provisional"].astype(int))
    out.attrs["provisional"] = prov
    out.attrs["source"] = label
    return out


def inflate(
    amount: float | np.ndarray, price_year: int, dollar_year: int, cpi: pd.Series | None = None
) -> float | np.ndarray:
    """Restate ``amount`` from ``price_year`` dollars in ``dollar_year`` dollars.

    .. math:: a \\cdot \\mathrm{CPI}_{\\text{dollar\\_year}} / \\mathrm{CPI}_{\\text{price\\_year}}

    Example
    -------
    >>> import pandas as pd
    >>> inflate(100.0, 2000, 2010, pd.Series({2000: 100.0, 2010: 125.0}))
    125.0
    """
    cpi = cpi_table() if cpi is None else cpi
    for y in (price_year, dollar_year):
        if y not in cpi.index:
            raise CostError(
                f"no CPI value for year {y} (table covers {cpi.index.min()}-{cpi.index.max()}); "
                "add the year to your CPI table (costs.cpi_path) or change the price/dollar year"
            )
    prov = [y for y in (price_year, dollar_year) if y in cpi.attrs.get("provisional", [])]
    if prov and price_year != dollar_year:
        warnings.warn(
            f"CPI for {prov} is provisional in {cpi.attrs.get('source', 'the CPI table')}; "
            "check it against BLS series CUUR0000SA0 or supply costs.cpi_path",
            CostWarning,
            stacklevel=2,
        )
    return amount * float(cpi.loc[dollar_year]) / float(cpi.loc[price_year])


@dataclass(frozen=True)
class UnitCostTable:
    """Unit costs restated in one dollar year.

    Attributes
    ----------
    dollar_year : int
    table : pandas.DataFrame
        One row per unit cost, sorted by name: ``name, measure, category, payer, basis,
        amount, low, high`` (constant dollars; ``low``/``high`` equal ``amount`` when no range was
        given), ``amount_nominal, price_year, cpi_factor``.
    """

    dollar_year: int
    table: pd.DataFrame

    @property
    def measures(self) -> tuple[str, ...]:
        """The distinct measures priced, sorted."""
        return tuple(sorted(self.table["measure"].unique()))

    @property
    def categories(self) -> tuple[str, ...]:
        """The distinct categories, sorted."""
        return tuple(sorted(self.table["category"].unique()))

    def price_matrix(self, by: str = "category") -> tuple[np.ndarray, tuple[str, ...]]:
        """Matrix P (measures x groups) of dollars per unit: a count vector x gives ``x @ P``.

        ``by`` is ``"category"``, ``"payer"`` or ``"name"``.
        """
        return _price_matrix(self.table, self.table["amount"].to_numpy(float), by, self.measures)

    def to_frame(self) -> pd.DataFrame:
        """The table of unit costs (a copy)."""
        return self.table.copy()


def _price_matrix(
    table: pd.DataFrame, amounts: np.ndarray, by: str, measures: tuple[str, ...]
) -> tuple[np.ndarray, tuple[str, ...]]:
    labels = tuple(sorted(table[by].unique()))
    mi = table["measure"].map({m: i for i, m in enumerate(measures)}).to_numpy()
    gi = table[by].map({g: i for i, g in enumerate(labels)}).to_numpy()
    p = np.zeros((len(measures), len(labels)))
    np.add.at(p, (mi, gi), amounts)
    return p, labels


def unit_cost_table(
    costs: CostsConfig | Mapping[str, UnitCost | Mapping],
    dollar_year: int | None = None,
    cpi: pd.Series | None = None,
) -> UnitCostTable:
    """Restate configured unit costs in constant dollars.

    Parameters
    ----------
    costs : CostsConfig or mapping of name -> UnitCost (or dict)
        The unit costs; a :class:`~leadeval.config.CostsConfig` also supplies the dollar year and
        the CPI table (``cpi_path``).
    dollar_year : int, optional
        Overrides ``costs.dollar_year`` (required when ``costs`` is a plain mapping).
    cpi : pandas.Series, optional
        CPI by year; default ``cpi_table(costs.cpi_path)``.

    Example
    -------
    >>> t = unit_cost_table({"jail_day": {"measure": "jail_days", "amount": 100, "price_year": 2015}},
    ...                     dollar_year=2019)
    >>> round(float(t.table.loc[0, "amount"]), 2)
    107.86
    """
    if isinstance(costs, CostsConfig):
        items = costs.unit_costs
        dollar_year = costs.dollar_year if dollar_year is None else dollar_year
        if cpi is None:
            cpi = cpi_table(costs.cpi_path)
    else:
        try:
            items = {k: v if isinstance(v, UnitCost) else UnitCost(**v) for k, v in costs.items()}
        except (TypeError, ValueError) as err:
            raise CostError(f"invalid unit cost: {err}") from None
        if dollar_year is None:
            raise CostError("give dollar_year: the constant-dollar year of the results")
    if not items:
        raise CostError(
            "no unit costs configured; add costs.unit_costs to the site config (docs/costs.md shows "
            "a YAML example)"
        )
    cpi = cpi_table() if cpi is None else cpi
    rows = []
    for name in sorted(items):
        u = items[name]
        f = inflate(1.0, u.price_year, dollar_year, cpi)
        low = u.amount if u.low is None else u.low
        high = u.amount if u.high is None else u.high
        rows.append(
            {
                "name": name,
                "measure": u.measure,
                "category": u.category or name,
                "payer": u.payer,
                "basis": u.basis,
                "amount": u.amount * f,
                "low": low * f,
                "high": high * f,
                "amount_nominal": u.amount,
                "price_year": u.price_year,
                "cpi_factor": f,
            }
        )
    return UnitCostTable(dollar_year=int(dollar_year), table=pd.DataFrame(rows))
