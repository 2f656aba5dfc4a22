"""Disclosure control: one step between the evaluation and the writers (primary + complementary
suppression, rounding), over cells that the published tables *declare*.

Why our own code: statistical agencies' tools for this (tau-ARGUS, sdcTable) are not Python and
know nothing of the report's tables; the optimisation itself is left to HiGHS (``scipy.optimize
.milp``). What is ours is the bookkeeping: which published numbers are counts of people, which are
derived from them, and which add up.

Model
-----
* A **cell** is a count of people (or of events of people) with a stable key. The same count in
  two tables is one cell (one key). A cell is *printed* (shown as a number somewhere), *latent*
  (never printed itself, but readable from the derived numbers built on it, e.g. the events in one
  arm behind an odds ratio) or *rounded* (printed rounded to a base ``b``; the attacker knows
  only ``[r - floor(b/2), r + ceil(b/2) - 1]``).
* A **relation** is an exact linear identity between cells, ``sum_j a_j x_j = 0`` (a flow's
  stages, a categorical's levels and its N, rows and totals, arms and the total, consecutive
  months).
* A **derived** number (share, mean of a 0/1 variable, rate, ratio, difference, estimate) has
  operand cells. It is published only if none of its operands is suppressed. A ``ratio``
  derived ``v = num / den`` printed to ``+-eps`` tells an attacker
  ``(v - eps) den <= num <= (v + eps) den``; an ``opaque`` one (a model estimate) is taken, to be
  safe, to reveal its operands exactly; a ``gate`` one (an adjusted model estimate that is no
  exact function of its cells, e.g. a month's odds ratio from the panel GEE adjusted for
  contacts) is withheld whenever one of its cells is, but adds no constraint to the audit.

Rule (threshold ``k``)
----------------------
*Primary*: every cell with ``1 <= x <= k - 1`` is suppressed (zero is publishable).
*Protection*: for every primary cell, the tightest integer interval ``[L, U]`` an attacker can
derive from everything published must satisfy ``L <= 1`` and ``U >= k - 1``: the output says no
more about a small count than the threshold rule itself ("between 1 and k - 1").
*Complementary*: a MILP chooses further cells to suppress. Binary ``s_j`` (cell suppressed) and
``h_d`` (derived hidden); minimise ``sum_j w_j s_j + sum_d w_d h_d`` with ``w_j = 1 + log10(1 +
x_j)`` (few, small cells first) subject to ``h_d >= s_j`` for ``j`` in ``d``'s operands, a latent
cell unpublished only if all its derived numbers are hidden, and for each relation and each cell
``i`` in it, ``s_i <= sum s_j`` over the other cells able to absorb the change (for a primary
cell, those with ``x_j >= k - 1 - x_i``). The audit (``leadeval.report.audit``) then attacks the
solution; a cell it can still narrow adds a cut (suppress one more cell near it) and the MILP is
solved again, until the audit passes. Ties are broken by a tiny weight in key order, so the
solution does not depend on the order of rows.

Example
-------
>>> p = DisclosureProblem()
>>> for key, n in (("roster", 300), ("died", 3), ("included", 297)):
...     _ = p.count(key, n)
>>> p.relation({"roster": 1, "died": -1, "included": -1})
>>> d = protect(p, k=11)
>>> d.show("died"), d.show("included"), d.show("roster")
('*', '*', 300)
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from leadeval.errors import LeadevalError

SUPPRESSED = "*"
MIN_THRESHOLD = 11

CellMode = Literal["printed", "latent", "rounded", "band"]


class DisclosureError(LeadevalError):
    """The published numbers would let someone recover or narrow a small count."""


@dataclass(frozen=True)
class Cell:
    """A count of people or events. ``mode``: printed, latent, rounded (to ``base``) or band
    (shown only as ``<k`` or ``0``)."""

    key: str
    value: int
    mode: CellMode = "printed"
    base: int = 1


@dataclass(frozen=True)
class Relation:
    """``sum(coef * cell) == 0`` exactly."""

    terms: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Derived:
    """A number computed from cells. ``kind="ratio"``: ``value = operands[0] / operands[1]``
    printed to ``+-eps``; ``"opaque"``: reveals its operands."""

    key: str
    operands: tuple[str, ...]
    kind: Literal["ratio", "opaque", "gate"] = "opaque"
    value: float = math.nan
    eps: float = 0.0
    weight: float = 1.0


class DisclosureProblem:
    """What the report would publish: cells, relations and derived numbers (built once, then read).

    Registering a key twice is allowed (one cell in two tables) if the value agrees.
    """

    def __init__(self) -> None:
        self.cells: dict[str, Cell] = {}
        self.relations: list[Relation] = []
        self._relation_set: set[Relation] = set()  # membership test for relations (order kept)
        self.derived: dict[str, Derived] = {}

    # ---- declaring ------------------------------------------------------------------------
    def count(self, key: str, value: float, mode: CellMode = "printed", base: int = 1) -> str:
        """Declare a cell; a printed declaration wins over a latent one of the same key."""
        v = int(round(float(value)))
        if abs(float(value) - v) > 1e-6 or v < 0:
            raise ValueError(f"cell {key!r}: a count must be a whole number >= 0, got {value}")
        old = self.cells.get(key)
        if old is not None:
            if old.value != v:
                raise ValueError(f"cell {key!r} declared twice with {old.value} and {v}")
            rank = {"latent": 0, "band": 1, "rounded": 2, "printed": 3}
            if rank[mode] <= rank[old.mode]:
                return key
        self.cells[key] = Cell(key, v, mode, base)
        return key

    def relation(self, terms: Mapping[str, int]) -> None:
        """Declare ``sum(coef * cell) == 0``; the cells must exist and satisfy it."""
        missing = [k for k in terms if k not in self.cells]
        if missing:
            raise KeyError(f"relation over undeclared cells {missing}")
        total = sum(c * self.cells[k].value for k, c in terms.items())
        if total != 0:
            raise ValueError(f"relation {dict(terms)} does not hold on the data (sum {total})")
        rel = Relation(tuple(sorted((k, int(c)) for k, c in terms.items() if c)))
        if rel.terms and rel not in self._relation_set:
            self._relation_set.add(rel)
            self.relations.append(rel)

    def total(self, total: str, parts: Iterable[str]) -> None:
        """``total = sum(parts)``."""
        parts = list(parts)
        self.relation({total: 1, **{p: -1 for p in parts if p != total}})

    def derive(
        self,
        key: str,
        operands: Iterable[str],
        kind: Literal["ratio", "opaque", "gate"] = "opaque",
        value: float = math.nan,
        eps: float = 0.0,
        weight: float = 1.0,
    ) -> str:
        ops = tuple(dict.fromkeys(operands))
        missing = [k for k in ops if k not in self.cells]
        if missing:
            raise KeyError(f"derived {key!r} over undeclared cells {missing}")
        if kind == "ratio" and len(ops) != 2:
            raise ValueError(f"ratio {key!r} needs (numerator, denominator)")
        old = self.derived.get(key)
        if old is not None and (old.operands != ops or old.kind != kind):
            raise ValueError(f"derived {key!r} declared twice with different operands")
        self.derived[key] = Derived(key, ops, kind, float(value), float(eps), float(weight))
        return key


# ---- the solution -------------------------------------------------------------------------
@dataclass(frozen=True)
class Disclosure:
    """Which cells and derived numbers may be published, and how.

    ``suppressed``: cells not published (primary, complementary and latent cells whose derived
    numbers are all hidden); ``hidden``: derived numbers not published.
    """

    k: int
    cells: Mapping[str, Cell]
    primary: frozenset[str]
    suppressed: frozenset[str]
    hidden: frozenset[str]
    iterations: int = 1
    seconds: float = 0.0
    audit: object = None  # the AuditResult that proved this solution (set by ``protect``)
    derived: Mapping[str, Derived] = field(default_factory=dict)

    @property
    def complementary(self) -> frozenset[str]:
        """Printed (or rounded) cells suppressed only to protect others."""
        return frozenset(
            k for k in self.suppressed - self.primary
            if self.cells[k].mode in ("printed", "rounded")
        )

    def is_hidden(self, key: str) -> bool:
        """Is this cell or derived number withheld? Unknown keys are withheld (fail closed)."""
        if key in self.derived:
            return key in self.hidden
        if key in self.cells:
            c = self.cells[key]
            return key in self.suppressed or (c.mode == "band" and 1 <= c.value < self.k)
        return True

    def show(self, key: str) -> int | str:
        """The cell as printed: its value, its rounded value, ``<k`` (band) or ``*``."""
        if key not in self.cells:
            return SUPPRESSED
        c = self.cells[key]
        if c.mode == "band":
            return c.value if c.value == 0 or c.value >= self.k else f"<{self.k}"
        if key in self.suppressed or c.mode == "latent":
            return SUPPRESSED
        if c.mode == "rounded":
            return round_to(c.value, c.base)
        return c.value

    def value(self, key: str, number: object) -> object:
        """A derived number as published: itself, or ``*`` when hidden."""
        return SUPPRESSED if self.is_hidden(key) else number


def round_to(value: int, base: int) -> int:
    """Round half up to a multiple of ``base``: ``b floor((x + b/2) / b)``."""
    return int(base * math.floor((value + base / 2) / base))


def rounded_interval(shown: int, base: int) -> tuple[int, int]:
    """Integers that round to ``shown``: ``[r - floor(b/2), r + ceil(b/2) - 1]`` (never < 0)."""
    lo = shown - base // 2
    hi = shown + (base - base // 2) - 1
    return max(lo, 0), hi


def series_base(k: int) -> int:
    """Rounding base for a series of counts whose steps are small: the multiple of 5 at or above
    ``k`` (a step of 1..k-1 people then stays within ``[<=1, >=k-1]``; see docs/report.md)."""
    return int(5 * math.ceil(k / 5))


def primary_cells(problem: DisclosureProblem, k: int) -> frozenset[str]:
    """Cells with ``1 <= x <= k - 1``."""
    return frozenset(key for key, c in problem.cells.items() if 1 <= c.value <= k - 1)


def protect(
    problem: DisclosureProblem,
    k: int,
    complementary: bool = True,
    max_rounds: int = 60,
) -> Disclosure:
    """Choose what to suppress so that the audit passes; return the frozen :class:`Disclosure`.

    With ``complementary=False`` only primary suppression is applied (used by tests to show the
    audit fails without the complementary step); the audit is still run and attached.
    """
    from leadeval.report.audit import audit as run_audit

    started = time.perf_counter()
    primary = primary_cells(problem, k)
    cuts: list[frozenset[str]] = []
    rounds = 0
    problem = _copy(problem)
    solved: dict = {}  # the audit's components already solved, reused in later rounds
    while True:
        rounds += 1
        if complementary:
            suppressed, hidden = _solve(problem, k, primary, cuts)
        else:
            suppressed, hidden = _follow(problem, primary)
        # a small count in a rounded series is left out (suppressed); a banded one shows "<k"
        suppressed |= {c for c in primary if problem.cells[c].mode == "rounded"}
        d = Disclosure(
            k,
            MappingProxyType(dict(problem.cells)),
            primary,
            suppressed,
            hidden,
            rounds,
            0.0,
            None,
            MappingProxyType(dict(problem.derived)),
        )
        result = run_audit(problem, d, cache=solved)
        if result.passed or not complementary:
            break
        new_cuts = _cuts(problem, d, result)
        if not new_cuts and _unround(problem, d, result.violations):
            continue  # last resort: rounded counts tied to the cell are no longer printed
        if not new_cuts or rounds >= max_rounds:
            break
        cuts.extend(new_cuts)
    object.__setattr__(d, "seconds", round(time.perf_counter() - started, 3))
    object.__setattr__(d, "audit", result)
    return d


def _copy(problem: DisclosureProblem) -> DisclosureProblem:
    out = DisclosureProblem()
    out.cells, out.relations, out.derived = dict(problem.cells), problem.relations, problem.derived
    out._relation_set = problem._relation_set  # shared with the relations list it indexes
    return out


def _unround(problem: DisclosureProblem, d: Disclosure, violations: Iterable[str]) -> set[str]:
    """Rounded cells connected (through relations over unpublished or rounded cells) to a cell
    the audit could narrow become latent: not printed. Rounding protects the steps of a series,
    but not a total it equals (known then to within the rounding)."""
    by_cell: dict[str, list[Relation]] = {}
    for rel in problem.relations:
        for key, _ in rel.terms:
            by_cell.setdefault(key, []).append(rel)
    unknown = set(d.suppressed) | {k for k, c in problem.cells.items() if c.mode == "rounded"}
    hit: set[str] = set()
    for start in violations:
        seen, stack = {start}, [start]
        while stack:
            for rel in by_cell.get(stack.pop(), []):
                for key, _ in rel.terms:
                    if key in unknown and key not in seen:
                        seen.add(key)
                        stack.append(key)
        hit |= {key for key in seen if problem.cells[key].mode == "rounded"}
    for key in hit:
        problem.cells[key] = dataclasses.replace(problem.cells[key], mode="latent")
    return hit


def _follow(
    problem: DisclosureProblem, primary: frozenset[str]
) -> tuple[frozenset[str], frozenset[str]]:
    """Primary only: hide derived numbers over primary cells; latent cells follow."""
    hidden = frozenset(
        key for key, d in problem.derived.items() if any(o in primary for o in d.operands)
    )
    return _latent_follow(
        problem, {c for c in primary if problem.cells[c].mode != "band"}, hidden
    ), hidden


def _latent_follow(
    problem: DisclosureProblem, suppressed: set[str], hidden: frozenset[str]
) -> frozenset[str]:
    users: dict[str, list[str]] = {}
    for key, d in problem.derived.items():
        for o in d.operands:
            users.setdefault(o, []).append(key)
    for key, c in problem.cells.items():
        if c.mode == "latent" and all(u in hidden for u in users.get(key, [])):
            suppressed.add(key)
    return frozenset(suppressed)


def _solve(
    problem: DisclosureProblem,
    k: int,
    primary: frozenset[str],
    cuts: list[frozenset[str]],
) -> tuple[frozenset[str], frozenset[str]]:
    """The complementary-suppression MILP (see the module docstring), solved by HiGHS."""
    # rounded cells are variables too: one may have to be left out (a rounded count equal to a
    # suppressed one gives that one away to within the rounding)
    cells = sorted(
        key for key, c in problem.cells.items() if c.mode in ("printed", "latent", "rounded")
    )
    ders = sorted(problem.derived)
    ci = {key: i for i, key in enumerate(cells)}
    di = {key: len(cells) + i for i, key in enumerate(ders)}
    n = len(cells) + len(ders)
    if n == 0:
        return frozenset(), frozenset()
    value = {key: problem.cells[key].value for key in cells}
    users: dict[str, list[str]] = {}
    for key in ders:
        for o in problem.derived[key].operands:
            users.setdefault(o, []).append(key)

    cost = np.zeros(n)
    lb, ub = np.zeros(n), np.ones(n)
    for key, i in ci.items():
        c = problem.cells[key]
        cost[i] = 0.0 if c.mode == "latent" else 1.0 + math.log10(1.0 + value[key])
        if key in primary or (c.mode == "latent" and not users.get(key)):
            lb[i] = 1.0
    for key, i in di.items():
        cost[i] = problem.derived[key].weight
        if any(o in primary for o in problem.derived[key].operands):
            lb[i] = 1.0  # over a small count (also a rounded or banded one)
    cost += 1e-6 * np.arange(n) / n  # deterministic tie-break by key order

    rows, cols, vals, lo_r = [], [], [], []

    def add(coefs: dict[int, float], lower: float) -> None:
        r = len(lo_r)
        for j, a in coefs.items():
            rows.append(r)
            cols.append(j)
            vals.append(a)
        lo_r.append(lower)

    for key, d in problem.derived.items():
        # a share may stay when only its denominator is suppressed (the audit bounds it)
        ops = d.operands[:1] if d.kind == "ratio" else d.operands
        for o in ops:
            if o in ci:
                add({di[key]: 1.0, ci[o]: -1.0}, 0.0)  # h_d >= s_o
    for key, i in ci.items():
        if problem.cells[key].mode == "latent":
            for u in users.get(key, []):
                add({di[u]: 1.0, i: -1.0}, 0.0)  # s_latent <= h_d
    for rel in problem.relations:
        members = [key for key, _ in rel.terms if key in ci]
        for key in members:
            if problem.cells[key].mode == "latent" and key not in primary:
                continue  # a large latent cell may be derivable; the audit judges the rest
            # for a small step a rounded neighbour is no partner (its rounding protects the
            # step); for anything else it is (a rounded count equal to a suppressed total gives
            # that total away to within the rounding)
            others = [
                j for j in members
                if j != key and not (key in primary and problem.cells[j].mode == "rounded")
            ]
            need = k - 1 - value[key] if key in primary else 1
            able = [j for j in others if value[j] >= max(need, 1)] or others
            if not able:
                if key not in primary:  # the other cells are printed: suppressing it is futile
                    add({ci[key]: -1.0}, 0.0)
                continue
            coefs = {ci[j]: 1.0 for j in able}
            coefs[ci[key]] = coefs.get(ci[key], 0.0) - 1.0
            add(coefs, 0.0)
    for cut in cuts:
        coefs = {ci[j]: 1.0 for j in cut if j in ci}
        coefs.update({di[j]: 1.0 for j in cut if j in di})
        if coefs:
            add(coefs, 1.0)
    constraints = []
    if lo_r:
        a = sparse.csr_array((vals, (rows, cols)), shape=(len(lo_r), n))
        constraints.append(LinearConstraint(a, np.asarray(lo_r), np.inf))
    res = milp(
        cost,
        constraints=constraints,
        integrality=np.ones(n),
        bounds=Bounds(lb, ub),
        options={"disp": False, "presolve": True},
    )
    if res.x is None:
        raise DisclosureError(
            f"complementary suppression has no solution ({res.message}); the declared tables "
            "cannot be published safely"
        )
    x = np.round(res.x).astype(bool)
    suppressed = {key for key, i in ci.items() if x[i]}
    hidden = frozenset(key for key, i in di.items() if x[i])
    # A hidden derived number hides nothing by itself; cells stay as the MILP chose. Derived
    # numbers over a suppressed cell are hidden (enforced by the constraints above).
    return _latent_follow(problem, suppressed, hidden), hidden


def _cuts(problem: DisclosureProblem, d: Disclosure, result) -> list[frozenset[str]]:
    """For each cell the audit could narrow to ``[L, U]``: suppress at least one more published
    cell able to absorb the missing slack (value >= max(k - 1 - U, L - 1, 1)) or hide one more
    derived number, among those touching the unpublished cells it is connected to."""
    f = result.intervals.set_index("cell")
    by_cell: dict[str, list[Relation]] = {}
    for rel in problem.relations:
        for key, _ in rel.terms:
            by_cell.setdefault(key, []).append(rel)
    ders_by_cell: dict[str, list[str]] = {}
    for key, der in problem.derived.items():
        for o in der.operands:
            ders_by_cell.setdefault(o, []).append(key)
    unknown = set(d.suppressed) | {
        key for key, c in problem.cells.items() if c.mode in ("rounded", "band")
    }
    from leadeval.report.audit import certificate

    out = []
    for start in result.violations:
        lo, hi = float(f.loc[start, "lower"]), float(f.loc[start, "upper"])
        support: set[str] = set()
        if hi < d.k - 1:
            support |= certificate(problem, d, start, upper=True)
        if lo > 1:
            support |= certificate(problem, d, start, upper=False)
        strong: set[str] = set()
        slack = max(d.k - 1 - hi, lo - 1, 1)  # a zero cannot absorb it: no use suppressing one
        for key in support:
            c = problem.cells[key]
            if c.mode in ("printed", "rounded") and key not in d.suppressed:
                if c.value >= slack:
                    strong.add(key)
            elif c.mode == "latent":  # read from a published estimate: hide one of those
                strong.update(u for u in ders_by_cell.get(key, []) if u not in d.hidden)
        if strong:
            out.append(frozenset(strong))
            continue
        need = max(d.k - 1 - hi, lo - 1, 1)
        seen, stack, cand = {start}, [start], set()
        while stack:
            cur = stack.pop()
            for rel in by_cell.get(cur, []):
                for key, _ in rel.terms:
                    c = problem.cells[key]
                    if c.mode == "rounded" and key not in d.suppressed and c.value >= need:
                        cand.add(key)  # a rounded count can be left out as well
                    if key in unknown and key not in seen:
                        seen.add(key)
                        stack.append(key)
                    elif key not in unknown and problem.cells[key].mode == "printed":
                        if problem.cells[key].value >= need:
                            cand.add(key)
                    elif key not in unknown:  # a latent cell read from its derived numbers
                        cand.update(u for u in ders_by_cell.get(key, []) if u not in d.hidden)
            for der in ders_by_cell.get(cur, []):
                if der not in d.hidden:
                    cand.add(der)
        cells = {
            c for c in cand
            if c in problem.cells and problem.cells[c].mode in ("printed", "rounded")
        }
        ders = {c for c in cand if c in problem.derived}
        # a printed cell able to absorb the slack is the strong cut; hiding a derived number
        # (cheap, usually beside the point) only when no such cell is left
        if cells or ders:
            out.append(frozenset(cells or ders))
    return out
