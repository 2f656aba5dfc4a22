"""Run a whole site evaluation: extracts -> cohort -> matched sample -> estimates -> costs.

:func:`evaluate` calls the public functions of each stage in order, as the config says, and
collects their frozen results in one :class:`Evaluation`; the report (``leadeval.report``) only
formats it. An analysis that cannot be estimated on the data at hand (an outcome whose extract the
site lacks, a model with no events in a group) is recorded in ``Evaluation.skipped`` with the
reason, and the rest goes on; a user error in the config or extracts stops the run.

Example
-------
>>> import leadeval as le
>>> ev = le.evaluate(le.load_config("configs/seattle.yaml"))   # doctest: +SKIP
>>> ev.headline().head(3)                                      # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from leadeval._blas import one_blas_thread
from leadeval.checks import check_config_names
from leadeval.cohort import Cohort, build_cohort
from leadeval.cohort.persons import unit_columns
from leadeval.config import SiteConfig
from leadeval.costs import (
    benefit_cost,
    client_year_costs,
    cost_savings,
    cumulative_savings,
    monte_carlo,
    program_cost_curve,
    program_cost_per_month,
)
from leadeval.costs.unit_costs import cpi_table
from leadeval.equity import equity_for_site, heterogeneity_for_site
from leadeval.errors import CostError, LeadevalWarning, ModelError
from leadeval.extracts import Extracts, load_extracts
from leadeval.matching import MatchedSample, match
from leadeval.models import (
    cumulative_incidence,
    fit_count,
    fit_count_did,
    fit_cox,
    fit_gee_prepost,
    fit_km,
    fit_logistic,
    fit_panel_contrast,
    fit_panel_gee,
    fit_within_person_rate,
    logrank_test,
)
from leadeval.models.effects import estimate_effect, rmst_difference
from leadeval.models.results import ModelResult

Progress = Callable[[str], None]
# Stage failures that mean "this analysis is not estimable here", not "the user made a mistake".
NOT_ESTIMABLE = (ModelError, CostError)


@dataclass(frozen=True)
class Evaluation:
    """Everything one site evaluation produced, stage by stage (frozen results)."""

    config: SiteConfig
    seed: int
    extracts: Extracts
    cohort: Cohort
    matched: MatchedSample | None
    results: Mapping[str, Any]
    skipped: pd.DataFrame
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "results", MappingProxyType(dict(self.results)))

    def get(self, key: str) -> Any:
        """A result by key (see :func:`evaluate`), or None when it was not estimated."""
        return self.results.get(key)

    @property
    def analysis_sample(self) -> pd.DataFrame:
        """The frame the comparison models use: matched/weighted persons, or all participants
        in a within-person design."""
        if self.matched is not None:
            return self.matched.data
        return self.cohort.persons_for(self.cohort.participant_ids)

    def estimates(self) -> pd.DataFrame:
        """Every treatment-effect row of every model, in the shared result vocabulary."""
        return self._estimates.copy()

    def headline(self) -> pd.DataFrame:
        """The estimates a one-screen summary shows: each analysis' first effect term."""
        return self._headline.copy()

    # the results are frozen, so each table is computed once per Evaluation (the report and
    # the console read them several times); the methods above hand out copies
    @functools.cached_property
    def _estimates(self) -> pd.DataFrame:
        rows = []
        for key, res in self.results.items():
            if not isinstance(res, ModelResult):
                continue
            frame = res.to_frame()
            effect = frame[frame["term"].isin(effect_terms(res))]
            rows.append(effect.assign(analysis=key))
        if not rows:
            return pd.DataFrame()
        out = pd.concat(rows, ignore_index=True)
        return out[["analysis", *[c for c in out.columns if c != "analysis"]]]

    @functools.cached_property
    def _headline(self) -> pd.DataFrame:
        est = self._estimates
        if est.empty:
            return est.copy()
        cols = ["analysis", "term", "ratio", "ratio_low", "ratio_high", "p_value", "n", "events"]
        terms: dict[str, list[str]] = {}
        for a, t in zip(est["analysis"], est["term"], strict=True):
            terms.setdefault(a, []).append(t)
        lead = {a: _headline_term(a, ts) for a, ts in terms.items()}
        first = est[[lead[a] == t for a, t in zip(est["analysis"], est["term"], strict=True)]]
        return first[[c for c in cols if c in first.columns]].reset_index(drop=True)


