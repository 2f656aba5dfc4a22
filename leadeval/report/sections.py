"""Report sections built from an :class:`~leadeval.evaluation.Evaluation` (formatting only).

Every table passes through small-cell suppression before it is shown or written; figures are
drawn only from aggregates that clear the same threshold (Kaplan-Meier curves stop where fewer
than the threshold remain at risk, monthly trajectories skip thin months, the program cost curve
starts at the first month with enough participants).
"""

from __future__ import annotations

import dataclasses
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from leadeval.evaluation import Evaluation, effect_terms
from leadeval.matching import plot_balance, plot_overlap, table_one
from leadeval.models import plot_cumulative_incidence, plot_forest, plot_km, plot_panel_trajectory
from leadeval.models.results import CurveResult, ModelResult
from leadeval.report.document import ReportDocument, ReportFigure, ReportSection, ReportTable
from leadeval.report.figures import svg_text
from leadeval.report.suppression import SUPPRESSED, SUPPRESSION_NOTE, suppress_counts

MEASURE_WORDS = {
    "arrest": "any arrest",
    "felony_charge": "any felony charge",
    "prison": "any prison admission",
    "arrests": "arrests",
    "felony_arrests": "felony arrests",
    "charges": "charges filed",
    "bookings": "jail bookings",
    "jail_days": "jail days",
    "prison_days": "prison days",
    "ems_calls": "EMS calls",
}
PANEL_WORDS = {
    "sheltered": "sheltered in the month",
    "permanent_housing": "permanently housed in the month",
    "employed": "employed in the month",
    "legit_income": "legitimate income in the month",
    "days_to_arrest": "time to first re-arrest",
    "days_to_prison": "time to prison admission",
}
_WINDOW = re.compile(r"^(?P<measure>[a-z_]+?)_(?P<period>pre|post)_(?P<window>\d+d|all)$")


def label(name: str) -> str:
    """Plain words for a cohort column or analysis key, e.g. ``bookings_post_365d`` ->
    'jail bookings, 12 months after'; ``arrest_post_182d`` -> 'any arrest within 6 months'."""
    prefix, _, key = name.rpartition(":")
    design = {"gee": " (pre/post GEE)", "did": " (pre/post rate DiD)"}.get(prefix, "")
    return _label(key) + design


def _label(key: str) -> str:
    if key in PANEL_WORDS:
        return PANEL_WORDS[key]
    m = _WINDOW.match(key)
    if not m or m["measure"] not in MEASURE_WORDS:
        return key.replace("_", " ")
    words, window = MEASURE_WORDS[m["measure"]], m["window"]
    span = "follow-up" if window == "all" else _span(int(window[:-1]))
    if m["period"] == "pre":
        return f"{words}, {span} before"
    if words.startswith("any "):
        return f"{words} {'during follow-up' if window == 'all' else 'within ' + span}"
    return f"{words}, {'whole follow-up' if window == 'all' else span + ' after'}"


def _span(days: int) -> str:
    months = round(days / 30.44)
    return f"{months} months" if abs(months * 30.44 - days) < 4 else f"{days} days"


def _fig(draw, *args, size=(7.0, 4.0), **kwargs) -> str:
    fig, ax = plt.subplots(figsize=size)
    draw(*args, ax=ax, **kwargs)
    return svg_text(fig)


