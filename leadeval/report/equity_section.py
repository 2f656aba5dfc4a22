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

from leadeval.equity import EquityResult, HeterogeneityResult, plot_subgroup_forest
from leadeval.report.document import ReportFigure, ReportSection, ReportTable
from leadeval.report.figures import svg_text
from leadeval.report.suppression import SUPPRESSED, complementary_mask, primary_mask

VARIABLE_WORDS = {
    "race_ethnicity": "race/ethnicity",
    "sex": "sex",
    "age_band": "age band",
    "area": "area",
    "referral_type": "referral type",
}
ALL = "all"


def _protect_block(counts: pd.DataFrame, k: int) -> np.ndarray:
    """Mask of a block whose rows are levels plus a last 'all' row, and whose columns add up
    (a + b = total, the total the last column): primary, then complementary along rows and
    columns."""
    c = counts.to_numpy(float)
    return complementary_mask(c, primary_mask(c, k), rows_additive=True, cols_additive=True)


def access_table(res: EquityResult, k: int, period: str | None = None) -> pd.DataFrame:
    """The access table as published: per variable (and period) a block of levels and an 'all'
    row; counts eligible = referred + not referred protected with complements; rates and indices
    hidden where their counts are."""
    frame = res.over_time.to_frame() if period else res.to_frame()
    keys = ["period", "variable"] if period else ["variable"]
    blocks = []
    for key, g in frame.groupby(keys, sort=False):
        g = g.copy()
        g["not_referred"] = g["eligible"] - g["referred"]
        total = {c: g[c].sum() for c in ("eligible", "referred", "not_referred")}
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        row.update(level=ALL, reference="", **total,
                   rate=total["referred"] / total["eligible"] if total["eligible"] else np.nan)
        g = pd.concat([g, pd.DataFrame([row])], ignore_index=True)
        cols = ["referred", "not_referred", "eligible"]
        mask = _protect_block(g[cols], k)
        shown = g.astype(object)
        for j, c in enumerate(cols):
            shown.loc[mask[:, j], c] = SUPPRESSED
        hide = mask[:, 0] | mask[:, 1] | (g["referred"] < k).to_numpy() | (
            g["not_referred"] < k).to_numpy()
        derived = [c for c in shown.columns if c.startswith(("rate", "rri", "adj_"))]
        shown.loc[hide, derived] = SUPPRESSED
        blocks.append(shown)
    out = pd.concat(blocks, ignore_index=True)
    out["variable"] = out["variable"].map(lambda v: VARIABLE_WORDS.get(v, v))
    order = [*keys, "level", "eligible", "referred", "not_referred", "rate", "rate_low",
             "rate_high", "rri", "rri_low", "rri_high"]
    if not period:
        order += ["adj_rri", "adj_rri_low", "adj_rri_high", "adj_or", "adj_or_low", "adj_or_high"]
    out = out[[c for c in order if c in out.columns]]
    return _round(out)


def subgroup_table(het: HeterogeneityResult, k: int, label) -> pd.DataFrame:
    """Subgroup effects as published: counts of people and events (and non-events) protected
    with complements within each (outcome, variable) block (levels add up to the 'all' row);
    estimates hidden when any of their four counts is below k."""
    t = het.to_frame()
    blocks = []
    for (_outcome, _var), g in t.groupby(["outcome", "variable"], sort=False):
        g = g.copy()
        g["nonevents_treated"] = g["n_treated"] - g["events_treated"]
        g["nonevents_control"] = g["n_control"] - g["events_control"]
        cnt = ["events_treated", "nonevents_treated", "events_control", "nonevents_control"]
        total = {c: g[c].sum() for c in cnt}
        g = pd.concat([g, pd.DataFrame([{"outcome": _outcome, "variable": _var, "level": ALL,
                                         **total}])], ignore_index=True)
        c = g[cnt].to_numpy(float)
        mask = primary_mask(c, k)
        while True:  # complements down the columns, and a level's four cells hidden together:
            # with 1:1 pairs the arms have (nearly) the same size, so any shown cell of a row with
            # a hidden one could give it away (zeros included)
            new = complementary_mask(c, mask, rows_additive=False, cols_additive=True)
            new[new.any(axis=1), :] = True
            if (new == mask).all():
                break
            mask = new
        thin = (c > 0) & (c < k)
        shown = g.astype(object)
        for j, col in enumerate(cnt):
            shown.loc[mask[:, j], col] = SUPPRESSED
        hide = mask.any(axis=1) | thin.any(axis=1) | (c == 0).any(axis=1)
        est = ["ratio", "ratio_low", "ratio_high", "p_value", "risk_difference", "rd_low",
               "rd_high"]
        shown.loc[hide, est] = SUPPRESSED
        shown.loc[g["level"] == ALL, est] = np.nan
        visible = int(((~hide) & (g["level"] != ALL).to_numpy()).sum())
        p = pd.to_numeric(g["interaction_p"], errors="coerce").dropna()
        shown["interaction_p"] = pd.Series(np.nan, index=shown.index, dtype=object)  # on "all"
        if len(p):
            text = SUPPRESSED if visible < 2 else _p_text(float(p.iloc[0]))
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
    ax.set_xscale("log")
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
        + (", ".join(res.adjusted_for) or "none") + "; counts as log(1 + x)), from a modified "
        "Poisson regression with robust errors; the adjusted odds ratio comes from a logistic "
        "regression on the same terms. An RRI away from 1 that moves toward 1 after adjustment "
        "means the difference follows history, i.e. eligibility; one that stays says the "
        "referral decision itself differs by group.",
        *res.notes,
    ]
    tables, figs = [], []
    shown = access_table(res, k)
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
        ot = res.over_time
        one = type(ot)(ot.table[ot.table["variable"] == first].reset_index(drop=True))
        shown_t = access_table(type(res)(res.rates, res.adjusted, one, res.referral_types,
                                         res.population, res.adjusted_for), k, period="period")
        tables.append(ReportTable(
            "equity_over_time", f"Referral rates by {VARIABLE_WORDS.get(first, first)} over time",
            shown_t, note="Period of the referral (for the pool: the qualifying event)."))
    if not res.referral_types.empty:
        rt = res.referral_types.copy()
        rt = pd.concat([rt, pd.DataFrame([{"referral_type": ALL,
                                           "referred": rt["referred"].sum(), "share": 1.0}])],
                       ignore_index=True)
        c = rt[["referred"]].to_numpy(float)
        mask = complementary_mask(c, primary_mask(c, k), rows_additive=False, cols_additive=True)
        rt = rt.astype(object)
        rt.loc[mask[:, 0], ["referred", "share"]] = SUPPRESSED
        rt["share"] = rt["share"].map(lambda v: round(v, 4) if isinstance(v, float) else v)
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
        st = subgroup_table(het, k, b_label(b))
        for i, (outcome, part) in enumerate(st.groupby("outcome", sort=False)):
            tables.append(ReportTable(
                f"equity_subgroups_{i + 1}", f"Effects by subgroup: {outcome}",
                part.drop(columns="outcome").reset_index(drop=True), note=f"Events: people with the outcome; non-events: without it (their sum is the "
            f"subgroup's size). Estimates are hidden where fewer than {k} people had, or did not "
            "have, the outcome in either group; the 'all' row of each block is the sum of its "
            "levels, and carries the interaction test's p-value (hidden when fewer than two levels are "
                "shown). OR: odds ratio; RD: risk difference."))
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
