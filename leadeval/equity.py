r"""Equity of access (who is referred) and effect heterogeneity (for whom the program works).

Two questions LEAD's own goals raise, answered from the cohort and the matched sample:

**Access.** Among everyone eligible in the analytic universe (the roster: participants plus the
eligible pool; the site's whole arrest population only when the roster holds it, config
``equity.population``), the referral rate of group :math:`g` is :math:`p_g = r_g / n_g` (``r``
referred, ``n`` eligible) and the *relative rate index* against a reference group :math:`0` is

.. math::  \mathrm{RRI}_g = \frac{r_g / n_g}{r_0 / n_0}, \qquad
           \widehat{\mathrm{SE}}(\log \mathrm{RRI}_g) = \sqrt{\tfrac1{r_g} - \tfrac1{n_g}
           + \tfrac1{r_0} - \tfrac1{n_0}}

(the Katz log interval, :math:`\exp(\log \mathrm{RRI} \pm z\,\mathrm{SE})`); rates carry Wilson
intervals. The *adjusted* index conditions on prior criminal history (``equity.adjust_for``, counts
as :math:`\log(1+x)`): a modified Poisson regression (Zou 2004: log link, robust HC0 sandwich) of
``referred`` on the group dummies and the history gives adjusted rate ratios; a logistic
regression on the same terms gives adjusted odds ratios. An unadjusted index far from 1 with an
adjusted one near 1 says the difference follows eligibility (history), not the referral decision.

**Heterogeneity.** For each headline binary outcome, the effect within subgroups of the matched
sample. With pair matching (every subclass holds one participant) the overall match is *restricted
with its pairs*: a pair belongs to the subgroup of its participant, so the comparison person is
always the participant's own match and referral type (which only participants have) can define a
subgroup. Otherwise (IPTW, strata with several participants) each person's own level is used. Within
each level: the weighted logistic odds ratio with cluster-robust (pair) SEs
(:func:`leadeval.models.fit_logistic`) and the absolute risk difference (weighted difference of
means, WLS with the same clusters). The interaction test is the joint Wald test of the
``treated x level`` terms in one weighted logistic model on the whole sample (df = levels - 1).
Several subgroups and outcomes mean many tests: about 1 in 20 null interactions has p < 0.05.

Example
-------
>>> import leadeval as le
>>> cfg = le.load_config("configs/seattle.yaml")                   # doctest: +SKIP
>>> cohort = le.build_cohort(le.load_extracts(cfg), cfg)             # doctest: +SKIP
>>> access = equity_of_access(cohort, cfg.equity)                    # doctest: +SKIP
>>> access.rates.to_frame().head()                                   # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from leadeval._sm import sm
from leadeval.cohort.persons import unit_columns
from leadeval.config import EquityConfig
from leadeval.errors import ModelError
from leadeval.models._data import DEFAULT_WEIGHTS, weights_column

UNKNOWN = "unknown"
RATE_COLUMNS = [
    "variable", "level", "reference", "eligible", "referred", "rate", "rate_low", "rate_high",
    "rri", "rri_low", "rri_high",
]
# Disclosure declaration of the access tables: the count-of-people columns, what is derived from
# them, and the additive relations (levels of one variable add up to the eligible total; eligible
# = referred + not referred). Read by the report and, after the merge, by the disclosure step.
ACCESS_DISCLOSURE = {
    "table": "equity_access (+ equity_rri, equity_over_time: same rows)",
    "counts": ["eligible", "referred", "not_referred"],
    "derived": {c: ["referred", "not_referred"] for c in (
        "rate", "rate_low", "rate_high", "rri", "rri_low", "rri_high", "adj_rri", "adj_rri_low",
        "adj_rri_high", "adj_or", "adj_or_low", "adj_or_high")},
    "additive": [
        "per row: eligible = referred + not_referred",
        "per (period, variable) block: sum over levels = the 'all' row, for each count column",
        "the 'all' rows of every variable are the same universe totals",
    ],
}
SUBGROUP_DISCLOSURE = {
    "table": "equity_subgroups_<i> (one per outcome)",
    "counts": ["events_lead", "no_event_lead", "events_comparison", "no_event_comparison"],
    "derived": {c: ["events_lead", "no_event_lead", "events_comparison", "no_event_comparison"]
                for c in ("OR", "OR_low", "OR_high", "RD", "RD_low", "RD_high")},
    "additive": [
        "per variable block: sum over levels = the 'all' row, for each count column",
        "events + no_event = the arm's size; with 1:1 pairs matched within subgroup the two arms "
        "have (nearly) the same size, so a level's four cells are hidden together",
    ],
}


# ---- results ------------------------------------------------------------------------------
@dataclass(frozen=True)
class AccessRates:
    """Referral rates and relative rate indices by group (one row per variable, level, period)."""

    table: pd.DataFrame
    conf_level: float = 0.95

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()


@dataclass(frozen=True)
class EquityResult:
    """Equity of access: unadjusted and adjusted indices, over time, and referral types."""

    rates: AccessRates
    adjusted: pd.DataFrame
    over_time: AccessRates | None
    referral_types: pd.DataFrame
    population: str
    adjusted_for: tuple[str, ...]
    not_adjusted_for: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """Unadjusted rows with the adjusted ratios merged in (NaN where not estimated)."""
        adj = self.adjusted[["variable", "level", "adj_rri", "adj_rri_low", "adj_rri_high",
                             "adj_or", "adj_or_low", "adj_or_high"]]
        return self.rates.to_frame().merge(adj, on=["variable", "level"], how="left")


@dataclass(frozen=True)
class HeterogeneityResult:
    """Effects by subgroup for each outcome, and the interaction tests."""

    table: pd.DataFrame
    interactions: pd.DataFrame
    overall: pd.DataFrame
    design: pd.DataFrame  # variable -> how its sample was made
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_frame(self) -> pd.DataFrame:
        return self.table.merge(
            self.interactions[["outcome", "variable", "interaction_p"]],
            on=["outcome", "variable"], how="left",
        )


# ---- access --------------------------------------------------------------------------------
def age_band(age: pd.Series, edges: Sequence[int]) -> pd.Series:
    """Age bands from lower edges: ``[18, 25, 35]`` -> '18-24', '25-34', '35+' (missing or below
    the first edge: 'unknown').

    >>> age_band(pd.Series([19.0, 40.2, None]), [18, 25, 35]).tolist()
    ['18-24', '35+', 'unknown']
    """
    cut = _age_cut(age, edges)
    return cut.astype(object).where(cut.notna(), UNKNOWN)


def _age_cut(age: pd.Series, edges: Sequence[int]) -> pd.Series:
    edges = list(edges)
    labels = [f"{a}-{b - 1}" for a, b in zip(edges, edges[1:], strict=False)] + [f"{edges[-1]}+"]
    return pd.cut(age, bins=[*edges, np.inf], right=False, labels=labels)


def eligible_universe(persons: pd.DataFrame, config: EquityConfig) -> pd.DataFrame:
    """The people whose referral is compared: every cohort person, with ``referred`` (0/1),
    ``age_band`` and missing group levels as 'unknown'."""
    u = persons.copy()
    u["referred"] = (u["treated"] == 1).astype(int)
    if "age_at_index" in u:
        u["age_band"] = age_band(u["age_at_index"], config.age_bands)
    for col in ("race_ethnicity", "sex", "area"):
        if col in u:
            u[col] = u[col].astype(object).where(u[col].notna(), UNKNOWN)
    return u


def _levels(col: pd.Series) -> pd.Series:
    """``col`` as a Categorical of its observed values, missing as 'unknown', the categories
    sorted as text: the same groups, in the order ``groupby(sort=True)`` gives the
    text column, at one code per person instead of a Python string each (5M people at a
    state). A column whose values are not all text is returned as the text column.

    >>> _levels(pd.Series(["b", None, "a", "b"])).cat.categories.tolist()
    ['a', 'b', 'unknown']
    """
    codes, uniques = pd.factorize(col)
    values = list(np.asarray(uniques, dtype=object))
    if not all(isinstance(v, str) for v in values):
        return col.astype(object).where(col.notna(), UNKNOWN)
    if (codes < 0).any():
        if UNKNOWN not in values:
            values.append(UNKNOWN)
        codes = np.where(codes < 0, values.index(UNKNOWN), codes)
    order = sorted(range(len(values)), key=values.__getitem__)
    remap = np.empty(len(values), np.int64)
    remap[order] = np.arange(len(values))
    codes = remap[codes] if len(values) else codes  # (no missing codes are left)
    cat = pd.Categorical.from_codes(codes, categories=[values[i] for i in order])
    return pd.Series(cat, index=col.index, name=col.name)


def _coded_universe(persons: pd.DataFrame, config: EquityConfig) -> pd.DataFrame:
    """:func:`eligible_universe` of the columns the stage reads, its group columns as
    :func:`_levels` Categoricals: the same rates, models and tables, without a copy of the
    person table or a string per person and group."""
    u = pd.DataFrame({"referred": (persons["treated"] == 1).astype(int)}, index=persons.index)
    if "age_at_index" in persons:
        u["age_band"] = _levels(_age_cut(persons["age_at_index"], config.age_bands))
    for col in persons.columns:
        if col in ("race_ethnicity", "sex", "area"):
            u[col] = _levels(persons[col])
        elif col not in u and col != "treated":
            u[col] = persons[col]
    return u


def _reference(counts: pd.Series, wanted: str | None, variable: str) -> str:
    if wanted is not None:
        if wanted not in counts.index:
            raise ModelError(
                f"equity.reference.{variable}: {wanted!r} is not a level of {variable}; "
                f"levels: {', '.join(map(str, counts.index))}"
            )
        return wanted
    # most eligible people; ties by name (stable, so the choice never depends on row order)
    order = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return str(order[0][0])


def relative_rate_index(
    referred: np.ndarray, eligible: np.ndarray, ref_referred: float, ref_eligible: float,
    conf_level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""RRI :math:`(r/n)/(r_0/n_0)` with its Katz log interval (arrays; NaN interval when a group
    has no referrals).

    >>> rri, lo, hi = relative_rate_index(np.array([30.]), np.array([100.]), 20., 200.)
    >>> round(float(rri[0]), 3), round(float(lo[0]), 3), round(float(hi[0]), 3)
    (3.0, 1.797, 5.008)
    """
    r, n = np.asarray(referred, float), np.asarray(eligible, float)
    z = stats.norm.ppf(0.5 + conf_level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        rri = (r / n) / (ref_referred / ref_eligible)
        se = np.sqrt(1 / r - 1 / n + 1 / ref_referred - 1 / ref_eligible)
        ok = (r > 0) & (ref_referred > 0)
        lo = np.where(ok, rri * np.exp(-z * se), np.nan)
        hi = np.where(ok, rri * np.exp(z * se), np.nan)
    return rri, lo, hi


def access_rates(
    universe: pd.DataFrame,
    by: Sequence[str],
    reference: Mapping[str, str] | None = None,
    conf_level: float = 0.95,
    period: str | None = None,
) -> AccessRates:
    """Referral rates and RRIs by each variable of ``by`` (and by ``period`` when given).

    Parameters
    ----------
    universe : DataFrame with ``referred`` (0/1) and the ``by`` columns (see :func:`eligible_universe`).
    by : variables to compare.
    reference : reference level per variable (default: the level with most eligible people overall,
        the same in every period).
    period : optional column (e.g. referral year) to compute the table within.

    Examples
    --------
    >>> u = pd.DataFrame({"referred": [1, 0, 0, 1, 1, 0], "sex": list("mmmffm")})
    >>> access_rates(u, ["sex"]).to_frame()[["level", "eligible", "referred", "rri"]]
      level  eligible  referred  rri
    0     f         2         2  4.0
    1     m         4         1  1.0
    """
    reference = dict(reference or {})
    rows = []
    for var in by:
        if var not in universe:
            continue
        ref = _reference(universe[var].value_counts(), reference.get(var), var)
        keys = [period, var] if period else [var]
        g = universe.groupby(keys, sort=True, observed=True)["referred"].agg(["size", "sum"])
        g = g.rename(columns={"size": "eligible", "sum": "referred"}).reset_index()
        g = g.rename(columns={var: "level"})
        g["level"] = g["level"].astype(str)
        if period:  # (a Categorical period, see equity_of_access, as its text)
            g[period] = g[period].astype(str)
            base = g[g["level"] == ref].set_index(period)[["eligible", "referred"]]
            ref_n = g[period].map(base["eligible"]).to_numpy(float)
            ref_r = g[period].map(base["referred"]).to_numpy(float)
        else:
            b = g[g["level"] == ref].iloc[0]
            ref_n = np.full(len(g), float(b["eligible"]))
            ref_r = np.full(len(g), float(b["referred"]))
        g["rate"] = g["referred"] / g["eligible"]
        lo, hi = proportion_confint(g["referred"], g["eligible"], alpha=1 - conf_level,
                                    method="wilson")
        g["rate_low"], g["rate_high"] = np.asarray(lo, float), np.asarray(hi, float)
        rri, rlo, rhi = relative_rate_index(
            g["referred"].to_numpy(float), g["eligible"].to_numpy(float), ref_r, ref_n, conf_level
        )
        is_ref = (g["level"] == ref).to_numpy()
        g["rri"] = rri
        g["rri_low"], g["rri_high"] = np.where(is_ref, np.nan, rlo), np.where(is_ref, np.nan, rhi)
        g["reference"] = ref
        g.insert(0, "variable", var)
        rows.append(g)
    cols = ([period] if period else []) + RATE_COLUMNS
    if not rows:
        return AccessRates(pd.DataFrame(columns=cols), conf_level)
    out = pd.concat(rows, ignore_index=True)
    out["eligible"] = out["eligible"].astype(int)
    out["referred"] = out["referred"].astype(int)
    return AccessRates(out[cols], conf_level)


def history_terms(universe: pd.DataFrame, adjust_for: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """The adjustment design: counts as log1p, 0/1 and other columns as they are; returns the
    matrix and the requested columns the universe lacks."""
    present = [c for c in adjust_for if c in universe]
    missing = [c for c in adjust_for if c not in universe]
    x = universe[present].astype(float)
    for c in present:
        col = x[c]
        if (col.dropna() >= 0).all() and col.max() > 1 and np.allclose(col.dropna() % 1, 0):
            x[c] = np.log1p(col)
    return x, missing


def _dummies(levels: pd.Series, ref: str, prefix: str) -> pd.DataFrame:
    text = levels.astype(str)  # once, not once per level (a county's 200,000 people)
    cats = sorted(set(text.unique()) - {ref})
    return pd.DataFrame({f"{prefix}{c}": (text == c).astype(float) for c in cats}, index=levels.index)


@dataclass(frozen=True)
class _GLMFit:
    """The parts of a GLM fit :func:`adjusted_access` reads (named like statsmodels' results)."""

    params: pd.Series
    bse: pd.Series

    @property
    def pvalues(self) -> pd.Series:
        return pd.Series(2 * stats.norm.sf(np.abs(self.params / self.bse)), index=self.params.index)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        z = stats.norm.ppf(1 - alpha / 2)
        return pd.DataFrame({0: self.params - z * self.bse, 1: self.params + z * self.bse})


def _glm_hc0(y: np.ndarray, x: pd.DataFrame, family: Any, maxiter: int = 100,
             freq: np.ndarray | None = None) -> _GLMFit:
    """``sm.GLM(y, x, family, freq_weights=freq).fit(cov_type="HC0")`` for a canonical link
    (Poisson-log, binomial-logit) on numpy: statsmodels' IRLS (same start, steps and deviance
    stopping rule, atol 1e-8) with the weighted least squares solved on the normal equations
    rather than by SVD, which made statsmodels spend seconds per fit on a county's 200,000
    people; the same sandwich :math:`H^{-1}(\\sum_i n_i x_i x_i^\\top (y_i-\\mu_i)^2)H^{-1}`,
    :math:`H = \\sum_i n_i V(\\mu_i) x_i x_i^\\top`, at the final estimate. ``freq`` (default 1)
    counts the people a row stands for: a fit on the distinct (covariates, outcome) rows with
    their counts is the fit on the people, the same in exact arithmetic. Equal to statsmodels'
    to rounding."""
    X, y = x.to_numpy(float), np.asarray(y, float)
    n = np.ones(len(y)) if freq is None else np.asarray(freq, float)
    if isinstance(family, sm.families.Binomial):
        mu = family.starting_mu(y)
    else:  # (y + mean(y)) / 2, the mean over people
        mu = (y + (n @ y) / n.sum()) / 2.0
    eta = family.predict(mu)
    dev = family.deviance(y, mu, freq_weights=n)
    beta = np.zeros(X.shape[1])
    for _ in range(maxiter):
        w = n * family.weights(mu)
        z = eta + family.link.deriv(mu) * (y - mu)
        XW = X * w[:, None]
        beta = np.linalg.solve(XW.T @ X, XW.T @ z)
        eta = X @ beta
        mu = family.fitted(eta)
        new = family.deviance(y, mu, freq_weights=n)
        if not np.isfinite(new):
            raise ValueError("non-finite deviance")
        if abs(new - dev) <= 1e-8:
            break
        dev = new
    hinv = np.linalg.inv((X * (n * family.variance(mu))[:, None]).T @ X)
    xu = X * (y - mu)[:, None]
    cov = hinv @ ((xu * n[:, None]).T @ xu) @ hinv
    return _GLMFit(pd.Series(beta, index=x.columns), pd.Series(np.sqrt(np.diag(cov)), x.columns))


def _collapse(codes: Sequence[np.ndarray], counts: np.ndarray | None = None
              ) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of integer code columns (codes >= -1), sorted by the codes in column
    order, and how many rows (or how much of ``counts``) each stands for. Sorted by value, so
    the answer does not depend on the row order.

    >>> cells, n = _collapse([np.array([1, 0, 1, 1]), np.array([0, 2, 0, -1])])
    >>> [c.tolist() for c in cells], n.tolist()
    ([[0, 1, 1], [2, -1, 0]], [1.0, 1.0, 2.0])
    """
    size = len(codes[0])
    key = np.zeros(size, np.int64)
    for c in codes:
        card = int(c.max()) + 2 if size else 1
        if size and int(key.max()) >= (2**62) // card:  # rank the key so far (keeps its order)
            key = np.unique(key, return_inverse=True)[1].astype(np.int64)
        key = key * card + (c.astype(np.int64) + 1)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    n = np.bincount(inverse.ravel(), weights=counts, minlength=len(first)).astype(float)
    return [c[first] for c in codes], n


@dataclass(frozen=True)
class _Coded:
    """A column as integer codes into its sorted distinct values (-1: missing)."""

    codes: np.ndarray
    values: np.ndarray  # sorted distinct values (str labels or floats)
    counts: pd.Series | None = None  # raw value -> people (for _reference), categorical only


def _code_labels(col: pd.Series) -> _Coded:
    """Codes of ``col``'s values as text (the labels the dummies are named by)."""
    raw_codes, raw = pd.factorize(col, use_na_sentinel=False)
    text = [str(v) for v in raw]
    labels = np.array(sorted(set(text)), dtype=object)
    remap = np.searchsorted(labels, np.array(text, dtype=object)) if len(text) else np.zeros(0, int)
    counts = pd.Series(np.bincount(raw_codes, minlength=len(raw)), index=pd.Index(raw, dtype=object))
    return _Coded(remap[raw_codes].astype(np.int32), labels, counts)


def _code_numbers(col: pd.Series) -> _Coded:
    codes, values = pd.factorize(col.to_numpy(float), sort=True)
    return _Coded(codes.astype(np.int32), np.asarray(values, float))


def adjusted_access(
    universe: pd.DataFrame,
    by: Sequence[str],
    reference: Mapping[str, str] | None,
    adjust_for: Sequence[str],
    adjust_categorical: Sequence[str] = (),
    conf_level: float = 0.95,
) -> tuple[pd.DataFrame, list[str]]:
    r"""Adjusted RRIs (modified Poisson: log link, HC0 sandwich; Zou 2004) and adjusted odds
    ratios (logistic, HC0) of referral for each level of each variable, conditional on the
    history columns. One model per variable: ``referred ~ levels + history``.

    The models are fitted on the distinct (level, history, referred) cells with their counts as
    frequency weights: the likelihood, its IRLS steps and the HC0 meat
    :math:`\sum_c n_c s_c s_c^\top` are sums over people that group by cell, so the estimates
    and sandwich are the person-level ones in exact arithmetic (to rounding in floating point)
    at a cost set by the cells (thousands), not the people (millions).

    Returns the table (``variable, level, adj_rri, adj_rri_low, adj_rri_high, adj_or, adj_or_low,
    adj_or_high, adj_p``) and the requested history columns that were missing.
    """
    reference = dict(reference or {})
    hist, missing = history_terms(universe, adjust_for)
    hist_coded = {c: _code_numbers(hist[c]) for c in hist.columns}
    # a history column enters only if it varies (main: std > 0 over the people)
    hist_kept = [c for c in hist.columns if np.isfinite(hist_coded[c].values).sum() >= 2]
    extra = {c: _code_labels(universe[c].astype(object).where(universe[c].notna(), UNKNOWN))
             for c in adjust_categorical if c in universe}
    extra_ref = {c: _reference(e.counts, None, c) for c, e in extra.items()}
    groups = {var: _code_labels(universe[var]) for var in by if var in universe}
    # one pass over the people: the distinct cells of every column any model reads
    # (an adjustment column is keyed 'name=', apart from a group variable of the same name)
    names = [*groups, *(f"{c}=" for c in extra), *hist_kept]
    coded = {**{c: hist_coded[c] for c in hist_kept}, **{f"{c}=": e for c, e in extra.items()},
             **groups}
    referred = universe["referred"].to_numpy().astype(np.int32)
    cells, cell_n = _collapse([coded[c].codes for c in names] + [referred])
    at = {c: cells[i] for i, c in enumerate(names)}
    cell_y = cells[-1]
    rows = []
    alpha = 1 - conf_level
    for var, g in groups.items():
        ref = _reference(g.counts, reference.get(var), var)
        levels = [str(v) for v in g.values if v != ref]
        ex = [c for c in extra if c != var]
        use = [var, *(f"{c}=" for c in ex), *hist_kept]
        vcells, n = _collapse([at[c] for c in use] + [cell_y], cell_n)
        vat = dict(zip(use, vcells, strict=False))
        ok = np.ones(len(n), bool)
        for c in hist_kept:
            ok &= vat[c] >= 0
        cols = {"const": np.ones(ok.sum())}
        lv_code = vat[var][ok]
        for lv in levels:
            cols[lv] = (g.values[lv_code] == lv).astype(float)
        for c in hist_kept:
            cols[c] = hist_coded[c].values[vat[c][ok]]
        for c in ex:
            lab = extra[c].values[vat[f"{c}="][ok]]
            for lv in extra[c].values:
                if lv != extra_ref[c]:
                    cols[f"{c}={lv}"] = (lab == lv).astype(float)
        x = pd.DataFrame(cols)
        y = vcells[-1][ok].astype(float)
        fits = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, family in (("rri", sm.families.Poisson()), ("or", sm.families.Binomial())):
                try:
                    fits[name] = _glm_hc0(y, x, family, freq=n[ok])
                except (np.linalg.LinAlgError, ValueError):  # pragma: no cover - degenerate data
                    fits[name] = None
        for lv in [ref, *levels]:
            row = {"variable": var, "level": str(lv), "reference": ref}
            for name in ("rri", "or"):
                f = fits.get(name)
                if lv == ref:
                    row.update({f"adj_{name}": 1.0, f"adj_{name}_low": np.nan,
                                f"adj_{name}_high": np.nan})
                    continue
                if f is None:
                    row.update({f"adj_{name}": np.nan, f"adj_{name}_low": np.nan,
                                f"adj_{name}_high": np.nan})
                    continue
                ci = f.conf_int(alpha=alpha).loc[lv]
                row.update({f"adj_{name}": float(np.exp(f.params[lv])),
                            f"adj_{name}_low": float(np.exp(ci.iloc[0])),
                            f"adj_{name}_high": float(np.exp(ci.iloc[1]))})
                if name == "rri":
                    row["adj_p"] = float(f.pvalues[lv])
            rows.append(row)
    cols = ["variable", "level", "reference", "adj_rri", "adj_rri_low", "adj_rri_high", "adj_p",
            "adj_or", "adj_or_low", "adj_or_high"]
    out = pd.DataFrame(rows).reindex(columns=cols)
    return out.sort_values(["variable", "level"], kind="stable").reset_index(drop=True), missing


def equity_of_access(
    persons: pd.DataFrame,
    config: EquityConfig | None = None,
    conf_level: float = 0.95,
    referral_dates: pd.Series | None = None,
) -> EquityResult:
    """Referral rates, RRIs (unadjusted and adjusted for history), over time, and referral types.

    Parameters
    ----------
    persons : the cohort's person table (``treated``, group columns, history columns).
    config : the ``equity`` block of a site config (defaults when None).
    referral_dates : optional Series indexed like ``persons`` (the roster's referral date, the
        qualifying event for pool members) for the over-time table; else the index date.

    Examples
    --------
    >>> u = pd.DataFrame({"treated": [1, 0, 0, 1, 1, 0], "sex": list("mmmffm"),
    ...                   "age_at_index": [30, 40, 50, 20, 33, 61.0],
    ...                   "index_date": pd.to_datetime(["2012-01-01"] * 6)})
    >>> res = equity_of_access(u, EquityConfig(by=["sex"], adjust_for=[], over_time="none"))
    >>> res.rates.to_frame()["rri"].tolist()
    [4.0, 1.0]
    """
    config = config or EquityConfig()
    read = {"treated", "age_at_index", "race_ethnicity", "sex", "area", "index_date",
            "referral_type", *config.by, *config.adjust_for, *config.adjust_categorical}
    # only the columns read below, the groups as codes (millions of people at a state)
    u = _coded_universe(persons[[c for c in persons.columns if c in read]], config)
    by = [v for v in config.by if v in u]
    rates = access_rates(u, by, config.reference, conf_level)
    adjusted, missing = adjusted_access(
        u, by, config.reference, config.adjust_for, config.adjust_categorical, conf_level
    )
    used = tuple(c for c in config.adjust_for if c not in missing)
    if not used and not config.adjust_categorical:
        adjusted = adjusted.iloc[0:0]
    over = None
    if config.over_time != "none":
        dates = referral_dates if referral_dates is not None else u.get("index_date")
        if dates is not None:
            u["period"] = _periods(dates, config.over_time)
            over = access_rates(u, by, config.reference, conf_level, period="period")
    if "referral_type" in u:
        rt = u.loc[u["referred"] == 1, "referral_type"].astype(object).fillna(UNKNOWN)
        types = rt.value_counts().rename_axis("referral_type").rename("referred").reset_index()
        types = types.sort_values("referral_type", kind="stable").reset_index(drop=True)
        types["share"] = types["referred"] / types["referred"].sum()
    else:
        types = pd.DataFrame(columns=["referral_type", "referred", "share"])
    notes = []
    if missing:
        notes.append("not in the cohort, left out of the adjustment: " + ", ".join(missing))
    return EquityResult(rates, adjusted, over, types, config.population, used, tuple(missing),
                        tuple(notes))


def _periods(dates: pd.Series, over_time: str) -> pd.Series:
    """``pd.to_datetime(dates).dt.to_period("Y" or "Q").astype(str)`` ('2015', '2015Q3', 'NaT')
    as a Categorical, its categories sorted as text (as :func:`_levels`), from the year and
    quarter numbers: a label per period, not a Period object and a string per person.

    >>> _periods(pd.Series(["2015-03-01", None, "2016-11-30"]), "quarter").astype(str).tolist()
    ['2015Q1', 'NaT', '2016Q4']
    """
    d = pd.to_datetime(dates)
    year = d.dt.year.to_numpy(float)
    quarter = d.dt.quarter.to_numpy(float) if over_time != "year" else np.ones(len(d))
    key = np.where(np.isnan(year), -1, year * 4 + quarter - 1)
    keys, codes = np.unique(key, return_inverse=True)
    text = ["NaT" if k < 0 else (f"{int(k) // 4}" if over_time == "year" else
                                 f"{int(k) // 4}Q{int(k) % 4 + 1}") for k in keys]
    cat = pd.Categorical.from_codes(codes.ravel(), categories=text)
    return pd.Series(cat.reorder_categories(sorted(text)), index=dates.index)


# ---- heterogeneity -------------------------------------------------------------------------
def subgroup_levels(data: pd.DataFrame, variable: str) -> tuple[pd.Series, str]:
    """Each row's subgroup: the level of its pair's participant when every subclass holds exactly
    one participant ('pairs'), else the row's own level ('own')."""
    own = data[variable].astype(object)
    if "subclass" in data and data["subclass"].notna().all():
        treated = data[data["treated"] == 1]
        per = treated.groupby("subclass").size()
        if len(per) and (per == 1).all() and set(data["subclass"]) <= set(per.index):
            lv = treated.set_index("subclass")[variable].astype(object)
            return data["subclass"].map(lv).astype(object), "pairs"
    return own, "own"


@dataclass(frozen=True)
class SubgroupSample:
    """The sample a subgroup variable is analysed on, and how it was made."""

    data: pd.DataFrame
    design: str  # 'matched within subgroup' | 'overall match restricted with its pairs' | ...


def subgroup_samples(
    persons: pd.DataFrame, matched: Any, spec: Any, variables: Sequence[str], warn: bool = False,
    rows: Callable[[pd.Series], pd.DataFrame] | None = None,
) -> dict[str, SubgroupSample]:
    """For each subgroup variable, the sample its within-subgroup effects are estimated on.

    * A variable both groups carry (race/ethnicity, sex, area) with nearest-neighbour matching:
      the match is **redone within subgroup** (the config's matching spec plus ``exact`` on the
      variable), so every participant's comparison person is in the same subgroup; a participant
      with no match inside the subgroup drops out of that analysis.
    * A variable only participants carry (referral type) or any other method: the **overall match
      restricted with its pairs** (a pair belongs to its participant's subgroup) or, for weights
      (IPTW), each person's own level.

    ``rows``, when given, returns every column of the persons with the given ids
    (:meth:`Cohort.persons_for`), and ``persons`` need only hold the columns matching reads.
    """
    from leadeval.errors import MatchingError
    from leadeval.matching import match
    from leadeval.matching._frame import spec_columns

    out: dict[str, SubgroupSample] = {}
    within: dict[str, pd.DataFrame] = {}  # variable -> match()'s rows within its subgroups
    nearest = getattr(spec, "method", None) == "nearest"
    distance = _overall_distance(persons, matched, spec) if nearest else None
    for var in variables:
        if var not in persons:
            continue
        controls_have = (persons[var].notna() & (persons["treated"] == 0)).any()
        if controls_have and nearest:
            exact = list(dict.fromkeys([*spec.exact, var]))
            update: dict[str, Any] = {"exact": exact}
            # match on the columns the spec reads only (the wide frame is joined back after),
            # built as one frame, not a copy per added column (5M people at a state)
            cols = {c: persons[c] for c in dict.fromkeys(["person_id", "treated",
                                                          *spec_columns(spec), var])}
            cols[var] = _filled_text(persons[var])
            if distance is not None:
                cols[_DISTANCE] = distance
            narrow = pd.DataFrame(cols, index=persons.index)
            if distance is not None:
                # the score is given: the score model's fields only feed the balance table,
                # which nobody reads for a subgroup (its rows and weights are the same without)
                update |= _NO_SCORE_MODEL | {"balance": type(spec.balance)(), "distance_column": _DISTANCE}
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    within[var] = match(narrow, spec.model_copy(update=update), warn=warn).data
                continue
            except MatchingError:
                pass
        design = ("overall match restricted with its pairs" if matched.data["subclass"].notna().all()
                  else "overall weights, own level") if "subclass" in matched.data else "own level"
        out[var] = SubgroupSample(matched.data, design)
    if within:  # every column of the people matched within any subgroup: one read of the rows
        ids = pd.unique(np.concatenate([d["person_id"].to_numpy(object) for d in within.values()]))
        wide = persons if rows is None else rows(ids)
        for var, d in within.items():
            out[var] = SubgroupSample(_widen(wide, d, var), "matched within subgroup "
                                      f"(exact on {var.replace('_', ' ')})")
    return {var: out[var] for var in variables if var in out}


def _filled_text(col: pd.Series) -> pd.Series:
    """``col.astype(object).fillna('unknown')`` from its distinct values: the same values, each
    row pointing at one object per level rather than a new Python string per person.

    >>> _filled_text(pd.Series(["b", None, "b"], dtype="string[pyarrow]")).tolist()
    ['b', 'unknown', 'b']
    """
    codes, uniques = pd.factorize(col)
    values = np.append(np.asarray(uniques, dtype=object), np.array([UNKNOWN], dtype=object))
    return pd.Series(values[codes], index=col.index, name=col.name)  # code -1: the last, unknown


_DISTANCE = "_leadeval_overall_distance"
#: the spec fields the propensity score depends on (matching within subgroup adds ``exact`` only)
_SCORE_FIELDS = ("covariates", "categorical", "reference", "log1p", "squares", "splines",
                 "formula", "distance", "distance_column")
#: a spec's score model emptied (when the distance is given, matching reads none of it)
_NO_SCORE_MODEL = {"covariates": [], "categorical": [], "reference": {}, "log1p": [],
                   "squares": [], "splines": {}, "formula": None}


def _overall_distance(persons: pd.DataFrame, matched: Any, spec: Any) -> np.ndarray | None:
    """The overall match's distance for each row of ``persons``, when that match scored the same
    people with the same score model (then the propensity fit within subgroup, which ``exact``
    does not change, need not be redone); else None."""
    mspec = getattr(matched, "spec", None)
    units = getattr(matched, "all_units", None)
    if (getattr(matched, "propensity", None) is None or mspec is None or units is None
            or spec.distance_column or "person_id" not in units or "distance" not in units
            or len(units) != len(persons)
            or any(getattr(mspec, f) != getattr(spec, f) for f in _SCORE_FIELDS)):
        return None
    from leadeval.matching._frame import spec_columns

    same = units["person_id"].reset_index(drop=True).equals(persons["person_id"].reset_index(drop=True))
    # the same people in the same order (the cohort's person order): no lookup of 5M ids
    pos = None if same else pd.Index(units["person_id"]).get_indexer(persons["person_id"])
    if pos is not None and (pos < 0).any():
        return None
    for c in spec_columns(spec):  # the same people with the same covariate values
        col = units.get(c)
        if col is None or not (col if pos is None else col.iloc[pos]).reset_index(drop=True).equals(
                persons[c].reset_index(drop=True)):
            return None
    distance = units["distance"].to_numpy(float)
    return distance.copy() if pos is None else distance[pos]


def _widen(persons: pd.DataFrame, data: pd.DataFrame, var: str) -> pd.DataFrame:
    """The matched rows of ``persons`` with every column, as match() on the whole frame returns
    them: sorted by person_id, ``treated`` as int, ``var`` with missing as 'unknown', and the
    match's weights, subclass and distance."""
    from leadeval.matching._frame import MATCHED_WEIGHTS_ATTR

    pos = pd.Index(persons["person_id"]).get_indexer(data["person_id"])
    wide = persons.iloc[pos].reset_index(drop=True)
    wide["treated"] = wide["treated"].astype(int)
    wide[var] = wide[var].astype(object).fillna(UNKNOWN)
    for c in ("weights", "subclass", "distance"):
        wide[c] = data[c].to_numpy() if c != "subclass" else data[c].array
    wide.attrs[MATCHED_WEIGHTS_ATTR] = "weights"
    return wide


def _wls_difference(y, treated, w, groups, alpha) -> tuple[float, float, float]:
    x = sm.add_constant(treated.astype(float), has_constant="add")
    fit = sm.WLS(y, x, weights=w).fit(
        cov_type="cluster" if groups is not None else "HC1",
        cov_kwds={"groups": groups} if groups is not None else None,
    )
    lo, hi = fit.conf_int(alpha=alpha)[1]
    return float(fit.params[1]), float(lo), float(hi)


def _treated_row(fit: Any) -> pd.Series:
    """``fit.term("treated")``'s estimates, read from the Wald table (without building the
    result frame and its E-values, which nobody reads here)."""
    table = fit.table
    at = np.flatnonzero((table["term"] == "treated").to_numpy())
    return table.iloc[at[0]] if len(at) else fit.term("treated")


def interaction_test(
    frame: pd.DataFrame, outcome: str, levels: pd.Series, weights: str | None,
    cluster: str | None, covariates: Sequence[str] = (),
) -> tuple[float, float, int]:
    """Joint Wald test of the ``treated x level`` terms of a weighted logistic model (cluster-
    robust); returns (chi-square, p-value, df)."""
    ref = sorted(levels.unique(), key=str)[0]
    d = _dummies(levels, ref, "lv=")
    t = frame["treated"].astype(float)
    inter = d.mul(t, axis=0).add_prefix("tx:")
    x = pd.concat([t.rename("treated"), d, inter, frame[list(covariates)].astype(float)], axis=1)
    x.insert(0, "const", 1.0)
    w = frame[weights].to_numpy(float) if weights else None
    groups = frame[cluster].to_numpy() if cluster else np.arange(len(frame))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.GLM(frame[outcome].to_numpy(float), x, family=sm.families.Binomial(),
                     var_weights=w).fit(cov_type="cluster", cov_kwds={"groups": groups})
    names = list(inter.columns)
    r = np.zeros((len(names), x.shape[1]))
    for i, n in enumerate(names):
        r[i, list(x.columns).index(n)] = 1.0
    test = fit.wald_test(r, scalar=True)
    return float(test.statistic), float(test.pvalue), len(names)


def subgroup_effects(
    data: pd.DataFrame,
    outcomes: Sequence[str],
    variables: Sequence[str],
    weights: str | None = DEFAULT_WEIGHTS,
    cluster: str | None = "subclass",
    covariates: Sequence[str] = (),
    min_people: int = 11,
    conf_level: float = 0.95,
    samples: Mapping[str, SubgroupSample] | None = None,
    min_events: int = 5,
) -> HeterogeneityResult:
    """Effect of the program within subgroups of a matched (or weighted) sample.

    Parameters
    ----------
    data : the matched sample (``treated``, outcomes, subgroup columns, ``weights``, ``subclass``).
    outcomes : binary outcomes.
    variables : subgroup columns.
    samples : optional per-variable samples (:func:`subgroup_samples`: matched within subgroup);
        a variable without one uses ``data``, restricted with its pairs.
    min_people : a level is estimated only with at least this many participants and comparison
        people with the outcome observed, ...
    min_events : ... and at least this many people with and without the outcome in each arm
        (sparser levels make the Wald interaction test unreliable; they are left out of it).

    Returns
    -------
    HeterogeneityResult
        ``table``: outcome, variable, level, n_treated, n_control, events_treated,
        events_control, ratio (odds ratio), ratio_low, ratio_high, p_value, risk_difference,
        rd_low, rd_high, estimated; ``interactions``: outcome, variable, chi2, df,
        interaction_p; ``overall``: the whole-sample odds ratio per outcome.

    Examples
    --------
    >>> import leadeval as le                                         # doctest: +SKIP
    >>> ev = le.evaluate(le.load_config("configs/seattle.yaml"))      # doctest: +SKIP
    >>> subgroup_effects(ev.matched.data, ["arrest_post_182d"], ["sex"]).to_frame()  # doctest: +SKIP
    """
    from leadeval.models import fit_logistic

    alpha = 1 - conf_level
    weights = weights_column(data, weights, "equity")
    cluster = cluster if cluster and cluster in data and data[cluster].notna().any() else None
    rows, tests, overall, notes = [], [], [], []
    samples = dict(samples or {})
    level_of: dict[str, pd.Series] = {}
    frames: dict[str, pd.DataFrame] = {}
    designs: dict[str, str] = {}

    def narrow(frame: pd.DataFrame) -> pd.DataFrame:
        """Only the columns the models read (the subsets below copy them; not a wide frame)."""
        if not all(c in frame.columns for c in covariates):  # formula terms: keep everything
            return frame
        return frame[[c for c in dict.fromkeys(["treated", "subclass", weights, cluster,
                                                *covariates, *outcomes, *variables])
                      if c is not None and c in frame.columns]]

    data = narrow(data)
    for var in variables:
        frame = narrow(samples[var].data) if var in samples else data
        if var not in frame:
            continue
        level_of[var], how = subgroup_levels(frame, var)
        frames[var] = frame
        designs[var] = samples[var].design if var in samples else (
            "overall match restricted with its pairs" if how == "pairs" else "own level")
    for outcome in outcomes:
        if outcome not in data:
            notes.append(f"{outcome}: not in the matched sample")
            continue
        obs = data[data[outcome].notna()]
        try:
            fit = fit_logistic(obs, outcome, covariates=covariates, weights=weights,
                               cluster=cluster, conf_level=conf_level)
            r = _treated_row(fit)
            overall.append({"outcome": outcome, "ratio": r["ratio"], "ratio_low": r["ratio_low"],
                            "ratio_high": r["ratio_high"], "n": len(obs),
                            "events": int(obs[outcome].sum())})
        except ModelError as err:
            notes.append(f"{outcome}: {str(err).splitlines()[0]}")
        for var in variables:
            if var not in level_of or outcome not in frames[var]:
                continue
            vobs = frames[var][frames[var][outcome].notna()]
            levels = level_of[var].loc[vobs.index]
            has = levels.notna()
            if not has.any():
                notes.append(f"{var}: no levels in the matched sample (only participants carry it, "
                             "and the sample is not pair-matched)")
                continue
            estimated = []
            for lv in sorted(levels[has].unique(), key=str):
                sub = vobs[(levels == lv).to_numpy()]
                t = sub["treated"] == 1
                row = {"outcome": outcome, "variable": var, "level": str(lv),
                       "n_treated": int(t.sum()), "n_control": int((~t).sum()),
                       "events_treated": int(sub.loc[t, outcome].sum()),
                       "events_control": int(sub.loc[~t, outcome].sum())}
                cells = (row["events_treated"], row["n_treated"] - row["events_treated"],
                         row["events_control"], row["n_control"] - row["events_control"])
                big = (row["n_treated"] >= min_people and row["n_control"] >= min_people
                       and min(cells) >= min_events)
                est = dict.fromkeys(("ratio", "ratio_low", "ratio_high", "p_value",
                                     "risk_difference", "rd_low", "rd_high"), np.nan)
                if big:
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            f = fit_logistic(sub, outcome, covariates=covariates, weights=weights,
                                             cluster=cluster, conf_level=conf_level)
                        tr = _treated_row(f)
                        est.update(ratio=tr["ratio"], ratio_low=tr["ratio_low"],
                                   ratio_high=tr["ratio_high"], p_value=tr["p_value"])
                        w = sub[weights].to_numpy(float) if weights else np.ones(len(sub))
                        g = sub[cluster].to_numpy() if cluster else None
                        est["risk_difference"], est["rd_low"], est["rd_high"] = _wls_difference(
                            sub[outcome].to_numpy(float), t.to_numpy(), w, g, alpha
                        )
                        estimated.append(lv)
                    except ModelError:
                        big = False
                rows.append({**row, **est, "estimated": big})
            if len(estimated) >= 2:
                keep = levels.isin(estimated).to_numpy()
                try:
                    chi2, p, df = interaction_test(vobs[keep], outcome, levels[keep].astype(str),
                                                   weights, cluster, covariates)
                except (np.linalg.LinAlgError, ValueError):  # pragma: no cover
                    chi2, p, df = np.nan, np.nan, len(estimated) - 1
                tests.append({"outcome": outcome, "variable": var, "chi2": chi2, "df": df,
                              "interaction_p": p, "levels_tested": len(estimated)})
    table = pd.DataFrame(rows)
    inter = pd.DataFrame(tests, columns=["outcome", "variable", "chi2", "df", "interaction_p",
                                         "levels_tested"])
    design = pd.DataFrame({"variable": list(designs), "design": list(designs.values())})
    return HeterogeneityResult(table, inter, pd.DataFrame(overall), design, tuple(notes))


def plot_subgroup_forest(result: HeterogeneityResult, outcome: str, ax=None, label=None):
    """Forest plot of the subgroup odds ratios of one outcome (log scale), grouped by variable,
    with each variable's interaction p-value and the overall estimate as a dashed line."""
    import matplotlib.pyplot as plt

    from leadeval._style import ratio_axis

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5))
    t = result.table
    t = t[(t["outcome"] == outcome) & t["estimated"].astype(bool)]
    inter = result.interactions.set_index(["outcome", "variable"])["interaction_p"]
    ylabels, y = [], 0
    for var, g in t.groupby("variable", sort=False):
        p = inter.get((outcome, var), np.nan)
        ylabels.append((y, f"{var.replace('_', ' ')} (interaction p = {p:.2g})", True))
        y += 1
        for r in g.itertuples():
            ax.plot([r.ratio_low, r.ratio_high], [y, y], color="#335c81", lw=1.5)
            ax.plot([r.ratio], [y], "s", color="#335c81", ms=5)
            ylabels.append((y, f"  {r.level}", False))
            y += 1
    ov = result.overall
    ov = ov[ov["outcome"] == outcome] if len(ov) else ov
    if len(ov):
        ax.axvline(float(ov["ratio"].iloc[0]), color="grey", ls="--", lw=1)
    ax.axvline(1.0, color="black", lw=0.8)
    ratio_axis(ax)  # plain decimal ticks, no minor labels (they overlapped)
    ax.set_yticks([a for a, _, _ in ylabels])
    ax.set_yticklabels([b for _, b, _ in ylabels], fontsize=8)
    for tick, (_, _, bold) in zip(ax.get_yticklabels(), ylabels, strict=True):
        tick.set_fontweight("bold" if bold else "normal")
    ax.set_ylim(y - 0.5, -0.5)
    ax.set_xlabel("odds ratio (log scale); dashed: whole sample")
    if label:
        ax.set_title(label, fontsize=10)
    return ax


