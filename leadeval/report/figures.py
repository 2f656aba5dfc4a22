"""Figures as self-contained, deterministic SVG text for embedding in the HTML report.

``savefig(bbox_inches="tight")`` draws a figure twice: once with drawing disabled, to lay it
out, then for real; between the two it measures the tight box (``Figure.get_tightbbox``, which
lays out every axis, tick and text it measures by itself). Two things it does there are
wasted on our figures, and :func:`svg_text` skips them while it saves:

* every renderer gets its own text-to-path converter, with its own cache of parsed mathtext:
  every log-axis tick label (``$\\mathdefault{10^{0}}$``) was parsed by pyparsing again for each
  draw of each figure. The converter holds nothing but caches, so the SVG renderers share one
  (about 40 % less CPU for a figure with a log axis);
* the layout draw only matters to a figure with a layout engine (constrained or tight layout,
  which runs there): without one, the tight box and the real draw lay the figure out again
  themselves, so :func:`svg_text` skips it for such a figure (the report's, unless a
  matplotlibrc sets ``figure.autolayout`` or ``figure.constrained_layout.use``). That is about
  a quarter of a report's figure CPU (0.9-1.0 s of 19 figures).

Both give the same paths and metrics: the same bytes (the report's SVGs on the three shipped
samples and the county site are byte-identical with and without these shortcuts).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib.pyplot as plt
from matplotlib.backends.backend_svg import RendererSVG
from matplotlib.figure import Figure
from matplotlib.textpath import TextToPath

_SVG_HEAD = re.compile(r"^.*?(?=<svg)", re.S)
_TEXT_TO_PATH = TextToPath()  # shared by every SVG renderer of svg_text (see above)


@contextmanager
def _no_layout_draw(fig: Figure) -> Iterator[None]:
    """While active, ``fig.draw`` does nothing: savefig's draw with drawing disabled."""
    fig.draw = lambda renderer: None  # an instance attribute, shadowing Figure.draw
    try:
        yield
    finally:
        del fig.draw


@contextmanager
def _svg_shortcuts(fig: Figure) -> Iterator[None]:
    init = RendererSVG.__init__
    skip_layout = fig.get_layout_engine() is None

    def shared(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self._text2path = _TEXT_TO_PATH
        if skip_layout:  # savefig lays out by drawing inside renderer._draw_disabled()
            self._draw_disabled = lambda: _no_layout_draw(fig)

    RendererSVG.__init__ = shared
    try:
        yield
    finally:
        RendererSVG.__init__ = init


def svg_text(fig: Figure, close: bool = True) -> str:
    """Render ``fig`` to SVG text: no timestamp, fixed element ids, no XML prologue.

    The same figure gives byte-identical SVG on every run (matplotlib's ``svg.hashsalt`` fixes
    the ids it would otherwise draw at random).
    """
    buf = io.StringIO()
    with plt.rc_context({"svg.hashsalt": "leadeval", "svg.fonttype": "none"}), _svg_shortcuts(fig):
        fig.savefig(
            buf, format="svg", metadata={"Date": None, "Creator": "leadeval"}, bbox_inches="tight"
        )
    if close:
        plt.close(fig)
    return _SVG_HEAD.sub("", buf.getvalue(), count=1)
