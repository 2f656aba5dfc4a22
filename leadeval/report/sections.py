"""Report sections built from an :class:`~leadeval.evaluation.Evaluation` (formatting only).

Every table passes through small-cell suppression before it is shown or written; figures are
drawn only from aggregates that clear the same threshold (Kaplan-Meier curves stop where fewer
than the threshold remain at risk, monthly trajectories skip thin months, the program cost curve
starts at the first month with enough participants).
"""

from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from leadeval.evaluation import Evaluation, effect_terms
from leadeval.matching import plot_balance, plot_overlap, table_one
from leadeval.models import plot_cumulative_incidence, plot_forest, plot_km, plot_panel_trajectory
from leadeval.models.results import CurveResult, ModelResult
from leadeval.report.document import ReportDocument, ReportFigure, ReportSection, ReportTable
from leadeval.report.figures import svg_text
from leadeval.report.findings import findings_frame, key_findings
from leadeval.report.labels import label, use_labels
from leadeval.report.suppression import SUPPRESSED, SUPPRESSION_NOTE, suppress_counts

NOT_CONFIGURED = "Not part of this site's configured analysis."


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
                        "outcome": key,
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
        """Key findings first (net benefit, absolute effects), then the design, then ratios
        with their caveats."""
        ev = self.ev
        findings = key_findings(ev)
        box = tuple((f.text, f.component) for f in findings)
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
            paras.extend(self.balance_warning())
        else:
            paras.append(
                f"Each of {_count(n_lead, self.k)} {self.program} participants was compared with "
                "themself before and after the index date (a within-person design). Without a "
                "comparison group these are changes, not effects of the program."
            )
        paras.extend(self.ph_caveats())
        ratio_lines = []
        for key, term in ev.headline()[["analysis", "term"]].itertuples(index=False):
            res = ev.get(key)
            r = res.term(term)
            if (res.events is not None and res.events < self.k) or not np.isfinite(r["ratio"]):
                continue
            if ev.matched is None and key.startswith("within_person") and term == "post":
                continue  # already a key finding
            ratio_lines.append(_plain(key, res, term, r, self.program, self.comparison))
        if ratio_lines:
            paras.append("On the ratio scale (the models behind the tables below):")
            paras.extend(ratio_lines)
        paras.append(
            "All data in this report are aggregates; counts of fewer than "
            f"{self.k} people are suppressed."
        )
        tables = ()
        if findings:
            frame = findings_frame(findings)
            tables = (
                ReportTable(
                    "key_findings",
                    "Key findings",
                    frame.round(4),
                    note="Intervals: 95% (Monte Carlo percentiles for money, delta method for "
                    "risks). Money in constant dollars of the year shown.",
                ),
            )
        return ReportSection(
            "summary", "Summary of findings", tuple(paras), tables, box=box
        )

    def balance_warning(self) -> list[str]:
        """A sentence naming the characteristics still out of balance after matching."""
        m = self.ev.matched
        if m is None:
            return []
        bal = m.balance()
        bad = [v for v in bal.imbalanced if v != "distance"]
        if not bad:
            return []
        return [
            f"Balance warning: after matching, {len(bad)} characteristic(s) still differ by more "
            f"than {bal.threshold:g} standardized mean differences between the groups "
            f"({', '.join(label(v) for v in bad)}); estimates may carry bias from them."
        ]

    def ph_caveats(self) -> list[str]:
        """Where the proportional-hazards test rejects, say so and give the RMST difference."""
        out = []
        for key, res in self._results("cox:"):
            ph = res.details.get("ph_test")
            if not isinstance(ph, pd.DataFrame) or "GLOBAL" not in ph.index:
                continue
            p = float(ph.loc["GLOBAL", "p_value"])
            if not p < 0.05:
                continue
            what = label(key)
            text = (
                f"Caveat on {what}: the proportional-hazards test rejects (p {_p(p)}), so the "
                "hazard ratio is an average over follow-up that the data do not support as a "
                "single number"
            )
            km = self.ev.get(key.replace("cox:", "km:"))
            if isinstance(km, CurveResult) and _curves_cross(km):
                text += "; the survival curves cross"
            rm = self.ev.get(key.replace("cox:", "rmst:"))
            if rm is not None:
                r = rm.table.set_index("term").loc["rmst_difference"]
                clear = r["conf_low"] > 0 or r["conf_high"] < 0
                text += (
                    f". Over the first {rm.tau:.0f} days, {self.program} participants spent on "
                    f"average {abs(r['estimate']):.0f} {'more' if r['estimate'] > 0 else 'fewer'} "
                    f"days without re-arrest than the comparison group (restricted mean survival "
                    f"time difference, 95% CI {r['conf_low']:.0f} to {r['conf_high']:.0f} days"
                    f"{'' if clear else '; no clear difference'})"
                )
            out.append(text + ".")
        return out

    def data_quality(self) -> ReportSection:
        q = self.ev.extracts.quality.copy()
        q = q[["extract", "source", "read", "loaded", "quarantined"]]
        shown = suppress_counts(q, ["read", "loaded", "quarantined"], self.k, total_column="read")
        tables = [
            ReportTable(
                "data_quality",
                "Rows read, loaded and quarantined by extract",
                shown,
                note="read = loaded + quarantined for every extract.",
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
        """Roster -> exclusions -> cohort, by group; a within-person design shows only the
        participants (nobody else is in its analysis)."""
        flow = self.ev.cohort.flow_counts()
        within = not self.cfg.design.comparison
        if within:
            flow = flow.drop(columns=[c for c in ("pool", "other", "total") if c in flow.columns])
            flow = flow[(flow["step"] != "excluded") | (flow["lead"] > 0)].reset_index(drop=True)
            groups, totals = ["lead"], {}
        else:
            groups = [c for c in ("lead", "pool", "other") if c in flow.columns]
            totals = {"total_column": "total"}
        cols = [*groups, *(["total"] if totals else [])]
        shown = suppress_counts(flow, cols, self.k, total_row=None, **totals)
        fig = _fig(_draw_flow, flow, self.k, self.program, self.comparison, size=(7.0, 3.2))
        skipped = self.ev.cohort.skipped
        paras = [
            f"Index date: {label(self.cfg.design.index_date)}. Every roster person is "
            "either in the cohort or excluded with the first rule that applies."
        ]
        if within:
            paras.append(
                f"Within-person design: only {self.program} participants are analysed, each "
                "compared with themself before and after the index date."
            )
        if skipped is not None and not skipped.empty:
            paras.append(
                "Not built (missing extracts): "
                + ", ".join(sorted({label(o) for o in skipped["outcome"]}))
                + "."
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
                _fig(plot_balance, m.balance(), labels=label, size=(7.0, 5.0)),
                "Absolute SMD before (open) and after (filled) matching.",
            ),
            ReportFigure(
                "Propensity score overlap",
                _fig(plot_overlap, m, labels={1: self.program, 0: _cap(self.comparison)}),
            ),
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
            "balance",
            "Comparison group and balance",
            (para, *self.balance_warning()),
            tuple(tables),
            figs,
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
                            _fig(
                                plot_km,
                                km_t,
                                labels=labels,
                                xlabel="days since the index date",
                                size=(7.0, 5.0),
                            ),
                            f"Curves stop where fewer than {self.k} people remain at risk.",
                        )
                    )
                lr = self.ev.get(key.replace("km:", "logrank:"))
                if lr is not None:
                    paras.append(
                        f"Log-rank test ({label(key)}): chi-square {lr.statistic:.2f} on "
                        f"{lr.df} df, p {_p(lr.p_value)}."
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
        paras.extend(self.ph_caveats())
        rm_rows = [
            r.to_frame().assign(analysis=k)
            for k, r in self.ev.results.items()
            if k.startswith("rmst:")
        ]
        if rm_rows:
            rm = pd.concat(rm_rows, ignore_index=True)
            rm = rm[["analysis", "term", "tau", "estimate", "conf_low", "conf_high", "p_value", "n"]]
            tables.append(
                ReportTable(
                    "rmst",
                    "Restricted mean time without re-arrest (days, up to the horizon)",
                    suppress_counts(rm.round(2), ["n"], self.k),
                    note="The mean number of days without re-arrest over the first tau days, by "
                    "Kaplan-Meier with a pair bootstrap; an alternative to the hazard ratio that "
                    "needs no proportional hazards.",
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
                        _fig(
                            plot_cumulative_incidence,
                            ci_t,
                            labels={1: self.program, 0: self.comparison},
                            size=(7.0, 4.5),
                        ),
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
                        "outcome": key,
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
        paras = [_annual_sentence({**r, "outcome": label(r["outcome"])}, self.program) for r in rows]
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
                        f"Odds ratio by month: {label(r.outcome)}",
                        _fig(
                            plot_panel_trajectory,
                            r,
                            ylabel=f"odds ratio vs baseline month: {label(r.outcome)}",
                        ),
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
            plot_program_cost,
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
                    _fig(
                        plot_cost_bars,
                        sav,
                        category_labels={c: label(c) for c in ("jail", "legal", "ems", "prison")},
                        group_names=(self.program, _cap(self.comparison)),
                        size=(7.0, 4.5),
                    ),
                )
            )
        cy = ev.get("client_year")
        cy_year = sav.dollar_year if sav is not None else self.cfg.costs.dollar_year
        if cy is not None:
            tables.append(
                ReportTable(
                    "client_year",
                    f"Per client-year: program + system vs system as usual ({cy_year} dollars)",
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
                        _fig(plot_program_cost, curve_shown),
                        "Start-up months cost many times the later ones; those above the axis "
                        f"are written under the figure. {curve.dollar_year or 'Nominal'} dollars.",
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
                    f"${curve.average:,.0f} ({curve.dollar_year or 'nominal'} dollars) over all "
                    f"{len(t)} ledger months (start-up included); "
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
                    f"Net benefit per participant (Monte Carlo, {cy_year} dollars)",
                    _fig(plot_net_benefit, mc),
                )
            )
            tables.append(
                ReportTable(
                    "monte_carlo",
                    f"Benefit-cost Monte Carlo summary (present values, {cy_year} dollars)",
                    mc.to_frame().round(3),
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
        paras.extend(self._limitations())
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

    def _limitations(self) -> list[str]:
        """Limitations that follow the design and what the data showed, not a canned paragraph."""
        out = []
        if self.cfg.design.comparison:
            out.append(
                "Limitations: the comparison is observational; estimates rely on the measured "
                "covariates (see the E-values for how strong an unmeasured confounder would have "
                "to be). Matching balances the measured characteristics only."
            )
            out.extend(self.balance_warning())
            out.extend(self.ph_caveats())
            panel = self._results("panel:")
            if panel:
                out.append(
                    "The monthly housing and income odds ratios compare participants with "
                    "themselves before the index date; they include regression to the mean and "
                    "change that would have happened anyway, so they describe change, not the "
                    "program's effect."
                )
        else:
            out.append(
                "Limitations of a within-person (before/after) design: there is no comparison "
                "group, so the changes shown are not effects of the program. People are referred "
                "when their arrests are at a peak, and peaks tend to fall back on their own "
                "(regression to the mean); trends over the same years (policing, courts, the "
                "housing market) move everyone's outcomes too (secular trends). Both push a "
                "before/after change in the program's favour or against it without the program "
                "doing anything. The dose-response estimate (arrests per case-manager contact) "
                "is an association: people with more contacts differ in other ways."
            )
        out.append("Small cells are suppressed, so some rows are blank.")
        return out

    def _skip_text(self, *prefixes: str) -> str:
        sk = self.ev.skipped
        hits = sk[sk["analysis"].str.startswith(prefixes)] if not sk.empty else sk
        if hits.empty:
            return NOT_CONFIGURED
        names = ", ".join(dict.fromkeys(label(a) for a in hits["analysis"]))
        return f"Not estimated: {names} (the reasons are in Methods and limitations)."

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
            self.methods(),
        )
        sections = _move_long_tables(sections)
        # sections this site's design and config do not have are left out, not shown empty
        sections = tuple(
            sec
            for sec in sections
            if sec.skipped != NOT_CONFIGURED
            and not (sec.key == "balance" and not self.cfg.design.comparison)
        )
        return ReportDocument(
            title=title,
            subtitle=f"Data through {self.cfg.data_end_date:%d %B %Y} · leadeval",
            sections=sections,
            footnotes=(SUPPRESSION_NOTE.format(k=self.k),),
        )


LONG_TABLES = (
    "key_findings",
    "monthly_shares",
    "program_cost_curve",
    "table_one",
    "panel",
    "cost_savings",
)


def _move_long_tables(sections: tuple[ReportSection, ...]) -> tuple[ReportSection, ...]:
    """Long tables (monthly shares, the monthly program cost, Table 1, every month's odds
    ratio) go to an appendix at the end; their section says where."""
    moved, out = [], []
    for sec in sections:
        keep = tuple(t for t in sec.tables if t.name not in LONG_TABLES)
        gone = [t for t in sec.tables if t.name in LONG_TABLES]
        if gone:
            moved.extend(gone)
            note = "Long tables for this section are in the appendix: " + "; ".join(
                t.title for t in gone
            ) + "."
            sec = dataclasses.replace(sec, tables=keep, paragraphs=(*sec.paragraphs, note))
        out.append(sec)
    if moved:
        out.append(ReportSection("appendix", "Appendix: long tables", (), tuple(moved)))
    return tuple(out)


def build_document(ev: Evaluation) -> ReportDocument:
    """The whole report of an evaluation, in the site's labels (``report.labels``)."""
    r = ev.config.report
    with use_labels(r.labels, r.program_name, r.comparison_label):
        return SectionBuilder(ev).document()


# ---- small pure helpers -----------------------------------------------------------------
def _cap(text: str) -> str:
    """First letter upper case, the rest as written (str.capitalize lowercases 'GEE')."""
    return text[:1].upper() + text[1:]


def _count(n: int, k: int) -> str:
    return f"{n:,}" if n >= k or n == 0 else f"fewer than {k}"


def _p(p: float) -> str:
    """p-values as a reader expects: '< 0.001', otherwise '= 0.012'."""
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def format_p(p: float) -> str:
    """p-value for a table cell: '<0.001' or three decimals."""
    if p is None or not np.isfinite(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _curves_cross(km: CurveResult) -> bool:
    """True when the two groups' survival curves change order after the first tenth of follow-up
    (a crossing, not noise at the start)."""
    c = km.curves
    groups = sorted(c["group"].unique())
    if len(groups) != 2:
        return False
    tmax = float(c["time"].max())
    times = np.linspace(0.1 * tmax, 0.9 * tmax, 40)
    at = km.at(times)
    a = at[at["group"] == groups[0]]["estimate"].to_numpy()
    b = at[at["group"] == groups[1]]["estimate"].to_numpy()
    d = np.sign(np.round(a - b, 3))
    d = d[d != 0]
    return bool(len(d) and (d.min() < 0 < d.max()))


def _plain(
    key: str, res: ModelResult, term: str, r: pd.Series, program: str, comparison: str
) -> str:
    """One sentence per headline ratio; an interval that includes 1 reads 'no clear difference'
    (the point estimate is not a finding)."""
    ratio, lo, hi = r["ratio"], r["ratio_low"], r["ratio_high"]
    what = {"odds": "odds", "hazard": "hazard", "rate": "rate"}.get(
        res.ratio_name.split()[0] if res.ratio_name else "", "ratio"
    )
    change = (1 - ratio) * 100
    direction = "lower" if ratio < 1 else "higher"
    clear = not (lo <= 1 <= hi)
    ci = f"95% CI {lo:.2f} to {hi:.2f}"
    name = res.ratio_name or "ratio"
    if key.startswith("panel:"):
        month = term.removeprefix("month=")
        return (
            f"{_cap(label(key))} (a within-person change, not an effect): {program} "
            f"participants' odds in month {month} were {ratio:.2f} times those in the baseline "
            f"month ({ci}){'' if clear else '; no clear change'}."
        )
    if key.startswith("within_person"):
        if "contacts" in term:
            if not clear:
                return f"Case-manager contacts: no clear dose-response (rate ratio per contact {ratio:.2f}, {ci})."
            return (
                f"Each case-manager contact: arrest rate ratio {ratio:.2f} ({ci}), i.e. "
                f"{abs(change):.0f}% {direction} arrest rate per contact (an association, not an "
                "effect: people with more contacts differ in other ways)."
            )
        return (
            f"Arrest rate after the index date vs before, within person: {ratio:.2f} ({ci})"
            f"{', ' + f'{abs(change):.0f}% ' + direction if clear else '; no clear change'}."
        )
    if not clear:
        return (
            f"{_cap(label(key))}: no clear difference between {program} participants and the "
            f"{comparison} group ({name} {ratio:.2f}, {ci})."
        )
    if term == "treated:post":
        return (
            f"{_cap(label(key))}: the change from before to after was "
            f"{abs(change):.0f}% {direction} in {what} for {program} participants than for the "
            f"{comparison} group (ratio of {what} ratios {ratio:.2f}, {ci})."
        )
    return (
        f"{_cap(label(key))}: {abs(change):.0f}% {direction} {what} for {program} "
        f"participants than for the {comparison} group ({name} {ratio:.2f}, {ci})."
    )


def _annual_sentence(row: dict, program: str) -> str:
    d, lo, hi = row["difference_per_year"], row["conf_low"], row["conf_high"]
    ci = f"95% CI {lo:.2f} to {hi:.2f}"
    if lo <= 0 <= hi:
        return f"{_cap(row['outcome'])}: no clear difference per person-year ({d:+.2f}, {ci})."
    return (
        f"{_cap(row['outcome'])}: {abs(d):.2f} {'fewer' if d < 0 else 'more'} per person-year "
        f"for {program} participants ({ci})."
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


# outcome lines among participants: colours that are neither group's (GROUP_COLORS)
OUTCOME_COLORS = ("#4d9221", "#762a83", "#c51b7d", "#525252", "#1a9850")


def _draw_shares(monthly: pd.DataFrame, ax=None):
    for col in monthly.columns:
        if col in ("month_offset", "people"):
            continue
        color = OUTCOME_COLORS[len(ax.get_lines()) % len(OUTCOME_COLORS)]
        ax.plot(monthly["month_offset"], monthly[col], marker=".", label=label(col), color=color)
    ax.axvline(0, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("month relative to the index month")
    ax.set_ylabel("share of participants")
    ax.set_ylim(0, 1)
    from leadeval._style import legend_outside

    legend_outside(ax, ncol=2)
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
