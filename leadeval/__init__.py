"""leadeval: evaluate LEAD and similar pre-booking diversion programs.

The pipeline runs one way: extracts -> cohort -> matched sample -> estimates -> costs -> report.

>>> import leadeval as le
>>> le.__version__
'0.1.0'
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("leadeval")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

from leadeval._lazy import lazy_names
from leadeval.errors import (  # noqa: E402
    BalanceWarning,
    CohortError,
    ConfigError,
    ConvergenceWarning,
    ExtractError,
    LeadevalError,
    LeadevalWarning,
    MatchingError,
    ModelError,
    SpecificationWarning,
)

# Public names are imported on first use (PEP 562), so `leadeval --help`, `leadeval validate`
# and `import leadeval` do not load statsmodels, matplotlib and the rest before they are needed.
_LAZY = {
    "build_cohort": "leadeval.cohort",
    "Cohort": "leadeval.cohort",
    "cost_savings": "leadeval.costs",
    "evaluate": "leadeval.evaluation",
    "EffectEstimate": "leadeval.models",
    "cumulative_incidence": "leadeval.models",
    "e_value": "leadeval.models",
    "estimate_effect": "leadeval.models",
    "fit_count": "leadeval.models",
    "fit_count_did": "leadeval.models",
    "fit_cox": "leadeval.models",
    "fit_gee": "leadeval.models",
    "fit_gee_prepost": "leadeval.models",
    "fit_km": "leadeval.models",
    "fit_logistic": "leadeval.models",
    "fit_panel_gee": "leadeval.models",
    "fit_recurrent_cox": "leadeval.models",
    "fit_within_person_rate": "leadeval.models",
    "logrank_test": "leadeval.models",
    "rosenbaum_bounds": "leadeval.models",
    "Evaluation": "leadeval.evaluation",
    "Extracts": "leadeval.extracts",
    "load_config": "leadeval.config",
    "load_extracts": "leadeval.extracts",
    "match": "leadeval.matching",
    "MatchedSample": "leadeval.matching",
    "parse_config": "leadeval.config",
    "plot_balance": "leadeval.matching",
    "plot_overlap": "leadeval.matching",
    "ReportPaths": "leadeval.report.writer",
    "SiteConfig": "leadeval.config",
    "table_one": "leadeval.matching",
    "write_report": "leadeval.report.writer",
}


__getattr__, __dir__ = lazy_names(globals(), _LAZY)


__all__ = [
    "EffectEstimate",
    "estimate_effect",
    "Evaluation",
    "ReportPaths",
    "evaluate",
    "load_extracts",
    "write_report",
    "BalanceWarning",
    "Cohort",
    "CohortError",
    "ConfigError",
    "ConvergenceWarning",
    "ExtractError",
    "Extracts",
    "LeadevalError",
    "LeadevalWarning",
    "MatchedSample",
    "SpecificationWarning",
    "MatchingError",
    "ModelError",
    "SiteConfig",
    "__version__",
    "build_cohort",
    "cost_savings",
    "cumulative_incidence",
    "e_value",
    "fit_count",
    "fit_count_did",
    "fit_cox",
    "fit_gee",
    "fit_gee_prepost",
    "fit_km",
    "fit_logistic",
    "fit_panel_gee",
    "fit_recurrent_cox",
    "fit_within_person_rate",
    "load_config",
    "logrank_test",
    "match",
    "parse_config",
    "plot_balance",
    "plot_overlap",
    "rosenbaum_bounds",
    "table_one",
]
