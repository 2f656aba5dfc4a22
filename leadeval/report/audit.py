"""The disclosure audit: attack the published numbers as a privacy officer would.

For every suppressed cell, the tightest interval an attacker can derive from *everything*
published: integer programs (HiGHS via ``scipy.optimize.milp``) minimise and maximise the cell
subject to

* every declared relation ``sum_j a_j x_j = 0``,
* every published cell at its value (rounded cells within their rounding interval; a ``<k``
  cell within ``[1, k - 1]``),
* every published ratio ``v +- eps = num / den`` as ``(v - eps) den <= num <= (v + eps) den``,
  every published opaque derived number fixing its operands,
* ``x_j >= 0`` whole numbers.

The problem splits into independent components (cells linked by a relation or a ratio), each
solved on its own. A primary cell passes when ``L <= 1`` and ``U >= k - 1``
(``leadeval.report.disclosure``). Our own code because no Python library audits tabular
suppression; the solver is HiGHS.

Example: a flow with roster 300, included 297 and one exclusion of 3 (suppressed alone) gives
the attacker ``[3, 3]`` and fails.

>>> from leadeval.report.disclosure import DisclosureProblem, protect
>>> p = DisclosureProblem()
>>> for key, n in (("roster", 300), ("died", 3), ("included", 297)):
...     _ = p.count(key, n)
>>> p.relation({"roster": 1, "died": -1, "included": -1})
>>> protect(p, 11, complementary=False).audit.interval("died")
(3, 3)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse.csgraph import connected_components

from leadeval.report.disclosure import (
    Disclosure,
    DisclosureError,
    DisclosureProblem,
    round_to,
    rounded_interval,
)

BIG = 1e9  # no count reaches this; an upper bound at BIG means "unbounded"


@dataclass(frozen=True)
class AuditResult:
    """Derivable intervals of the suppressed cells and the verdict.

    ``intervals``: one row per suppressed (or ``<k``) cell: ``cell, value, primary, lower,
    upper`` (``upper`` is ``inf`` when nothing bounds it).
    """

    k: int
    intervals: pd.DataFrame
    violations: tuple[str, ...]
    n_published_suppressed: int
    n_primary: int
    n_complementary: int
    n_hidden_derived: int
    n_rounded: int

    @property
    def passed(self) -> bool:
        return not self.violations

    def interval(self, key: str) -> tuple[float, float]:
        row = self.intervals.loc[self.intervals["cell"] == key]
        if row.empty:
            raise KeyError(f"{key!r} is not a suppressed cell")
        lo, hi = row.iloc[0][["lower", "upper"]]
        return _num(lo), _num(hi)

    @property
    def tightest(self) -> tuple[str, float, float] | None:
        """The primary cell whose derivable interval is narrowest (ties: key order)."""
        p = self.intervals[self.intervals["primary"]]
        if p.empty:
            return None
        width = (p["upper"] - p["lower"]).to_numpy()
        order = np.lexsort((p["cell"].to_numpy(), width))
        r = p.iloc[order[0]]
        return str(r["cell"]), _num(r["lower"]), _num(r["upper"])

    def summary(self) -> str:
        """One sentence for the manifest and the methods section."""
        t = self.tightest
        tight = (
            "no count of fewer than k people is published or suppressed"
            if t is None
            else f"tightest derivable interval for a suppressed small count: [{t[1]}, "
            f"{'∞' if math.isinf(t[2]) else t[2]}]"
        )
        return (
            f"{self.n_published_suppressed} cells suppressed, {self.n_complementary} "
            f"complementary; {self.n_hidden_derived} derived numbers withheld; "
            f"{self.n_rounded} counts rounded; {tight}"
        )

    def to_dict(self) -> dict:
        t = self.tightest
        return {
            "threshold": self.k,
            "rule": "every suppressed count of 1..k-1 has derivable interval [L, U] with "
            "L <= 1 and U >= k-1",
            "passed": self.passed,
            "cells_suppressed": self.n_published_suppressed,
            "primary": self.n_primary,
            "complementary": self.n_complementary,
            "derived_withheld": self.n_hidden_derived,
            "rounded": self.n_rounded,
            "tightest_interval": None
            if t is None
            else [t[1], None if math.isinf(t[2]) else t[2]],
            "summary": self.summary(),
        }


def _num(x: float) -> float:
    x = float(x)
    return x if math.isinf(x) else int(round(x))


def _system(problem: DisclosureProblem, d: Disclosure) -> dict:
    """The attacker's knowledge as bounds and linear rows over all cells."""
    k = d.k
    cells = sorted(problem.cells)
    idx = {key: i for i, key in enumerate(cells)}
    n = len(cells)
    value = np.array([problem.cells[c].value for c in cells], dtype=float)
    lo = np.zeros(n)
    hi = np.full(n, BIG)
    known = np.zeros(n, dtype=bool)
    ratios = []
    revealed = set()
    for key, der in problem.derived.items():
        if key in d.hidden:
            continue
        if der.kind == "opaque":
            revealed.update(der.operands)
        elif der.kind == "ratio":
            ratios.append(der)
    for key, i in idx.items():
        c = problem.cells[key]
        if key in revealed:  # a published estimate or rate over it gives it away, whatever
            known[i] = True  # the suppression pattern says
        elif key in d.suppressed:
            continue
        elif c.mode == "printed" or c.mode == "latent":
            known[i] = c.mode == "printed"
        elif c.mode == "rounded":
            lo[i], hi[i] = rounded_interval(round_to(c.value, c.base), c.base)
        elif c.mode == "band":
            if c.value == 0 or c.value >= k:
                known[i] = True
            else:
                lo[i], hi[i] = 1, k - 1
        # a latent cell published only through ratios stays unknown: the ratios bound it
    lo[known] = hi[known] = value[known]

    # constraint rows: relations (equalities) and ratio bounds (two inequalities each)
    rows, cols, vals, r_lo, r_hi = [], [], [], [], []
    for rel in problem.relations:
        r = len(r_lo)
        for key, a in rel.terms:
            rows.append(r)
            cols.append(idx[key])
            vals.append(float(a))
        r_lo.append(0.0)
        r_hi.append(0.0)
    for der in ratios:
        num, den = idx[der.operands[0]], idx[der.operands[1]]
        tol = der.eps + 1e-9
        for coef, bound in ((der.value + tol, "hi"), (der.value - tol, "lo")):
            r = len(r_lo)
            rows += [r, r]
            cols += [num, den]
            vals += [1.0, -coef]
            r_lo.append(-np.inf if bound == "hi" else 0.0)
            r_hi.append(0.0 if bound == "hi" else np.inf)
    m = len(r_lo)
    a = sparse.csr_array((vals, (rows, cols)), shape=(m, n))
    r_lo, r_hi = np.asarray(r_lo), np.asarray(r_hi)

    return {"cells": cells, "idx": idx, "value": value, "lo": lo, "hi": hi, "known": known,
            "a": a, "r_lo": r_lo, "r_hi": r_hi, "n": n, "m": m}


