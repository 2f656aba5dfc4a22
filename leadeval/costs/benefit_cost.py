"""Benefit-cost in the Washington State Institute for Public Policy's form: present values per
participant, net benefit, benefit-cost ratio, break-even month, and a Monte Carlo chance that
benefits exceed costs.

Monthly amounts are discounted to the index date at annual rate *r*, paid at the end of month *m*:

.. math:: \\mathrm{PV} = \\sum_{m=1}^{H} \\frac{a_m}{(1+r)^{m/12}}

Benefits are avoided system costs (the DiD savings; per year / 12 per month), costs are program
spending per participant-month. Net benefit = PV benefits - PV costs; BCR = PV benefits / PV costs;
the break-even month is the first month at which cumulative PV benefits reach cumulative PV costs.

The Monte Carlo draws, per draw *d*: each unit cost from its range (``triangular``: low, mode =
amount, high; or ``uniform``: low..high; fixed when no range), the program cost per
participant-month likewise, and the vector of effects (reductions per measure) as one whole
replicate of the cluster bootstrap, so the effects keep their joint distribution. It reports the
distribution of net benefit and :math:`P(\\text{net} > 0)`.

Example
-------
>>> from leadeval.costs import benefit_cost
>>> bc = benefit_cost(100.0, 100.0, horizon_months=12, discount_rate=0.0)
>>> bc.net_benefit, bc.bcr, bc.break_even_month
(0.0, 1.0, 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from leadeval.config import CostsConfig, ProgramCostInput, SiteConfig
from leadeval.costs.person_costs import config_of, default_seed
from leadeval.costs.program import ProgramCostCurve, program_cost_per_month
from leadeval.costs.savings import SavingsResult
from leadeval.costs.unit_costs import cpi_table, inflate
from leadeval.errors import CostError

__all__ = [
    "BenefitCostResult",
    "MonteCarloResult",
    "benefit_cost",
    "discount_factors",
    "monte_carlo",
    "present_value",
    "triangular_draws",
]

Distribution = Literal["triangular", "uniform"]


def discount_factors(n_months: int, rate: float) -> np.ndarray:
    """:math:`(1+r)^{-m/12}` for months :math:`m = 1..n` (end-of-month payments).

    >>> discount_factors(12, 0.03)[-1].round(6)  # one year at 3%
    np.float64(0.970874)
    """
    if not 0 <= rate < 1:
        raise CostError(f"discount rate must be in [0, 1); got {rate}")
    return (1.0 + rate) ** (-np.arange(1, int(n_months) + 1) / 12.0)


def present_value(monthly: np.ndarray | float, rate: float, n_months: int | None = None) -> float:
    """Present value of monthly amounts (a scalar is repeated for ``n_months``)."""
    a = _stream(monthly, n_months, "amount")
    return float(a @ discount_factors(len(a), rate))


def _stream(x: np.ndarray | float, n: int | None, what: str) -> np.ndarray:
    a = np.atleast_1d(np.asarray(x, float))
    if a.size == 1:
        if n is None:
            raise CostError(f"give the number of months for a constant {what}")
        return np.full(int(n), float(a[0]))
    if n is not None and len(a) != n:
        out = np.zeros(int(n))
        out[: min(n, len(a))] = a[: min(n, len(a))]
        return out
    return a


def triangular_draws(
    low: np.ndarray, mode: np.ndarray, high: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Inverse CDF of the triangular distribution at uniforms ``u`` (broadcast); ``low == high``
    gives the point value.

    .. math:: x = a + \\sqrt{u (b-a)(c-a)} \\text{ if } u < \\tfrac{c-a}{b-a}, \\text{ else }
              b - \\sqrt{(1-u)(b-a)(b-c)}

    >>> triangular_draws(0.0, 1.0, 2.0, np.array([0.0, 0.5, 1.0])).tolist()
    [0.0, 1.0, 2.0]
    """
    a, c, b = (np.asarray(v, float) for v in (low, mode, high))
    width = b - a
    with np.errstate(invalid="ignore", divide="ignore"):
        fc = np.where(width > 0, (c - a) / width, 0.0)
        left = a + np.sqrt(u * width * (c - a))
        right = b - np.sqrt((1 - u) * width * (b - c))
    return np.where(width > 0, np.where(u < fc, left, right), c + 0 * u)


def _draw(low, mode, high, u, distribution: Distribution) -> np.ndarray:
    if distribution == "triangular":
        return triangular_draws(low, mode, high, u)
    if distribution == "uniform":
        return np.asarray(low, float) + u * (np.asarray(high, float) - np.asarray(low, float))
    raise CostError(f"distribution must be 'triangular' or 'uniform'; got {distribution!r}")


