"""What every matching/weighting method returns to :func:`leadeval.matching.match`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

UNMATCHED_REASONS = (
    "caliper",
    "no_control_in_stratum",
    "discarded_common_support",
    "controls_exhausted",
)


@dataclass(frozen=True)
class MethodResult:
    """Per-unit output of one method, aligned with the prepared frame (sorted by person_id).

    weights : float array, 0 for units left out
    subclass : int ids (an object array with None, or an Int64 array with NA) or None (no
        subclass: IPTW, matching with replacement)
    pairs : DataFrame ``treated_row, control_row, round`` (row positions) or None
    unmatched_rows : positions of treated units left unmatched, with ``reasons``
    """

    weights: np.ndarray
    subclass: np.ndarray | pd.api.extensions.ExtensionArray | None
    pairs: pd.DataFrame | None
    unmatched_rows: np.ndarray
    reasons: np.ndarray
