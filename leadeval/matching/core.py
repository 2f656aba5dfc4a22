"""``match()``: distance -> method -> weights/subclass -> balance, and the MatchedSample it returns.

Example
-------
>>> import numpy as np, pandas as pd
>>> import leadeval.matching as lm
>>> rng = np.random.default_rng(0)
>>> n = 400
>>> df = pd.DataFrame({"person_id": [f"p{i:03d}" for i in range(n)], "age": rng.normal(35, 9, n),
...                    "arrests_pre_365d": rng.poisson(2, n)})
>>> lin = -2 + 0.05 * (df.age - 35) + 0.4 * df.arrests_pre_365d
>>> df["treated"] = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)
>>> m = lm.match(df, {"covariates": ["age", "arrests_pre_365d"], "caliper": 0.2},
...              warn=False)
>>> int(m.data.treated.sum()) + len(m.unmatched) == int(df.treated.sum())
True
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from leadeval.config import MatchingConfig, _format_validation_error
from leadeval.errors import ConfigError, MatchingError
from leadeval.matching._frame import KEY, MATCHED_WEIGHTS_ATTR, TREAT, persons_frame, prepare
from leadeval.matching._result import MethodResult
from leadeval.matching.balance import Balance, compute_balance
from leadeval.matching.exact import cem, exact
from leadeval.matching.nearest import caliper_width, nearest
from leadeval.matching.propensity import PropensityResult, fit_propensity
from leadeval.matching.weighting import iptw

Method = Callable[
    [pd.DataFrame, MatchingConfig, PropensityResult | None, np.ndarray | None, np.ndarray],
    MethodResult,
]

#: method name -> function(frame, spec, propensity, distance, discarded) -> MethodResult
METHODS: dict[str, Method] = {"nearest": nearest, "exact": exact, "cem": cem, "iptw": iptw}
#: methods that cannot run without a distance
_NEEDS_DISTANCE = {"nearest", "iptw"}


@dataclass(frozen=True)
class MatchedSample:
    """The result of :func:`match`.

    Attributes
    ----------
    data : the matched/weighted units (weight > 0), sorted by person_id, with added ``weights``,
        ``subclass`` (pair/stratum id, Int64, NA for IPTW and matching with replacement) and
        ``distance``
    all_units : every input unit with the same added columns (weight 0 if left out); when the
        input rows were in person_id order it shares their column arrays (read it, do not
        modify it in place)
    propensity : the fitted :class:`PropensityResult` (None if a distance column was given)
    unmatched : DataFrame ``person_id, reason`` of treated units left out
    pairs : DataFrame ``treated_id, control_id, round`` (nearest neighbour only, else None)
    spec : the :class:`~leadeval.config.MatchingConfig` used
    diagnostics : the :class:`Balance` before/after (also ``balance()``)
    caliper_width : the caliper on the distance scale, or None
    """

    data: pd.DataFrame
    all_units: pd.DataFrame
    propensity: PropensityResult | None
    unmatched: pd.DataFrame
    pairs: pd.DataFrame | None
    spec: MatchingConfig
    diagnostics: Balance
    caliper_width: float | None

    def balance(self) -> Balance:
        """Balance before and after matching (:class:`Balance`)."""
        return self.diagnostics

    def to_frame(self) -> pd.DataFrame:
        """The matched data (copy of ``data``)."""
        return self.data.copy()

    def summary(self) -> str:
        """Counts, unmatched reasons and balance, as text."""
        n1 = int((self.all_units[TREAT] == 1).sum())
        n0 = int((self.all_units[TREAT] == 0).sum())
        m1 = int((self.data[TREAT] == 1).sum())
        m0 = int((self.data[TREAT] == 0).sum())
        lines = [
            f"{self.spec.method} ({self.spec.estimand}): treated {m1}/{n1} kept, "
            f"controls {m0}/{n0} kept",
        ]
        if len(self.unmatched):
            counts = self.unmatched["reason"].value_counts().sort_index()
            lines.append("unmatched treated: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        lines.append(self.diagnostics.summary())
        return "\n".join(lines)


def _spec(spec: MatchingConfig | Mapping[str, Any] | None, overrides: dict) -> MatchingConfig:
    if spec is None:
        spec = {}
    if isinstance(spec, MatchingConfig):
        return spec.model_copy(update=overrides) if overrides else spec
    try:
        return MatchingConfig.model_validate({**dict(spec), **overrides})
    except ValidationError as err:
        raise ConfigError(
            [f"matching.{p}" for p in _format_validation_error(err)], "matching spec"
        ) from None


def _renames(frame: pd.DataFrame, id: str, treatment: str) -> dict[str, str]:  # noqa: A002
    """Column renames to the canonical ``person_id``/``treated`` (empty when already so)."""
    renames = {c: to for c, to in ((id, KEY), (treatment, TREAT)) if c != to}
    missing = [c for c in renames if c not in frame.columns]
    clash = [to for c, to in renames.items() if to in frame.columns]
    if missing or clash:
        raise MatchingError(
            "cannot match: "
            + "; ".join(
                [f"column {c!r} (given as id/treatment) not found" for c in missing]
                + [f"the frame also has a column {c!r}; drop or rename it" for c in clash]
            )
        )
    return renames


def check_overlap(distance: np.ndarray, treated: np.ndarray, name: str) -> None:
    """Raise when the treated and control distance ranges do not overlap at all."""
    if not np.isfinite(distance).all():
        raise MatchingError(f"the distance ({name}) has non-finite values; check that column")
    d1, d0 = distance[treated], distance[~treated]
    if d1.min() > d0.max() or d0.min() > d1.max():
        raise MatchingError(
            f"no overlap: the {name} of treated units ({d1.min():.4g}..{d1.max():.4g}) and "
            f"controls ({d0.min():.4g}..{d0.max():.4g}) do not overlap; the groups are not "
            "comparable on these covariates"
        )


def discard_units(distance: np.ndarray, treated: np.ndarray, option: str) -> np.ndarray:
    """Common-support discard as MatchIt's ``discard()`` (on the distance)."""
    if option == "none":
        return np.zeros(len(distance), dtype=bool)
    d1, d0 = distance[treated], distance[~treated]
    if option == "both":
        return (distance < max(d0.min(), d1.min())) | (distance > min(d0.max(), d1.max()))
    if option == "control":
        return (distance < d1.min()) | (distance > d1.max())
    return (distance < d0.min()) | (distance > d0.max())


