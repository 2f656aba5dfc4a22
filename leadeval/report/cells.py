"""What the report publishes, declared as cells, relations and derived numbers.

:func:`declare` reads an :class:`~leadeval.evaluation.Evaluation` and states, for every table,
figure and sentence of the report, which numbers are counts of people (or of their events), which
are derived from them and which add up. The section builders look the same keys up in the
:class:`~leadeval.report.disclosure.Disclosure`, so nothing is printed that this step did not see.
Keys are plain strings, ``"<kind>/<what>/..."``; one key is one cell wherever it is printed.

Declared relations (each checked on the data when declared):

* cohort flow: per group ``roster = sum(excluded) + included``; per row ``total = lead + pool``;
* data quality: ``read = loaded + quarantined``; quarantined = the sum of its reasons;
* matching: ``included = in the matching sample + dropped``; ``in sample = matched +
  unmatched by reason`` (participants); a binary covariate's ``N = has + has not``; a
  categorical's ``N = sum(levels)``, before and after matching;
* models: ``n = n_treated + n_control``, ``events = events_treated + events_control`` and
  ``n_arm = events_arm + non-events_arm`` (binary outcomes);
* monthly panel: ``people_m = has_m + has-not_m`` per outcome and ``people_{m+1} = people_m -
  left_m + joined_m`` for consecutive months.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from leadeval.evaluation import Evaluation, effect_terms
from leadeval.matching.balance import balance_matrix
from leadeval.models.results import CurveResult, ModelResult
from leadeval.report.disclosure import DisclosureProblem, series_base

ARMS = ((1, "treated"), (0, "control"))
ESTIMATE_WEIGHT = 5.0
# Monthly shares are printed to 2 decimals: with 3, the four shares of one month pin its number
# of people (a common denominator), and consecutive months then give the people who left.
SHARE_DIGITS = 2  # hiding an estimate costs as much as suppressing five cells


# ---- keys (shared with the section builders) ----------------------------------------------
def flow_key(step: str, reason: str, group: str) -> str:
    return f"flow/{step}/{reason}/{group}"


def est_key(analysis: str, term: str) -> str:
    return f"est/{analysis}/{term}"


def model_key(analysis: str, what: str) -> str:
    return f"model/{analysis}/{what}"


def share_key(name: str, arm: str, phase: str) -> str:
    return f"share/{name}/{arm}/{phase}"


def smd_key(name: str, phase: str) -> str:
    return f"smd/{name}/{phase}"


def month_key(m: int, what: str) -> str:
    return f"month/{int(m)}/{what}"


def at_risk_key(analysis: str, group: object, i: int) -> str:
    return f"atrisk/{analysis}/{group}/{i}"


def aj_key(group: object, state: str) -> str:
    return f"ajcurve/{group}/{state}"


COSTS_KEY = "costs/all"


def declare(ev: Evaluation) -> DisclosureProblem:
    """Every published number of the report of ``ev`` (see the module docstring)."""
    p = DisclosureProblem()
    k = ev.config.report.small_cell_threshold
    _flow(p, ev)
    _quality(p, ev)
    if ev.matched is not None:
        _matching(p, ev)
        _overlap(p, ev, k)
    _monthly(p, ev, k)
    _models(p, ev)
    _effects(p, ev)
    _equity(p, ev)
    _curves(p, ev, k)
    _costs(p, ev)
    _program_months(p, ev)
    _link_equal_counts(p)
    return p


def _link_equal_counts(p: DisclosureProblem) -> None:
    """The same people counted in two places: the matched arms and each model's arm, the
    at-risk number at time 0, and the participants in the monthly panel and in the cohort.
    Declared only where equal on the data (a true relation can only make the audit stricter)."""
    pairs = []
    for arm, group in (("treated", 1), ("control", 0)):
        after = f"sample/{arm}/after"
        if after not in p.cells:
            continue
        pairs += [(after, key) for key in p.cells if key.startswith("model/")
                  and key.endswith(f"/n/{arm}")]
        pairs += [(after, key) for key in p.cells if key.startswith("atrisk/")
                  and key.endswith(f"/{group}/0")]
    first = sorted((int(k.split("/")[1]), k) for k in p.cells
                   if k.startswith("month/") and k.endswith("/people"))
    pairs += [(flow_key("included", "", "lead"), key) for _, key in first]
    for a, b in pairs:
        if a in p.cells and b in p.cells and p.cells[a].value == p.cells[b].value:
            p.relation({a: 1, b: -1})


# ---- sections -------------------------------------------------------------------------------
def _flow(p: DisclosureProblem, ev: Evaluation) -> None:
    flow = ev.cohort.flow_counts()
    groups = [c for c in ("lead", "pool", "other", "total") if c in flow.columns]
    for r in flow.itertuples(index=False):
        for g in groups:
            p.count(flow_key(r.step, r.reason, g), getattr(r, g))
        parts = [flow_key(r.step, r.reason, g) for g in groups if g != "total"]
        p.total(flow_key(r.step, r.reason, "total"), parts)
    for g in groups:
        exc = [flow_key("excluded", r, g) for r in flow.loc[flow["step"] == "excluded", "reason"]]
        p.total(flow_key("roster", "", g), [*exc, flow_key("included", "", g)])


def _quality(p: DisclosureProblem, ev: Evaluation) -> None:
    q = ev.extracts.quality
    reasons = ev.extracts.quarantine_reasons
    for r in q.itertuples(index=False):
        keys = {c: p.count(f"quality/{r.extract}/{c}", getattr(r, c)) for c in
                ("read", "loaded", "quarantined", "censored")}
        p.total(keys["read"], [keys["loaded"], keys["quarantined"]])
        if r.extract == "roster" and r.loaded == p.cells[flow_key("roster", "", "total")].value:
            p.relation({keys["loaded"]: 1, flow_key("roster", "", "total"): -1})
        if reasons is not None and not reasons.empty:
            mine = reasons[reasons["extract"] == r.extract]
            rk = [p.count(f"quarantine/{r.extract}/{x.reason}", x.rows) for x in
                  mine.itertuples(index=False)]
            if rk and int(mine["rows"].sum()) == int(r.quarantined):
                p.total(keys["quarantined"], rk)
    if reasons is not None and not reasons.empty:
        for x in reasons.itertuples(index=False):
            p.count(f"quarantine/{x.extract}/{x.reason}", x.rows)
    for c in ("quarantined", "censored"):  # the console's one line about the load
        whole = p.count(f"quality/all/{c}", int(q[c].sum()))
        p.total(whole, [f"quality/{e}/{c}" for e in q["extract"]])


def _matching(p: DisclosureProblem, ev: Evaluation) -> None:
    m = ev.matched
    units = m.all_units
    t = units["treated"].to_numpy() == 1
    after = units["weights"].to_numpy(dtype=float) > 0
    masks = {}
    for flag, arm in ARMS:
        in_arm = t if flag == 1 else ~t
        masks[(arm, "before")] = in_arm
        masks[(arm, "after")] = in_arm & after
        before = p.count(f"sample/{arm}/before", in_arm.sum())
        matched = p.count(f"sample/{arm}/after", (in_arm & after).sum())
        group = "lead" if flag == 1 else "pool"
        included = flow_key("included", "", group)
        if included in p.cells and p.cells[included].value >= p.cells[before].value:
            dropped = p.count(
                f"sample/{arm}/dropped", p.cells[included].value - p.cells[before].value, "latent"
            )
            p.total(included, [before, dropped])
        if flag == 1:
            um = m.unmatched.groupby("reason").size()
            parts = [p.count(f"unmatched/{r}", n) for r, n in um.items()]
            if int(um.sum()) + p.cells[matched].value == p.cells[before].value:
                p.total(before, [matched, *parts])
        else:
            rest = p.count(
                "sample/control/unmatched", p.cells[before].value - p.cells[matched].value,
                "latent",
            )
            p.total(before, [matched, rest])
    spec = m.spec
    n_t, n_c = (p.cells[f"sample/{a}/after"].value for a in ("treated", "control"))
    if spec.ratio == 1 and not spec.replace and n_t == n_c:  # 1:1 pairs: the methods say so
        p.relation({"sample/treated/after": 1, "sample/control/after": -1})
    bal = m.balance().to_frame().set_index("variable")
    numeric = [c for c in dict.fromkeys([*spec.covariates, *spec.exact]) if c in units]
    for c in numeric:
        x = pd.to_numeric(units[c], errors="coerce").to_numpy(dtype=float)
        if not np.all((x == 0) | (x == 1)):
            _continuous(p, c, x, masks)
            continue
        _binary_levels(p, c, {c: x == 1}, masks, bal, complement=True)
    cats = [c for c in dict.fromkeys([*spec.categorical, *spec.exact]) if c not in numeric]
    for c in cats:
        if c not in units:
            continue
        # as ``units[c].astype(str) == level``, from one factorize of the pool's millions
        codes, uniques = pd.factorize(units[c], use_na_sentinel=False)
        texts = pd.Series(uniques).astype(str).to_numpy()
        levels = {f"{c}[{lv}]": np.isin(codes, np.flatnonzero(texts == lv))
                  for lv in sorted(set(texts))}
        _binary_levels(p, c, levels, masks, bal, complement=False)
    extra = spec.balance
    if extra.addl or extra.interactions or extra.squares:  # transformed terms and products
        X = balance_matrix(
            units, [c for c in numeric if c in bal.index],
            [c for c in cats if c in units], None, extra.addl, extra.interactions, extra.squares,
        )
        base = {*numeric, *(f"{c}[{lv}]" for c in cats if c in units for lv in set(units[c].astype(str)))}
        for name in [v for v in X.columns if v in bal.index and v not in base]:
            x = X[name].to_numpy(dtype=float)
            if np.all((x == 0) | (x == 1)):
                _binary_levels(p, name, {name: x == 1}, masks, bal, complement=True)
            else:
                _continuous(p, name, x, masks)


def mean_key(name: str, arm: str, phase: str) -> str:
    return f"mean/{name}/{arm}/{phase}"


def _continuous(p, var, x, masks) -> None:
    """A covariate's mean (and SD, SMD) is derived from N and, for a whole-number covariate, from
    its total (a count of events: mean x N); printed to 6 digits, a mean also gives N away as its
    denominator, so it is withheld with N."""
    whole = bool(np.all(np.isnan(x) | (x == np.round(x))))
    ops_by_phase: dict[str, list[str]] = {"before": [], "after": []}
    for (arm, phase), mask in masks.items():
        ops = [f"sample/{arm}/{phase}"]
        if whole and np.all(x[mask] >= 0):
            ops.append(p.count(f"total/{var}/{arm}/{phase}", np.nansum(x[mask]), "latent"))
        p.derive(mean_key(var, arm, phase), ops)
        ops_by_phase[phase] += ops
    for phase, ops in ops_by_phase.items():
        p.derive(smd_key(var, phase), ops)


OVERLAP_KEY = "figure/overlap"


def overlap_edges(matched, k: int, bins: int = 30) -> np.ndarray:
    """Bin edges for the propensity-overlap histogram such that every bin holds 0 or at least
    ``k`` people in each of its four series (each group, before and after matching): adjacent
    equal-width bins are merged left to right until they do (a histogram is counts of people)."""
    d = matched.all_units
    x = d["distance"].to_numpy(dtype=float)
    edges = np.histogram_bin_edges(x[np.isfinite(x)], bins=bins)
    t = d["treated"].to_numpy() == 1
    after = d["weights"].to_numpy(dtype=float) > 0
    series = [t, ~t, t & after, ~t & after]
    counts = np.array([np.histogram(x[m], bins=edges)[0] for m in series])  # (4, bins)
    def ok(v: np.ndarray) -> bool:
        return bool(np.all((v == 0) | (v >= k)))

    n = counts.shape[1]
    keep = [0]
    acc = np.zeros(len(series), dtype=int)
    for j in range(n):
        acc += counts[:, j]
        if ok(acc):
            keep.append(j + 1)
            acc[:] = 0
    if keep[-1] != n:  # the leftover joins the bins before it until the merged bin is fine
        keep.append(n)
        while len(keep) > 2 and not ok(counts[:, keep[-2] : keep[-1]].sum(axis=1)):
            keep.pop(-2)
    return edges[np.asarray(keep)]


def _overlap(p: DisclosureProblem, ev: Evaluation, k: int) -> None:
    m = ev.matched
    d = m.all_units
    if d["distance"].isna().all():
        return
    x = d["distance"].to_numpy(dtype=float)
    edges = overlap_edges(m, k)
    t = d["treated"].to_numpy() == 1
    after = d["weights"].to_numpy(dtype=float) > 0
    ops = []
    for arm, phase, mask in (("treated", "before", t), ("control", "before", ~t),
                             ("treated", "after", t & after), ("control", "after", ~t & after)):
        counts = np.histogram(x[mask], bins=edges)[0]
        keys = [p.count(f"overlap/{arm}/{phase}/{i}", n) for i, n in enumerate(counts)]
        n_key = f"sample/{arm}/{phase}"
        if int(counts.sum()) == p.cells[n_key].value:
            p.total(n_key, keys)
        ops += [*keys, n_key]
    p.derive(OVERLAP_KEY, ops)


def _binary_levels(p, var, levels, masks, bal, complement: bool) -> None:
    """Counts of people with each level, per arm and phase; shares and SMDs derived from them."""
    cells: dict[tuple[str, str, str], str] = {}
    for (arm, phase), mask in masks.items():
        n_key = f"sample/{arm}/{phase}"
        parts = []
        for name, has in levels.items():
            key = p.count(f"cov/{name}/{arm}/{phase}", (has & mask).sum(), "latent")
            cells[(name, arm, phase)] = key
            parts.append(key)
            ops = [key, n_key]
            if complement:
                other = p.count(f"cov/{name}/not/{arm}/{phase}", (~has & mask).sum(), "latent")
                p.total(n_key, [key, other])
                ops.append(other)
            p.derive(share_key(name, arm, phase), ops)
        if not complement:
            p.total(n_key, parts)
    for name in levels:
        for phase in ("before", "after"):
            ops = [cells[(name, arm, phase)] for _, arm in ARMS]
            if complement:
                ops += [f"cov/{name}/not/{arm}/{phase}" for _, arm in ARMS]
            else:  # a level's complement is the other levels
                ops += [cells[(o, arm, phase)] for o in levels for _, arm in ARMS]
            p.derive(smd_key(name, phase), ops)


def arm_split(ev: Evaluation, res: ModelResult) -> dict[str, dict[str, int]] | None:
    """Per-arm n, events (and non-events for a 0/1 outcome) of a comparison model, when the
    analysis sample holds its outcome and the arms add up to the model's n and events."""
    data = ev.matched.data if ev.matched is not None else None
    if data is None or res.outcome not in data or res.n is None or res.events is None:
        return None
    y = pd.to_numeric(data[res.outcome], errors="coerce")
    ok = y.notna().to_numpy()
    t = data["treated"].to_numpy() == 1
    yv = y.fillna(0).to_numpy(dtype=float)
    out = {}
    binary = bool(np.all((yv[ok] == 0) | (yv[ok] == 1)))
    for flag, arm in ARMS:
        sel = ok & (t if flag == 1 else ~t)
        e = yv[sel].sum()
        if abs(e - round(e)) > 1e-9:
            return None
        out[arm] = {"n": int(sel.sum()), "events": int(round(e))}
        if binary:
            out[arm]["nonevents"] = int(sel.sum()) - int(round(e))
    if sum(v["n"] for v in out.values()) != int(res.n):
        return None
    if sum(v["events"] for v in out.values()) != int(round(float(res.events))):
        return None
    return out


