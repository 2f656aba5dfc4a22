"""Report sections built from an :class:`~leadeval.evaluation.Evaluation` (formatting only).

Every number a section prints comes through the disclosure step (``leadeval.report.cells``
declares it, ``leadeval.report.disclosure`` decides, ``leadeval.report.audit`` proves): sections
look each cell or derived number up by its key and print what the step allows (the value, a
rounded value, ``<k`` or ``*``). Figures are drawn from the same allowed numbers (Kaplan-Meier
curves stop where fewer than k remain at risk and their at-risk table says ``<k``; a state's
cumulative incidence is drawn only when its events clear the rule; withheld SMDs and monthly
odds ratios are left out of the plots).
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
from leadeval.report import cells as C
from leadeval.report.disclosure import Disclosure
from leadeval.report.document import ReportDocument, ReportFigure, ReportSection, ReportTable
from leadeval.report.figures import svg_text
from leadeval.report.suppression import SUPPRESSED, SUPPRESSION_NOTE

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

    def __init__(self, ev: Evaluation, disclosure: Disclosure | None = None):
        from leadeval.report.disclosure import protect

        self.ev = ev
        self.cfg = ev.config
        self.k = ev.config.report.small_cell_threshold
        self.d = disclosure if disclosure is not None else protect(C.declare(ev), self.k)
        self.program = ev.config.report.program_name
        self.comparison = ev.config.report.comparison_label

    # ---- what the disclosure step allows ---------------------------------------------------
    def show(self, key: str):
        """A cell as published (value, rounded value, '<k' or '*')."""
        return self.d.show(key)

    def hid(self, key: str) -> bool:
        return self.d.is_hidden(key)

    def num(self, key: str, value):
        """A derived number as published: the value or '*'."""
        return self.d.value(key, value)

    def words(self, key: str) -> str:
        """A count for prose: '1,234', 'fewer than k' or 'a suppressed number of'."""
        v = self.show(key)
        if isinstance(v, int):
            return f"{v:,}"
        return f"fewer than {self.k}" if str(v).startswith("<") else "a suppressed number of"

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
                ek = C.est_key(key, r["term"])
                rows.append(
                    {
                        "outcome": label(key),
                        "term": r["term"],
                        "model": res.model,
                        "ratio": self.num(ek, r["ratio"]),
                        "conf_low": self.num(ek, r["ratio_low"]),
                        "conf_high": self.num(ek, r["ratio_high"]),
                        "p_value": self.num(ek, r["p_value"]),
                        "n": self._model_count(key, "n", r["n"]),
                        "events": self._model_count(key, "events", r["events"]),
                        "e_value": self.num(ek, r.get("e_value", np.nan)),
                    }
                )
        if not rows:
            return None
        shown = pd.DataFrame(rows).astype(object)
        return ReportTable(
            name, title, shown, note=note or f"Ratios below 1 favour {self.program}."
        )

    def _model_count(self, key: str, what: str, value):
        if value is None or (isinstance(value, float) and not np.isfinite(value)):
            return value
        return self.show(C.model_key(key, what))

    def _shown_results(self, results):
        """Results whose headline effect the disclosure step lets through (for figures)."""
        return [
            (k, r) for k, r in results
            if not self.hid(C.est_key(k, effect_terms(r)[0] if effect_terms(r) else ""))
        ]

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
        if ev.matched is not None:
            paras.append(
                f"{self.program} participants were compared with similar people from the "
                f"{self.comparison} pool ({self.cfg.matching.method} matching on the propensity "
                f"score): {self.words('sample/treated/after')} participants and "
                f"{self.words('sample/control/after')} comparison people in the analysis."
            )
        else:
            paras.append(
                f"Each of {self.words(C.flow_key('included', '', 'lead'))} {self.program} "
                "participants was compared with themself before and after the index date (a "
                "within-person design)."
            )
        for key, term in ev.headline()[["analysis", "term"]].itertuples(index=False):
            res = ev.get(key)
            r = res.term(term)
            if self.hid(C.est_key(key, term)) or not np.isfinite(r["ratio"]):
                continue
            paras.append(_plain(key, res, term, r, self.program, self.comparison))
        sav = ev.get("savings")
        if sav is not None and not self.hid(C.COSTS_KEY):
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
        if mc is not None and not self.hid(C.COSTS_KEY):
            paras.append(
                f"Across {len(mc.draws):,} Monte Carlo draws of unit costs and effects, the chance "
                f"that benefits exceed costs is {100 * mc.prob_positive:.0f}%."
            )
        paras.append(
            "All data in this report are aggregates; counts of fewer than "
            f"{self.k} people are suppressed, and so are the numbers that would let them be "
            "worked out (see the methods section)."
        )
        return ReportSection("summary", "Summary of findings", tuple(paras))

    def data_quality(self) -> ReportSection:
        q = self.ev.extracts.quality.copy()
        q = q[["extract", "source", "read", "loaded", "quarantined", "censored", "notes"]]
        shown = q.astype(object)
        for col in ("read", "loaded", "quarantined", "censored"):
            shown[col] = [self.show(f"quality/{e}/{col}") for e in q["extract"]]
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
                    reasons.astype(object).assign(
                        rows=[
                            self.show(f"quarantine/{e}/{r}")
                            for e, r in zip(reasons["extract"], reasons["reason"], strict=True)
                        ]
                    ),
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
        shown = flow.astype(object)
        for g in [*groups, "total"]:
            shown[g] = [
                self.show(C.flow_key(st, r, g))
                for st, r in zip(flow["step"], flow["reason"], strict=True)
            ]
        fig = _fig(_draw_flow, flow, shown, self.program, self.comparison, size=(7.0, 3.2))
        shown = shown.rename(columns={"lead": self.program, "pool": self.comparison})
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
        t, bal_shown = self._balance_shown(t, m.balance())
        unmatched = m.unmatched.groupby("reason").size().rename("treated_units").reset_index()
        unmatched["treated_units"] = [self.show(f"unmatched/{r}") for r in unmatched["reason"]]
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
                    unmatched.astype(object),
                )
            )
        one = table_one(m)
        if (n_t >= self.k) and (n_c >= self.k):
            tables.append(
                ReportTable(
                    "table_one",
                    "Table 1: characteristics before and after matching",
                    self._table_one_shown(one),
                )
            )
        figs = (
            ReportFigure(
                "Love plot",
                _fig(plot_balance, bal_shown, size=(7.0, 5.0)),
                "Absolute SMD before (open) and after (filled) matching; an SMD resting on "
                f"fewer than {self.k} people (or on a withheld count) is not drawn.",
            ),
        )
        if not self.hid(C.OVERLAP_KEY):  # bins merged so each holds 0 or at least k people
            figs += (
                ReportFigure(
                    "Propensity score overlap",
                    _fig(plot_overlap, m, bins=C.overlap_edges(m, self.k)),
                    f"Neighbouring bins are merged until each holds none or at least {self.k} "
                    "people of each group.",
                ),
            )
        spec = self.cfg.matching
        para = (
            f"Method: {spec.method} ({spec.estimand}), distance {spec.distance} of the propensity "
            f"score, ratio {spec.ratio}:1, {'with' if spec.replace else 'without'} replacement"
            f"{f', caliper {spec.caliper} SD' if spec.caliper else ''}"
            f"{', exact on ' + ', '.join(spec.exact) if spec.exact else ''}. "
            f"Matched: {self.words('sample/treated/after')} participants, "
            f"{self.words('sample/control/after')} comparison people."
        )
        return ReportSection(
            "balance", "Comparison group and balance", (para,), tuple(tables), figs
        )

    def _balance_shown(self, t: pd.DataFrame, balance):
        """Balance table and love-plot data as published: a binary covariate's means are shares
        of counts of people, its SMDs are derived from them (keys from ``cells``)."""
        out = t.astype(object).copy()
        table = balance.to_frame()
        binary = table["binary"].to_numpy(dtype=bool)
        for i in np.flatnonzero(~binary):  # means of N people, SMDs from them
            name = table["variable"].iloc[i]
            if name == "distance":  # the score itself: a model output, not a covariate
                continue
            for phase in ("before", "after"):
                for arm, col in (("treated", "mean_treated"), ("control", "mean_control")):
                    if f"{col}_{phase}" in out and self.hid(C.mean_key(name, arm, phase)):
                        out.iloc[i, out.columns.get_loc(f"{col}_{phase}")] = SUPPRESSED
                if self.hid(C.smd_key(name, phase)):
                    for col in (f"smd_{phase}", f"var_ratio_{phase}"):
                        if col in out:
                            out.iloc[i, out.columns.get_loc(col)] = SUPPRESSED
                    table.iloc[i, table.columns.get_loc(f"smd_{phase}")] = np.nan
        for i in np.flatnonzero(binary):
            name = table["variable"].iloc[i]
            for phase in ("before", "after"):
                for arm, col in (("treated", "mean_treated"), ("control", "mean_control")):
                    if f"{col}_{phase}" in out:
                        key = C.share_key(name, arm, phase)
                        out.iloc[i, out.columns.get_loc(f"{col}_{phase}")] = self.num(
                            key, t[f"{col}_{phase}"].iloc[i]
                        )
                hidden = self.hid(C.smd_key(name, phase))
                if f"smd_{phase}" in out and hidden:
                    out.iloc[i, out.columns.get_loc(f"smd_{phase}")] = SUPPRESSED
                if hidden:
                    table.iloc[i, table.columns.get_loc(f"smd_{phase}")] = np.nan
        return out, dataclasses.replace(balance, table=table)

    def _table_one_shown(self, one: pd.DataFrame) -> pd.DataFrame:
        """Table 1 as published: N from the sample cells, each % from its share."""
        out = one.astype(object).copy()
        for col in ("treated_before", "control_before", "treated_after", "control_after"):
            arm, phase = col.split("_")
            n_key = f"sample/{arm}/{phase}"
            is_n = out["variable"] == "N"
            if self.hid(n_key):
                out.loc[is_n, col] = SUPPRESSED
            for i in np.flatnonzero((out["variable"] != "N").to_numpy()):
                var, level = out["variable"].iloc[i], out["level"].iloc[i]
                name = f"{var}_{level}" if level else var
                pct = out["statistic"].iloc[i] == "%"
                key = C.share_key(name, arm, phase) if pct else C.mean_key(name, arm, phase)
                if self.hid(key):
                    out.iloc[i, out.columns.get_loc(col)] = SUPPRESSED
        for phase in ("before", "after"):
            for i in np.flatnonzero((out["variable"] != "N").to_numpy()):
                var, level = out["variable"].iloc[i], out["level"].iloc[i]
                name = f"{var}_{level}" if level else var
                if self.hid(C.smd_key(name, phase)):
                    out.iloc[i, out.columns.get_loc(f"smd_{phase}")] = SUPPRESSED
        return out

    def rearrest(self) -> ReportSection:
        figs, tables, paras = [], [], []
        for key, km in self.ev.results.items():
            if key.startswith("km:") and isinstance(km, CurveResult):
                km_t = self._truncate_curve(km)
                if not km_t.curves.empty:
                    labels = {1: self.program, 0: self.comparison}
                    times = C.at_risk_times(km, self.k)
                    text = {
                        g: [_fmt_count(self.show(C.at_risk_key(key, g, i))) for i in range(len(times))]
                        for g in sorted(km.curves["group"].unique())
                    }
                    figs.append(
                        ReportFigure(
                            f"Kaplan-Meier: {label(key)}",
                            _fig(
                                plot_km, km_t, labels=labels, size=(7.0, 5.0),
                                at_risk_times=times, at_risk_text=text,
                            ),
                            f"Curves stop where fewer than {self.k} people remain at risk; the "
                            f"table under them says <{self.k} there.",
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
        all_ratio = self._shown_results(cox + logit + gee)
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
            c = ci_t.curves
            keep = [
                not self.hid(C.aj_key(g, st))
                for g, st in zip(c["group"], c["state"], strict=True)
            ]
            ci_t = dataclasses.replace(ci_t, curves=c[np.asarray(keep, dtype=bool)])
            if not ci_t.curves.empty:
                figs.append(
                    ReportFigure(
                        "Cumulative incidence: re-arrest, prison, death",
                        _fig(plot_cumulative_incidence, ci_t, size=(7.0, 4.5)),
                        "Aalen-Johansen estimates with competing events; a state is drawn only "
                        f"where its events in a group clear the rule (k = {self.k}), and curves "
                        f"stop where fewer than {self.k} remain at risk.",
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
                diff = f"rate/{key}/difference"
                rows.append(
                    {
                        "outcome": label(key),
                        "rate_lead": self.num(f"rate/{key}/treated", r["rate_treated"]),
                        "rate_comparison": self.num(f"rate/{key}/control", r["rate_control"]),
                        "difference_per_year": self.num(diff, r["difference"]),
                        "conf_low": self.num(diff, r["conf_low"]),
                        "conf_high": self.num(diff, r["conf_high"]),
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
        paras = [
            _annual_sentence(r, self.program) for r in rows
            if not isinstance(r["difference_per_year"], str)
        ]
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
            monthly, monthly_plot = self._monthly_shown([r.outcome for _, r in res])
            if not monthly.empty:
                base = C.series_base(self.k)
                tables.append(
                    ReportTable(
                        "monthly_shares",
                        f"{self.program} participants: share by month",
                        monthly,
                        note=f"Months with fewer than {self.k} people are left out; people are "
                        f"rounded to a multiple of {base} (* where even that would give a "
                        f"suppressed count away) and shares to {C.SHARE_DIGITS} decimals, so the "
                        "people who leave in a month cannot be counted by subtraction.",
                    )
                )
                figs.append(
                    ReportFigure("Monthly trajectories", _fig(_draw_shares, monthly_plot))
                )
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
            for key, r in res:
                tab = r.table
                keep = [
                    not (t.startswith("month=") and self.hid(C.est_key(key, t)))
                    for t in tab["term"]
                ]
                r_shown = dataclasses.replace(r, table=tab[np.asarray(keep, dtype=bool)])
                if (r_shown.table["term"].str.startswith("month=")).any():
                    figs.append(
                        ReportFigure(
                            f"Odds ratio by month: {label(r.outcome)}",
                            _fig(plot_panel_trajectory, r_shown),
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

    def _monthly_shown(self, outcomes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The monthly shares table as published (rounded people, 2-decimal shares, withheld
        shares as '*') and the numbers the figure draws (withheld or unknown: NaN)."""
        frame = C.monthly_frame(self.ev, outcomes)
        outcomes = [o for o in outcomes if o in frame]
        rows, plot_rows = [], []
        for m, r in frame.iterrows():
            if r["people"] < self.k:  # a thin month is left out
                continue
            people = self.show(C.month_key(m, "people"))  # rounded, or '*' when not printed
            row, prow = {"month_offset": int(m), "people": people}, {"month_offset": int(m)}
            for o in outcomes:
                # Leading and trailing months where nobody has the outcome lie outside the months
                # the source extract covers (e.g. income kept only around the index): unknown.
                seen = frame[o].to_numpy() > 0
                first, last = (np.flatnonzero(seen)[[0, -1]] if seen.any() else (0, -1))
                pos = frame.index.get_loc(m)
                share = round(float(r[f"share_{o}"]), C.SHARE_DIGITS)
                if not (first <= pos <= last):
                    row[o], prow[o] = np.nan, np.nan
                elif self.hid(f"monthshare/{int(m)}/{o}"):
                    row[o], prow[o] = SUPPRESSED, np.nan
                else:
                    row[o], prow[o] = share, share
            rows.append(row)
            plot_rows.append(prow)
        return pd.DataFrame(rows), pd.DataFrame(plot_rows)

    def costs(self) -> ReportSection:
        from leadeval.costs import (
            plot_cost_bars,
            plot_cumulative_savings,
            plot_net_benefit,
        )

        ev, tables, figs, paras = self.ev, [], [], []
        if self.hid(C.COSTS_KEY) and ev.get("savings") is not None:
            return ReportSection(
                "costs",
                "Costs and funders' curves",
                skipped="Withheld: the cost of at least one service rests on fewer than "
                f"{self.k} people in a group and period, and the totals would reveal it.",
            )
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
            thin = (t["participant_months"].to_numpy() < self.k) | np.array(
                [self.hid(C.program_month_key(m)) for m in t["month"]], dtype=bool
            )
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
        thin = np.array(
            [self.hid(C.est_key(a, tm)) for a, tm in zip(t["analysis"], t["term"], strict=True)],
            dtype=bool,
        )
        t["analysis"] = t["analysis"].map(label)
        t = t.drop(columns="events").astype(object)
        t.loc[thin, ["ratio", "ratio_low", "ratio_high", "e_value", "e_value_limit"]] = SUPPRESSED
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
        paras.append(
            "Limitations: the comparison is observational; estimates rely on the measured covariates "
            "(see the E-values). Small cells are suppressed, so some rows are blank."
        )
        paras.append(self.disclosure_text())
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

    def disclosure_text(self) -> str:
        """The disclosure rule and the audit's verdict, for the methods section."""
        a = self.d.audit
        verdict = f" Audit: {a.summary()}." if a is not None else ""
        return (
            f"Disclosure control: every count of 1 to {self.k - 1} people (or events) is "
            "suppressed, and further cells are suppressed (chosen by a small integer program) so "
            "that no suppressed count can be worked out, or narrowed, from the other published "
            "numbers: for each one, the tightest range an attacker can derive by linear "
            f"programming over all tables must still include 1 and {self.k - 1}. Shares, means, "
            "rates and estimates built on a suppressed count are withheld with it; monthly "
            "people counts are rounded." + verdict
        )

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
            self.methods(),
        )
        warning = self.cfg.report.small_cell_warning
        if warning:  # on every table (its note, so the CSV's reader is told too) and page
            sections = tuple(
                dataclasses.replace(
                    sec,
                    tables=tuple(
                        dataclasses.replace(t, note=f"{warning} {t.note}".strip())
                        for t in sec.tables
                    ),
                )
                for sec in sections
            )
        return ReportDocument(
            title=title,
            subtitle=f"Data through {self.cfg.data_end_date:%d %B %Y} · leadeval",
            sections=sections,
            footnotes=(SUPPRESSION_NOTE.format(k=self.k),),
            warning=warning,
        )


