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

from leadeval.cohort import Cohort, build_cohort  # noqa: E402
from leadeval.config import SiteConfig, load_config, parse_config  # noqa: E402
from leadeval.costs import cost_savings  # noqa: E402
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
from leadeval.evaluation import Evaluation, evaluate  # noqa: E402
from leadeval.extracts import Extracts, load_extracts  # noqa: E402
from leadeval.matching import MatchedSample, match, plot_balance, plot_overlap, table_one  # noqa: E402
from leadeval.models import (  # noqa: E402
    EffectEstimate,
    cumulative_incidence,
    e_value,
    estimate_effect,
    fit_count,
    fit_count_did,
    fit_cox,
    fit_gee,
    fit_gee_prepost,
    fit_km,
    fit_logistic,
    fit_panel_gee,
    fit_recurrent_cox,
    fit_within_person_rate,
    logrank_test,
    rosenbaum_bounds,
)
from leadeval.report.writer import ReportPaths, write_report  # noqa: E402

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