@dataclass(frozen=True)
class BenefitCostResult:
    """Present values per participant and the monthly streams behind them.

    Attributes
    ----------
    monthly : pandas.DataFrame
        ``month, benefit, cost, discount_factor, pv_benefit, pv_cost, cumulative_pv_benefit,
        cumulative_pv_cost, cumulative_net``.
    benefits_pv, costs_pv, net_benefit, bcr : float
    break_even_month : int or None
    discount_rate : float
    """

    monthly: pd.DataFrame
    benefits_pv: float
    costs_pv: float
    net_benefit: float
    bcr: float
    break_even_month: int | None
    discount_rate: float

    def to_frame(self) -> pd.DataFrame:
        """One row per term: ``benefits_pv, costs_pv, net_benefit, bcr, break_even_month``."""
        return pd.DataFrame(
            {
                "term": ["benefits_pv", "costs_pv", "net_benefit", "bcr", "break_even_month"],
                "estimate": [
                    self.benefits_pv,
                    self.costs_pv,
                    self.net_benefit,
                    self.bcr,
                    np.nan if self.break_even_month is None else float(self.break_even_month),
                ],
            }
        )


def program_cost_per_month_in(program_cost, savings: SavingsResult) -> float:
    """A program cost (number, curve or ProgramCostInput) in the savings' dollars."""
    return program_cost_per_month(program_cost, savings.dollar_year)


def _monthly_benefit(savings: SavingsResult | float | np.ndarray) -> np.ndarray | float:
    if isinstance(savings, SavingsResult):
        if savings.scale != "year":
            raise CostError(
                "benefit-cost needs savings per year: rerun cost_savings(..., scale='year')"
            )
        return savings.savings / 12.0
    return savings


def benefit_cost(
    benefits: SavingsResult | float | np.ndarray,
    program_cost_per_month: float | np.ndarray,
    *,
    horizon_months: int = 12,
    program_months: int | None = None,
    discount_rate: float = 0.03,
) -> BenefitCostResult:
    """Net benefit, benefit-cost ratio and break-even month per participant.

    Parameters
    ----------
    benefits : SavingsResult, float or array
        A SavingsResult (scale='year': its total DiD savings / 12 each month), or avoided system
        cost per participant-month (a constant, or one value per month).
    program_cost_per_month : float or array
        Program cost per participant-month (constant or per month of participation).
    horizon_months : int
        Months of benefits counted.
    program_months : int, optional
        Months the program is paid for per participant (default: the horizon).
    discount_rate : float
        Annual rate (default 3%).
    """
    if isinstance(program_cost_per_month, ProgramCostCurve):
        if not isinstance(benefits, SavingsResult):
            raise CostError(
                "benefit_cost: a program cost curve needs SavingsResult benefits, whose dollar "
                "year it is checked against; or pass the cost per month as a number"
            )
        program_cost_per_month = program_cost_per_month_in(program_cost_per_month, benefits)
    b = _stream(_monthly_benefit(benefits), horizon_months, "benefit")
    pm = horizon_months if program_months is None else program_months
    c = _stream(program_cost_per_month, pm, "program cost")
    n = max(len(b), len(c))
    b = np.pad(b, (0, n - len(b)))
    c = np.pad(c, (0, n - len(c)))
    v = discount_factors(n, discount_rate)
    pvb, pvc = b * v, c * v
    cb, cc = np.cumsum(pvb), np.cumsum(pvc)
    hit = np.nonzero((cb >= cc - 1e-9 * np.maximum(1.0, np.abs(cc))) & (cc > 0))[0]
    be = int(hit[0] + 1) if hit.size else None
    bpv, cpv = float(cb[-1]), float(cc[-1])
    monthly = pd.DataFrame(
        {
            "month": np.arange(1, n + 1),
            "benefit": b,
            "cost": c,
            "discount_factor": v,
            "pv_benefit": pvb,
            "pv_cost": pvc,
            "cumulative_pv_benefit": cb,
            "cumulative_pv_cost": cc,
            "cumulative_net": cb - cc,
        }
    )
    bcr = bpv / cpv if cpv > 0 else np.nan
    return BenefitCostResult(monthly, bpv, cpv, bpv - cpv, bcr, be, discount_rate)


@dataclass(frozen=True)
class MonteCarloResult:
    """Monte Carlo distribution of present values per participant.

    Attributes
    ----------
    draws : pandas.DataFrame
        One row per draw: ``benefits_pv, costs_pv, net_benefit, bcr``.
    prob_positive : float
        Share of draws with net benefit > 0 (WSIPP's "chance benefits exceed costs").
    conf_level, seed, distribution
    """

    draws: pd.DataFrame
    prob_positive: float
    conf_level: float
    seed: int
    distribution: str

    def to_frame(self) -> pd.DataFrame:
        """Mean, SD and percentile interval of each quantity, plus ``prob_benefits_exceed_costs``."""
        alpha = (1 - self.conf_level) / 2
        d = self.draws
        q = d.quantile([alpha, 1 - alpha])
        out = pd.DataFrame(
            {
                "term": list(d.columns),
                "estimate": d.mean().to_numpy(),
                "std_error": d.std(ddof=1).to_numpy(),
                "conf_low": q.iloc[0].to_numpy(),
                "conf_high": q.iloc[1].to_numpy(),
            }
        )
        prob = pd.DataFrame(
            {"term": ["prob_benefits_exceed_costs"], "estimate": [self.prob_positive]}
        )
        out = pd.concat([out, prob], ignore_index=True)
        out["n"] = len(d)
        return out


