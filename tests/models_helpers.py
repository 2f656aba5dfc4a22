"""Shared fixtures for the leadeval.models tests: the committed R reference values and data.

R script: tests/reference/models/models_reference.R (R 4.2.2, survival 3.5.3, geepack 1.3.9,
MASS 7.3-58.2, sandwich 3.0.2, brglm2 0.9); data: tests/reference/models/make_data.py.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pandas as pd

REF_DIR = Path(__file__).parent / "reference" / "models"


@cache
def reference() -> dict:
    return json.loads((REF_DIR / "models_reference.json").read_text())


def data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF_DIR / f"{name}.csv")


class Matched:
    """Stands in for a MatchedSample: the models only use ``.data``."""

    def __init__(self, frame: pd.DataFrame):
        self.data = frame