def _arm_cells(p: DisclosureProblem, key: str, split: dict[str, dict[str, int]]) -> list[str]:
    """Latent per-arm n, events (and non-events) of an analysis, adding up to its n and events;
    returns the cells its estimates are functions of."""
    ops = []
    for what in ("n", "events", "nonevents"):
        if what not in split["treated"]:
            continue
        arms = [
            p.count(model_key(key, f"{what}/{arm}"), split[arm][what], "latent") for _, arm in ARMS
        ]
        if what in ("n", "events"):
            p.total(model_key(key, what), arms)
        ops += arms
    for _, arm in ARMS:
        if "nonevents" in split[arm]:
            p.total(
                model_key(key, f"n/{arm}"),
                [model_key(key, f"events/{arm}"), model_key(key, f"nonevents/{arm}")],
            )
    return ops


def eq_key(*parts: object) -> str:
    """Key of a number of the report's equity section."""
    return "eq/" + "/".join(str(x) for x in parts)


ACCESS_COUNTS = ("referred", "not_referred", "eligible")
SUBGROUP_COUNTS = ("events_treated", "nonevents_treated", "events_control", "nonevents_control")


def access_blocks(res) -> list[tuple[str, pd.DataFrame]]:
    """The access tables of the equity section as blocks of levels: ``(period, frame)`` where
    ``period`` is ``"-"`` for the whole span, and each frame holds one variable's (and period's)
    levels with ``not_referred``."""
    out = []
    whole = res.to_frame()
    for _var, g in whole.groupby("variable", sort=False):
        out.append(("-", g.assign(not_referred=g["eligible"] - g["referred"], period="-")))
    ot = res.over_time
    if ot is not None and not ot.table.empty:
        first = ot.table["variable"].iloc[0]
        t = ot.to_frame()
        t = t[t["variable"] == first]
        for per, g in t.groupby("period", sort=False):
            out.append((str(per), g.assign(not_referred=g["eligible"] - g["referred"])))
    return out


