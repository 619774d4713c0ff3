# The two commands a newcomer needs: `make demo` and `make test`. Both set up everything they
# need on a fresh Debian or Ubuntu machine (a virtualenv, and the Debian packages when run as root).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
REPORT_DIR ?= reports/demo
# Parallel workers for the project's tests; each test that needs a sandbox starts its own.
TEST_WORKERS ?= 3

.PHONY: demo test lint venv system-deps clean

$(BIN)/lsconform: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(BIN)/lsconform

system-deps:
	bash scripts/install-system-deps.sh

demo: venv system-deps
	$(BIN)/pytest --sandbox --report-dir=$(REPORT_DIR) -q
	@echo "Reports: $(REPORT_DIR)/report.json, report.html, report.md"

lint: venv
	$(BIN)/ruff check lsconform checks tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: venv system-deps lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup -q -rs

clean:
	rm -rf $(VENV) build *.egg-info reports/demo
