"""Model formulas (formulaic) shared by the propensity score, balance and the outcome models.

A term is any formulaic expression over cohort columns: a column (``age_at_index``), a
transform (``log1p(arrests_pre_365d)``, ``{x ** 2}``), a natural cubic regression spline
(``cr(x, df=4)``; formulaic's ``cr`` has natural boundary conditions, i.e. linear beyond the
boundary knots, so it is the natural spline of R's ``splines::ns`` family up to the basis used;
``bs`` gives B-splines), a categorical with a chosen reference (``C(race, contr.treatment('white'))``)
and interactions (``log1p(arrests_pre_365d):age_at_index``).

**One naming scheme for dummies**: a level of a categorical is ``variable[level]`` everywhere
(propensity coefficients, balance rows, Table 1, outcome-model terms, report labels):
formulaic's ``C(race, contr.treatment('white'))[T.hispan]`` and ``race[T.hispan]`` both become
``race[hispan]``.

**Counts** (whole-number covariates from 0 with a right-skewed distribution: prior arrests,
bookings, jail days...) entered linearly leave bias when selection depends on their log (the
issue-13 simulation: 6-month arrest OR ~10% too high, Cox CI coverage 74%); enter them as
``log1p`` (config ``log1p:``) or splines. :func:`warn_linear_counts` says so.

>>> import pandas as pd
>>> df = pd.DataFrame({"n": [0, 1, 3, 8], "race": ["a", "b", "a", "c"]})
>>> X, names = design(df, ["log1p(n)", "C(race, contr.treatment('b'))"], intercept=True)
>>> names
['Intercept', 'log1p(n)', 'race[a]', 'race[c]']
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import formulaic
import numpy as np
import pandas as pd
from formulaic.errors import FormulaicError

from leadeval.errors import SpecificationWarning

#: functions available in formulas beyond formulaic's own (C, cr, bs, poly, log, exp, scale...)
CONTEXT = {"log1p": np.log1p, "sqrt": np.sqrt}

_ANSI = re.compile(r"\x1b\[[0-9;]*m|⧛|⧚")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class FormulaTermError(ValueError):
    """A term that formulaic cannot parse or evaluate (the caller adds where it came from)."""


def quote(column: str) -> str:
    """A column name as a formula variable (backticks unless it is an identifier)."""
    return column if _IDENT.match(column) else f"`{column}`"


def categorical(column: str, reference: str | None = None) -> str:
    """The term of a categorical column with ``reference`` as its reference level."""
    if reference is None:
        return f"C({quote(column)})"
    return f"C({quote(column)}, contr.treatment({str(reference)!r}))"


def clean_name(name: str) -> str:
    """formulaic's column name in the one scheme: ``C(race, ...)[T.hispan]`` -> ``race[hispan]``."""
    name = re.sub(r"C\(`?([^,`()]+)`?(?:,[^\[]*)?\)\[", r"\1[", name)
    name = name.replace("[T.", "[")
    return re.sub(r"`([^`]+)`", r"\1", name)


def check_terms(terms: Sequence[str]) -> list[str]:
    """Problems parsing ``terms`` (without data): one message per bad term."""
    problems = []
    for term in terms:
        try:
            formulaic.Formula(str(term))
        except (FormulaicError, SyntaxError, ValueError) as err:
            msg = _ANSI.sub("", str(err)).strip().splitlines()[0]
            problems.append(f"term {term!r} is not a valid formula term ({msg})")
    return problems


def design(
    frame: pd.DataFrame, terms: Sequence[str], intercept: bool
) -> tuple[np.ndarray, list[str]]:
    """The numeric design matrix of ``terms`` on ``frame`` and its column names (one scheme).

    Raises :class:`FormulaTermError` naming the term that failed.
    """
    rhs = " + ".join(f"({t})" if "+" in t else t for t in terms) if terms else "1"
    rhs = rhs if intercept else f"{rhs} - 1"
    try:
        mm = formulaic.model_matrix(
            rhs, frame, context=CONTEXT, output="numpy", na_action="raise"
        )
    except (FormulaicError, SyntaxError, ValueError, TypeError, NameError) as err:
        msg = _ANSI.sub("", str(err)).strip().splitlines()[0]
        bad = next((t for t in terms if str(t) in msg or f"`{t}`" in msg), None)
        if bad is None:
            bad = next((t for t in terms if check_terms([t])), None)
        if bad is None:  # evaluate term by term to find the culprit
            for t in terms:
                try:
                    formulaic.model_matrix(t, frame.head(50), context=CONTEXT, output="numpy")
                except Exception:  # noqa: BLE001 - any failure names the term
                    bad = t
                    break
        raise FormulaTermError(f"term {bad!r}: {msg}" if bad else msg) from None
    names = [clean_name(n) for n in mm.model_spec.column_names]
    return np.asarray(mm, dtype=float), names


def is_count(values: pd.Series) -> bool:
    """A count: whole numbers from 0 (at least one 0), more than two values, right-skewed (> 1).
    Ages and years, which are whole numbers too, do not start at 0."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    x = values.to_numpy(dtype=float)
    x = x[np.isfinite(x)]
    if len(x) < 3 or x.min() != 0:
        return False
    top = x.max()  # more than two values: one strictly between the min (0) and the max (no sort)
    if not ((x != 0) & (x != top)).any() or not np.all(x == np.round(x)):
        return False
    s = x.std()
    return bool(s > 0 and np.mean((x - x.mean()) ** 3) / s**3 > 1)


def warn_linear_counts(frame: pd.DataFrame, columns: Sequence[str], where: str) -> list[str]:
    """Warn (:class:`SpecificationWarning`) about count covariates entered linearly."""
    counts = [c for c in columns if c in frame.columns and is_count(frame[c])]
    if counts:
        warnings.warn(
            f"{where}: count covariate(s) {counts} enter linearly; when selection depends on "
            "their log (as referral does on prior history) a linear term leaves bias that balance "
            "on the raw covariates does not show. List them under log1p: (or splines:)",
            SpecificationWarning,
            stacklevel=3,
        )
    return counts
