"""Execute the tutorial notebooks and render them, with their plots, to docs/notebooks/*.html.

Run with ``make notebooks-docs``. Each page records the SHA-256 of its source notebook's cells
(``<meta name="leadeval-source-sha256">``); tests/test_notebooks.py checks that every page was
rendered from the notebook as it is now, so the rendered copies cannot drift from the sources.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "notebooks"
OUT = ROOT / "docs" / "notebooks"
META = "leadeval-source-sha256"


def source_hash(path: Path) -> str:
    """SHA-256 of a notebook's cells (type and source), ignoring outputs and metadata."""
    nb = json.loads(path.read_text())
    cells = [[c["cell_type"], "".join(c["source"])] for c in nb["cells"]]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def render(path: Path) -> Path:
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(SOURCES)}}
    ).execute()
    html, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
    tag = f'<meta name="{META}" content="{source_hash(path)}">'
    html = html.replace("<head>", f"<head>\n{tag}", 1)
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / f"{path.stem}.html"
    target.write_text(html)
    return target


def main() -> int:
    for path in sorted(SOURCES.glob("*.ipynb")):
        print(f"rendered {render(path).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