def certificate(problem: DisclosureProblem, d: Disclosure, cell: str, upper: bool) -> set[str]:
    """Published cells whose values bind the attacker's LP bound on ``cell`` (nonzero reduced
    cost of their fixed bound): suppressing a cell outside this set cannot loosen the bound
    (LP duality), so a cut over this set is the one that matters (Fischetti-Salazar)."""
    from scipy.optimize import linprog

    sy = _system(problem, d)
    i = sy["idx"][cell]
    c = np.zeros(sy["n"])
    c[i] = -1.0 if upper else 1.0
    a, r_lo, r_hi = sy["a"], sy["r_lo"], sy["r_hi"]
    eq = r_lo == r_hi
    ub_rows = []
    if (~eq & np.isfinite(r_hi)).any():
        ub_rows.append((a[np.flatnonzero(~eq & np.isfinite(r_hi))], r_hi[~eq & np.isfinite(r_hi)]))
    if (~eq & np.isfinite(r_lo)).any():
        sel = np.flatnonzero(~eq & np.isfinite(r_lo))
        ub_rows.append((-a[sel], -r_lo[sel]))
    a_ub = sparse.vstack([r for r, _ in ub_rows]) if ub_rows else None
    b_ub = np.concatenate([b for _, b in ub_rows]) if ub_rows else None
    lo, hi = sy["lo"].copy(), sy["hi"].copy()
    res = linprog(
        c, A_ub=a_ub, b_ub=b_ub, A_eq=a[np.flatnonzero(eq)] if eq.any() else None,
        b_eq=r_lo[eq] if eq.any() else None, bounds=np.c_[lo, hi], method="highs",
    )
    if res.status != 0:
        return set()
    marg = np.abs(res.lower.marginals) + np.abs(res.upper.marginals)
    binding = np.flatnonzero((marg > 1e-9) & (sy["known"] | (sy["hi"] < BIG)))
    return {sy["cells"][j] for j in binding if sy["cells"][j] != cell}


