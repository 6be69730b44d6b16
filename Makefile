# TaskFlow: `make run` serves the API on SQLite; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1
PYTEST_ARGS ?=

.PHONY: help install dev run migrate test test-fast browser lint format typecheck openapi fuzz mutation bench clean

help:
	@echo "make run        install, migrate and serve on http://$(HOST):$(PORT) (SQLite by default)"
	@echo "make test       install dev tools and run the whole suite with coverage"
	@echo "make browser    install Debian's chromium for the browser tests, if it is missing"
	@echo "make lint       ruff check, ruff format --check, mypy --strict and the import layers"
	@echo "make format     ruff format and ruff check --fix"
	@echo "make openapi    write openapi.json from the code (commit it with API changes)"
	@echo "make fuzz       Schemathesis, every phase, against a live server on PostgreSQL"
	@echo "make mutation   mutmut over the services and policies, then the score"
	@echo "make bench      TaskFlow against the raw ceiling with wrk (PostgreSQL, Redis, wrk)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/taskflow migrate

run: migrate
	$(BIN)/taskflow serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

test: dev
	$(BIN)/pytest -n auto --cov --cov-report=term --durations=15 $(PYTEST_ARGS)

test-fast: dev
	$(BIN)/pytest -n auto -m "not slow and not e2e and not browser" $(PYTEST_ARGS)

# The browser tests (tests/browser) drive Debian's chromium through Playwright, whose own
# browser downloads are never used; without chromium they are skipped.
browser:
	@if [ -x /usr/bin/chromium ]; then \
		echo "chromium: /usr/bin/chromium"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else \
		echo "chromium is missing; install it with: sudo apt-get install -y chromium" >&2; \
		exit 1; \
	fi

lint: dev
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

typecheck: dev
	$(BIN)/mypy

openapi: dev
	$(BIN)/taskflow openapi --output openapi.json

FUZZ_EXAMPLES ?= 50
fuzz: dev
	$(BIN)/python scripts/schemathesis_run.py --max-examples $(FUZZ_EXAMPLES)

# mutmut 3 copies the tree to mutants/ and runs the tests against each mutant on SQLite.
MUTATION_CHILDREN ?= 2
mutation: dev
	TASKFLOW_TEST_DATABASE=sqlite $(BIN)/mutmut run --max-children $(MUTATION_CHILDREN)
	$(BIN)/python scripts/mutation_score.py

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $@ $(VENV)/.installed $(VENV)/.installed-dev

# Needs PostgreSQL, Redis and wrk (apt-get install wrk); see docs/performance.md.
BENCH_ARGS ?=
bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

format: dev
	$(BIN)/ruff format src tests scripts benchmarks
	$(BIN)/ruff check --fix src tests scripts benchmarks

clean:
	rm -rf $(VENV) mutants .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .coverage .coverage.* htmlcov