def effect_terms(result: Any) -> list[str]:
    """The terms of a model that carry the program's effect (not intercepts or covariates)."""
    terms = list(result.table["term"])
    named = getattr(result, "details", {}).get("effect_term")
    if named in terms and "@" in named:  # a model naming its one effect term (panel contrast)
        return [named]
    if "treated:post" in terms:  # pre/post designs: the group x period interaction is the effect
        return ["treated:post"]
    wanted = ("treated", "post", "followup", "cumulative_contacts", "contacts")
    picked = [t for t in terms if t in wanted or t.startswith("month=")]
    return picked or [t for t in terms if t != "(Intercept)"][:1]


def _headline_term(analysis: str, terms: list[str]) -> str:
    """The one term of an analysis (its effect ``terms``, in order) a summary leads with: the
    per-contact term of a dose-response model, the last month of a monthly trajectory,
    otherwise the first effect term."""
    contacts = [t for t in terms if "contacts" in t]
    months = [t for t in terms if t.startswith("month=")]
    if analysis.endswith("_dose") and contacts:
        return contacts[0]
    if months:
        return max(months, key=lambda t: int(t.removeprefix("month=")))
    return terms[0]


class _Runner:
    """Runs analyses, recording the ones that are not estimable instead of stopping."""

    def __init__(self, progress: Progress | None):
        self.results: dict[str, Any] = {}
        self.skipped: list[dict[str, str]] = []
        self.warnings: list[str] = []
        self.progress = progress or (lambda _msg: None)

    def skip(self, key: str, reason: str) -> None:
        self.skipped.append({"analysis": key, "reason": reason})

    def has_columns(self, key: str, frame: pd.DataFrame, columns: list[str | None]) -> bool:
        """True when ``frame`` has every column; else record ``key`` as skipped and say which."""
        missing = [c for c in columns if c and c not in frame.columns]
        if missing:
            self.skip(key, f"column {missing[0]} is not in the cohort (its extract is missing?)")
        return not missing

    def run(self, key: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.progress(key)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LeadevalWarning)
            try:
                out = fn(*args, **kwargs)
            except NOT_ESTIMABLE as err:
                self.skip(key, str(err).splitlines()[0])
                return None
        for w in caught:
            if issubclass(w.category, LeadevalWarning):
                self.warnings.append(f"{key}: {w.message}")
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        self.results[key] = out
        return out


def estimable_months(
    panel: pd.DataFrame, outcome: str, baseline: int, last: int = 18
) -> tuple[int, int] | None:
    """The run of months from ``baseline`` up to ``last`` in which ``outcome`` varies across
    people. A month where nobody (or everybody) has the outcome, e.g. outside the months an income
    extract covers, makes its month term inestimable (separation), so the range stops before it.
    """
    share = panel.groupby("month_offset")[outcome].mean()
    varies = (share > 0) & (share < 1)
    if not varies.get(baseline, False):
        return None
    hi = baseline
    while hi + 1 <= last and varies.get(hi + 1, False):
        hi += 1
    return (baseline, hi) if hi > baseline else None


def rmst_horizon(sample: pd.DataFrame, duration: str, windows: list[int]) -> float | None:
    """The RMST horizon: the longest post window that both groups are still followed at (the
    shortest group's longest follow-up), else that follow-up itself; None without follow-up."""
    longest = sample.groupby("treated")[duration].max()
    if len(longest) < 2 or not (longest > 0).all():
        return None
    reach = float(longest.min())
    fits = [w for w in windows if w <= reach]
    return float(max(fits)) if fits else reach


