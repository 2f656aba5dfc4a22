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
from leadeval.report.findings import findings_frame, is_description, key_findings
from leadeval.report.labels import label, use_labels
from leadeval.report.suppression import SUPPRESSED, SUPPRESSION_NOTE

NOT_CONFIGURED = "Not part of this site's configured analysis."


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
                        "outcome": key,
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
            (k, r)
            for k, r in results
            if not self.hid(C.est_key(k, effect_terms(r)[0] if effect_terms(r) else ""))
        ]

    def _effect_results(self, prefix: str) -> list[tuple[str, object]]:
        """Absolute-effect results (``effect:``, ``rmst:``): they are not ModelResults."""
        return [(k, v) for k, v in self.ev.results.items() if k.startswith(prefix)]

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
        findings = [f for f in key_findings(ev) if not self.hid(finding_key(f))]
        box = tuple((f.text, f.component) for f in findings)
        paras = []
        if ev.matched is not None:
            paras.append(
                f"{self.program} participants were compared with similar people from the "
                f"{self.comparison} pool ({self.cfg.matching.method} matching on the propensity "
                f"score): {self.words('sample/treated/after')} participants and "
                f"{self.words('sample/control/after')} comparison people in the analysis."
            )
            paras.extend(self.balance_warning())
        else:
            paras.append(
                f"Each of {self.words(C.flow_key('included', '', 'lead'))} {self.program} "
                "participants was compared with themself before and after the index date (a "
                "within-person design). Without a comparison group these are changes, not "
                "effects of the program."
            )
        paras.extend(self.ph_caveats())
        ratio_lines = []
        for key, term in ev.headline()[["analysis", "term"]].itertuples(index=False):
            res = ev.get(key)
            r = res.term(term)
            if self.hid(C.est_key(key, term)) or not np.isfinite(r["ratio"]):
                continue
            if ev.matched is None and key.startswith("within_person") and term == "post":
                continue  # already a key finding
            if key.startswith("panel:") and f"panel_contrast:{res.outcome}" in ev.results:
                continue  # a description; the matched contrast is the outcome's effect
            ratio_lines.append(_plain(key, res, term, r, self.program, self.comparison))
        if ratio_lines:
            paras.append("On the ratio scale (the models behind the tables below):")
            paras.extend(ratio_lines)
        paras.append(
            "All data in this report are aggregates; counts of fewer than "
            f"{self.k} people are suppressed, and so are the numbers that would let them be "
            "worked out (see the methods section)."
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
        return ReportSection("summary", "Summary of findings", tuple(paras), tables, box=box)

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
            rm_key = key.replace("cox:", "rmst:")
            rm = self.ev.get(rm_key)
            if rm is not None and not self.hid(C.est_key(rm_key, "rmst_difference")):
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
        """Roster -> exclusions -> cohort, by group; a within-person design shows only the
        participants (nobody else is in its analysis)."""
        flow = self.ev.cohort.flow_counts()
        within = not self.cfg.design.comparison
        if within:  # only the participants are analysed
            flow = flow.drop(columns=[c for c in ("pool", "other", "total") if c in flow.columns])
            flow = flow[(flow["step"] != "excluded") | (flow["lead"] > 0)].reset_index(drop=True)
            groups = ["lead"]
        else:
            groups = [c for c in ("lead", "pool", "other") if c in flow.columns] + ["total"]
        shown = flow.astype(object)
        for g in groups:
            shown[g] = [
                self.show(C.flow_key(st, r, g))
                for st, r in zip(flow["step"], flow["reason"], strict=True)
            ]
        fig = _fig(_draw_flow, flow, shown, self.program, self.comparison, size=(7.0, 3.2))
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
                _fig(plot_balance, bal_shown, labels=label, size=(7.0, 5.0)),
                "Absolute SMD before (open) and after (filled) matching; an SMD resting on "
                f"fewer than {self.k} people (or on a withheld count) is not drawn.",
            ),
        )
        if not self.hid(C.OVERLAP_KEY):  # bins merged so each holds 0 or at least k people
            figs += (
                ReportFigure(
                    "Propensity score overlap",
                    _fig(
                        plot_overlap,
                        m,
                        bins=C.overlap_edges(m, self.k),
                        labels={1: self.program, 0: _cap(self.comparison)},
                    ),
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
            "balance",
            "Comparison group and balance",
            (para, *self.balance_warning()),
            tuple(tables),
            figs,
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
                        g: [
                            _fmt_count(self.show(C.at_risk_key(key, g, i)))
                            for i in range(len(times))
                        ]
                        for g in sorted(km.curves["group"].unique())
                    }
                    figs.append(
                        ReportFigure(
                            f"Kaplan-Meier: {label(key)}",
                            _fig(
                                plot_km,
                                km_t,
                                labels=labels,
                                xlabel="days since the index date",
                                size=(7.0, 5.0),
                                at_risk_times=times,
                                at_risk_text=text,
                            ),
                            f"Curves stop where fewer than {self.k} people remain at risk; the "
                            f"numbers under them say <{self.k} there.",
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
        rm_rows = []
        for k, r in self._effect_results("rmst:"):
            f = r.to_frame()
            f = f[["term", "tau", "estimate", "conf_low", "conf_high", "p_value", "n"]].round(2)
            f = f.astype(object)
            for col in ("estimate", "conf_low", "conf_high", "p_value"):
                f[col] = [
                    self.num(C.est_key(k, t), v) for t, v in zip(f["term"], f[col], strict=True)
                ]
            f["n"] = [self._model_count(k, "n", v) for v in f["n"]]
            rm_rows.append(f.assign(analysis=k))
        if rm_rows:
            rm = pd.concat(rm_rows, ignore_index=True)
            rm = rm[
                ["analysis", "term", "tau", "estimate", "conf_low", "conf_high", "p_value", "n"]
            ]
            tables.append(
                ReportTable(
                    "rmst",
                    "Restricted mean time without re-arrest (days, up to the horizon)",
                    rm,
                    note="The mean number of days without re-arrest over the first tau days, by "
                    "Kaplan-Meier with a pair bootstrap; an alternative to the hazard ratio that "
                    "needs no proportional hazards.",
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
                not self.hid(C.aj_key(g, st)) for g, st in zip(c["group"], c["state"], strict=True)
            ]
            ci_t = dataclasses.replace(ci_t, curves=c[np.asarray(keep, dtype=bool)])
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
        """Rate ratios of the count models, then the absolute effects (``mean:``): mean per
        person-year with and without the program, their difference with its 95% CI."""
        counts = self._results("count:") + self._results("did:")
        means = [(k, r) for k, r in self._effect_results("mean:") if r.kind == "count"]
        if not (counts or means):
            return ReportSection(
                "rates",
                "Bookings, jail days and EMS calls",
                skipped=self._skip_text("count:", "mean:", "did:"),
            )
        basis = self._exposure_basis()
        tables = [self.estimates_table("rates", f"Rate ratios (per person-year {basis})", counts)]
        rows = [self._count_effect_row(k, r) for k, r in means]
        if rows:
            variance = "; ".join(dict.fromkeys(r.variance for _, r in means))
            boot = [label(c.outcome) for c in self.cfg.models.counts if c.interval == "bootstrap"]
            tables.append(
                ReportTable(
                    "count_effects",
                    f"Absolute effects: mean per person-year {basis}, with and without "
                    f"{self.program}",
                    pd.DataFrame(rows),
                    note=f"Mean events (or days) per 365 days {basis} among the matched "
                    f"{self.program} participants ({means[0][1].estimand}), predicted with and "
                    f"without {self.program} by a model fitted on the matched sample "
                    "(g-computation); difference = with - without, negative is fewer. Standard "
                    f"errors: {variance}"
                    + (
                        f"; the pair bootstrap configured for {', '.join(boot)} gives the rate "
                        "ratio's interval"
                        if boot
                        else ""
                    )
                    + ".",
                )
            )
        paras = [
            _annual_sentence({**r, "outcome": label(r["outcome"])}, self.program)
            for r in rows
            if not isinstance(r["difference"], str)
        ]
        return ReportSection(
            "rates",
            "Bookings, jail days and EMS calls",
            tuple(paras),
            tuple(t for t in tables if t is not None),
        )

    def _exposure_basis(self) -> str:
        """What a count's person-years are: days followed, or days at risk (out of custody)."""
        mc = self.cfg.models
        exposures = [c.exposure for c in mc.counts] + [d.post_exposure for d in mc.count_did]
        at_risk = {str(e).startswith("exposure_") for e in exposures}
        if at_risk == {True}:
            return "at risk (days in custody left out)"
        return "of follow-up" if at_risk == {False} else "of follow-up or at risk"

    def _count_effect_row(self, key: str, res) -> dict:
        """One ``mean:`` result as published: every number through its estimate's cell."""
        f = res.to_frame().set_index("term")

        def shown(term: str, col: str = "estimate"):
            return self.num(C.est_key(key, term), round(float(f.loc[term, col]), 2))

        return {
            "outcome": key,
            "mean_treated": shown("mean_treated"),
            "mean_control": shown("mean_control"),
            "difference": shown("mean_difference"),
            "conf_low": shown("mean_difference", "conf_low"),
            "conf_high": shown("mean_difference", "conf_high"),
            "p_value": self.num(
                C.est_key(key, "mean_difference"), float(f.loc["mean_difference", "p_value"])
            ),
            "n": self._model_count(key, "n", res.n),
        }

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
                figs.append(ReportFigure("Monthly trajectories", _fig(_draw_shares, monthly_plot)))
            shown_terms = {"contacts", *(f"month={m}" for m in (1, 3, 6, 12, 18))}
            tables.append(
                self.estimates_table(
                    "panel",
                    "Odds vs the baseline month (selected months), and per contact (GEE): a "
                    "description of change, not an effect",
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
                            _fig(
                                plot_panel_trajectory,
                                r_shown,
                                ylabel=f"odds ratio vs baseline month: {label(r.outcome)}",
                            ),
                        )
                    )
        contrasts = self._results("panel_contrast:")
        if contrasts:
            tables.append(
                self.estimates_table(
                    "panel_contrast",
                    f"{self.program} vs matched {self.comparison} over the same months (GEE, "
                    "group x month, matching weights)",
                    contrasts,
                    note="The effect on the monthly outcomes: odds ratio between the matched "
                    "groups in the month shown. The odds ratios vs the baseline month above "
                    "describe change within participants, not an effect: people referred while "
                    "homeless become housed over time anyway.",
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
                first, last = np.flatnonzero(seen)[[0, -1]] if seen.any() else (0, -1)
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
            plot_program_cost,
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
            thin = (t["participant_months"].to_numpy() < self.k) | np.array(
                [self.hid(C.program_month_key(m)) for m in t["month"]], dtype=bool
            )
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
                    mc.to_frame().round(3).rename(columns={"n": "draws"}),
                    note="Estimate: the mean over the draws, which also vary unit costs within "
                    "their ranges and program cost, so it differs from the key findings' net "
                    "benefit (the estimated effects priced at the central unit costs); the "
                    "interval (percentiles of the draws) is the same.",
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
        described = False
        if not est.empty:  # one row per analysis: its headline effect, descriptions left out
            keep = self.ev.headline()[["analysis", "term"]]
            est = est.merge(keep, on=["analysis", "term"])
            description = est["analysis"].map(is_description).astype(bool)
            described, est = bool(description.any()), est[~description]
        no_effect = (
            "Within-person changes are descriptions, not effects, so they have no E-value."
            if described
            else ""
        )
        if est.empty or "e_value" not in est:
            return ReportSection(
                "sensitivity",
                "Sensitivity (E-values)",
                skipped=" ".join(
                    filter(None, ("No effect estimates on the ratio scale.", no_effect))
                ),
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
        t = t.drop(columns="events").astype(object)
        t.loc[thin, ["ratio", "ratio_low", "ratio_high", "e_value", "e_value_limit"]] = SUPPRESSED
        para = (
            "The E-value is the minimum strength of association (risk-ratio scale) that an unmeasured "
            "confounder would need with both the program and the outcome to explain away an "
            "estimate; the second E-value does the same for the confidence limit nearest 1 "
            "(VanderWeele & Ding 2017)." + (" " + no_effect if no_effect else "")
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
                "regression with log exposure for the rate ratios, and g-computation on the matched "
                "sample (leadeval.estimate_effect) for the means per person-year with and without "
                "the program."
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
                    "The monthly housing and income odds ratios vs the baseline month compare "
                    "participants with themselves before the index date; they include regression "
                    "to the mean and change that would have happened anyway, so they are a "
                    "description, not the program's effect"
                    + (
                        "; the effect is the contrast with the matched comparison group over the "
                        "same months."
                        if self._results("panel_contrast:")
                        else "."
                    )
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
            self.equity(),
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


_MONEY_FINDINGS = {
    "net_benefit",
    "bcr",
    "prob_benefits_exceed_costs",
    "gross_savings",
    "program_cost",
}


def finding_key(f) -> str:
    """The disclosure key a key finding is published under (hidden with it)."""
    if f.key in _MONEY_FINDINGS:
        return C.COSTS_KEY
    if f.key == "within_person":
        return C.est_key("within_person", "post")
    return C.est_key(f.key, "risk_difference")  # effect:<outcome>


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
            note = (
                "Long tables for this section are in the appendix: "
                + "; ".join(t.title for t in gone)
                + "."
            )
            sec = dataclasses.replace(sec, tables=keep, paragraphs=(*sec.paragraphs, note))
        out.append(sec)
    if moved:
        out.append(ReportSection("appendix", "Appendix: long tables", (), tuple(moved)))
    return tuple(out)


def build_document(ev: Evaluation, disclosure: Disclosure | None = None) -> ReportDocument:
    """The whole report of an evaluation, in the site's labels (``report.labels``), printing only
    what ``disclosure`` allows (by default the disclosure step is run here)."""
    r = ev.config.report
    with use_labels(r.labels, r.program_name, r.comparison_label):
        return SectionBuilder(ev, disclosure).document()


# ---- small pure helpers -----------------------------------------------------------------
def _cap(text: str) -> str:
    """First letter upper case, the rest as written (str.capitalize lowercases 'GEE')."""
    return text[:1].upper() + text[1:]


def _fmt_count(v) -> str:
    return f"{v:,}" if isinstance(v, int | np.integer) else str(v)


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
            f"{_cap(label(key))} (a description, not an effect): {program} "
            f"participants' odds in month {month} were {ratio:.2f} times those in the baseline "
            f"month ({ci}){'' if clear else '; no clear change'}."
        )
    if key.startswith("panel_contrast:"):
        month = term.partition("@month=")[2]
        lead = f"{_cap(label(key))}, month {month} ({program} vs the matched {comparison} group)"
        if not clear:
            return f"{lead}: no clear difference (odds ratio {ratio:.2f}, {ci})."
        return (
            f"{lead}: {program} participants' odds were {ratio:.2f} times the comparison "
            f"group's in the same month ({ci})."
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
            "Arrest rate after the index date vs before, within person (a change, not an "
            f"effect): {ratio:.2f} ({ci})"
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
    """One sentence per count outcome's absolute effect (difference per person-year)."""
    d, lo, hi = row["difference"], row["conf_low"], row["conf_high"]
    ci = f"95% CI {_num(lo)} to {_num(hi)}"
    if lo <= 0 <= hi:
        return (
            f"{_cap(row['outcome'])}: no clear difference per person-year "
            f"({'+' if d > 0 else ''}{_num(d)}, {ci})."
        )
    if d < 0:  # the interval as the same kind of number as the sentence: how many fewer
        ci = f"95% CI {_num(-hi)} to {_num(-lo)} fewer"
    return (
        f"{_cap(row['outcome'])}: {_num(abs(d))} {'fewer' if d < 0 else 'more'} per person-year "
        f"for {program} participants ({ci})."
    )


def _num(x: float) -> str:
    """A per-year mean or difference: 2 decimals below 10, 1 above (jail days vs bookings)."""
    return f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"


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