def _equity(p: DisclosureProblem, ev: Evaluation) -> None:
    """Access (levels add up to the 'all' row; eligible = referred + not referred; rates and
    indices derived from a level's and its reference's counts; adjusted indices withheld with
    them) and subgroup effects (four counts per level, estimates opaque over them)."""
    res = ev.get("equity")
    if res is not None:
        for period, g in access_blocks(res):
            var = g["variable"].iloc[0]
            levels = []
            for r in g.itertuples(index=False):
                keys = {c: p.count(eq_key("access", period, var, r.level, c), getattr(r, c))
                        for c in ACCESS_COUNTS}
                p.total(keys["eligible"], [keys["referred"], keys["not_referred"]])
                levels.append((r.level, r.reference, keys))
            for c in ACCESS_COUNTS:
                p.total(p.count(eq_key("access", period, var, "all", c), int(g[c].sum())),
                        [keys[c] for _, _, keys in levels])
            p.derive(eq_key("access", period, var, "all", "rate"),
                     [eq_key("access", period, var, "all", c) for c in ACCESS_COUNTS[:2]])
            by_level = {lv: keys for lv, _, keys in levels}
            for lv, ref, keys in levels:
                own = [keys["referred"], keys["not_referred"]]
                p.derive(eq_key("access", period, var, lv, "rate"), own)
                other = by_level.get(ref, {})
                both = own + [other[c] for c in ("referred", "not_referred") if c in other]
                p.derive(eq_key("access", period, var, lv, "rri"), both)
                p.derive(eq_key("access", period, var, lv, "adjusted"), both, "gate")
        rt = res.referral_types
        if not rt.empty:
            parts = [p.count(eq_key("reftype", t, "referred"), n)
                     for t, n in zip(rt["referral_type"], rt["referred"], strict=True)]
            whole = p.count(eq_key("reftype", "all", "referred"), int(rt["referred"].sum()))
            p.total(whole, parts)
            for key in parts:
                p.derive(key.replace("/referred", "/share"), [key, whole])
        _link_equity_to_cohort(p)
    het = ev.get("heterogeneity")
    if het is not None and not het.table.empty:
        t = het.to_frame()
        for (outcome, var), g in t.groupby(["outcome", "variable"], sort=False):
            g = g.assign(nonevents_treated=g["n_treated"] - g["events_treated"],
                         nonevents_control=g["n_control"] - g["events_control"])
            cells = []
            for r in g.itertuples(index=False):
                keys = [p.count(eq_key("sub", outcome, var, r.level, c), getattr(r, c))
                        for c in SUBGROUP_COUNTS]
                if r.n_treated == r.n_control:  # 1:1 pairs: the arms are the same size
                    p.relation({keys[0]: 1, keys[1]: 1, keys[2]: -1, keys[3]: -1})
                p.derive(eq_key("sub", outcome, var, r.level, "estimate"), keys)
                cells.append(keys)
            for j, c in enumerate(SUBGROUP_COUNTS):
                p.total(p.count(eq_key("sub", outcome, var, "all", c), int(g[c].sum())),
                        [keys[j] for keys in cells])
            p.derive(eq_key("sub", outcome, var, "interaction"),
                     [k for keys in cells for k in keys], "gate")
            for arm in ("treated", "control"):  # the subgroup samples' arms vs the matched arms
                n = f"sample/{arm}/after"
                pair = [eq_key("sub", outcome, var, "all", f"{w}_{arm}")
                        for w in ("events", "nonevents")]
                if n in p.cells and sum(p.cells[k].value for k in pair) == p.cells[n].value:
                    p.relation({pair[0]: 1, pair[1]: 1, n: -1})