class SectionBuilder:
    """Builds the report's sections from one evaluation, with one suppression threshold."""

    def __init__(self, ev: Evaluation):
        self.ev = ev
        self.cfg = ev.config
        self.k = ev.config.report.small_cell_threshold
        self.program = ev.config.report.program_name
        self.comparison = ev.config.report.comparison_label

    # ---- helpers -------------------------------------------------------------------------
    def estimates_table(
        self,
        name: str,
        title: str,
        results: list[tuple[str, ModelResult]],
        note: str | None = None,
        terms: set[str] | None = None,
    ) -> ReportTable | None:
        """One row per effect term: ratio with CI, p, n, events, E-value; suppressed when the
        model rests on fewer than k people or events."""
        rows = []
        for key, res in results:
            frame = res.to_frame()
            wanted = [t for t in effect_terms(res) if terms is None or t in terms]
            for _, r in frame[frame["term"].isin(wanted)].iterrows():
                rows.append(
                    {
                        "outcome": label(key),
                        "term": r["term"],
                        "model": res.model,
                        "ratio": r["ratio"],
                        "conf_low": r["ratio_low"],
                        "conf_high": r["ratio_high"],
                        "p_value": r["p_value"],
                        "n": r["n"],
                        "events": r["events"],
                        "e_value": r.get("e_value", np.nan),
                    }
                )
        if not rows:
            return None
        t = pd.DataFrame(rows)
        shown = suppress_counts(t, ["n", "events"], self.k)
        thin = (pd.to_numeric(t["n"], errors="coerce") < self.k) | (
            pd.to_numeric(t["events"], errors="coerce") < self.k
        )
        shown.loc[thin, ["ratio", "conf_low", "conf_high", "p_value", "e_value"]] = SUPPRESSED
        return ReportTable(
            name, title, shown, note=note or f"Ratios below 1 favour {self.program}."
        )

    def _results(self, prefix: str) -> list[tuple[str, ModelResult]]:
        return [
            (k, v)
            for k, v in self.ev.results.items()
            if k.startswith(prefix) and isinstance(v, ModelResult)
        ]

    def _truncate_curve(self, curve: CurveResult) -> CurveResult:
        """Keep each group's curve only while at least k people are at risk."""
        c = curve.curves
        at_risk = c["at_risk"] if "at_risk" in c else c.get("n_risk")
        if at_risk is None:
            return curve
        return dataclasses.replace(
            curve, curves=c[at_risk.to_numpy() >= self.k].reset_index(drop=True)
        )

    # ---- sections ------------------------------------------------------------------------
    def summary(self) -> ReportSection:
        ev = self.ev
        paras = []
        n_lead = int((ev.cohort.persons["treated"] == 1).sum())
        if ev.matched is not None:
            n_t = int((ev.matched.data["treated"] == 1).sum())
            n_c = int((ev.matched.data["treated"] == 0).sum())
            paras.append(
                f"{self.program} participants were compared with similar people from the "
                f"{self.comparison} pool ({self.cfg.matching.method} matching on the propensity "
                f"score): {_count(n_t, self.k)} participants and {_count(n_c, self.k)} comparison "
                "people in the analysis."
            )
        else:
            paras.append(
                f"Each of {_count(n_lead, self.k)} {self.program} participants was compared with "
                "themself before and after the index date (a within-person design)."
            )
        for key, term in ev.headline()[["analysis", "term"]].itertuples(index=False):
            res = ev.get(key)
            r = res.term(term)
            if (res.events is not None and res.events < self.k) or not np.isfinite(r["ratio"]):
                continue
            paras.append(_plain(key, res, term, r, self.program, self.comparison))
        sav = ev.get("savings")
        if sav is not None:
            f = sav.to_frame()
            tot = f[(f["term"] == "savings") & (f["category"] == "total")]
            if not tot.empty:
                r = tot.iloc[0]
                paras.append(
                    f"System costs: relative to the {self.comparison} group, costs per "
                    f"participant-year changed by ${r['estimate']:,.0f} less for {self.program} "
                    f"participants (difference-in-differences saving; 95% CI ${r['conf_low']:,.0f} "
                    f"to ${r['conf_high']:,.0f}; {sav.dollar_year} dollars)."
                )
        mc = ev.get("monte_carlo")
        if mc is not None:
            paras.append(
                f"Across {len(mc.draws):,} Monte Carlo draws of unit costs and effects, the chance "
                f"that benefits exceed costs is {100 * mc.prob_positive:.0f}%."
            )
        paras.append(
            "All data in this report are aggregates; counts of fewer than "
            f"{self.k} people are suppressed."
        )
        return ReportSection("summary", "Summary of findings", tuple(paras))

    def data_quality(self) -> ReportSection:
        q = self.ev.extracts.quality.copy()
        q = q[["extract", "source", "read", "loaded", "quarantined", "censored", "notes"]]
        shown = suppress_counts(
            q, ["read", "loaded", "quarantined", "censored"], self.k, total_column="read"
        )
        tables = [
            ReportTable(
                "data_quality",
                "Rows read, loaded and quarantined by extract",
                shown,
                note="read = loaded + quarantined for every extract; censored rows are loaded "
                "rows with an end date (release, exit, death, episode end) after the data end, "
                "kept and cut at the data end by every analysis.",
            )
        ]
        reasons = self.ev.extracts.quarantine_reasons
        if reasons is not None and not reasons.empty:
            tables.append(
                ReportTable(
                    "quarantine_reasons",
                    "Quarantined rows by reason",
                    suppress_counts(reasons, ["rows"], self.k),
                )
            )
        total_q = int(q["quarantined"].sum())
        para = (
            "Every row of every extract was loaded or quarantined with a reason; the counts "
            f"reconcile. {'No rows were quarantined.' if total_q == 0 else ''}"
        ).strip()
        return ReportSection(
            "data-quality", "Data quality and reconciliation", (para,), tuple(tables)
        )

    def cohort_flow(self) -> ReportSection:
        flow = self.ev.cohort.flow_counts()
        groups = [c for c in ("lead", "pool", "other") if c in flow.columns]
        shown = suppress_counts(
            flow, [*groups, "total"], self.k, total_row=None, total_column="total"
        )
        shown = shown.rename(columns={"lead": self.program, "pool": self.comparison})
        fig = _fig(_draw_flow, flow, self.k, self.program, self.comparison, size=(7.0, 3.2))
        skipped = self.ev.cohort.skipped
        paras = [
            f"Index date: {self.cfg.design.index_date.replace('_', ' ')}. Every roster person is "
            "either in the cohort or excluded with the first rule that applies."
        ]
        if skipped is not None and not skipped.empty:
            paras.append(
                "Not built (missing extracts): " + ", ".join(sorted(set(skipped["outcome"]))) + "."
            )
        return ReportSection(
            "cohort-flow",
            "Cohort flow",
            tuple(paras),
            (ReportTable("cohort_flow", "Cohort flow by group", shown),),
            (ReportFigure("Cohort flow", fig),),
        )

    def balance(self) -> ReportSection:
        m = self.ev.matched
        if m is None:
            return ReportSection(
                "balance",
                "Comparison group and balance",
                skipped="Within-person design: no comparison group was built.",
            )
        bal = m.balance().to_frame()
        n_t = int((m.data["treated"] == 1).sum())
        n_c = int((m.data["treated"] == 0).sum())
        cols = [
            "variable",
            "mean_treated_before",
            "mean_control_before",
            "smd_before",
            "mean_treated_after",
            "mean_control_after",
            "smd_after",
            "var_ratio_after",
        ]
        t = bal[[c for c in cols if c in bal.columns]].copy()
        t = _suppress_binary_means(t, bal["binary"].to_numpy(), n_t, n_c, self.k)
        unmatched = m.unmatched.groupby("reason").size().rename("treated_units").reset_index()
        tables = [
            ReportTable(
                "balance",
                "Covariate balance before and after matching",
                t,
                note="SMD: standardized mean difference (treated SD for ATT).",
            )
        ]
        if not unmatched.empty:
            tables.append(
                ReportTable(
                    "unmatched",
                    "Participants not matched, by reason",
                    suppress_counts(unmatched, ["treated_units"], self.k),
                )
            )
        one = table_one(m)
        if (n_t >= self.k) and (n_c >= self.k):
            tables.append(
                ReportTable(
                    "table_one",
                    "Table 1: characteristics before and after matching",
                    _suppress_table_one(one, bal, n_t, n_c, self.k),
                )
            )
        figs = (
            ReportFigure(
                "Love plot",
                _fig(plot_balance, m.balance(), size=(7.0, 5.0)),
                "Absolute SMD before (open) and after (filled) matching.",
            ),
            ReportFigure("Propensity score overlap", _fig(plot_overlap, m)),
        )
        spec = self.cfg.matching
        para = (
            f"Method: {spec.method} ({spec.estimand}), distance {spec.distance} of the propensity "
            f"score, ratio {spec.ratio}:1, {'with' if spec.replace else 'without'} replacement"
            f"{f', caliper {spec.caliper} SD' if spec.caliper else ''}"
            f"{', exact on ' + ', '.join(spec.exact) if spec.exact else ''}. "
            f"Matched: {_count(n_t, self.k)} participants, {_count(n_c, self.k)} comparison people."
        )
        return ReportSection(
            "balance", "Comparison group and balance", (para,), tuple(tables), figs
        )

    def rearrest(self) -> ReportSection:
        figs, tables, paras = [], [], []
        for key, km in self.ev.results.items():
            if key.startswith("km:") and isinstance(km, CurveResult):
                km_t = self._truncate_curve(km)
                if not km_t.curves.empty:
                    labels = {1: self.program, 0: self.comparison}
                    figs.append(
                        ReportFigure(
                            f"Kaplan-Meier: {label(key)}",
                            _fig(plot_km, km_t, labels=labels, size=(7.0, 5.0)),
                            f"Curves stop where fewer than {self.k} people remain at risk.",
                        )
                    )
                lr = self.ev.get(key.replace("km:", "logrank:"))
                if lr is not None:
                    paras.append(
                        f"Log-rank test ({label(key)}): chi-square {lr.statistic:.2f} on "
                        f"{lr.df} df, p = {lr.p_value:.3g}."
                    )
        cox = self._results("cox:")
        logit = [(k, r) for k, r in self._results("logistic:") if "arrest" in k or "felony" in k]
        gee = self._results("gee:")
        for name, title, res in (
            ("rearrest_cox", "Cox proportional hazards: hazard ratios", cox),
            ("rearrest_logistic", "Odds of arrest and charges (logistic)", logit),
            ("rearrest_gee", "Pre/post GEE (group x period odds ratio)", gee),
        ):
            if res and (t := self.estimates_table(name, title, res)) is not None:
                tables.append(t)
        for _key, res in cox:
            ph = res.details.get("ph_test") if hasattr(res, "details") else None
            if isinstance(ph, pd.DataFrame) and not ph.empty:
                tables.append(
                    ReportTable(
                        f"ph_test_{res.outcome}",
                        "Proportional-hazards check (scaled Schoenfeld residuals)",
                        ph.rename_axis("term").reset_index().round(4),
                    )
                )
        all_ratio = cox + logit + gee
        if all_ratio:
            figs.append(
                ReportFigure(
                    "Effects on re-arrest",
                    _fig(
                        plot_forest,
                        [r for _, r in all_ratio],
                        labels=[label(k) for k, _ in all_ratio],
                    ),
                )
            )
        if not (figs or tables):
            return ReportSection(
                "rearrest", "Re-arrest", skipped=self._skip_text("cox:", "logistic:", "km:")
            )
        return ReportSection("rearrest", "Re-arrest", tuple(paras), tuple(tables), tuple(figs))

    def prison(self) -> ReportSection:
        res = [(k, r) for k, r in self._results("logistic:") if "prison" in k] + [
            (k, r) for k, r in self._results("cox:") if "prison" in k
        ]
        tables, figs = [], []
        if res and (t := self.estimates_table("prison", "Prison admission", res)) is not None:
            tables.append(t)
        ci = self.ev.get("cuminc")
        if isinstance(ci, CurveResult):
            ci_t = self._truncate_curve(ci)
            if not ci_t.curves.empty:
                figs.append(
                    ReportFigure(
                        "Cumulative incidence: re-arrest, prison, death",
                        _fig(plot_cumulative_incidence, ci_t, size=(7.0, 4.5)),
                        "Aalen-Johansen estimates with competing events.",
                    )
                )
        if not (tables or figs):
            return ReportSection(
                "prison", "Prison", skipped=self._skip_text("logistic:prison", "cuminc")
            )
        return ReportSection("prison", "Prison", (), tuple(tables), tuple(figs))

    def rates(self) -> ReportSection:
        counts = self._results("count:") + self._results("did:")
        if not counts:
            return ReportSection(
                "rates",
                "Bookings, jail days and EMS calls",
                skipped=self._skip_text("count:", "did:"),
            )
        tables = [self.estimates_table("rates", "Rate ratios (per year at risk)", counts)]
        rows = []
        for key, res in counts:
            ar = res.details.get("annual_rates") if hasattr(res, "details") else None
            if isinstance(ar, pd.DataFrame) and not ar.empty:
                r = ar.iloc[0]
                rows.append(
                    {
                        "outcome": label(key),
                        "rate_lead": r["rate_treated"],
                        "rate_comparison": r["rate_control"],
                        "difference_per_year": r["difference"],
                        "conf_low": r["conf_low"],
                        "conf_high": r["conf_high"],
                    }
                )
        if rows:
            tables.append(
                ReportTable(
                    "annual_differences",
                    "Annualised differences per person-year",
                    pd.DataFrame(rows),
                    note="Negative differences are fewer events per year among participants.",
                )
            )
        paras = [_annual_sentence(r, self.program) for r in rows]
        return ReportSection(
            "rates",
            "Bookings, jail days and EMS calls",
            tuple(paras),
            tuple(t for t in tables if t is not None),
        )

    def panel(self) -> ReportSection:
        res = self._results("panel:")
        wp = [
            (k, r)
            for k, r in self.ev.results.items()
            if k.startswith("within_person") and isinstance(r, ModelResult)
        ]
        if not (res or wp):
            return ReportSection(
                "panel",
                "Housing, income and within-person change",
                skipped=self._skip_text("panel:", "within_person"),
            )
        tables, figs = [], []
        if res:
            monthly = _monthly_shares(self.ev.cohort.panel, [r.outcome for _, r in res], self.k)
            if not monthly.empty:
                tables.append(
                    ReportTable(
                        "monthly_shares",
                        f"{self.program} participants: share by month",
                        monthly.round(3),
                        note=f"Months with fewer than {self.k} people are left out.",
                    )
                )
                figs.append(ReportFigure("Monthly trajectories", _fig(_draw_shares, monthly)))
            shown_terms = {"contacts", *(f"month={m}" for m in (1, 3, 6, 12, 18))}
            tables.append(
                self.estimates_table(
                    "panel",
                    "Odds vs the baseline month (selected months), and per contact (GEE)",
                    res,
                    note="Ratios above 1: more likely than in the baseline month (or per extra "
                    "contact). Every month's odds ratio is in the figures.",
                    terms=shown_terms,
                )
            )
            for _key, r in res:
                figs.append(
                    ReportFigure(
                        f"Odds ratio by month: {label(r.outcome)}", _fig(plot_panel_trajectory, r)
                    )
                )
        if wp:
            tables.append(
                self.estimates_table(
                    "within_person",
                    "Within-person arrest rate ratios (after vs before the index date; per contact)",
                    wp,
                    note="Each participant is compared with themself; ratios below 1 are fewer "
                    "arrests.",
                )
            )
        return ReportSection(
            "panel",
            "Housing, income and within-person change",
            (),
            tuple(t for t in tables if t is not None),
            tuple(figs),
        )

    def costs(self) -> ReportSection:
        from leadeval.costs import (
            plot_cost_bars,
            plot_cumulative_savings,
            plot_net_benefit,
        )

        ev, tables, figs, paras = self.ev, [], [], []
        sav = ev.get("savings")
        if sav is not None:
            tables.append(
                ReportTable(
                    "cost_savings",
                    f"Costs per person-year and savings ({sav.dollar_year} dollars)",
                    sav.to_frame().round(2),
                )
            )
            figs.append(
                ReportFigure(
                    "Costs before and after, by category",
                    _fig(plot_cost_bars, sav, size=(7.0, 4.5)),
                )
            )
        cy = ev.get("client_year")
        if cy is not None:
            tables.append(
                ReportTable(
                    "client_year",
                    "Per client-year: program + system vs system as usual",
                    cy.to_frame().round(2),
                )
            )
        cum = ev.get("cumulative_savings")
        if cum is not None:
            figs.append(
                ReportFigure(
                    "Cumulative cost difference over follow-up", _fig(plot_cumulative_savings, cum)
                )
            )
        curve = ev.get("program_curve")
        if curve is not None:
            t = curve.to_frame()
            thin = t["participant_months"].to_numpy() < self.k
            shown = t.loc[~thin].reset_index(drop=True)
            if not shown.empty:
                curve_shown = dataclasses.replace(curve, table=shown)
                figs.append(
                    ReportFigure(
                        "Program cost per participant-month",
                        _fig(_program_cost_log, curve_shown),
                        "Cost axis on a log scale: start-up months cost many times the later ones.",
                    )
                )
                tables.append(
                    ReportTable(
                        "program_cost_curve",
                        "Program cost per participant-month",
                        shown.assign(month=shown["month"].dt.strftime("%Y-%m"))[
                            [
                                "month",
                                "program_month",
                                "spending",
                                "participant_months",
                                "cost_per_participant_month",
                                "running_average",
                            ]
                        ].round(2),
                        note=f"Months with fewer than {self.k} participant-months are left out.",
                    )
                )
                paras.append(
                    f"Program spending divided by enrolled participant-months averaged "
                    f"${curve.average:,.0f} over all {len(t)} ledger months (start-up included); "
                    f"the monthly cost per participant went from "
                    f"${shown['cost_per_participant_month'].iloc[0]:,.0f} in program month "
                    f"{shown['program_month'].iloc[0]} to "
                    f"${shown['cost_per_participant_month'].iloc[-1]:,.0f} in month "
                    f"{shown['program_month'].iloc[-1]}."
                )
        mc = ev.get("monte_carlo")
        if mc is not None:
            figs.append(
                ReportFigure(
                    "Net benefit per participant (Monte Carlo)", _fig(plot_net_benefit, mc)
                )
            )
            tables.append(
                ReportTable(
                    "monte_carlo", "Benefit-cost Monte Carlo summary", mc.to_frame().round(3)
                )
            )
        if not (tables or figs):
            return ReportSection(
                "costs",
                "Costs and funders' curves",
                skipped=self._skip_text("savings", "program_curve"),
            )
        return ReportSection(
            "costs", "Costs and funders' curves", tuple(paras), tuple(tables), tuple(figs)
        )

    def sensitivity(self) -> ReportSection:
        est = self.ev.estimates()
        if not est.empty:  # one row per analysis: its headline effect
            keep = self.ev.headline()[["analysis", "term"]]
            est = est.merge(keep, on=["analysis", "term"])
        if est.empty or "e_value" not in est:
            return ReportSection(
                "sensitivity", "Sensitivity (E-values)", skipped="No ratio estimates."
            )
        t = est[
            [
                "analysis",
                "term",
                "ratio",
                "ratio_low",
                "ratio_high",
                "e_value",
                "e_value_limit",
                "events",
            ]
        ].copy()
        t["analysis"] = t["analysis"].map(label)
        thin = pd.to_numeric(t["events"], errors="coerce") < self.k
        t = t.drop(columns="events").astype(object)
        t.loc[thin.to_numpy(), ["ratio", "ratio_low", "ratio_high", "e_value", "e_value_limit"]] = (
            SUPPRESSED
        )
        para = (
            "The E-value is the minimum strength of association (risk-ratio scale) that an unmeasured "
            "confounder would need with both the program and the outcome to explain away an "
            "estimate; the second E-value does the same for the confidence limit nearest 1 "
            "(VanderWeele & Ding 2017)."
        )
        return ReportSection(
            "sensitivity",
            "Sensitivity (E-values)",
            (para,),
            (ReportTable("e_values", "E-values", t),),
        )

    def equity(self) -> ReportSection:
        from leadeval.report.equity_section import equity_section

        return equity_section(self)

    def methods(self) -> ReportSection:
        d, mc, c = self.cfg.design, self.cfg.models, self.cfg.costs
        paras = [
            f"Site: {self.cfg.site}; data through {self.cfg.data_end_date:%d %B %Y}; seed {self.ev.seed}.",
            f"Index date: {d.index_date.replace('_', ' ')}. Pre windows: {', '.join(f'{w} days' for w in d.pre_windows)}; "
            f"post windows: {', '.join(f'{w} days' for w in d.post_windows)} and the whole follow-up. Events on the "
            "index date are in neither window. Follow-up ends at the data end date or death"
            f"{' or program exit' if d.exit_censors else ''}. "
            f"{'Days in jail or prison are subtracted from time at risk.' if d.exclude_incarceration else ''}",
        ]
        if d.comparison:
            m = self.cfg.matching
            paras.append(
                f"Design: {self.program} participants vs a comparison group from the pool, balanced by "
                f"{m.method} ({m.estimand}) on {', '.join([*m.covariates, *m.categorical]) or 'no covariates'}. "
                f"Outcome models are weighted by the matching weights with cluster-robust standard errors by "
                f"{mc.cluster or 'person'}; Cox models use {mc.ties} ties; counts use {mc.count_family} "
                "regression with log exposure."
            )
        else:
            paras.append(
                "Design: within-person before/after the index date on participants only: conditional "
                "(person fixed-effects) Poisson on person-months, robust SEs by person."
            )
        if c.unit_costs:
            paras.append(
                f"Costs in {c.dollar_year} dollars (CPI-U), discount rate {100 * c.discount_rate:.0f}%, "
                f"{c.bootstrap_replicates:,} pair-bootstrap replicates, {c.monte_carlo_draws:,} Monte Carlo draws."
            )
        paras.append(
            "Limitations: the comparison is observational; estimates rely on the measured covariates "
            "(see the E-values). Small cells are suppressed, so some rows are blank."
        )
        tables = []
        if not self.ev.skipped.empty:
            tables.append(
                ReportTable("not_estimated", "Analyses not estimated, and why", self.ev.skipped)
            )
        if self.ev.warnings:
            tables.append(
                ReportTable(
                    "warnings",
                    "Warnings raised during the analysis",
                    pd.DataFrame({"warning": list(self.ev.warnings)}),
                )
            )
        return ReportSection("methods", "Methods and limitations", tuple(paras), tuple(tables))

    def _skip_text(self, *prefixes: str) -> str:
        sk = self.ev.skipped
        hits = sk[sk["analysis"].str.startswith(prefixes)] if not sk.empty else sk
        if hits.empty:
            return "Not part of this site's configured analysis."
        return "Not estimated: " + "; ".join(f"{a}: {r}" for a, r in hits.itertuples(index=False))

    def document(self) -> ReportDocument:
        title = (
            self.cfg.report.title
            or f"{self.program} evaluation: {self.cfg.site.replace('_', ' ').title()}"
        )
        sections = (
            self.summary(),
            self.data_quality(),
            self.cohort_flow(),
            self.balance(),
            self.rearrest(),
            self.prison(),
            self.rates(),
            self.panel(),
            self.costs(),
            self.sensitivity(),
            self.equity(),
            self.methods(),
        )
        return ReportDocument(
            title=title,
            subtitle=f"Data through {self.cfg.data_end_date:%d %B %Y} · leadeval",
            sections=sections,
            footnotes=(SUPPRESSION_NOTE.format(k=self.k),),
        )


