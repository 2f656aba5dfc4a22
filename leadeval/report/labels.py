"""Plain labels for cohort columns, model terms, statistics and cost categories.

One dictionary, shipped here and overridable per site (``report.labels`` in the config), used by
every table, figure and sentence of the report. Window-based cohort columns are labelled by rule
(``bookings_post_365d`` -> "jail bookings, 12 months after"); covariate dummies as
"<variable>: <level>" (``area[south_seattle]`` -> "area: south seattle", the one dummy scheme
of leadeval.formulas), ``log1p(x)``, ``x ** 2`` and interactions ``a:b`` by rule; anything else
falls back to the words of its name. The CSV tables keep machine names and add ``<column>_label``.

>>> label("arrest_post_182d")
'any arrest within 6 months'
>>> label("unsheltered_days_pre_30d")
'days unsheltered, 1 month before'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import contextmanager
from types import MappingProxyType

__all__ = [
    "LABELS",
    "LABELLED_COLUMNS",
    "MEASURE_WORDS",
    "active_labels",
    "header",
    "label",
    "use_labels",
]

MEASURE_WORDS = MappingProxyType(
    {
        "arrest": "any arrest",
        "any_arrest": "any arrest",
        "felony_charge": "any felony charge",
        "prison": "any prison admission",
        "arrests": "arrests",
        "felony_arrests": "felony arrests",
        "warrant_arrests": "warrant arrests",
        "charges": "charges filed",
        "felony_charges": "felony charges",
        "charges_superior": "superior-court charges",
        "charges_district": "district-court charges",
        "charges_municipal": "municipal-court charges",
        "bookings": "jail bookings",
        "jail_days": "jail days",
        "prison_days": "prison days",
        "prison_admissions": "prison admissions",
        "ems_calls": "EMS calls",
        "contacts": "case-manager contacts",
        "unsheltered_days": "days unsheltered",
        "months_unsheltered": "months unsheltered",
        "observed_days": "days observed",
        "exposure": "days at risk",
        "incarcerated_days": "days incarcerated",
        "window_complete": "window complete",
    }
)

# Cohort columns, terms, statistics, cost categories and table headers that no rule covers.
LABELS: Mapping[str, str] = MappingProxyType(
    {
        # cohort and design
        "treated": "LEAD vs comparison",
        "group": "group",
        "age_at_index": "age at the index date",
        "sex": "sex",
        "race_ethnicity": "race/ethnicity",
        "area": "area",
        "referral_type": "referral type",
        "distance": "propensity score",
        "days_to_arrest": "time to first re-arrest",
        "days_to_prison": "time to prison admission",
        "days_to_first_event": "days to the first event",
        "arrested": "re-arrested",
        "prison_admitted": "admitted to prison",
        "sheltered": "sheltered in the month",
        "permanent_housing": "permanently housed in the month",
        "employed": "employed in the month",
        "legit_income": "legitimate income in the month",
        "month_offset": "month relative to the index month",
        "people": "people",
        "referral_date": "referral date",
        "enrollment_date": "enrolment date",
        "first_contact_date": "first case-manager contact",
        "GLOBAL": "all terms (global test)",
        # terms
        "post": "after vs before the index date",
        "treated:post": "change in LEAD vs change in comparison",
        "followup": "follow-up",
        "contacts": "per case-manager contact",
        "cumulative_contacts": "per case-manager contact (cumulative)",
        "(Intercept)": "intercept",
        # statistics and table headers
        "variable": "characteristic",
        "level": "level",
        "statistic": "statistic",
        "term": "term",
        "analysis": "analysis",
        "outcome": "outcome",
        "model": "model",
        "estimate": "estimate",
        "std_error": "standard error",
        "conf_low": "95% CI low",
        "conf_high": "95% CI high",
        "p_value": "p",
        "ratio": "ratio",
        "ratio_low": "95% CI low",
        "ratio_high": "95% CI high",
        "n": "people",
        "events": "events",
        "e_value": "E-value",
        "e_value_limit": "E-value (CI limit)",
        "mean_treated_before": "LEAD before",
        "mean_control_before": "comparison before",
        "smd_before": "SMD before",
        "mean_treated_after": "LEAD after",
        "mean_control_after": "comparison after",
        "smd_after": "SMD after",
        "var_ratio_after": "variance ratio after",
        "treated_before": "LEAD before",
        "control_before": "comparison before",
        "treated_after": "LEAD after",
        "control_after": "comparison after",
        "treated_units": "participants",
        "reason": "reason",
        "step": "step",
        "total": "total",
        "lead": "LEAD",
        "pool": "comparison",
        "other": "other",
        "extract": "extract",
        "source": "source",
        "read": "rows read",
        "loaded": "rows loaded",
        "quarantined": "rows quarantined",
        "rows": "rows",
        "month": "month",
        "program_month": "program month",
        "spending": "spending",
        "participant_months": "participant-months",
        "cost_per_participant_month": "cost per participant-month",
        "running_average": "running average",
        "finding": "finding",
        "label": "label",
        "unit": "unit",
        "clear_difference": "clear difference",
        "warning": "warning",
        "risk_treated": "risk with LEAD",
        "risk_control": "risk without LEAD",
        "risk_difference": "risk difference",
        "risk_ratio": "risk ratio",
        "rmst_treated": "mean days without re-arrest, LEAD",
        "rmst_control": "mean days without re-arrest, comparison",
        "rmst_difference": "difference in mean days without re-arrest",
        "rmst_ratio": "ratio of mean days without re-arrest",
        "mean_treated": "mean with LEAD",
        "mean_control": "mean without LEAD",
        "mean_difference": "difference in means",
        "mean_ratio": "ratio of means",
        # models
        "logistic": "logistic regression",
        "firth_logistic": "logistic regression (Firth)",
        "cox": "Cox regression",
        "gee_prepost": "GEE, before/after",
        "count_negbin": "negative binomial",
        "count_poisson": "Poisson",
        "count_did_negbin": "negative binomial, before/after",
        "count_did_poisson": "Poisson, before/after",
        "panel_gee": "GEE by month",
        "panel_contrast": "GEE by month and group (matched)",
        "within_person_rate": "conditional Poisson (within person)",
        # costs
        "category": "cost category",
        "jail": "jail",
        "legal": "courts and legal",
        "ems": "EMS",
        "benefits_pv": "avoided system costs (present value)",
        "costs_pv": "program cost (present value)",
        "net_benefit": "net benefit",
        "bcr": "benefit-cost ratio",
        "prob_benefits_exceed_costs": "chance that benefits exceed costs",
        "pre_lead": "LEAD, year before",
        "post_lead": "LEAD, year after",
        "change_lead": "LEAD, change",
        "pre_comparison": "comparison, year before",
        "post_comparison": "comparison, year after",
        "change_comparison": "comparison, change",
        "savings": "saving (difference in differences)",
        "lead_system": "LEAD system costs",
        "program": "program cost",
        "lead_total": "LEAD total (system + program)",
        "system_as_usual": "system as usual",
        "percent_savings": "saving (%)",
    }
)

# Table columns whose values are machine names: the CSV adds ``<column>_label``, the HTML shows
# the label in their place.
LABELLED_COLUMNS = ("analysis", "outcome", "variable", "term", "category", "finding", "model")

_WINDOW = re.compile(r"^(?P<measure>[a-z_]+?)_(?P<period>pre|post)_(?P<window>\d+d|all)$")
_DESIGN = {"gee": " (pre/post GEE)", "did": " (pre/post rate DiD)"}
_overrides: dict[str, str] = {}


@contextmanager
def use_labels(overrides: Mapping[str, str] | None, program: str = "LEAD", comparison: str = ""):
    """Apply a site's label overrides (and its program/comparison names) while building a report."""
    global _overrides
    saved = _overrides
    extra = {"lead": program, "treated": f"{program} vs {comparison or 'comparison'}"}
    if comparison:
        extra["pool"] = comparison
    _overrides = {**extra, **dict(overrides or {})}
    try:
        yield
    finally:
        _overrides = saved


