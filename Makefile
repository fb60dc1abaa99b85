# Two commands: `make run` (viewer on sample_data/ at 127.0.0.1) and `make test` (every check).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA ?= sample_data
PORT ?= 8501

.PHONY: run test setup lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT) -- --data $(DATA)

lint: $(STAMP)
	$(BIN)/ruff check imaging_triage tests benchmarks scripts app.py
	$(BIN)/ruff format --check imaging_triage tests benchmarks scripts app.py

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/convert.py
	$(BIN)/python benchmarks/preprocess.py
	$(BIN)/python benchmarks/viewer.py
	$(BIN)/python benchmarks/viewer_browser.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
