"""The disclosure engine on small hand-made tables whose derivable intervals are known.

References: Fréchet bounds for a 2x2 table with published margins, intervals worked by hand in
each docstring, and a brute-force enumeration of every integer table consistent with what is
published (independent of the solver).
"""

from __future__ import annotations

import itertools

import pytest

from leadeval.report.audit import audit, check
from leadeval.report.disclosure import (
    SUPPRESSED,
    Disclosure,
    DisclosureError,
    DisclosureProblem,
    protect,
    round_to,
    rounded_interval,
    series_base,
)


def _disclose(p: DisclosureProblem, suppressed: set[str], hidden: set[str] = frozenset(), k=11):
    return Disclosure(
        k, dict(p.cells), frozenset(c for c in p.cells if 1 <= p.cells[c].value < k),
        frozenset(suppressed), frozenset(hidden), derived=dict(p.derived),
    )


def _two_by_two(a=3, b=17, c=30, d=50) -> DisclosureProblem:
    p = DisclosureProblem()
    cells = {"a": a, "b": b, "c": c, "d": d, "r1": a + b, "r2": c + d, "c1": a + c, "c2": b + d}
    cells["t"] = a + b + c + d
    for key, v in cells.items():
        p.count(key, v)
    p.total("r1", ["a", "b"])
    p.total("r2", ["c", "d"])
    p.total("c1", ["a", "c"])
    p.total("c2", ["b", "d"])
    p.total("t", ["r1", "r2"])
    return p


def test_two_by_two_interior_suppressed_gives_frechet_bounds():
    """Margins r1=20, r2=80, c1=33, c2=67 published, interior hidden: a lies in
    [max(0, r1 + c1 - t), min(r1, c1)] = [0, 20] (Fréchet); d in [max(0, r2 + c2 - t), 67] =
    [47, 67]."""
    p = _two_by_two()
    res = audit(p, _disclose(p, {"a", "b", "c", "d"}), also=["d"])
    assert res.interval("a") == (0, 20)
    assert res.interval("d") == (47, 67)
    assert res.passed


def test_lone_suppressed_cell_is_recovered_exactly():
    """Only a=3 hidden in its row: a = r1 - b = 20 - 17 = 3, so the audit fails on a."""
    p = _two_by_two()
    res = audit(p, _disclose(p, {"a"}))
    assert res.interval("a") == (3, 3)
    assert res.violations == ("a",)
    with pytest.raises(DisclosureError, match="narrowed"):
        check(res)


def test_rounded_series_step_interval_by_hand():
    """People 100 then 97 (3 left), shown rounded to base 15: 105 and 90. p0 in [98, 112],
    p1 in [83, 97], left = p0 - p1 >= 0: [98 - 97, 112 - 83] = [1, 29]."""
    p = DisclosureProblem()
    p.count("p0", 100, mode="rounded", base=15)
    p.count("p1", 97, mode="rounded", base=15)
    p.count("left", 3, mode="latent")
    p.relation({"p0": 1, "p1": -1, "left": -1})
    assert (round_to(100, 15), round_to(97, 15)) == (105, 90)
    assert rounded_interval(105, 15) == (98, 112)
    d = protect(p, 11)
    assert d.show("p0") == 105 and d.show("left") == SUPPRESSED
    assert d.audit.interval("left") == (1, 29) and d.audit.passed


def test_series_base_protects_every_small_step():
    """For k = 11 the base is 15; brute force over every start 11..200 and step 1..10: the
    derivable interval of the step always contains [1, 10]."""
    b = series_base(11)
    assert b == 15
    for p0 in range(11, 200):
        for step in range(1, 11):
            r0, r1 = round_to(p0, b), round_to(p0 - step, b)
            (l0, h0), (l1, h1) = rounded_interval(r0, b), rounded_interval(r1, b)
            lo, hi = max(0, l0 - h1), h0 - l1
            assert lo <= 1 and hi >= 10, (p0, step)


