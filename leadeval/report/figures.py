"""Figures as self-contained, deterministic SVG text for embedding in the HTML report."""

from __future__ import annotations

import io
import re

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

_SVG_HEAD = re.compile(r"^.*?(?=<svg)", re.S)


def svg_text(fig: Figure, close: bool = True) -> str:
    """Render ``fig`` to SVG text: no timestamp, fixed element ids, no XML prologue.

    The same figure gives byte-identical SVG on every run (matplotlib's ``svg.hashsalt`` fixes
    the ids it would otherwise draw at random).
    """
    buf = io.StringIO()
    with plt.rc_context({"svg.hashsalt": "leadeval", "svg.fonttype": "none"}):
        fig.savefig(
            buf, format="svg", metadata={"Date": None, "Creator": "leadeval"}, bbox_inches="tight"
        )
    if close:
        plt.close(fig)
    return _SVG_HEAD.sub("", buf.getvalue(), count=1)