# ---- site-level entry points (what evaluate() runs) ----------------------------------------
def equity_for_site(cohort: Any, extracts: Any, config: Any) -> EquityResult:
    """Equity of access for a site: the cohort's persons, the roster's referral dates for the
    over-time table, the config's ``equity`` block and confidence level."""
    persons = cohort.select(unit_columns(config, cohort.columns))
    dates = None
    if extracts is not None and "roster" in extracts:
        table = extracts["roster"]
        if "referral_date" in table.columns:  # only the two columns read (a county's roster)
            dates = _roster_dates(table.select("person_id", "referral_date").to_pyarrow(),
                                  persons["person_id"])
    return equity_of_access(persons, config.equity, config.models.conf_level, dates)


def _roster_dates(roster: Any, person_ids: pd.Series) -> pd.Series:
    """Each person's roster ``referral_date`` (missing when not on the roster), looked up by id
    as text: ``person_ids.astype(str).map(roster's date by its id as text)``, in Arrow (a
    hash lookup of millions of ids without a Python string per id).

    >>> import pyarrow as pa
    >>> r = pa.table({"person_id": ["b", "a"], "referral_date": pa.array([1, 2], pa.date32())})
    >>> _roster_dates(r, pd.Series(["a", "c", "b"])).astype(str).tolist()
    ['1970-01-03', 'NaT', '1970-01-02']
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    at = pc.index_in(pc.cast(pa.array(person_ids), pa.string()),
                     value_set=pc.cast(roster["person_id"], pa.string()))
    dates = pc.take(roster["referral_date"], at)
    return pd.Series(pd.to_datetime(dates.to_pandas(date_as_object=False)).to_numpy(),
                     index=person_ids.index)


def heterogeneity_for_site(cohort: Any, matched: Any, config: Any, seed: int) -> HeterogeneityResult:
    """Effects by subgroup on the site's matched sample (matching redone within subgroup where
    both groups carry the variable; see :func:`subgroup_samples`)."""
    mc, eq = config.models, config.equity
    spec = config.matching
    if spec.order == "random" and spec.seed is None:
        spec = spec.model_copy(update={"seed": seed})
    units = cohort.select(unit_columns(config, cohort.columns))
    samples = subgroup_samples(units, matched, spec, eq.subgroups, rows=cohort.persons_for)
    sample = matched.data
    weights = mc.weights if mc.weights in sample.columns else None
    cluster = mc.cluster if (mc.cluster in sample.columns and sample[mc.cluster].notna().any()) else None
    outcomes = eq.subgroup_outcomes or mc.binary_outcomes
    return subgroup_effects(
        sample, outcomes, eq.subgroups, weights=weights, cluster=cluster,
        covariates=mc.covariates, min_people=config.report.small_cell_threshold,
        conf_level=mc.conf_level, samples=samples,
    )