def build_document(ev: Evaluation) -> ReportDocument:
    """The whole report of an evaluation."""
    return SectionBuilder(ev).document()


# ---- small pure helpers -----------------------------------------------------------------
def _cap(text: str) -> str:
    """First letter upper case, the rest as written (str.capitalize lowercases 'GEE')."""
    return text[:1].upper() + text[1:]


def _count(n: int, k: int) -> str:
    return f"{n:,}" if n >= k or n == 0 else f"fewer than {k}"


def _plain(
    key: str, res: ModelResult, term: str, r: pd.Series, program: str, comparison: str
) -> str:
    ratio, lo, hi = r["ratio"], r["ratio_low"], r["ratio_high"]
    what = {"odds": "odds", "hazard": "hazard", "rate": "rate"}.get(
        res.ratio_name.split()[0] if res.ratio_name else "", "ratio"
    )
    change = (1 - ratio) * 100
    direction = "lower" if ratio < 1 else "higher"
    sig = "" if (lo < 1 < hi) else " (the confidence interval excludes 1)"
    ci = f"95% CI {lo:.2f} to {hi:.2f}"
    if key.startswith("panel:"):
        month = term.removeprefix("month=")
        return (
            f"{_cap(label(key))}: {program} participants' odds in month {month} were "
            f"{ratio:.2f} times those in the baseline month ({ci})."
        )
    if key.startswith("within_person"):
        if "contacts" in term:
            return (
                f"Each case-manager contact: arrest rate ratio {ratio:.2f} ({ci}), i.e. "
                f"{abs(change):.0f}% {direction} arrest rate per contact."
            )
        return (
            f"Arrest rate after the index date vs before, within person: {ratio:.2f} ({ci}), "
            f"{abs(change):.0f}% {direction}."
        )
    if term == "treated:post":
        return (
            f"{_cap(label(key))}: the change from before to after was "
            f"{abs(change):.0f}% {direction} in {what} for {program} participants than for the "
            f"{comparison} group (ratio of {what} ratios {ratio:.2f}, {ci}){sig}."
        )
    return (
        f"{_cap(label(key))}: {abs(change):.0f}% {direction} {what} for {program} "
        f"participants than for the {comparison} group ({res.ratio_name or 'ratio'} {ratio:.2f}, "
        f"95% CI {lo:.2f} to {hi:.2f}){sig}."
    )


