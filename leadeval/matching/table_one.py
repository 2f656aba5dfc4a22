"""A matched "Table 1": weighted means (numeric) and percentages (0/1 and categorical levels) by
group, before and after matching, with the SMD after, ready for a report.

Example
-------
>>> import numpy as np, pandas as pd
>>> import leadeval.matching as lm
>>> rng = np.random.default_rng(0)
>>> df = pd.DataFrame({"person_id": range(300), "age": rng.normal(35, 9, 300),
...                    "sex": rng.choice(["F", "M"], 300)})
>>> df["treated"] = (rng.random(300) < 0.3).astype(int)
>>> t1 = lm.table_one(lm.match(df, {"covariates": ["age"], "categorical": ["sex"]}, warn=False))
>>> list(t1.columns)[:3]
['variable', 'level', 'statistic']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def _wmean(x: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(w * x) / np.sum(w)) if np.sum(w) > 0 else np.nan


def _wsd(x: np.ndarray, w: np.ndarray) -> float:
    if np.sum(w) <= 0:
        return np.nan
    v = w / w.sum()
    m = np.sum(v * x)
    denom = 1 - np.sum(v**2)
    return float(np.sqrt(np.sum(v * (x - m) ** 2) / denom)) if denom > 0 else np.nan


def table_one(matched: Any, digits: int = 1) -> pd.DataFrame:
    """Weighted Table 1 of a :class:`~leadeval.matching.MatchedSample`.

    Columns: ``variable, level, statistic`` ('mean (SD)' or '%'), then for each of
    ``treated_before, control_before, treated_after, control_after`` the formatted value, and
    ``smd_before, smd_after`` from the balance table (None for the N row). The first row gives the
    numbers of units (after: the weighted N and, in brackets, the effective N).
    """
    d = matched.all_units
    spec = matched.spec
    bal = matched.balance().to_frame().set_index("variable")
    t = d["treated"].to_numpy() == 1
    w_after = d["weights"].to_numpy(dtype=float)
    w_before = np.ones(len(d))
    groups = {
        "treated_before": (t, w_before),
        "control_before": (~t, w_before),
        "treated_after": (t, w_after),
        "control_after": (~t, w_after),
    }
    rows = []
    n_row = {"variable": "N", "level": "", "statistic": "n"}
    for k, (m, w) in groups.items():
        ww = w[m][w[m] > 0]
        ess = ww.sum() ** 2 / np.sum(ww**2) if len(ww) else 0.0
        n_row[k] = f"{len(ww)}" if k.endswith("before") else f"{len(ww)} [ESS {ess:.{digits}f}]"
    rows.append(n_row | {"smd_before": None, "smd_after": None})
    numeric = [c for c in dict.fromkeys([*spec.covariates, *spec.exact]) if c in bal.index]
    for c in numeric:
        x = d[c].to_numpy(dtype=float)
        binary = bool(np.all((x == 0) | (x == 1)))
        row = {"variable": c, "level": "", "statistic": "%" if binary else "mean (SD)"}
        for k, (m, w) in groups.items():
            if binary:
                row[k] = f"{100 * _wmean(x[m], w[m]):.{digits}f}"
            else:
                row[k] = f"{_wmean(x[m], w[m]):.{digits}f} ({_wsd(x[m], w[m]):.{digits}f})"
        rows.append(
            row | {"smd_before": bal.loc[c, "smd_before"], "smd_after": bal.loc[c, "smd_after"]}
        )
    cats = [c for c in dict.fromkeys([*spec.categorical, *spec.exact]) if c not in numeric]
    for c in cats:
        # each level's 0/1 column from the codes of the distinct values (a pool of millions:
        # one factorize, not a text copy and one text comparison per level); a level is the
        # value's text, as ``d[c].astype(str) == level``
        codes, uniques = pd.factorize(d[c], use_na_sentinel=False)
        texts = pd.Series(uniques).astype(str).to_numpy()
        for lvl in sorted(set(texts)):
            x = np.isin(codes, np.flatnonzero(texts == lvl)).astype(float)
            row = {"variable": c, "level": lvl, "statistic": "%"}
            for k, (m, w) in groups.items():
                row[k] = f"{100 * _wmean(x[m], w[m]):.{digits}f}"
            name = f"{c}[{lvl}]"
            rows.append(
                row
                | {
                    "smd_before": bal.loc[name, "smd_before"],
                    "smd_after": bal.loc[name, "smd_after"],
                }
            )
    return pd.DataFrame(rows)
