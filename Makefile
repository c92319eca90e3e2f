# Tillit: `make demo` runs the pipeline and the broker on SQLite; `make test` runs every check.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/var/dagster
export TILLIT_DATABASE_URL ?= sqlite:///$(CURDIR)/var/tillit.db
export TILLIT_LEGACY_DIR ?= $(CURDIR)/var/legacy
# 100,000 people: enough children move in each month for city-wide indicator cells to
# clear the suppression threshold (at 10,000 nearly every cell is suppressed).
PEOPLE ?= 100000

.PHONY: install demo test lint typecheck ui clean dagster-home

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Dagster's own storage: PostgreSQL when TILLIT_DAGSTER_PG_URL is set, SQLite otherwise.
# Installed on every run, so setting or unsetting the variable takes effect at once.
DAGSTER_CONFIG = $(if $(TILLIT_DAGSTER_PG_URL),dagster-postgres.yaml,dagster.yaml)

dagster-home:
	mkdir -p $(DAGSTER_HOME)
	cp $(DAGSTER_CONFIG) $(DAGSTER_HOME)/dagster.yaml

demo: $(STAMP) dagster-home
	$(BIN)/tillit demo --people $(PEOPLE)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy contracts lineage broker tillit orchestration

test: lint typecheck
	$(BIN)/pytest

ui: $(STAMP) dagster-home
	$(BIN)/dagster dev -w workspace.yaml

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

# Benchmarks report ratios against baselines measured in the same run; they never fail.
.PHONY: bench bench-quick
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m benchmarks

bench-quick: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m benchmarks --quick
