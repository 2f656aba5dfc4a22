"""``svg_text`` skips two of savefig's passes (a text-to-path converter per renderer, the layout
draw with drawing disabled): the SVG must be the bytes matplotlib's own
``savefig(bbox_inches="tight")`` writes with the same settings. Reference: that plain savefig,
on the kinds of figure the report draws (log ratio axis with mathtext ticks, legend placed
"best", titles, a table-like text column, a step curve with fills, twin axes) and on one with a
layout engine (where the layout draw is kept)."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest

from leadeval._style import ratio_axis
from leadeval.report.figures import _SVG_HEAD, svg_text


def plain_svg(fig) -> str:
    buf = io.StringIO()
    with plt.rc_context({"svg.hashsalt": "leadeval", "svg.fonttype": "none"}):
        fig.savefig(
            buf, format="svg", metadata={"Date": None, "Creator": "leadeval"}, bbox_inches="tight"
        )
    return _SVG_HEAD.sub("", buf.getvalue(), count=1)


def forest(layout: str | None = None):
    fig, ax = plt.subplots(figsize=(7.0, 3.2), layout=layout)
    est = np.array([0.41, 0.8, 1.3, 2.2])
    y = np.arange(len(est))
    ax.errorbar(est, y, xerr=[est * 0.3, est * 0.5], fmt="o", label="odds ratio")
    ax.set_xscale("log")
    ax.axvline(1.0, color="grey", lw=0.8)
    ax.set_yticks(y, [f"subgroup {i}, a long label {i}" for i in y])
    ax.set_title("Effects by subgroup: arrest within 6 months")
    ax.legend(loc="best")
    ax.text(1.02, 0.5, "p = 0.029", transform=ax.transAxes)
    return fig


def curves():
    fig, ax = plt.subplots(figsize=(7.0, 4.0))
    t = np.arange(0, 366, 7)
    for i, rate in enumerate((0.002, 0.003)):
        s = np.exp(-rate * t)
        ax.step(t, s, where="post", label=f"arm {i}")
        ax.fill_between(t, s * 0.95, np.minimum(s * 1.05, 1), step="post", alpha=0.2)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Days since index date")
    ax2 = ax.twinx()
    ax2.bar(t[:10], np.arange(10), width=5, alpha=0.3)
    ax.legend(loc="best")
    fig.suptitle("Kaplan-Meier")
    return fig


def forest_ratio():
    fig = forest()
    ratio_axis(fig.axes[0])
    return fig


@pytest.mark.parametrize("make", [forest, forest_ratio, curves])
def test_svg_text_is_plain_savefig(make):
    """Each figure drawn twice from the same code: once saved plainly, once by svg_text."""
    fig = make()
    want = plain_svg(fig)
    plt.close(fig)
    assert svg_text(make()) == want


def test_svg_text_keeps_layout_draw_for_a_layout_engine():
    """A constrained-layout figure is laid out in savefig's first draw: not skipped."""
    fig = forest(layout="constrained")
    want = plain_svg(fig)
    again = forest(layout="constrained")
    assert svg_text(again) == want
    plt.close(fig)
    # and the layout did something: the unconstrained figure is different
    assert svg_text(forest()) != want
