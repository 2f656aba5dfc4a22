"""The key findings a county board and a funder decide on, in the order they decide on them.

1. Net benefit per participant (present value of avoided system costs minus the program's own
   cost, over the config's horizon, constant dollars of ``costs.dollar_year``), with the Monte
   Carlo interval; the benefit-cost ratio; the chance that benefits exceed costs. Gross system
   savings and the program cost are listed as the components they are.
2. The headline binary outcomes on the absolute scale (g-computation, :mod:`leadeval.models.effects`):
   "N of 100 participants vs M of 100 similar people", and how many per 100 were averted.
3. For a within-person design, the before/after change, labelled as a change, not an effect.

A result whose interval includes the null (0 for differences, 1 for ratios) is stated as
"no clear difference". Formatting only: the numbers are the evaluation's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadeval.evaluation import Evaluation
from leadeval.report.labels import label

__all__ = ["Finding", "findings_frame", "is_description", "key_findings", "money"]

MAX_EFFECTS = 3


@dataclass(frozen=True)
class Finding:
    """One key finding: a machine name, a plain label, the sentence, and the numbers behind it."""

    key: str
    label: str
    text: str
    estimate: float = np.nan
    conf_low: float = np.nan
    conf_high: float = np.nan
    unit: str = ""
    clear: bool | None = None
    component: bool = False  # a component of the net figure (gross savings, program cost)


def is_description(analysis: str) -> bool:
    """True for an analysis that compares participants with themselves (a month vs the baseline
    month, after vs before the index date): a description of change, not an effect."""
    return analysis.startswith(("panel:", "within_person"))


def money(x: float) -> str:
    """``$1,234`` / ``−$1,234`` (a true minus sign)."""
    return f"{'−' if x < 0 else ''}${abs(x):,.0f}"


def _chance(p: float) -> str:
    """A share of Monte Carlo draws as a percentage; never a bare 0% or 100%."""
    if p < 0.005:
        return "less than 1%"
    if p > 0.995:
        return "more than 99%"
    return f"{100 * p:.0f}%"


def _per100(x: float) -> str:
    """People per 100: whole numbers, one decimal below 1 (so 0.4 does not print as 0)."""
    return f"{x:.1f}" if abs(x) < 1 else f"{x:.0f}"


def _interval_money(lo: float, hi: float) -> str:
    return f"95% interval {money(lo)} to {money(hi)}"


def _net_findings(ev: Evaluation) -> list[Finding]:
    bc, mc, sav = ev.get("benefit_cost"), ev.get("monte_carlo"), ev.get("savings")
    if bc is None or mc is None or sav is None:
        return []
    c = ev.config.costs
    dy = sav.dollar_year
    terms = mc.to_frame().set_index("term")
    nlo, nhi = terms.loc["net_benefit", ["conf_low", "conf_high"]]
    blo, bhi = terms.loc["bcr", ["conf_low", "conf_high"]]
    clear = bool(nlo > 0 or nhi < 0)
    horizon = f"{c.horizon_months} months"
    basis = f"{dy} dollars, present values over {horizon} at {100 * c.discount_rate:.0f}% a year"
    program = ev.config.report.program_name
    if clear:
        verdict = "benefits exceed costs" if bc.net_benefit > 0 else "costs exceed benefits"
    else:
        verdict = "no clear difference between benefits and costs"
    out = [
        Finding(
            "net_benefit",
            "Net benefit per participant",
            f"Net benefit per participant: {money(bc.net_benefit)} "
            f"({_interval_money(nlo, nhi)}; {verdict}). Avoided system costs minus "
            f"{program}'s own cost, {basis}.",
            bc.net_benefit,
            float(nlo),
            float(nhi),
            f"{dy} dollars",
            clear,
        ),
        Finding(
            "bcr",
            "Benefit-cost ratio",
            f"Benefit-cost ratio: {bc.bcr:.2f} (95% interval {blo:.2f} to {bhi:.2f}): each "
            f"dollar spent on {program} returned {100 * bc.bcr:.0f} cents of avoided system "
            f"costs{'' if (blo > 1 or bhi < 1) else ' (the interval includes 1)'}."
            if bc.bcr < 1
            else f"Benefit-cost ratio: {bc.bcr:.2f} (95% interval {blo:.2f} to {bhi:.2f}): each "
            f"dollar spent on {program} returned ${bc.bcr:.2f} of avoided system costs"
            f"{'' if (blo > 1 or bhi < 1) else ' (the interval includes 1)'}.",
            bc.bcr,
            float(blo),
            float(bhi),
            "ratio",
            bool(blo > 1 or bhi < 1),
        ),
        Finding(
            "prob_benefits_exceed_costs",
            "Chance that benefits exceed costs",
            f"Chance that benefits exceed costs: {_chance(mc.prob_positive)} "
            f"({len(mc.draws):,} Monte Carlo draws of unit costs and effects).",
            mc.prob_positive,
            unit="share",
        ),
        Finding(
            "gross_savings",
            "Gross system savings per participant (component)",
            f"of which avoided system costs (gross, before the program's cost): "
            f"{money(bc.benefits_pv)} per participant ({money(sav.savings)} per participant-year, "
            "difference in differences)",
            bc.benefits_pv,
            unit=f"{dy} dollars",
            component=True,
        ),
        Finding(
            "program_cost",
            "Program cost per participant (component)",
            f"and {program}'s own cost: {money(bc.costs_pv)} per participant",
            bc.costs_pv,
            unit=f"{dy} dollars",
            component=True,
        ),
    ]
    return out


def _effect_findings(ev: Evaluation) -> list[Finding]:
    program = ev.config.report.program_name
    chosen = ev.config.report.headline_outcomes
    keys = [f"effect:{o}" for o in chosen] if chosen else [
        k for k in ev.results if k.startswith("effect:")
    ]
    out = []
    for key in keys:
        eff = ev.get(key)
        if eff is None or len(out) >= MAX_EFFECTS:
            continue
        if eff.events < ev.config.report.small_cell_threshold:
            continue
        p = eff.per_100()
        what = label(eff.outcome)
        is_arrest = eff.outcome.startswith(("arrest_", "felony_arrest"))
        n = abs(p["averted"])
        fewer = p["averted"] > 0
        lo, hi = _per100(p["averted_low"]), _per100(p["averted_high"])
        if eff.clear:
            what_changed = (
                f"re-arrests {'averted' if fewer else 'added'}"
                if is_arrest
                else f"{'fewer' if fewer else 'more'} people"
            )
            change = (
                f"{_per100(n)} {what_changed} per 100 participants (95% CI {lo} to {hi})"
            )
        else:
            change = (
                f"no clear difference ({_per100(p['averted'])} fewer per 100, 95% CI {lo} to {hi})"
            )
        text = (
            f"{what[:1].upper()}{what[1:]}: {p['treated']:.0f} of 100 {program} participants, "
            f"against {p['control']:.0f} of 100 similar people without {program}: {change}."
        )
        r = eff.term("risk_difference")
        out.append(
            Finding(
                key,
                what,
                text,
                -100 * float(r["estimate"]),
                -100 * float(r["conf_high"]),
                -100 * float(r["conf_low"]),
                "averted per 100 participants",
                eff.clear,
            )
        )
    return out


def _within_person_findings(ev: Evaluation) -> list[Finding]:
    res = ev.get("within_person")
    if res is None or ev.matched is not None:
        return []
    r = res.term("post")
    lo, hi = float(r["ratio_low"]), float(r["ratio_high"])
    clear = bool(lo > 1 or hi < 1)
    change = (1 - float(r["ratio"])) * 100
    how = (
        f"{abs(change):.0f}% {'lower' if change > 0 else 'higher'}"
        if clear
        else "no clear change"
    )
    return [
        Finding(
            "within_person",
            "Arrest rate after vs before the index date (participants only)",
            f"Participants' arrest rate after the index date vs before: {how} (rate ratio "
            f"{float(r['ratio']):.2f}, 95% CI {lo:.2f} to {hi:.2f}). This is a change, not an "
            "effect: without a comparison group it includes regression to the mean (people are "
            "referred when their arrests peak) and trends that would have happened anyway.",
            float(r["ratio"]),
            lo,
            hi,
            "rate ratio",
            clear,
        )
    ]


def key_findings(ev: Evaluation) -> list[Finding]:
    """The key findings of an evaluation, net benefit first."""
    return [*_net_findings(ev), *_effect_findings(ev), *_within_person_findings(ev)]


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    """The findings as a table (``tables/key_findings.csv``): machine name, label, numbers."""
    return pd.DataFrame(
        [
            {
                "finding": f.key,
                "label": f.label,
                "estimate": f.estimate,
                "conf_low": f.conf_low,
                "conf_high": f.conf_high,
                "unit": f.unit,
                "clear_difference": f.clear,
            }
            for f in findings
        ],
        columns=[
            "finding",
            "label",
            "estimate",
            "conf_low",
            "conf_high",
            "unit",
            "clear_difference",
        ],
    )