def _link_equity_to_cohort(p: DisclosureProblem) -> None:
    """The access tables count the cohort's people again: each variable's 'all' row is the
    cohort (referred = participants, not referred = pool), a period's rows add up to the whole
    span, and the referral types add up to the participants. Declared where equal on the data."""
    cohort = {"referred": "lead", "not_referred": "pool", "eligible": "total"}
    alls = [k for k in p.cells if k.startswith("eq/access/") and "/all/" in k]
    pairs = []
    for key in alls:
        _, _, period, _var, _, what = key.split("/", 5)
        if period == "-":
            pairs.append((key, flow_key("included", "", cohort[what])))
    pairs.append((eq_key("reftype", "all", "referred"), flow_key("included", "", "lead")))
    for a, b in pairs:
        if a in p.cells and b in p.cells and p.cells[a].value == p.cells[b].value:
            p.relation({a: 1, b: -1})
    by_period: dict[tuple[str, str], list[str]] = {}
    for key in alls:
        _, _, period, var, _, what = key.split("/", 5)
        if period != "-":
            by_period.setdefault((var, what), []).append(key)
    for (var, what), keys in by_period.items():
        whole = eq_key("access", "-", var, "all", what)
        if whole in p.cells and sum(p.cells[k].value for k in keys) == p.cells[whole].value:
            p.total(whole, keys)


