"""The tutorial notebooks in notebooks/ run from top to bottom without error, on the shipped
synthetic samples, with the project's own Python (the kernel must be this interpreter, not
whatever ``python`` is first on PATH), and are stored without outputs so they stay clean in git.

Reference: the notebooks call only the public API; the numbers they show are checked elsewhere
(R references and planted-truth tests). Notebook 03 itself prints the comparison of its
estimates with the generator's truth table.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = [
    "01_quickstart.ipynb",
    "02_matching_and_balance.ipynb",
    "03_survival_and_odds.ipynb",
    "04_costs_for_funders.ipynb",
    "05_effects_lalonde.ipynb",
]
CHECK_PREFIX = "import sys; print(sys.prefix)"
#: Notebook 04's run and its headline check share one xdist worker (``--dist loadgroup``), so the
#: notebook is executed once (see ``execute``), with the Seattle report they compare it with.
NB04 = pytest.mark.xdist_group("reports")
RUNS = [pytest.param(n, marks=NB04) if n.startswith("04_") else n for n in NAMES]


@pytest.fixture(scope="module")
def kernel_path(tmp_path_factory):
    """A ``python3`` kernelspec whose argv is this interpreter, first on JUPYTER_PATH, so the
    notebooks run in the project's .venv even if a user or system kernelspec named python3
    points elsewhere."""
    from ipykernel.kernelspec import install

    prefix = tmp_path_factory.mktemp("jupyter")
    install(kernel_name="python3", prefix=str(prefix))
    data_dir = prefix / "share" / "jupyter"
    spec = json.loads((data_dir / "kernels" / "python3" / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(data_dir))
        yield data_dir


def test_all_notebooks_present():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_notebook_stored_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{name} has no code cells"
    dirty = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)
    ]
    assert not dirty, f"{name}: cells {dirty} have outputs; clear them before committing"
    assert nb.metadata["kernelspec"]["name"] == "python3"


_EXECUTED: dict[str, nbformat.NotebookNode] = {}


def execute(name: str) -> nbformat.NotebookNode:
    """Run a notebook once per test session (the headline test reuses the run)."""
    if name in _EXECUTED:
        return _EXECUTED[name]
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    # First cell (in memory only): report the kernel's interpreter, to check it is ours.
    nb.cells.insert(0, nbformat.v4.new_code_cell(CHECK_PREFIX))
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=300,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    _EXECUTED[name] = nb
    return nb


@pytest.mark.parametrize("name", RUNS)
def test_notebook_runs(name, kernel_path):
    nb = execute(name)
    kernel_prefix = "".join(o.get("text", "") for o in nb.cells[0].outputs).strip()
    assert kernel_prefix == sys.prefix, (
        f"notebook ran in {kernel_prefix}, not in the test's environment {sys.prefix}"
    )
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors


@NB04
def test_notebook_04_headline_equals_the_report(kernel_path, shipped_reports):
    """Reference: the report's own key findings for configs/seattle.yaml (the evaluation behind
    ``write_report``, tests/conftest.py's ``shipped_reports``, and its key-findings box). The funders' notebook must print the same net benefit, interval,
    benefit-cost ratio and chance, in the same constant dollars (it once mixed nominal ledger
    dollars with 2022 savings and showed 93% where the report said 66%)."""
    from leadeval.report.findings import key_findings

    nb = execute("04_costs_for_funders.ipynb")
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    printed = {}
    for line in text.splitlines():
        if line.startswith("HEADLINE "):
            k, v = line.removeprefix("HEADLINE ").split(" = ")
            printed[k] = float(v)
    assert set(printed) >= {"net_benefit", "bcr", "prob_benefits_exceed_costs", "dollar_year"}
    ev = shipped_reports["seattle"].evaluation
    found = {f.key: f for f in key_findings(ev)}
    assert printed["dollar_year"] == ev.config.costs.dollar_year
    assert printed["net_benefit"] == pytest.approx(found["net_benefit"].estimate, abs=0.01)
    assert printed["net_benefit_low"] == pytest.approx(found["net_benefit"].conf_low, abs=0.01)
    assert printed["net_benefit_high"] == pytest.approx(found["net_benefit"].conf_high, abs=0.01)
    assert printed["bcr"] == pytest.approx(found["bcr"].estimate, abs=1e-4)
    assert printed["prob_benefits_exceed_costs"] == pytest.approx(
        found["prob_benefits_exceed_costs"].estimate, abs=1e-4
    )
    assert printed["gross_savings_pv"] == pytest.approx(found["gross_savings"].estimate, abs=0.01)
    assert printed["program_cost_pv"] == pytest.approx(found["program_cost"].estimate, abs=0.01)


def _renderer():
    import importlib.util

    path = NOTEBOOKS.parent / "tools" / "render_notebooks.py"
    spec = importlib.util.spec_from_file_location("render_notebooks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", NAMES)
def test_rendered_notebook_in_docs_is_in_step_with_its_source(name):
    """docs/notebooks/<name>.html (from `make notebooks-docs`) was rendered from the notebook as
    it is now (its recorded source hash matches) and shows executed output with plots."""
    render = _renderer()
    page = NOTEBOOKS.parent / "docs" / "notebooks" / f"{Path(name).stem}.html"
    assert page.is_file(), f"{page} missing: run `make notebooks-docs`"
    html = page.read_text()
    recorded = re.search(rf'<meta name="{render.META}" content="([0-9a-f]{{64}})">', html)
    assert recorded, f"{page} has no source hash: re-render with `make notebooks-docs`"
    assert recorded.group(1) == render.source_hash(NOTEBOOKS / name), (
        f"{page} is stale: the notebook changed; run `make notebooks-docs`"
    )
    assert "data:image/png;base64," in html  # the plots are there
