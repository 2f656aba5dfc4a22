"""Speed paths of the report that must not change a result: figures saved in forked children
(:func:`leadeval.report.figures.rendering_in_background`) and the Gram-matrix rank screen of
:func:`leadeval.models._data.check_rank`.

References: the serial path itself (the same figure saved in this process gives the same bytes)
and ``numpy.linalg.matrix_rank`` (the screen may only say "full rank" where it does)."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest

from leadeval.errors import ModelError
from leadeval.models._data import _surely_full_rank, check_rank
from leadeval.report import figures
from leadeval.report.document import ReportDocument, ReportFigure, ReportSection


def _log_figure(seed: int):
    rng = np.random.default_rng(seed)
    fig, ax = plt.subplots(figsize=(5.0, 3.0))
    ax.errorbar(np.exp(rng.normal(size=6)), range(6), xerr=0.1, fmt="o")
    ax.set_xscale("log")
    ax.set_title(f"figure {seed}: $\\alpha$")
    return fig


def _warning_figure():
    fig, ax = plt.subplots()
    ax.plot([1, 2], [1, 2], label="a")

    def draw_with_warning(renderer, _draw=fig.draw):
        warnings.warn("drawn with a warning", UserWarning, stacklevel=1)
        return _draw(renderer)

    fig.draw = draw_with_warning
    return fig


@pytest.mark.skipif(not figures._can_fork(), reason="figures are saved in children only on Linux")
def test_children_give_the_serial_bytes_and_warnings_stay_here():
    serial = [figures.svg_text(_log_figure(s)) for s in range(3)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        serial_warned = figures.svg_text(_warning_figure())
    assert any("drawn with a warning" in str(w.message) for w in caught)

    with figures.rendering_in_background() as bg:
        assert bg is not None
        tokens = [figures.svg_text(_log_figure(s)) for s in range(3)]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warned = figures.svg_text(_warning_figure())
            doc = ReportDocument(
                "t", "s",
                (ReportSection("a", "A", figures=tuple(ReportFigure(str(i), t) for i, t in
                                                       enumerate([*tokens, warned]))),),
            )
            doc = bg.resolve(doc)
        # the child met the warning, so the figure was saved here and the warning is ours
        assert any("drawn with a warning" in str(w.message) for w in caught)
        assert all(t.startswith("\x00leadeval-figure-") for t in tokens)
    got = [f.svg for f in doc.sections[0].figures]
    assert got == [*serial, serial_warned]
    assert all(s.startswith("<svg") for s in got)
    assert figures._BACKGROUND is None
    assert plt.get_fignums() == []  # every figure closed


def test_serial_when_asked(monkeypatch):
    monkeypatch.setenv("LEADEVAL_SERIAL_FIGURES", "1")
    with figures.rendering_in_background() as bg:
        assert bg is None
        assert figures.svg_text(_log_figure(0)).startswith("<svg")


def test_rank_screen_agrees_with_matrix_rank():
    rng = np.random.default_rng(3)
    n = 3_000
    m = rng.integers(-6, 7, n)
    g = rng.integers(0, 2, n).astype(float)
    D = np.column_stack([(m == lv).astype(float) for lv in range(-6, 7) if lv != -1])
    X = np.column_stack([np.ones(n), D, g, D * g[:, None]])
    assert np.linalg.matrix_rank(X) == X.shape[1] and _surely_full_rank(X)
    check_rank(X, [f"x{j}" for j in range(X.shape[1])], "t")  # no error
    collinear = np.column_stack([X, X[:, 1] + X[:, 2]])
    near = np.column_stack([X, X[:, 1] + 1e-9 * rng.normal(size=n)])
    nan = X.copy()
    nan[5, 3] = np.nan
    for M in (collinear, near, nan, np.zeros((10, 2))):
        assert not _surely_full_rank(M)  # left to the SVD
    assert np.linalg.matrix_rank(near) == near.shape[1]  # full rank, found by the SVD
    with pytest.raises(ModelError, match="collinear"):
        check_rank(collinear, [f"x{j}" for j in range(collinear.shape[1])], "t")