def _effects(p: DisclosureProblem, ev: Evaluation) -> None:
    """Absolute effects (g-computation risks or mean counts per arm, RMST): model estimates, so
    taken to reveal the counts of the sample they were computed on (the arms' people and events
    or total counts)."""
    from leadeval.models.effects import EffectEstimate

    for key, res in ev.results.items():
        if not isinstance(res, EffectEstimate):
            continue
        if res.kind == "survival":
            ops = [p.count(model_key(key, "n"), res.n)]
            cox_events = model_key(key.replace("rmst:", "cox:"), "events")  # the same events
            if cox_events in p.cells:
                ops.append(cox_events)
        else:
            ops = [p.count(model_key(key, "n"), res.n)]
            if res.events is not None:
                ops.append(p.count(model_key(key, "events"), res.events))
            split = arm_split(ev, res)
            if split is not None:
                ops = _arm_cells(p, key, split)
        for term in res.table["term"]:
            p.derive(est_key(key, term), ops, weight=ESTIMATE_WEIGHT)


def _models(p: DisclosureProblem, ev: Evaluation) -> None:
    month_cells = _month_counts(ev)
    for key, res in ev.results.items():
        if not isinstance(res, ModelResult):
            continue
        ops = []
        if res.n is not None and np.isfinite(res.n):
            ops.append(p.count(model_key(key, "n"), res.n))
        if res.events is not None and np.isfinite(res.events):
            ops.append(p.count(model_key(key, "events"), round(float(res.events))))
        split = arm_split(ev, res)
        if split is not None:
            ops = _arm_cells(p, key, split)
        elif res.n is not None and res.events is not None and res.events <= res.n and (
            res.model in ("logistic", "firth", "cox") or key.startswith(("logistic:", "cox:"))
        ):
            non = p.count(model_key(key, "nonevents"), res.n - round(float(res.events)), "latent")
            p.total(model_key(key, "n"), [model_key(key, "events"), non])
            ops.append(non)
        for term in effect_terms(res):
            if key.startswith("panel:") and term.startswith("month="):
                # adjusted for contacts: no exact function of the month's counts (a gate)
                m = int(term.removeprefix("month="))
                month_ops = month_cells.get((m, res.outcome), [])
                p.derive(est_key(key, term), [*ops, *month_ops], "gate", weight=ESTIMATE_WEIGHT)
            else:
                p.derive(est_key(key, term), ops, weight=ESTIMATE_WEIGHT)