def _annual_sentence(row: dict, program: str) -> str:
    d = row["difference_per_year"]
    return (
        f"{_cap(row['outcome'])}: {abs(d):.2f} {'fewer' if d < 0 else 'more'} per person-year "
        f"for {program} participants (95% CI {row['conf_low']:.2f} to {row['conf_high']:.2f})."
    )


def _suppress_binary_means(
    t: pd.DataFrame, binary: np.ndarray, n_t: int, n_c: int, k: int
) -> pd.DataFrame:
    """A share p of n people reveals p*n people: hide binary means whose count or complement < k."""
    out = t.astype(object).copy()
    for col, n in (("mean_treated_after", n_t), ("mean_control_after", n_c)):
        p = pd.to_numeric(t[col], errors="coerce").to_numpy()
        cnt = p * n
        hide = binary & (((cnt > 0) & (cnt < k - 0.5)) | (((n - cnt) > 0) & ((n - cnt) < k - 0.5)))
        out.loc[hide, col] = SUPPRESSED
    return out


def _suppress_table_one(
    one: pd.DataFrame, bal: pd.DataFrame, n_t: int, n_c: int, k: int
) -> pd.DataFrame:
    out = one.copy()
    pct = out["statistic"] == "%"
    for col in ("treated_before", "control_before", "treated_after", "control_after"):
        n = n_t if col.startswith("treated") else n_c
        vals = pd.to_numeric(out.loc[pct, col], errors="coerce") / 100 * n
        hide = ((vals > 0) & (vals < k - 0.5)) | (((n - vals) > 0) & ((n - vals) < k - 0.5))
        out.loc[hide.index[hide.to_numpy()], col] = SUPPRESSED
    return out