def match(
    obj: Any,
    spec: MatchingConfig | Mapping[str, Any] | None = None,
    *,
    id: str = KEY,  # noqa: A002 - the column name, as users call it
    treatment: str = TREAT,
    warn: bool = True,
    **overrides: Any,
) -> MatchedSample:
    """Match or weight treated and control units.

    Parameters
    ----------
    obj : a DataFrame with an id column, a 0/1 treatment column and the covariates, or a Cohort
        (its ``.persons`` is used)
    spec : a :class:`~leadeval.config.MatchingConfig` (e.g. ``cfg.matching``) or a dict of its
        fields; keyword ``overrides`` replace fields
    id, treatment : the names of the id and 0/1 treatment columns (default ``person_id`` and
        ``treated``); ``data``, ``all_units`` and ``unmatched`` keep these names, ``pairs`` has
        ``treated_id, control_id``
    warn : issue a :class:`~leadeval.errors.BalanceWarning` when balance after is above threshold
        and a :class:`~leadeval.errors.SpecificationWarning` when a count enters linearly

    Returns
    -------
    MatchedSample

    Notes
    -----
    Results never depend on input row order: the frame is sorted by ``person_id`` first and every
    tie is broken by it. See docs/matching.md for the methods and conventions.
    """
    spec = _spec(spec, overrides)
    renames = _renames(persons_frame(obj), id, treatment)
    frame = prepare(persons_frame(obj).rename(columns=renames) if renames else obj, spec)
    treated = frame[TREAT].to_numpy() == 1
    propensity = None
    distance = None
    if spec.distance_column:
        distance = frame[spec.distance_column].to_numpy(dtype=float)
    elif spec.method in _NEEDS_DISTANCE:
        propensity = fit_propensity(frame, spec, warn)
    elif spec.covariates or spec.categorical:
        try:  # exact/CEM do not need a score; fit it for the diagnostics when possible
            propensity = fit_propensity(frame, spec, warn)
        except MatchingError:
            propensity = None
    if propensity is not None and distance is None:
        distance = propensity.linear_predictor if spec.distance == "logit" else propensity.score
    if distance is not None:
        check_overlap(distance, treated, spec.distance_column or "distance")
    if spec.discard != "none" and distance is None:
        raise MatchingError("discard needs a propensity score or distance_column")
    discarded = (
        discard_units(distance, treated, spec.discard)
        if distance is not None
        else np.zeros(len(frame), dtype=bool)
    )
    result = METHODS[spec.method](frame, spec, propensity, distance, discarded)
    if not (result.weights[treated] > 0).any() or not (result.weights[~treated] > 0).any():
        raise MatchingError(
            f"{spec.method}: no treated unit could be matched ("
            + ", ".join(f"{k} {v}" for k, v in pd.Series(result.reasons).value_counts().items())
            + "); widen the caliper, drop exact strata or use discard: none"
        )

    ids = frame[KEY].to_numpy()
    unmatched = pd.DataFrame(
        {KEY: ids[result.unmatched_rows], "reason": result.reasons.astype(str)}
    )
    pairs = None
    if result.pairs is not None:
        pairs = pd.DataFrame(
            {
                "treated_id": ids[result.pairs["treated_row"].to_numpy()],
                "control_id": ids[result.pairs["control_row"].to_numpy()],
                "round": result.pairs["round"].to_numpy(),
            }
        )
        if distance is not None:
            pairs["distance_diff"] = np.abs(
                distance[result.pairs["control_row"].to_numpy()]
                - distance[result.pairs["treated_row"].to_numpy()]
            )
    covs = [c for c in dict.fromkeys([*spec.covariates, *spec.exact]) if c not in spec.categorical]
    covs = [c for c in covs if pd.api.types.is_numeric_dtype(frame[c])]
    cats = [
        c
        for c in dict.fromkeys([*spec.categorical, *spec.exact])
        if not pd.api.types.is_numeric_dtype(frame[c])
    ]
    bal = compute_balance(
        frame, covs, result.weights, cats, distance, spec.estimand, spec.balance_threshold, warn,
        spec.balance.addl, spec.balance.interactions, spec.balance.squares,
    )
    width = caliper_width(distance, discarded, spec.caliper) if spec.method == "nearest" else None
    all_units = frame  # prepare() returned its own frame (shallow copy or take): add to it
    with warnings.catch_warnings():  # a Cohort's persons hold one block per column: not a fault
        warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
        all_units["weights"] = result.weights
        all_units["subclass"] = _int64(result.subclass, len(frame))
        all_units["distance"] = distance if distance is not None else np.nan
    # the matched rows as one consolidated copy (small), as the models receive them
    data = all_units[all_units["weights"].to_numpy() > 0].reset_index(drop=True).copy()
    if renames:
        back = {v: k for k, v in renames.items()}
        data, all_units, unmatched = (d.rename(columns=back) for d in (data, all_units, unmatched))
    for d in (data, all_units):  # the models use these weights by default (only these)
        d.attrs[MATCHED_WEIGHTS_ATTR] = "weights"
    return MatchedSample(data, all_units, propensity, unmatched, pairs, spec, bal, width)


def _int64(subclass: Any, n: int) -> pd.api.extensions.ExtensionArray:
    """A method's subclass ids as an Int64 array (all NA when it has none)."""
    if subclass is None:
        return pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
    return pd.array(subclass, dtype="Int64")
