"""Cohort derivation: index dates, windows, at-risk time, person-level outcomes, person-month panel.

See docs/cohort.md for every rule, with timelines, and the full column lists.
"""

from leadeval.cohort.build import build_cohort
from leadeval.cohort.index import REASONS
from leadeval.cohort.result import Cohort

__all__ = ["REASONS", "Cohort", "build_cohort"]