def _component_intervals(
    sub: sparse.csr_array,
    rl: np.ndarray,
    rh: np.ndarray,
    bounds: Bounds,
    goal: list[int],
    names: list[str],
    cache: dict | None,
) -> list[tuple[float, float]]:
    """Exact integer [min, max] of each ``goal`` variable of one component.

    Every integer solution found is a witness: a goal variable seen at its own lower (upper)
    bound in any witness has that bound as its optimum, so its integer program is not solved.
    Two programs (min and max of the goals' sum) find such witnesses for most cells at once; the
    rest get their own programs, whose solutions join the witnesses. The intervals are exactly
    those of solving every program; a component met again (the same rows, right-hand sides and
    bounds, e.g. in the next round of complementary suppression) is answered from ``cache``.
    """
    key = None
    if cache is not None:
        key = (sub.shape, sub.data.tobytes(), sub.indices.tobytes(), sub.indptr.tobytes(),
               rl.tobytes(), rh.tobytes(), bounds.lb.tobytes(), bounds.ub.tobytes(), tuple(goal))
        if key in cache:
            return cache[key]
    nv = sub.shape[1]
    cons = [LinearConstraint(sub, rl, rh)] if sub.shape[0] else []
    lb, ub = bounds.lb, bounds.ub
    witnesses: list[np.ndarray] = []

    def solve(cobj: np.ndarray, name: str) -> float:
        res = milp(cobj, constraints=cons, integrality=np.ones(nv), bounds=bounds)
        if res.x is None:
            raise DisclosureError(
                f"audit: the published numbers around {name!r} are inconsistent ({res.message})"
            )
        witnesses.append(res.x)
        return float(res.fun)

    def at_bound(t: int, sign: float) -> bool:
        if sign > 0:
            return any(x[t] <= lb[t] + 1e-6 for x in witnesses)
        return any(x[t] >= ub[t] - (1.0 if ub[t] >= BIG else 1e-6) for x in witnesses)

    if len(goal) > 1:
        total = np.zeros(nv)
        total[goal] = 1.0
        for sign in (1.0, -1.0):
            solve(sign * total, names[0])
    out = []
    for t, name in zip(goal, names, strict=True):
        ends = []
        for sign in (1.0, -1.0):
            if at_bound(t, sign):
                ends.append(float(lb[t] if sign > 0 else ub[t]))
                continue
            cobj = np.zeros(nv)
            cobj[t] = sign
            ends.append(sign * solve(cobj, name))
        out.append((ends[0], ends[1]))
    if key is not None:
        cache[key] = out
    return out


