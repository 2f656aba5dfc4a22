"""Sample treatment effects on the treated, computed from a truth table's potential outcomes.

For binary outcome Y in window w, among participants whose window is complete:

.. math:: \\mathrm{OR} = \\frac{\\bar Y(1) / (1 - \\bar Y(1))}{\\bar Y(0) / (1 - \\bar Y(0))},
   \\qquad \\mathrm{difference} = \\bar Y(1) - \\bar Y(0)

For counts, the rate ratio is :math:`\\sum Y(1) / \\sum Y(0)` over all participants (the same
exposure in both arms), and the difference per person-year is
:math:`(\\sum Y(1) - \\sum Y(0)) / (\\sum \\mathrm{days} / 365)`.

Example
-------
>>> from leadeval.synth import generate_site, truth_summary
>>> site = generate_site("seattle", n_participants=50, n_pool=100, seed=1)
>>> tab = truth_summary(site.truth)
>>> list(tab.columns)[:4]
['outcome', 'window', 'kind', 'n']
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

BINARY = ("arrest", "felony_charge", "prison")
_COL = re.compile(r"^(?P<outcome>[a-z_]+?)_post_(?P<window>\d+d|all)_y0$")


def truth_summary(truth: pd.DataFrame) -> pd.DataFrame:
    """One row per outcome and window: ``outcome, window, kind, n, mean_y0, mean_y1,
    difference, odds_ratio, rate_ratio, difference_per_year``."""
    rows = []
    for col in truth.columns:
        m = _COL.match(col)
        if not m or col.startswith("p_"):
            continue
        outcome, window = m["outcome"], m["window"]
        y0 = truth[col].astype(float)
        y1 = truth[f"{outcome}_post_{window}_y1"].astype(float)
        if outcome in BINARY:
            ok = y0.notna() & y1.notna()
            m0, m1 = y0[ok].mean(), y1[ok].mean()
            with np.errstate(divide="ignore", invalid="ignore"):
                odds_ratio = (m1 / (1 - m1)) / (m0 / (1 - m0))
            rows.append(
                dict(outcome=outcome, window=window, kind="binary", n=int(ok.sum()), mean_y0=m0,
                     mean_y1=m1, difference=m1 - m0, odds_ratio=odds_ratio, rate_ratio=np.nan,
                     difference_per_year=np.nan)
            )
        else:
            days = truth[f"days_post_{window}"].astype(float)
            s0, s1 = y0.sum(), y1.sum()
            rows.append(
                dict(outcome=outcome, window=window, kind="count", n=len(truth), mean_y0=y0.mean(),
                     mean_y1=y1.mean(), difference=y1.mean() - y0.mean(), odds_ratio=np.nan,
                     rate_ratio=s1 / s0 if s0 > 0 else np.nan,
                     difference_per_year=(s1 - s0) / (days.sum() / 365.0))
            )
    return pd.DataFrame(rows)