# ---- the monthly panel --------------------------------------------------------------------
def monthly_frame(ev: Evaluation, outcomes: Iterable[str]) -> pd.DataFrame:
    """Participants' person-months by month offset: ``people`` and, per outcome, how many have
    it (``<o>``), and the share (``share_<o>``)."""
    pm = ev.cohort.panel_for(ev.cohort.participant_ids)
    outcomes = [o for o in outcomes if o in pm]
    g = pm.groupby("month_offset")
    out = g[outcomes].sum().astype(int) if outcomes else pd.DataFrame(index=g.size().index)
    out.insert(0, "people", g.size())
    for o in outcomes:
        out[f"share_{o}"] = g[o].mean()
    return out.sort_index()


def panel_outcomes(ev: Evaluation) -> list[str]:
    return [
        r.outcome for k, r in ev.results.items()
        if k.startswith("panel:") and isinstance(r, ModelResult)
    ]


def _month_counts(ev: Evaluation) -> dict[tuple[int, str], list[str]]:
    outs = panel_outcomes(ev)
    if not outs:
        return {}
    frame = monthly_frame(ev, outs)
    return {
        (int(m), o): [month_key(m, o), month_key(m, f"{o}/not")]
        for m in frame.index for o in outs if o in frame
    }


def _monthly(p: DisclosureProblem, ev: Evaluation, k: int) -> None:
    outs = panel_outcomes(ev)
    if not outs:
        return
    frame = monthly_frame(ev, outs)
    base = series_base(k)
    pm = ev.cohort.panel_for(ev.cohort.participant_ids)
    span = pm.groupby("person_id")["month_offset"].agg(["min", "max"])
    months = frame.index.to_numpy()
    for m, row in frame.iterrows():
        people = p.count(month_key(m, "people"), row["people"], "rounded", base)
        for o in outs:
            if o not in frame:
                continue
            has = p.count(month_key(m, o), row[o], "latent")
            hasnt = p.count(month_key(m, f"{o}/not"), row["people"] - row[o], "latent")
            p.total(people, [has, hasnt])
            p.derive(
                f"monthshare/{int(m)}/{o}", [has, people], "ratio",
                round(float(row[f"share_{o}"]), SHARE_DIGITS), 0.5 * 10.0**-SHARE_DIGITS,
            )
    left = span["max"].value_counts()
    joined = span["min"].value_counts()
    for a, b in zip(months[:-1], months[1:], strict=True):
        if b != a + 1:
            continue
        lk = p.count(month_key(a, "left"), int(left.get(a, 0)), "latent")
        jk = p.count(month_key(b, "joined"), int(joined.get(b, 0)), "latent")
        p.relation({month_key(b, "people"): 1, month_key(a, "people"): -1, lk: 1, jk: -1})