def audit(
    problem: DisclosureProblem,
    d: Disclosure,
    also: Iterable[str] = (),
    only: Iterable[str] | None = None,
    cache: dict | None = None,
) -> AuditResult:
    """Derive the tightest interval of every small (primary) count, and of the cells in ``also``
    (e.g. complementary ones, for a privacy officer), from what ``d`` publishes; ``only``
    restricts the work to those cells (used to probe a candidate suppression); ``cache`` (a dict
    kept across calls) reuses the intervals of components already solved."""
    also = set(also)
    only = None if only is None else set(only)
    k = d.k
    sy = _system(problem, d)
    cells, idx, value = sy["cells"], sy["idx"], sy["value"]
    lo, hi, known, a = sy["lo"], sy["hi"], sy["known"], sy["a"]
    r_lo, r_hi, m = sy["r_lo"], sy["r_hi"], sy["m"]
    targets = []
    for key in cells:
        c = problem.cells[key]
        if only is not None and key not in only:
            continue
        if (key in d.primary and c.mode != "band") or key in also:
            targets.append(key)  # the verdict needs the small counts' intervals only
        elif c.mode == "band" and 1 <= c.value < k:
            targets.append(key)

    free = ~known
    # move known cells to the right-hand side; link free cells that share a row
    shift = a[:, known] @ value[known] if known.any() else np.zeros(m)
    af = a[:, free].tocsr()
    free_idx = np.flatnonzero(free)
    nf = len(free_idx)
    intervals = {}
    if nf:
        used = np.flatnonzero(np.diff(af.indptr) > 0)
        a_used = af[used]
        # two free cells are linked when a row touches both
        link = (a_used.T != 0).astype(float) @ (a_used != 0).astype(float)
        _, comp = connected_components(sparse.csr_array(link), directed=False)
        target_pos = {idx[t]: None for t in targets}
        for c_id in np.unique(comp):
            members = np.flatnonzero(comp == c_id)
            goal = [j for j in members if int(free_idx[j]) in target_pos]
            if not goal:
                continue
            sub_rows = np.flatnonzero(
                (abs(a_used[:, members]).sum(axis=1) > 0) if len(used) else np.zeros(0, bool)
            )
            sub = a_used[sub_rows][:, members]
            rl = r_lo[used][sub_rows] - shift[used][sub_rows]
            rh = r_hi[used][sub_rows] - shift[used][sub_rows]
            bounds = Bounds(lo[free_idx[members]], hi[free_idx[members]])
            local = [int(np.flatnonzero(members == j)[0]) for j in goal]
            names = [cells[free_idx[j]] for j in goal]
            found = _component_intervals(sub, rl, rh, bounds, local, names, cache)
            intervals.update(zip(names, found, strict=True))
    rows_out = []
    for key in targets:
        i = idx[key]
        lo_i, hi_i = intervals.get(key, (lo[i], hi[i]))
        hi_i = math.inf if hi_i >= BIG - 1 else hi_i
        if not (lo_i - 1e-6 <= value[i] <= hi_i + 1e-6):
            raise DisclosureError(f"audit: the true value of {key!r} lies outside its interval")
        rows_out.append(
            {
                "cell": key,
                "value": int(value[i]),
                "primary": key in d.primary,
                "lower": float(round(lo_i)),
                "upper": hi_i if math.isinf(hi_i) else float(round(hi_i)),
            }
        )
    frame = pd.DataFrame(rows_out, columns=["cell", "value", "primary", "lower", "upper"])
    frame = frame.astype({"cell": str, "value": int, "primary": bool, "lower": float,
                          "upper": float})
    bad = frame["primary"] & ((frame["lower"] > 1) | (frame["upper"] < k - 1))
    printed_sup = [c for c in d.suppressed if problem.cells[c].mode in ("printed", "rounded")]
    return AuditResult(
        k=k,
        intervals=frame.sort_values("cell", kind="stable").reset_index(drop=True),
        violations=tuple(sorted(frame.loc[bad, "cell"])),
        n_published_suppressed=len(printed_sup),
        n_primary=sum(1 for c in printed_sup if c in d.primary),
        n_complementary=len(d.complementary),
        n_hidden_derived=len(d.hidden),
        n_rounded=sum(
            1 for c in problem.cells.values() if c.mode == "rounded" and c.key not in d.suppressed
        ),
    )


def check(result: AuditResult) -> None:
    """Raise :class:`DisclosureError` when a suppressed small count can be narrowed."""
    if result.passed:
        return
    f = result.intervals.set_index("cell")
    worst = ", ".join(
        f"{c} -> [{f.loc[c, 'lower']:g}, {f.loc[c, 'upper']:g}]" for c in result.violations[:5]
    )
    raise DisclosureError(
        f"disclosure audit failed: {len(result.violations)} suppressed count(s) of fewer than "
        f"{result.k} people can be narrowed by arithmetic on the published numbers ({worst}); "
        "nothing was written"
    )