def build_document(ev: Evaluation, disclosure: Disclosure | None = None) -> ReportDocument:
    """The whole report of an evaluation, printing only what ``disclosure`` allows (by default
    the disclosure step is run here)."""
    return SectionBuilder(ev, disclosure).document()


# ---- small pure helpers -----------------------------------------------------------------
def _cap(text: str) -> str:
    """First letter upper case, the rest as written (str.capitalize lowercases 'GEE')."""
    return text[:1].upper() + text[1:]


def _fmt_count(v) -> str:
    return f"{v:,}" if isinstance(v, int | np.integer) else str(v)


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


def _draw_flow(flow: pd.DataFrame, shown: pd.DataFrame, program: str, comparison: str, ax=None):
    """Boxes: roster -> exclusions -> included, per group, with the counts as published
    (``shown``: the flow table after the disclosure step)."""
    ax.set_axis_off()
    groups = [g for g in ("lead", "pool") if g in flow.columns]
    names = {"lead": program, "pool": comparison}
    roster = shown[flow["step"].to_numpy() == "roster"].iloc[0]
    included = shown[flow["step"].to_numpy() == "included"].iloc[0]
    excluded = shown[(flow["step"].to_numpy() == "excluded") & (flow[groups].sum(axis=1) > 0)]

    def _n(v):
        return f"{v:,}" if isinstance(v, int | np.integer) else str(v)

    for j, g in enumerate(groups):
        x = 0.25 + 0.5 * j
        ax.text(
            x,
            0.9,
            f"{names[g]} roster\nn = {_n(roster[g])}",
            ha="center",
            va="center",
            bbox={"boxstyle": "round", "fc": "#eef3f7"},
        )
        lines = [f"{r.reason}: {_n(r[g])}" for _, r in excluded.iterrows() if r[g] != 0]
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
            f"In the cohort\nn = {_n(included[g])}",
            ha="center",
            va="center",
            bbox={"boxstyle": "round", "fc": "#e6f2e6"},
        )
        for y0, y1 in ((0.82, 0.6), (0.4, 0.18)):
            ax.annotate("", xy=(x, y1), xytext=(x, y0), arrowprops={"arrowstyle": "->"})
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    return ax
