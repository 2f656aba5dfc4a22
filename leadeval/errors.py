"""Errors and warnings raised by leadeval.

Every error a user can cause is a :class:`LeadevalError`: the CLI prints its message (no traceback)
and exits with code 2. Messages say what went wrong, where (file, column, rows), how many, and the fix.
"""

from __future__ import annotations


class LeadevalError(Exception):
    """A problem the user can fix (bad config, bad extract, impossible design)."""


class ConfigError(LeadevalError):
    """The site config is invalid. ``problems`` lists every problem found, one line each."""

    def __init__(self, problems: list[str] | str, source: str | None = None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(
            f"{head}{len(self.problems)} config {noun}:\n" + "\n".join(f"  - {p}" for p in self.problems)
        )


class ExtractError(LeadevalError):
    """An extract cannot be used as a whole (missing file, missing column, unreadable, empty) or,
    in strict mode, has row-level problems."""


class CohortError(LeadevalError):
    """The cohort cannot be built as configured."""


class MatchingError(LeadevalError):
    """Matching or weighting cannot be done (no overlap, perfect separation, bad spec)."""


class ModelError(LeadevalError):
    """An outcome model cannot be fitted as asked."""


class CostError(LeadevalError):
    """Cost inputs are missing or inconsistent."""


class LeadevalWarning(UserWarning):
    """Base class of leadeval's warnings."""


class BalanceWarning(LeadevalWarning):
    """Covariate balance after matching or weighting exceeds the threshold."""


class SpecificationWarning(LeadevalWarning):
    """A model specification likely to leave bias (e.g. a count covariate entered linearly)."""


class ConvergenceWarning(LeadevalWarning):
    """A model did not converge, or fell back to a penalised fit."""


class QuarantineWarning(LeadevalWarning):
    """Rows of an extract were quarantined."""


class CostWarning(LeadevalWarning):
    """A cost input is provisional or a cost result rests on a weak basis (e.g. a provisional CPI)."""
