"""The report's equity section: who is referred (access) and for whom the program works
(subgroup effects). Tables are built here, each with its disclosure declaration next to it
(``leadeval.equity.ACCESS_DISCLOSURE``, ``SUBGROUP_DISCLOSURE``): counts of people, what is derived
from them, and the additive relations (levels of a variable add up to the 'all' row).
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from leadeval._style import ratio_axis
from leadeval.equity import EquityResult, HeterogeneityResult, plot_subgroup_forest
from leadeval.report.document import ReportFigure, ReportSection, ReportTable
from leadeval.report.figures import svg_text
from leadeval.report.suppression import SUPPRESSED

VARIABLE_WORDS = {
    "race_ethnicity": "race/ethnicity",
    "sex": "sex",
    "age_band": "age band",
    "area": "area",
    "referral_type": "referral type",
}
ALL = "all"


def access_table(res: EquityResult, b: Any, period: bool = False) -> pd.DataFrame:
    """The access table as published by the disclosure step (``b``: the SectionBuilder): per
    variable (and period) a block of levels and an 'all' row; counts eligible = referred + not
    referred; rates and indices withheld where their counts are (``leadeval.report.cells``)."""
    from leadeval.report import cells as C

    blocks = []
    for per, g in C.access_blocks(res):
        if (per == "-") == period:
            continue
        var = g["variable"].iloc[0]
        total = {c: g[c].sum() for c in C.ACCESS_COUNTS}
        row = {"period": per, "variable": var, "level": ALL, "reference": "", **total,
               "rate": total["referred"] / total["eligible"] if total["eligible"] else np.nan}
        g = pd.concat([g, pd.DataFrame([row])], ignore_index=True)
        shown = g.astype(object)
        for c in C.ACCESS_COUNTS:
            shown[c] = [b.show(C.eq_key("access", per, var, lv, c)) for lv in g["level"]]
        for prefix, what in (("rate", "rate"), ("rri", "rri"), ("adj_", "adjusted")):
            for c in [c for c in shown.columns if c.startswith(prefix)]:
                shown[c] = [
                    v if (lv == ALL and what != "rate") else
                    b.num(C.eq_key("access", per, var, lv, what), v)
                    for lv, v in zip(g["level"], g[c], strict=True)
                ]
        blocks.append(shown)
    if not blocks:
        return pd.DataFrame()
    out = pd.concat(blocks, ignore_index=True)
    out["variable"] = out["variable"].map(lambda v: VARIABLE_WORDS.get(v, v))
    keys = ["period", "variable"] if period else ["variable"]
    order = [*keys, "level", "eligible", "referred", "not_referred", "rate", "rate_low",
             "rate_high", "rri", "rri_low", "rri_high"]
    if not period:
        order += ["adj_rri", "adj_rri_low", "adj_rri_high", "adj_or", "adj_or_low", "adj_or_high"]
    out = out[[c for c in order if c in out.columns]]
    return _round(out)


def subgroup_table(het: HeterogeneityResult, b: Any, label) -> pd.DataFrame:
    """Subgroup effects as published by the disclosure step: counts of people with and without
    the outcome per arm (levels add up to the 'all' row) and the estimates, withheld where their
    counts are; the interaction p-value on the 'all' row."""
    from leadeval.report import cells as C

    t = het.to_frame()
    blocks = []
    for (outcome, var), g in t.groupby(["outcome", "variable"], sort=False):
        g = g.copy()
        g["nonevents_treated"] = g["n_treated"] - g["events_treated"]
        g["nonevents_control"] = g["n_control"] - g["events_control"]
        cnt = list(C.SUBGROUP_COUNTS)
        total = {c: g[c].sum() for c in cnt}
        g = pd.concat([g, pd.DataFrame([{"outcome": outcome, "variable": var, "level": ALL,
                                         **total}])], ignore_index=True)
        shown = g.astype(object)
        for c in cnt:
            shown[c] = [b.show(C.eq_key("sub", outcome, var, lv, c)) for lv in g["level"]]
        est = ["ratio", "ratio_low", "ratio_high", "p_value", "risk_difference", "rd_low",
               "rd_high"]
        for c in est:
            shown[c] = [b.num(C.eq_key("sub", outcome, var, lv, "estimate"), v)
                        for lv, v in zip(g["level"], g[c], strict=True)]
        shown.loc[g["level"] == ALL, est] = np.nan
        p = pd.to_numeric(g["interaction_p"], errors="coerce").dropna()
        shown["interaction_p"] = pd.Series(np.nan, index=shown.index, dtype=object)  # on "all"
        if len(p):
            text = b.num(C.eq_key("sub", outcome, var, "interaction"), _p_text(float(p.iloc[0])))
            shown.loc[g["level"] == ALL, "interaction_p"] = text
        blocks.append(shown)
    if not blocks:
        return pd.DataFrame()
    out = pd.concat(blocks, ignore_index=True)
    out["outcome"] = out["outcome"].map(label)
    out["variable"] = out["variable"].map(lambda v: VARIABLE_WORDS.get(v, v))
    cols = ["outcome", "variable", "level", "events_treated", "nonevents_treated",
            "events_control", "nonevents_control", "ratio", "ratio_low", "ratio_high",
            "risk_difference", "rd_low", "rd_high", "interaction_p"]
    out = out[cols].rename(columns={
        "events_treated": "events_lead", "nonevents_treated": "no_event_lead",
        "events_control": "events_comparison", "nonevents_control": "no_event_comparison",
        "ratio": "OR", "ratio_low": "OR_low", "ratio_high": "OR_high",
        "risk_difference": "RD", "rd_low": "RD_low", "rd_high": "RD_high"})
    return _round(out)


def _p_text(p: float) -> str | float:
    return "<0.001" if p < 0.001 else round(p, 3)


def _round(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:
        if c in ("eligible", "referred", "not_referred") or c.startswith(("events", "no_event")):
            continue
        out[c] = out[c].map(lambda v: round(v, 4) if isinstance(v, float) else v)
    return out


def _rri_figure(shown: pd.DataFrame, reference: dict[str, str]) -> str | None:
    rows = shown[(shown["level"] != ALL) & (shown["rri"] != SUPPRESSED)]
    rows = rows[pd.to_numeric(rows["rri_low"], errors="coerce").notna()]
    if rows.empty:
        return None
    fig, ax = plt.subplots(figsize=(7.0, 0.32 * len(rows) + 1.2))
    y = np.arange(len(rows))
    for col, lo, hi, off, color, name in (
        ("rri", "rri_low", "rri_high", -0.15, "#335c81", "unadjusted"),
        ("adj_rri", "adj_rri_low", "adj_rri_high", 0.15, "#b5562a", "adjusted for history"),
    ):
        if col not in rows:
            continue
        v = pd.to_numeric(rows[col], errors="coerce").to_numpy(float)
        lo_v = pd.to_numeric(rows[lo], errors="coerce").to_numpy(float)
        hi_v = pd.to_numeric(rows[hi], errors="coerce").to_numpy(float)
        ax.errorbar(v, y + off, xerr=[v - lo_v, hi_v - v], fmt="o", ms=4, color=color,
                    label=name, capsize=2, lw=1)
    ax.axvline(1, color="black", lw=0.8)
    ratio_axis(ax)  # plain decimal ticks, no minor labels (they ran together: "3x10^-1 4x10^-1")
    ax.set_yticks(y)
    ax.set_yticklabels([f"{v}: {lv}" for v, lv in zip(rows["variable"], rows["level"],
                                                      strict=True)], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("relative rate index of referral (log scale; 1 = reference group's rate)")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return svg_text(fig)


def equity_section(b: Any) -> ReportSection:
    """The 'Equity of access and effects by subgroup' section (``b``: the SectionBuilder)."""
    ev, k, program = b.ev, b.k, b.program
    res: EquityResult | None = ev.get("equity")
    title = "Equity: who is referred, and for whom it works"
    if res is None:
        return ReportSection("equity", title, skipped=b._skip_text("equity", "heterogeneity"))
    pop_words = ("the site's whole arrest population (the roster holds everyone arrested)"
                 if res.population == "arrest_population" else
                 "participants plus the eligible comparison pool; this is not the whole arrest "
                 "population, so a rate here is a referral rate among the eligible, and "
                 "differences in who becomes eligible are not measured")
    refs = res.rates.to_frame().groupby("variable")["reference"].first()
    paras = [
        f"Access: among everyone in the analytic universe ({pop_words}), the share referred to "
        f"{program} in each group and the relative rate index (RRI: the group's rate divided by "
        "the reference group's; 95% Katz log intervals). Reference groups: "
        + "; ".join(f"{VARIABLE_WORDS.get(v, v)} {r}" for v, r in refs.items()) + ".",
        "The adjusted RRI compares groups at equal prior criminal history ("
        + (", ".join(b_label(b)(c) for c in res.adjusted_for) or "none")
        + "; counts as log(1 + x)), from a modified "
        "Poisson regression with robust errors; the adjusted odds ratio comes from a logistic "
        "regression on the same terms. An RRI away from 1 that moves toward 1 after adjustment "
        "means the difference follows history, i.e. eligibility; one that stays says the "
        "referral decision itself differs by group.",
        *res.notes,
    ]
    tables, figs = [], []
    shown = access_table(res, b)
    rate_cols = ["variable", "level", "eligible", "referred", "not_referred", "rate", "rate_low",
                 "rate_high"]
    tables.append(ReportTable(
        "equity_access", "Referral rates by group", shown[rate_cols],
        note="Within each variable the levels add up to the 'all' row; eligible = referred + "
        "not referred. Rates are hidden where a count behind them is.",
    ))
    index_cols = [c for c in shown.columns if c not in rate_cols[2:]]
    tables.append(ReportTable(
        "equity_rri", "Relative rate indices of referral (unadjusted and adjusted for history)",
        shown.loc[shown["level"] != ALL, index_cols].reset_index(drop=True),
        note="rri: crude; adj_rri: modified Poisson adjusted for prior history; adj_or: logistic "
        "odds ratio adjusted the same way. Hidden with the counts of the rates table.",
    ))
    fig = _rri_figure(shown, dict(refs))
    if fig:
        figs.append(ReportFigure("Relative rate index of referral", fig,
                                 "Points: RRI with 95% CI, unadjusted and adjusted for prior "
                                 "history; suppressed groups are left out."))
    if res.over_time is not None and not res.over_time.table.empty:
        first = res.over_time.table["variable"].iloc[0]
        tables.append(ReportTable(
            "equity_over_time", f"Referral rates by {VARIABLE_WORDS.get(first, first)} over time",
            access_table(res, b, period=True),
            note="Period of the referral (for the pool: the qualifying event)."))
    if not res.referral_types.empty:
        from leadeval.report import cells as C

        rt = res.referral_types.copy()
        rt = pd.concat([rt, pd.DataFrame([{"referral_type": ALL,
                                           "referred": rt["referred"].sum(), "share": 1.0}])],
                       ignore_index=True)
        rt = rt.astype(object)
        rt["referred"] = [b.show(C.eq_key("reftype", t, "referred")) for t in rt["referral_type"]]
        rt["share"] = [
            b.num(C.eq_key("reftype", t, "share"), round(float(v), 4)) if t != ALL else 1.0
            for t, v in zip(rt["referral_type"], rt["share"], strict=True)
        ]
        tables.append(ReportTable(
            "equity_referral_types", "Referrals by referral type", rt,
            note="Referral type exists only for referrals, so it is shown as a share of "
            "referrals, not as a rate."))
    het: HeterogeneityResult | None = ev.get("heterogeneity")
    if het is not None and not het.table.empty:
        designs = "; ".join(f"{VARIABLE_WORDS.get(v, v)}: {d}" for v, d in
                            het.design.itertuples(index=False))
        n_tests = int(het.interactions["interaction_p"].notna().sum())
        paras += [
            f"Effects by subgroup: for each headline outcome, the odds ratio of {program} vs "
            f"{b.comparison} within each subgroup (weighted logistic regression, cluster-robust "
            "by pair) and the absolute risk difference (weighted difference of means). Samples: "
            f"{designs}. The interaction p-value tests whether the effect differs across a "
            "variable's levels (joint Wald test of the treatment-by-level terms).",
            f"Multiple comparisons: this section runs {n_tests} interaction tests and many "
            "subgroup estimates; about 1 in 20 tests of a subgroup difference that does not "
            "exist falls below p = 0.05 by chance. Read a single small p-value as a question for "
            "the next evaluation, not a finding; subgroups of a few dozen people have wide "
            "intervals.",
        ]
        st = subgroup_table(het, b, b_label(b))
        for i, (outcome, part) in enumerate(st.groupby("outcome", sort=False)):
            tables.append(ReportTable(
                f"equity_subgroups_{i + 1}", f"Effects by subgroup: {outcome}",
                part.drop(columns="outcome").reset_index(drop=True), note=f"Events: people with the outcome; non-events: without it (their sum is the "
            f"subgroup's size). Counts of fewer than {k} people, and counts that would let one be "
            "worked out, are withheld, and so are the estimates built on them; the 'all' row of "
            "each block is the sum of its levels and carries the interaction test's p-value. "
            "OR: odds ratio; RD: risk difference."))
        for outcome in dict.fromkeys(het.table["outcome"]):
            ok = _forest_rows(het, st, outcome, b_label(b))
            if ok is None:
                continue
            f, axh = plt.subplots(figsize=(7.0, 0.28 * ok + 1.4))
            plot_subgroup_forest(_visible(het, st, outcome, b_label(b)), outcome, ax=axh)
            figs.append(ReportFigure(
                f"Effects by subgroup: {b_label(b)(outcome)}", svg_text(f),
                "Odds ratio with 95% CI per subgroup (log scale); dashed: the whole sample. "
                "Many subgroups are compared: about 1 in 20 null differences reaches p < 0.05 "
                "by chance, so look for consistent patterns, not single intervals."))
    elif ev.matched is None:
        paras.append("Effects by subgroup need a comparison group; this site's within-person "
                     "design has none, so they are not estimated.")
    return ReportSection("equity", title, tuple(paras), tuple(tables), tuple(figs))


def b_label(b: Any):
    from leadeval.report.sections import label

    return label


def _visible(het: HeterogeneityResult, shown: pd.DataFrame, outcome: str, label) -> HeterogeneityResult:
    """The heterogeneity result with the rows the published table hides marked not estimated."""
    t = het.table.copy()
    vis = shown[(shown["outcome"] == label(outcome)) & (shown["level"] != ALL)]
    hidden = set(zip(vis.loc[vis["OR"] == SUPPRESSED, "variable"],
                     vis.loc[vis["OR"] == SUPPRESSED, "level"], strict=True))
    words = t["variable"].map(lambda v: VARIABLE_WORDS.get(v, v))
    drop = [(w, lv) in hidden for w, lv in zip(words, t["level"], strict=True)]
    t.loc[drop, "estimated"] = False
    return HeterogeneityResult(t, het.interactions, het.overall, het.design, het.notes)


def _forest_rows(het, shown, outcome, label) -> int | None:
    vis = _visible(het, shown, outcome, label).table
    n = int(((vis["outcome"] == outcome) & vis["estimated"].astype(bool)).sum())
    return n + 4 if n else None