@one_blas_thread  # the statistics' small fits run faster on one BLAS thread (_blas.py)
def evaluate(
    config: SiteConfig,
    seed: int | None = None,
    extracts: Extracts | None = None,
    progress: Progress | None = None,
) -> Evaluation:
    """Run every stage of a site evaluation as ``config`` describes it.

    Result keys: ``logistic:<outcome>``, ``gee:<post>``, ``km:<duration>``, ``logrank:<duration>``,
    ``cox:<duration>``, ``rmst:<duration>``, ``effect:<outcome>`` (absolute risk under each
    arm), ``mean:<outcome>`` (a count outcome's mean per 365 days of exposure under each arm; both
    :func:`~leadeval.models.effects.estimate_effect` on the matched sample), ``cuminc``, ``count:<outcome>``, ``did:<post>``, ``panel:<outcome>``,
    ``within_person``, ``within_person_dose``, ``savings``, ``client_year``, ``cumulative_savings``,
    ``program_curve``, ``benefit_cost``, ``monte_carlo``, ``equity`` (access),
    ``heterogeneity`` (subgroups).
    """
    seed = config.seed if seed is None else seed
    run = _Runner(progress)
    if extracts is None:
        run.progress("extracts")
        extracts = load_extracts(config)
    run.progress("cohort")
    cohort = build_cohort(extracts, config)
    check_config_names(
        config,
        cohort.columns,
        cohort.panel_columns,
        missing_extracts=cohort.skipped is not None and not cohort.skipped.empty,
    )
    mc = config.models

    matched = None
    if config.design.comparison:
        run.progress("matching")
        spec = config.matching
        if spec.order == "random" and spec.seed is None:
            spec = spec.model_copy(update={"seed": seed})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LeadevalWarning)
            # a MatchingError (no overlap...) is the user's to fix
            matched = match_cohort(cohort, spec, unit_columns(config, cohort.columns))
        run.warnings += [f"matching: {w.message}" for w in caught]
        sample = matched.data
        weights = mc.weights if mc.weights in sample.columns else None
        cluster = (
            mc.cluster
            if (mc.cluster in sample.columns and sample[mc.cluster].notna().any())
            else None
        )
        common = {"weights": weights, "conf_level": mc.conf_level}

        for outcome in mc.binary_outcomes:
            if not run.has_columns(f"logistic:{outcome}", sample, [outcome]):
                continue
            run.run(
                f"logistic:{outcome}",
                fit_logistic,
                sample,
                outcome,
                covariates=mc.covariates,
                cluster=cluster,
                firth=mc.firth,
                **common,
            )
            # the matched sample brings its design: pairs (two-way with replacement) or the
            # IPTW propensity model (M-estimation)
            run.run(
                f"effect:{outcome}",
                estimate_effect,
                matched,
                outcome,
                kind="binary",
                covariates=mc.covariates,
                interaction=False,
                conf_level=mc.conf_level,
            )
        for spec_pp in mc.prepost_gee:
            key = f"gee:{spec_pp.post}"
            if not run.has_columns(key, sample, [spec_pp.pre, spec_pp.post]):
                continue
            run.run(
                key,
                fit_gee_prepost,
                sample,
                spec_pp.pre,
                spec_pp.post,
                covariates=mc.covariates,
                corstr=mc.gee_corstr,
                **common,
            )
        for surv in mc.survival:
            if not run.has_columns(f"cox:{surv.duration}", sample, [surv.duration, surv.event]):
                continue
            run.run(
                f"km:{surv.duration}",
                fit_km,
                sample,
                surv.duration,
                surv.event,
                weights=weights,
                cluster=cluster,
                conf_level=mc.conf_level,
            )
            run.run(
                f"logrank:{surv.duration}",
                logrank_test,
                sample,
                surv.duration,
                surv.event,
                weights=weights,
            )
            run.run(
                f"cox:{surv.duration}",
                fit_cox,
                sample,
                surv.duration,
                surv.event,
                covariates=mc.covariates,
                cluster=cluster,
                ties=mc.ties,
                **common,
            )
            tau = rmst_horizon(sample, surv.duration, config.design.post_windows)
            if tau is not None:
                run.run(
                    f"rmst:{surv.duration}",
                    rmst_difference,
                    sample,
                    surv.duration,
                    surv.event,
                    tau,
                    weights=weights,
                    cluster=cluster,
                    seed=seed,
                    conf_level=mc.conf_level,
                )
        if mc.competing_risks and {"days_to_first_event", "first_event"} <= set(sample.columns):
            run.run(
                "cuminc",
                cumulative_incidence,
                sample,
                weights=weights,
                cluster=cluster,
                conf_level=mc.conf_level,
            )
        for cnt in mc.counts:
            if not run.has_columns(f"count:{cnt.outcome}", sample, [cnt.outcome, cnt.exposure]):
                continue
            run.run(
                f"count:{cnt.outcome}",
                fit_count,
                sample,
                cnt.outcome,
                cnt.exposure,
                covariates=mc.covariates,
                family=mc.count_family,
                cluster=cluster,
                **common,
                **({"interval": "bootstrap", "seed": seed} if cnt.interval == "bootstrap" else {}),
            )
            run.run(
                f"mean:{cnt.outcome}",
                estimate_effect,
                matched,
                cnt.outcome,
                kind="count",
                exposure=cnt.exposure,
                per=365.0,
                covariates=mc.covariates,
                conf_level=mc.conf_level,
            )
        for did in mc.count_did:
            key = f"did:{did.post}"
            if not run.has_columns(
                key, sample, [did.pre, did.post, did.pre_exposure, did.post_exposure]
            ):
                continue
            run.run(
                key,
                fit_count_did,
                sample,
                did.pre,
                did.post,
                did.pre_exposure,
                did.post_exposure,
                family=mc.count_family,
                cluster=cluster,
                **common,
            )

    run.progress("cohort:panel")  # the participants' person-months, built here on first use
    participants_panel = cohort.panel_for(cohort.participant_ids)
    contrast_panel = None  # the matched people's person-months, cut once for every outcome
    for outcome in mc.panel_outcomes:
        if not run.has_columns(f"panel:{outcome}", participants_panel, [outcome]):
            continue
        months = estimable_months(participants_panel, outcome, mc.panel_baseline_month)
        if months is None:
            run.skip(
                f"panel:{outcome}",
                f"{outcome} never varies after baseline month "
                f"{mc.panel_baseline_month} among participants",
            )
            continue
        run.run(
            f"panel:{outcome}",
            fit_panel_gee,
            participants_panel,
            outcome,
            baseline_month=mc.panel_baseline_month,
            months=months,
            contacts="contacts",
            corstr=mc.gee_corstr,
            conf_level=mc.conf_level,
        )
        contrast_panel = _run_panel_contrast(run, config, cohort, matched, outcome, contrast_panel)
    if mc.within_person:
        run.run(
            "within_person", fit_within_person_rate, participants_panel, conf_level=mc.conf_level
        )
        run.run(
            "within_person_dose",
            fit_within_person_rate,
            participants_panel,
            contacts="contacts",
            conf_level=mc.conf_level,
        )

    if config.equity.enabled:
        run.run("equity", equity_for_site, cohort, extracts, config)
        if matched is not None:
            run.run("heterogeneity", heterogeneity_for_site, cohort, matched, config, seed)
    _run_costs(run, config, extracts, cohort, matched, seed)
    return Evaluation(
        config=config,
        seed=seed,
        extracts=extracts,
        cohort=cohort,
        matched=matched,
        results=run.results,
        skipped=pd.DataFrame(run.skipped, columns=["analysis", "reason"]),
        warnings=tuple(run.warnings),
    )