def monte_carlo(
    savings: SavingsResult,
    program_cost: float | ProgramCostInput | ProgramCostCurve | tuple[float, float, float],
    *,
    horizon_months: int | None = None,
    program_months: int | None = None,
    discount_rate: float | None = None,
    draws: int | None = None,
    seed: int | None = None,
    distribution: Distribution | None = None,
    costs: SiteConfig | CostsConfig | None = None,
    cpi: pd.Series | None = None,
) -> MonteCarloResult:
    """Chance that benefits exceed costs, drawing unit costs, program cost and effects.

    Parameters
    ----------
    savings : SavingsResult
        scale='year'; its bootstrap replicates are the effect distribution and its unit cost
        table (constant dollars, with ``low``/``high``) the cost ranges.
    program_cost : float, (amount, low, high), ProgramCostCurve or ProgramCostInput
        Program cost per participant-month in the savings' dollar year (a ProgramCostInput is
        restated from its price year by the CPI; a curve's average is used and its dollar year
        must be the savings', else a CostError).
    horizon_months, program_months, discount_rate, draws, seed, distribution
        Defaults from ``costs`` (a CostsConfig), else 12, horizon, 0.03, 10000, 0, 'triangular'.
    cpi : pandas.Series, optional
        CPI by year to restate a ProgramCostInput (default ``costs.cpi_path`` or the shipped table).

    Returns
    -------
    MonteCarloResult
    """
    if savings.scale != "year":
        raise CostError("Monte Carlo needs savings per year: rerun cost_savings(..., scale='year')")
    costs, site_seed = config_of(costs)
    horizon_months = horizon_months or (costs.horizon_months if costs else 12)
    program_months = program_months or horizon_months
    if discount_rate is None:
        discount_rate = costs.discount_rate if costs else 0.03
    draws = draws or (costs.monte_carlo_draws if costs else 10_000)
    seed = default_seed(seed, costs, site_seed)
    distribution = distribution or (costs.range_distribution if costs else "triangular")

    if isinstance(program_cost, ProgramCostCurve):
        program_cost = program_cost_per_month(program_cost, savings.dollar_year)
    if isinstance(program_cost, ProgramCostInput):
        if cpi is None:
            cpi = cpi_table(costs.cpi_path if costs else None)
        f = inflate(1.0, program_cost.price_year, savings.dollar_year, cpi)
        lo = program_cost.low if program_cost.low is not None else program_cost.amount
        hi = program_cost.high if program_cost.high is not None else program_cost.amount
        pc = (program_cost.amount * f, lo * f, hi * f)
    elif isinstance(program_cost, tuple):
        pc = tuple(float(x) for x in program_cost)
        if len(pc) != 3 or not pc[1] <= pc[0] <= pc[2]:
            raise CostError(
                f"program_cost range must be (amount, low, high) with low <= amount <= high; got {program_cost}"
            )
    else:
        pc = (float(program_cost),) * 3

    rng = np.random.default_rng(seed)
    tab = savings.unit_costs.table
    u = rng.random((draws, len(tab)))
    prices = _draw(
        tab["low"].to_numpy(), tab["amount"].to_numpy(), tab["high"].to_numpy(), u, distribution
    )
    reps = savings.effect_replicates()
    pick = rng.integers(0, reps.shape[0], size=draws)
    meas = tab["measure"].map({m: i for i, m in enumerate(savings.measures)}).to_numpy()
    effects = reps[pick][:, meas]  # draws x unit costs, units avoided per person-year
    annual = (effects * prices).sum(axis=1)
    prog = _draw(pc[1], pc[0], pc[2], rng.random(draws), distribution)
    v = discount_factors(max(horizon_months, program_months), discount_rate)
    bpv = annual / 12.0 * v[:horizon_months].sum()
    cpv = prog * v[:program_months].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        bcr = np.where(cpv > 0, bpv / cpv, np.nan)
    frame = pd.DataFrame(
        {"benefits_pv": bpv, "costs_pv": cpv, "net_benefit": bpv - cpv, "bcr": bcr}
    )
    return MonteCarloResult(
        draws=frame,
        prob_positive=float(np.mean(bpv - cpv > 0)),
        conf_level=savings.conf_level,
        seed=int(seed),
        distribution=distribution,
    )