def _monthly_shares(panel: pd.DataFrame, outcomes: list[str], k: int) -> pd.DataFrame:
    p = panel[panel["treated"] == 1]
    g = p.groupby("month_offset")
    out = g[outcomes].mean()
    out.insert(0, "people", g.size())
    counts = g[outcomes].sum()
    # hide a share when it (or its complement) rests on fewer than k people
    thin = ((counts > 0) & (counts < k)) | (
        ((out[["people"]].to_numpy() - counts) > 0) & ((out[["people"]].to_numpy() - counts) < k)
    )
    out[outcomes] = out[outcomes].mask(thin)
    # Leading and trailing months where nobody has the outcome lie outside the months the source
    # extract covers (e.g. income records kept only around the index date): not zeros, unknown.
    for col in outcomes:
        seen = counts[col].to_numpy() > 0
        if seen.any():
            first, last = np.flatnonzero(seen)[[0, -1]]
            outside = np.ones(len(seen), dtype=bool)
            outside[first : last + 1] = False
            out.loc[outside, col] = np.nan
    return out[out["people"] >= k].reset_index()


def _program_cost_log(curve, ax=None):
    from leadeval.costs import plot_program_cost

    plot_program_cost(curve, ax=ax)
    ax.set_yscale("log")
    return ax