# ---- curves -------------------------------------------------------------------------------
def at_risk_times(curve: CurveResult, k: int) -> np.ndarray:
    """Times of the at-risk table under a KM figure: round, evenly spaced times (the figure's x
    ticks) over the whole follow-up; where the curves stop (fewer than k at risk) the table
    says so ("<k")."""
    from leadeval._style import nice_times

    return np.asarray(nice_times(float(curve.curves["time"].max())), dtype=float)


def _curves(p: DisclosureProblem, ev: Evaluation, k: int) -> None:
    for key, curve in ev.results.items():
        if not isinstance(curve, CurveResult):
            continue
        if curve.kind == "survival":
            table = curve.at(at_risk_times(curve, k))
            for g, sub in table.groupby("group", sort=True):
                for i, n in enumerate(sub.sort_values("time")["at_risk"]):
                    p.count(at_risk_key(key, g, i), int(n), "band")
        else:
            c = curve.curves
            for (g, state), sub in c.groupby(["group", "state"], sort=True):
                events = int(round(float(sub["n_event"].sum())))
                cell = p.count(f"aj/{g}/{state}", events, "latent")
                p.derive(aj_key(g, state), [cell])


# ---- costs --------------------------------------------------------------------------------
def _costs(p: DisclosureProblem, ev: Evaluation) -> None:
    """Every dollar figure is derived from the people with any event of its measures, per arm and
    period; to keep sums from revealing a hidden category, totals depend on every measure."""
    sav = ev.get("savings")
    if sav is None or ev.matched is None:
        return
    data = ev.matched.data
    data = data[data["weights"] > 0]
    t = data["treated"].to_numpy() == 1
    cells = []
    for measure in sav.measures:
        for period, window in (("pre", sav.pre_window), ("post", sav.post_window)):
            suffix = "all" if window == "all" else f"{int(window)}d"
            col = f"{measure}_{period}_{suffix}"
            if col not in data:
                continue
            has = pd.to_numeric(data[col], errors="coerce").fillna(0).to_numpy() > 0
            for flag, arm in ARMS:
                sel = t if flag == 1 else ~t
                cells.append(
                    p.count(f"costpeople/{measure}/{arm}/{period}", (has & sel).sum(), "latent")
                )
    p.derive(COSTS_KEY, cells, weight=ESTIMATE_WEIGHT)


def program_month_key(month) -> str:
    return f"programmonth/{pd.Timestamp(month):%Y-%m}"


def _program_months(p: DisclosureProblem, ev: Evaluation) -> None:
    """Participants enrolled in each ledger month (the program cost curve's denominator)."""
    curve = ev.get("program_curve")
    if curve is None:
        return
    t = curve.to_frame()
    for month, n in zip(t["month"], t["participant_months"], strict=True):
        if np.isfinite(n) and float(n).is_integer():
            p.count(program_month_key(month), n)
