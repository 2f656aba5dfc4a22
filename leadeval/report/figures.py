"""Figures as self-contained, deterministic SVG text for embedding in the HTML report.

matplotlib gives every renderer its own text-to-path converter, with its own cache of parsed
mathtext, and ``bbox_inches="tight"`` draws each figure with two renderers: every log-axis tick
label (``$\\mathdefault{10^{0}}$``) was parsed by pyparsing again for each draw of each figure.
The converter holds nothing but caches, so :func:`svg_text` gives the SVG renderers one shared
converter while it saves: the same paths and metrics (the same bytes), about 40 % less CPU for a
figure with a log axis.

Inside :func:`rendering_in_background` (the report's :func:`~leadeval.report.sections.build_document`)
each figure is saved in a forked child process while this one goes on building the report (on
Linux, where ``fork`` is safe for this; elsewhere, or with ``LEADEVAL_SERIAL_FIGURES=1``, in this
process as before). A child runs the very same :func:`svg_text` on its copy of the figure, so the
bytes are the same; :func:`svg_text` returns a placeholder that :meth:`_Background.resolve`
replaces. A child that fails, or that meets any warning, leaves the figure to be saved here, so
errors and warnings are this process's own. At most two children run at a time."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.backends.backend_svg import RendererSVG
from matplotlib.figure import Figure
from matplotlib.textpath import TextToPath

_SVG_HEAD = re.compile(r"^.*?(?=<svg)", re.S)
_TEXT_TO_PATH = TextToPath()  # shared by every SVG renderer of svg_text (see above)


@contextmanager
def _shared_text_to_path() -> Iterator[None]:
    init = RendererSVG.__init__

    def shared(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self._text2path = _TEXT_TO_PATH

    RendererSVG.__init__ = shared
    try:
        yield
    finally:
        RendererSVG.__init__ = init


def svg_text(fig: Figure, close: bool = True) -> str:
    """Render ``fig`` to SVG text: no timestamp, fixed element ids, no XML prologue.

    The same figure gives byte-identical SVG on every run (matplotlib's ``svg.hashsalt`` fixes
    the ids it would otherwise draw at random). Inside :func:`rendering_in_background` (and with
    ``close``) the text is a placeholder until the report is resolved (module docstring).
    """
    if close and _BACKGROUND is not None:
        return _BACKGROUND.submit(fig)
    return _render(fig, close)


def _render(fig: Figure, close: bool = True) -> str:
    buf = io.StringIO()
    with plt.rc_context({"svg.hashsalt": "leadeval", "svg.fonttype": "none"}), _shared_text_to_path():
        fig.savefig(
            buf, format="svg", metadata={"Date": None, "Creator": "leadeval"}, bbox_inches="tight"
        )
    if close:
        plt.close(fig)
    return _SVG_HEAD.sub("", buf.getvalue(), count=1)


class _Background:
    """Figures being saved by forked children: placeholder -> (pid, figure, file)."""

    slots = 2

    def __init__(self, folder: Path):
        self.folder = folder
        self.running: dict[str, tuple[int, Figure, Path]] = {}
        self.done: dict[str, str] = {}

    def submit(self, fig: Figure) -> str:
        while len(self.running) >= self.slots:
            self._reap(next(iter(self.running)))
        token = f"\x00leadeval-figure-{len(self.done) + len(self.running)}\x00"
        path = self.folder / f"{len(self.done) + len(self.running)}.svg"
        pid = os.fork()
        if pid == 0:  # the child: save, write the text, leave without any clean-up of the parent's
            code = 1
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    text = _render(fig, close=False)
                if not caught:
                    part = path.with_suffix(".part")
                    part.write_text(text)
                    part.rename(path)
                    code = 0
            finally:
                os._exit(code)
        self.running[token] = (pid, fig, path)
        return token

    def _reap(self, token: str) -> None:
        pid, fig, path = self.running.pop(token)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) == 0 and path.exists():
            self.done[token] = path.read_text()
            plt.close(fig)
        else:  # save it here: its errors and warnings are then this process's own
            self.done[token] = _render(fig)

    def finish(self) -> None:
        while self.running:
            self._reap(next(iter(self.running)))

    def resolve(self, doc: Any) -> Any:
        """``doc`` (a ReportDocument) with every placeholder replaced by its figure's SVG."""
        self.finish()

        def figure(f: Any) -> Any:
            return dataclasses.replace(f, svg=self.done[f.svg]) if f.svg in self.done else f

        sections = tuple(
            dataclasses.replace(s, figures=tuple(figure(f) for f in s.figures))
            for s in doc.sections
        )
        return dataclasses.replace(doc, sections=sections)


_BACKGROUND: _Background | None = None


def _can_fork() -> bool:
    return (
        sys.platform.startswith("linux")
        and hasattr(os, "fork")
        and os.environ.get("LEADEVAL_SERIAL_FIGURES", "") not in ("1", "true", "yes")
    )


@contextmanager
def rendering_in_background() -> Iterator[_Background | None]:
    """Save figures in child processes while the body runs; yields the pool (None when figures
    are saved in this process), whose ``resolve(doc)`` fills in the SVG text."""
    global _BACKGROUND
    if not _can_fork() or _BACKGROUND is not None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="leadeval-figures-") as folder:
        _BACKGROUND = pool = _Background(Path(folder))
        try:
            yield pool
        finally:
            _BACKGROUND = None
            pool.finish()
