# The two commands a user needs: `make bench` and `make test`. Both create .venv and
# install the project into it when it is missing or older than pyproject.toml.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.archbench-installed
SUITE  ?= suites/default.yaml
BASE   ?= ci

.PHONY: install bench lint test test-fast ci-suite compare screenshot clean-results

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch/torchvision are pinned in pyproject.toml to the pair pip finds on this machine's disk.
	$(BIN)/python -m pip install -q -e '.[dev,onnx,gpu,ray]'
	@touch $(STAMP)

install: $(STAMP)

bench: install
	$(BIN)/archbench run $(SUITE)

# ruff (lint rules and formatting, pyproject.toml) on every Python tree, mypy on the package; `make test` runs it first.
lint: install
	$(BIN)/ruff check bench tests benchmarks scripts
	$(BIN)/ruff format --check bench tests benchmarks scripts
	$(BIN)/mypy bench

test: install lint
	@bash scripts/ensure-browser.sh || true
	$(BIN)/python -m pytest -q

# The local loop: every test except those marked slow (full-size models, multi-cell runs
# through worker processes, training) or browser. CI (.ci/run → make test) still runs all.
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not browser"

ci-suite: install
	$(BIN)/archbench run suites/ci.yaml

# Run the CI suite and compare it with results/baselines/$(BASE) (exit 1 on a regression).
compare: install
	$(BIN)/archbench run suites/ci.yaml --no-report -q
	$(BIN)/archbench compare $(BASE) latest --html reports/compare.html

# Screenshot of reports/latest.html for the README (headless Debian chromium).
screenshot: install
	@bash scripts/ensure-browser.sh || true
	$(BIN)/python scripts/screenshot.py

clean-results:
	rm -rf results/2* reports/2* reports/index.html reports/latest.html
