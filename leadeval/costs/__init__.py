"""Cost analysis: unit costs in constant dollars, per-person costs, savings (DiD with a cluster
bootstrap), program cost curves, benefit-cost with Monte Carlo, and their plots (docs/costs.md)."""

from leadeval.costs.benefit_cost import (
    BenefitCostResult,
    MonteCarloResult,
    benefit_cost,
    discount_factors,
    monte_carlo,
    present_value,
    triangular_draws,
)
from leadeval.costs.monthly import CumulativeSavings, cumulative_savings
from leadeval.costs.person_costs import PersonCosts, count_column, person_costs
from leadeval.costs.plots import (
    plot_cost_bars,
    plot_cost_vs_enrolment,
    plot_cumulative_savings,
    plot_net_benefit,
    plot_program_cost,
)
from leadeval.costs.program import (
    CostCurveFit,
    ProgramCostCurve,
    enrolment_by_month,
    program_cost_curve,
    program_cost_per_month,
)
from leadeval.costs.savings import ClientYearCosts, SavingsResult, client_year_costs, cost_savings
from leadeval.costs.unit_costs import UnitCostTable, cpi_table, inflate, unit_cost_table

__all__ = [
    "BenefitCostResult",
    "ClientYearCosts",
    "CostCurveFit",
    "CumulativeSavings",
    "MonteCarloResult",
    "PersonCosts",
    "ProgramCostCurve",
    "SavingsResult",
    "UnitCostTable",
    "benefit_cost",
    "client_year_costs",
    "cost_savings",
    "count_column",
    "cpi_table",
    "cumulative_savings",
    "discount_factors",
    "enrolment_by_month",
    "inflate",
    "monte_carlo",
    "person_costs",
    "plot_cost_bars",
    "plot_cost_vs_enrolment",
    "plot_cumulative_savings",
    "plot_net_benefit",
    "plot_program_cost",
    "present_value",
    "program_cost_curve",
    "program_cost_per_month",
    "triangular_draws",
    "unit_cost_table",
]
