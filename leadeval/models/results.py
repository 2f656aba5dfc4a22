"""Frozen result objects with one tidy vocabulary (DESIGN.md section 4).

Every model result has ``to_frame()`` with the columns ``term, estimate, std_error, conf_low,
conf_high, p_value`` on the model scale, ``ratio, ratio_low, ratio_high`` (exponentiated; NaN for
terms that are not ratios, e.g. an intercept), ``n`` and ``events``, and the E-value of each ratio
and of its confidence limit nearest to 1 (``e_value``, ``e_value_limit``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

RESULT_COLUMNS = (
    "term",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "p_value",
    "ratio",
    "ratio_low",
    "ratio_high",
    "n",
    "events",
)


def coef_table(
    terms: list[str],
    estimate: np.ndarray,
    std_error: np.ndarray,
    conf_level: float = 0.95,
    exponentiate: bool = True,
    ratio_terms: list[str] | None = None,
) -> pd.DataFrame:
    """Wald table: z statistics, two-sided normal p-values and intervals.

    ``exponentiate`` adds ``ratio = exp(estimate)`` with its interval for ``ratio_terms``
    (default: all terms except ``(Intercept)``).
    """
    est = np.asarray(estimate, dtype=float)
    se = np.asarray(std_error, dtype=float)
    z = stats.norm.ppf(0.5 + conf_level / 2)
    low, high = est - z * se, est + z * se
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stats.norm.sf(np.abs(est / se))
    columns = {
        "term": terms,
        "estimate": est,
        "std_error": se,
        "conf_low": low,
        "conf_high": high,
        "p_value": p,
    }
    if exponentiate:
        keep = set([t for t in terms if t != "(Intercept)"] if ratio_terms is None else ratio_terms)
        mask = np.array([t in keep for t in terms], dtype=bool)
        with np.errstate(over="ignore"):
            columns["ratio"] = np.where(mask, np.exp(est), np.nan)
            columns["ratio_low"] = np.where(mask, np.exp(low), np.nan)
            columns["ratio_high"] = np.where(mask, np.exp(high), np.nan)
    else:
        for c in ("ratio", "ratio_low", "ratio_high"):
            columns[c] = np.full(len(est), np.nan)
    return pd.DataFrame(columns)  # built once: column by column insertion is slow in pandas


def _freeze(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class ModelResult:
    """A fitted outcome model.

    Attributes
    ----------
    model : str
        What was fitted, e.g. ``"cox"``, ``"logistic"``, ``"gee_prepost"``.
    outcome : str
        The outcome column(s).
    table : pandas.DataFrame
        One row per term: the Wald table (see :func:`coef_table`).
    vcov : pandas.DataFrame
        The variance-covariance matrix used for ``std_error``.
    n, events : int
        Rows (or persons) and events used.
    ratio_name : str
        ``"hazard ratio"``, ``"odds ratio"``, ``"rate ratio"`` or ``""``.
    variance : str
        How ``std_error`` was computed, e.g. ``"cluster-robust by subclass (CR1)"``.
    details : Mapping
        Model-specific extras (log-likelihood, concordance, PH test, working correlation...).
    notes : tuple of str
        Warnings and fallbacks that happened while fitting.
    fit_stats : Mapping of str to float
        Scalar fit statistics where the model has them, under one set of names: ``loglik``,
        ``loglik_null``, ``deviance``, ``null_deviance``, ``aic``, ``bic``, ``df_model``,
        ``lr_test`` / ``lr_p``, ``score_test`` / ``score_p`` (Cox: R's "Score (logrank) test"),
        ``wald_test`` / ``wald_p``, ``concordance`` / ``concordance_se``, ``scale``,
        ``working_correlation``, ``persons``, ``clusters``, ``strata``. See
        :meth:`fit_statistics`.
    """

    model: str
    outcome: str
    table: pd.DataFrame
    vcov: pd.DataFrame
    n: int
    events: int | None
    ratio_name: str
    variance: str
    details: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    e_value_kind: str = "rr"
    outcome_rare: bool = True
    fit_stats: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", _freeze(self.details))
        object.__setattr__(self, "fit_stats", _freeze(self.fit_stats))
        object.__setattr__(self, "table", self.table.reset_index(drop=True))

    def fit_statistics(self) -> pd.DataFrame:
        """Fit statistics as a tidy frame: ``model, outcome, statistic, value``."""
        return pd.DataFrame(
            {
                "model": self.model,
                "outcome": self.outcome,
                "statistic": list(self.fit_stats),
                "value": [float(v) for v in self.fit_stats.values()],
            }
        )

    @property
    def params(self) -> pd.Series:
        """Estimates on the model scale, indexed by term."""
        return self.table.set_index("term")["estimate"]

    def term(self, name: str) -> pd.Series:
        """One row of :meth:`to_frame` by term name."""
        frame = self.to_frame().set_index("term")
        if name not in frame.index:
            from leadeval.errors import ModelError

            raise ModelError(f"{self.model}: no term '{name}'; terms are {list(frame.index)}")
        return frame.loc[name]

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: DESIGN.md section 4 columns, then ``model, outcome, e_value, e_value_limit``."""
        cached = self.__dict__.get("_frame")  # the result is frozen: built once (term() reads it)
        if cached is None:
            cached = self._build_frame()
            object.__setattr__(self, "_frame", cached)
        return cached.copy()

    def _build_frame(self) -> pd.DataFrame:
        from leadeval.models.sensitivity import e_value

        out = self.table.copy()
        out["n"] = self.n
        out["events"] = self.events if self.events is not None else pd.NA
        ev, evl = [], []
        for r in out.itertuples():
            if np.isfinite(r.ratio):
                e = e_value(
                    r.ratio,
                    r.ratio_low,
                    r.ratio_high,
                    kind=self.e_value_kind,
                    rare=self.outcome_rare,
                )
                ev.append(e.point)
                evl.append(e.limit)
            else:
                ev.append(np.nan)
                evl.append(np.nan)
        out = out[list(RESULT_COLUMNS)]
        out["model"] = self.model
        out["outcome"] = self.outcome
        out["e_value"] = ev
        out["e_value_limit"] = evl
        return out

    def summary(self) -> str:
        """Plain-text summary: the model, the variance, the table and any notes."""
        lines = [
            f"{self.model}: {self.outcome}  (n = {self.n}"
            + (f", events = {self.events}" if self.events is not None else "")
            + ")",
            f"standard errors: {self.variance}",
        ]
        cols = ["term", "estimate", "std_error", "conf_low", "conf_high", "p_value"]
        frame = self.to_frame()
        if self.ratio_name:
            cols += ["ratio", "ratio_low", "ratio_high", "e_value"]
        lines.append(frame[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        if self.ratio_name:
            lines.append(
                f"ratio = {self.ratio_name}; e_value for the point estimate (VanderWeele & Ding 2017)"
            )
        for key, value in self.details.items():
            if isinstance(value, pd.DataFrame):
                lines.append(f"{key}:\n{value.to_string(float_format=lambda v: f'{v:.4g}')}")
            elif np.isscalar(value):
                lines.append(
                    f"{key}: {value:.6g}" if isinstance(value, float) else f"{key}: {value}"
                )
        if self.fit_stats:
            lines.append(
                "fit: " + ", ".join(f"{k} = {v:.6g}" for k, v in self.fit_stats.items())
            )
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


@dataclass(frozen=True)
class CurveResult:
    """Survival (Kaplan-Meier) or cumulative-incidence (Aalen-Johansen) curves by group.

    ``curves`` holds one row per group and distinct time with ``estimate``, ``std_error``,
    ``conf_low``, ``conf_high``, ``n_risk`` (weighted), ``n_event`` (weighted) and ``at_risk``
    (persons); cumulative incidence adds ``state``.
    """

    kind: str  # "survival" or "cumulative_incidence"
    curves: pd.DataFrame
    group: str | None
    conf_level: float
    weighted: bool
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", _freeze(self.details))

    def at(self, times: list[float] | np.ndarray) -> pd.DataFrame:
        """Step-function values at the given times (right-continuous), per group (and state)."""
        times = np.asarray(times, dtype=float)
        keys = ["group"] + (["state"] if "state" in self.curves.columns else [])
        rows = []
        for key, g in self.curves.groupby(keys, sort=True):
            g = g.sort_values("time")
            idx = np.searchsorted(g["time"].to_numpy(), times, side="right") - 1
            start = 1.0 if self.kind == "survival" else 0.0
            for t, i in zip(times, idx, strict=True):
                row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
                row["time"] = t
                if i < 0:
                    row.update(estimate=start, std_error=0.0, conf_low=start, conf_high=start)
                else:
                    src = g.iloc[i]
                    row.update(
                        {c: src[c] for c in ("estimate", "std_error", "conf_low", "conf_high")}
                    )
                # persons still at risk at t: at risk at the first curve time >= t
                j = np.searchsorted(g["time"].to_numpy(), t, side="left")
                row["at_risk"] = int(g["at_risk"].iloc[j]) if j < len(g) else 0
                row["n_risk"] = float(g["n_risk"].iloc[j]) if j < len(g) else 0.0
                rows.append(row)
        return pd.DataFrame(rows)

    def to_frame(self) -> pd.DataFrame:
        """The full curves table."""
        return self.curves.copy()

    def summary(self) -> str:
        lines = [
            f"{self.kind} curves by {self.group or '(all)'}{' (weighted)' if self.weighted else ''}"
        ]
        for key, value in self.details.items():
            if isinstance(value, pd.DataFrame):
                lines.append(f"{key}:\n{value.to_string(float_format=lambda v: f'{v:.4g}')}")
        return "\n".join(lines)


@dataclass(frozen=True)
class TestResult:
    """A hypothesis test (log-rank, Rosenbaum bound...)."""

    name: str
    statistic: float
    df: int
    p_value: float
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", _freeze(self.details))

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "test": self.name,
                    "statistic": self.statistic,
                    "df": self.df,
                    "p_value": self.p_value,
                }
            ]
        )

    def summary(self) -> str:
        return f"{self.name}: chi-square = {self.statistic:.4g} on {self.df} df, p = {self.p_value:.4g}"
