"""Evaluation.estimates() / headline(): computed once per (frozen) Evaluation, handed out as
copies, and the headline term per analysis as the docstring of ``headline`` defines it.

Reference: the terms below are chosen by hand from the rule (dose-response: the first contacts
term; monthly trajectory: the latest month; otherwise the first effect term)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadeval.evaluation import Evaluation
from leadeval.models.results import ModelResult, coef_table


def _result(model: str, terms: list[str], details: dict | None = None) -> ModelResult:
    k = len(terms)
    est = np.linspace(-0.5, 0.5, k)
    return ModelResult(
        model=model,
        outcome="y",
        table=coef_table(terms, est, np.full(k, 0.1)),
        vcov=pd.DataFrame(np.eye(k) * 0.01, index=terms, columns=terms),
        n=100,
        events=10,
        ratio_name="odds ratio",
        variance="model-based",
        details=details or {},
    )


def _evaluation() -> Evaluation:
    results = {
        "logistic:y": _result("logistic", ["(Intercept)", "treated", "age"]),
        "panel:y": _result("panel_gee", ["(Intercept)", "month=2", "month=10", "month=3"]),
        "within_person_dose": _result("wp", ["post", "cumulative_contacts"]),
        "savings": {"not": "a model"},
    }
    return Evaluation(
        config=None, seed=1, extracts=None, cohort=None, matched=None,  # type: ignore[arg-type]
        results=results, skipped=pd.DataFrame(columns=["analysis", "reason"]),
    )


def test_headline_terms_follow_the_rule():
    head = _evaluation().headline()
    assert list(zip(head["analysis"], head["term"], strict=True)) == [
        ("logistic:y", "treated"),
        ("panel:y", "month=10"),
        ("within_person_dose", "cumulative_contacts"),
    ]
    assert list(head.columns) == [
        "analysis", "term", "ratio", "ratio_low", "ratio_high", "p_value", "n", "events",
    ]


def test_estimates_are_computed_once_and_copied(monkeypatch):
    ev = _evaluation()
    calls = []
    real = ModelResult.to_frame
    monkeypatch.setattr(ModelResult, "to_frame", lambda self: calls.append(1) or real(self))
    est = ev.estimates()
    assert len(calls) == 3  # one per model result
    est.loc[:, "ratio"] = -1.0  # a caller's change does not reach the next caller
    ev.headline()
    ev.headline()["ratio"] = 0.0
    again = ev.estimates()
    assert len(calls) == 3
    assert (again["ratio"] != -1.0).all()
    assert (ev.headline()["ratio"] > 0).all()
    assert list(again["term"]) == ["treated", "month=2", "month=10", "month=3", "post",
                                   "cumulative_contacts"]