def active_labels() -> dict[str, str]:
    """The shipped dictionary with the active overrides applied."""
    return {**LABELS, **_overrides}


def label(name: object) -> str:
    """Plain words for a cohort column, analysis key (``cox:days_to_arrest``), term, statistic
    or cost category."""
    name = str(name)
    if name in _overrides:
        return _overrides[name]
    prefix, _, key = name.rpartition(":") if ":" in name and name != "treated:post" else ("", "", name)
    if prefix and prefix not in _DESIGN and prefix not in ANALYSIS_PREFIXES:
        key = name  # not an analysis key
        prefix = ""
    return _label(key) + _DESIGN.get(prefix, "")


ANALYSIS_PREFIXES = frozenset(
    {"logistic", "cox", "km", "logrank", "count", "panel", "panel_contrast", "effect", "rmst",
     "mean", "gee", "did"}
)


def _label(key: str) -> str:
    if key in _overrides:
        return _overrides[key]
    if key in LABELS:
        return LABELS[key]
    if key.startswith("month="):
        return f"month {key.removeprefix('month=')} vs baseline"
    if key.startswith("treated@month="):
        return f"LEAD vs comparison in month {key.removeprefix('treated@month=')}"
    m = _WINDOW.match(key)
    if m and m["measure"] in MEASURE_WORDS:
        words, window = MEASURE_WORDS[m["measure"]], m["window"]
        span = "follow-up" if window == "all" else _span(int(window[:-1]))
        if m["period"] == "pre":
            return f"{words}, {span} before"
        if words.startswith("any "):
            return f"{words} {'during follow-up' if window == 'all' else 'within ' + span}"
        return f"{words}, {'whole follow-up' if window == 'all' else span + ' after'}"
    if m := _DUMMY.match(key):  # the one dummy scheme, variable[level]
        return f"{_label(m['var'])}: {m['level'].replace('_', ' ')}"
    if ":" in key and key != "treated:post":  # an interaction term or balance row
        return " × ".join(_label(part) for part in key.split(":"))
    if m := _LOG1P.match(key):
        return f"log(1 + {_label(m['var'])})"
    if m := _SQUARE.match(key):
        return f"{_label(m['var'])} squared"
    for var in ("area", "sex", "race_ethnicity", "referral_type", "race"):
        for sep in ("_", "="):  # older names, kept for site label overrides
            if key.startswith(var + sep) and len(key) > len(var) + len(sep):
                level = key[len(var) + len(sep) :]
                return f"{_label(var)}: {level.replace('_', ' ')}"
    return key.replace("_", " ")


_DUMMY = re.compile(r"^(?P<var>[^\[\]:]+)\[(?:T\.)?(?P<level>[^\]]+)\]$")
_LOG1P = re.compile(r"^log1p\((?P<var>[^()]+)\)$")
_SQUARE = re.compile(r"^(?P<var>[^ ]+) \*\* 2$")


def _span(days: int) -> str:
    months = round(days / 30.44)
    if abs(months * 30.44 - days) < 4 and months > 0:
        return "1 month" if months == 1 else f"{months} months"
    return f"{days} days"


def header(column: object) -> str:
    """A table header in plain words."""
    return label(column)