def _draw_shares(monthly: pd.DataFrame, ax=None):
    for col in monthly.columns:
        if col in ("month_offset", "people"):
            continue
        ax.plot(monthly["month_offset"], monthly[col], marker=".", label=label(col))
    ax.axvline(0, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("month relative to the index month")
    ax.set_ylabel("share of participants")
    ax.set_ylim(0, 1)
    ax.legend(frameon=False, fontsize=8)
    return ax


def _draw_flow(flow: pd.DataFrame, k: int, program: str, comparison: str, ax=None):
    """Boxes: roster -> exclusions -> included, per group, with suppressed small counts."""
    ax.set_axis_off()
    groups = [g for g in ("lead", "pool") if g in flow.columns]
    names = {"lead": program, "pool": comparison}
    roster = flow[flow["step"] == "roster"].iloc[0]
    included = flow[flow["step"] == "included"].iloc[0]
    excluded = flow[(flow["step"] == "excluded")]
    for j, g in enumerate(groups):
        x = 0.25 + 0.5 * j
        ax.text(
            x,
            0.9,
            f"{names[g]} roster\nn = {_count(int(roster[g]), k)}",
            ha="center",
            va="center",
            bbox={"boxstyle": "round", "fc": "#eef3f7"},
        )
        lines = [
            f"{r.reason}: {_count(int(r[g]), k)}" for _, r in excluded.iterrows() if int(r[g]) > 0
        ]
        ax.text(
            x,
            0.5,
            "Excluded\n" + ("\n".join(lines) if lines else "none"),
            ha="center",
            va="center",
            fontsize=8,
            bbox={"boxstyle": "round", "fc": "#fff6e5"},
        )
        ax.text(
            x,
            0.1,
            f"In the cohort\nn = {_count(int(included[g]), k)}",
            ha="center",
            va="center",
            bbox={"boxstyle": "round", "fc": "#e6f2e6"},
        )
        for y0, y1 in ((0.82, 0.6), (0.4, 0.18)):
            ax.annotate("", xy=(x, y1), xytext=(x, y0), arrowprops={"arrowstyle": "->"})
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    return ax