def test_ratio_with_rounded_denominator_matches_brute_force():
    """A share 0.333 (3 decimals) of a denominator shown rounded to 300 (base 15, so 293..307):
    the numerator's interval equals the enumeration of every (num, den) pair consistent with it."""
    p = DisclosureProblem()
    p.count("den", 300, mode="rounded", base=15)
    p.count("num", 100, mode="latent")
    p.derive("share", ["num", "den"], kind="ratio", value=0.333, eps=0.0005)
    res = audit(p, _disclose(p, set()))
    lo_d, hi_d = rounded_interval(round_to(300, 15), 15)
    ok = [
        n for n, dd in itertools.product(range(0, 400), range(lo_d, hi_d + 1))
        if 0.3325 * dd - 1e-9 <= n <= 0.3335 * dd + 1e-9
    ]
    # num is not suppressed (the share is published), so check through a hidden twin
    p2 = DisclosureProblem()
    p2.count("den", 300, mode="rounded", base=15)
    p2.count("num", 100, mode="printed")
    p2.count("num2", 100, mode="latent")
    p2.relation({"num": 1, "num2": -1})
    p2.derive("share", ["num2", "den"], kind="ratio", value=0.333, eps=0.0005)
    res2 = audit(p2, _disclose(p2, {"num"}), also=["num"])
    assert res2.interval("num") == (min(ok), max(ok))
    assert res.passed


def test_opaque_estimate_reveals_the_arms():
    """Events 22 = 5 (treated) + 17 (control); a published odds ratio is taken to reveal both
    arms, so with the ratio published and only the 5 suppressed, the 5 is exact; hidden, the 5
    lies in [0, 22]."""
    p = DisclosureProblem()
    p.count("events", 22)
    p.count("e_t", 5, mode="latent")
    p.count("e_c", 17, mode="latent")
    p.total("events", ["e_t", "e_c"])
    p.derive("or", ["e_t", "e_c"])
    leaky = audit(p, _disclose(p, {"e_t"}))
    assert leaky.interval("e_t") == (5, 5) and not leaky.passed
    d = protect(p, 11)
    assert d.is_hidden("or") and d.audit.interval("e_t") == (0, 22) and d.audit.passed


def test_complementary_step_is_what_makes_the_flow_safe():
    """Cohort flow roster 300 = died 3 + included 297: primary suppression alone leaves
    300 - 297 = 3; with the complementary step 'included' (the cheapest partner able to absorb a
    change of k - 1 - 3 = 7) is suppressed too and 'died' lies in [0, 300]."""
    p = DisclosureProblem()
    for key, n in (("roster", 300), ("died", 3), ("included", 297)):
        p.count(key, n)
    p.relation({"roster": 1, "died": -1, "included": -1})
    bare = protect(p, 11, complementary=False)
    assert not bare.audit.passed and bare.audit.interval("died") == (3, 3)
    d = protect(p, 11)
    assert d.suppressed == {"died", "included"} and d.show("roster") == 300
    assert d.audit.interval("died") == (0, 300) and d.complementary == {"included"}


def test_zero_partner_is_not_enough_and_the_audit_cut_fixes_it():
    """Row a=4 + z=0 + b=60 = total 64: a partner of value 0 cannot absorb the 6 people ``a``
    must be able to gain (to reach k - 1 = 10), so the MILP takes b; then a lies in [0, 64]."""
    p = DisclosureProblem()
    for key, n in (("a", 4), ("z", 0), ("b", 60), ("total", 64)):
        p.count(key, n)
    p.total("total", ["a", "z", "b"])
    d = protect(p, 11)
    assert "b" in d.suppressed and "z" not in d.suppressed
    assert d.audit.interval("a") == (0, 64)


def test_solution_does_not_depend_on_declaration_order():
    """The same 2x2 declared in two orders gives the same suppression (ties broken by key)."""
    p1 = _two_by_two(a=3, b=40, c=40, d=60)
    p2 = DisclosureProblem()
    for key in sorted(p1.cells, reverse=True):
        p2.count(key, p1.cells[key].value)
    for rel in reversed(p1.relations):
        p2.relation(dict(rel.terms))
    assert protect(p1, 11).suppressed == protect(p2, 11).suppressed


def test_declared_relations_must_hold_and_cells_agree():
    """A relation false on the data, or one key with two values, is a programming error."""
    p = DisclosureProblem()
    p.count("a", 3)
    p.count("b", 4)
    with pytest.raises(ValueError, match="does not hold"):
        p.relation({"a": 1, "b": -1})
    with pytest.raises(ValueError, match="declared twice"):
        p.count("a", 5)
