"""Outcome models for LEAD evaluations: survival, binary, counts, within-subject panels and
sensitivity analysis, with one tidy result vocabulary (``to_frame()``) and plots of results.

>>> from lifelines.datasets import load_rossi
>>> import leadeval.models as lm
>>> fit = lm.fit_cox(load_rossi(), "week", "arrest", treatment="fin", covariates=["age", "prio"])
>>> list(fit.to_frame().columns[:6])
['term', 'estimate', 'std_error', 'conf_low', 'conf_high', 'p_value']
"""

from leadeval.models.binary import fit_gee_prepost, fit_logistic
from leadeval.models.counts import fit_count, fit_count_did
from leadeval.models.effects import EffectEstimate, estimate_effect
from leadeval.models.firth import firth_logistic
from leadeval.models.gee import fit_gee
from leadeval.models.panel import fit_panel_contrast, fit_panel_gee, fit_within_person_rate
from leadeval.models.plots import (
    plot_cumulative_incidence,
    plot_forest,
    plot_km,
    plot_panel_trajectory,
)
from leadeval.models.results import RESULT_COLUMNS, CurveResult, ModelResult, TestResult
from leadeval.models.sensitivity import EValue, e_value, rosenbaum_bounds
from leadeval.models.survival import (
    cumulative_incidence,
    fit_cox,
    fit_km,
    fit_recurrent_cox,
    logrank_test,
)

__all__ = [
    "RESULT_COLUMNS",
    "CurveResult",
    "EffectEstimate",
    "EValue",
    "ModelResult",
    "TestResult",
    "cumulative_incidence",
    "e_value",
    "estimate_effect",
    "firth_logistic",
    "fit_count",
    "fit_count_did",
    "fit_cox",
    "fit_gee",
    "fit_gee_prepost",
    "fit_km",
    "fit_logistic",
    "fit_panel_contrast",
    "fit_panel_gee",
    "fit_recurrent_cox",
    "fit_within_person_rate",
    "logrank_test",
    "plot_cumulative_incidence",
    "plot_forest",
    "plot_km",
    "plot_panel_trajectory",
    "rosenbaum_bounds",
]