def match_cohort(cohort: Cohort, spec: Any, columns: list[str]) -> MatchedSample:
    """``match(cohort, spec)`` reading every person's ``columns`` only (those the spec reads,
    :func:`~leadeval.cohort.persons.unit_columns`) and the other columns of the matched people
    only: its ``data`` is match()'s, its ``all_units`` has ``columns`` (plus weights, subclass,
    distance). IPTW and matching with replacement read outcomes from ``all_units`` (every unit is
    weighted; pairs are expanded from it): those match the whole person table."""
    if spec.method == "iptw" or spec.replace:
        return match(cohort, spec)
    m = match(cohort.select(columns), spec)
    rows = cohort.persons_for(m.data["person_id"])  # person_id order, as match()'s rows
    if not np.array_equal(rows["person_id"].to_numpy(), m.data["person_id"].to_numpy()):
        raise AssertionError("the matched rows are not in person_id order")  # pragma: no cover
    data = rows.reset_index(drop=True)
    data["treated"] = data["treated"].astype(int)
    for c in ("weights", "subclass", "distance"):
        data[c] = m.data[c].array
    data.attrs = dict(m.data.attrs)
    return dataclasses.replace(m, data=data)


def _run_panel_contrast(
    run: _Runner,
    config: SiteConfig,
    cohort: Cohort,
    matched: MatchedSample | None,
    outcome: str,
    panel: pd.DataFrame | None = None,
) -> pd.DataFrame | None:
    """LEAD vs the matched comparison over the same months (the monthly outcome's effect); a
    within-person design has no comparison group, and the panel GEE stays a description.
    Returns the matched people's panel (``panel``, when given, is that panel already cut)."""
    key = f"panel_contrast:{outcome}"
    mc = config.models
    if not config.design.comparison or matched is None:
        return None
    if panel is None:
        run.progress("cohort:panel_matched")  # the matched people's person-months
        panel = cohort.panel_for(matched.data.loc[matched.data["weights"] > 0, "person_id"])
    if not (panel["treated"] == 0).any():
        run.skip(key, "the comparison pool has no person-months in the panel")
        return panel
    arms = [estimable_months(panel[panel["treated"] == t], outcome, mc.panel_baseline_month,
                             last=12) for t in (0, 1)]
    if any(a is None for a in arms):
        run.skip(key, f"{outcome} does not vary after the baseline month in both arms")
        return panel
    months = (mc.panel_baseline_month, min(a[1] for a in arms))
    run.run(
        key,
        fit_panel_contrast,
        panel,
        outcome,
        matched,
        baseline_month=mc.panel_baseline_month,
        months=months,
        contrast_month=months[1],
        corstr=mc.gee_corstr,
        conf_level=mc.conf_level,
    )
    return panel


