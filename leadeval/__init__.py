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

from leadeval.config import SiteConfig, load_config, parse_config  # noqa: E402
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
)
from leadeval.extracts import Extracts  # noqa: E402

__all__ = [
    "BalanceWarning",
    "CohortError",
    "ConfigError",
    "ConvergenceWarning",
    "ExtractError",
    "Extracts",
    "LeadevalError",
    "LeadevalWarning",
    "MatchingError",
    "ModelError",
    "SiteConfig",
    "__version__",
    "load_config",
    "parse_config",
]
