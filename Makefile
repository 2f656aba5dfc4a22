# leadeval: the README's two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint clean notebooks-docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# bytecode for the editable package too (pip compiles only what it copies): every process
	# would otherwise compile leadeval from source (0.4 CPU s) where PYTHONDONTWRITEBYTECODE is set
	$(BIN)/python -m compileall -q leadeval
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/leadeval report configs/seattle.yaml --out reports/seattle
	@echo "Open reports/seattle/report.html (tables in reports/seattle/tables, manifest.json beside it)."

test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist loadgroup

# Executed notebooks with their plots, as HTML pages in docs/notebooks/ (a test keeps them in step)
notebooks-docs: $(STAMP)
	$(BIN)/python tools/render_notebooks.py

lint: $(STAMP)
	$(BIN)/ruff check leadeval tests benchmarks tools

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