def _run_costs(
    run: _Runner,
    config: SiteConfig,
    extracts: Extracts,
    cohort: Cohort,
    matched: MatchedSample | None,
    seed: int,
) -> None:
    costs = config.costs
    if "program_ledger" in extracts:
        run.run(
            "program_curve",
            program_cost_curve,
            extracts,
            extracts,
            data_end_date=config.data_end_date,
            costs=config,
        )
    else:
        run.skip("program_curve", "the site has no program_ledger extract")
    if matched is None or not costs.unit_costs:
        if matched is not None:
            run.skip("savings", "no unit costs in the config (costs.unit_costs)")
        return
    savings = run.run("savings", cost_savings, matched, config, seed=seed)
    if savings is None:
        return
    panel = cohort.panel_for(matched.data["person_id"])  # the matched people's months only
    run.run("cumulative_savings", cumulative_savings, panel, matched, config, seed=seed)
    curve = run.results.get("program_curve")
    # program cost per participant-month: the config's (restated from its price year) or the
    # ledger curve's average in the same constant dollars as the savings
    program = costs.program_cost if costs.program_cost is not None else curve
    if program is None:
        run.skip("client_year", "no program cost: give costs.program_cost or a program_ledger")
        return
    run.run("client_year", client_year_costs, savings, program)
    run.run(
        "benefit_cost",
        benefit_cost,
        savings,
        program_cost_per_month(program, savings.dollar_year, cpi_table(costs.cpi_path)),
        horizon_months=costs.horizon_months,
        discount_rate=costs.discount_rate,
    )
    run.run("monte_carlo", monte_carlo, savings, program, costs=config, seed=seed)
