# Every target bootstraps .venv by itself: a fresh clone needs nothing but python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# dagster-dbt finds dbt on PATH when `dagster dev` re-parses the project.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: demo demo-lake test test-quick dev sql bench lint clean postgresql

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@# pip's and setuptools' notes (index locations, editable installs) go to a log, shown only if an install fails.
	$(BIN)/pip install --quiet --upgrade pip 2> $(VENV)/install.log || { cat $(VENV)/install.log; exit 1; }
	$(BIN)/pip install --quiet -e '.[dev]' 2>> $(VENV)/install.log || { cat $(VENV)/install.log; exit 1; }
	touch $(STAMP)

# dbt's manifest, so that loading the definitions never has to parse the project.
MANIFEST := dbt_project/target/manifest.json
$(MANIFEST): $(STAMP) dbt_project/dbt_project.yml $(shell find dbt_project/models dbt_project/macros dbt_project/tests -type f)
	cd dbt_project && ../$(BIN)/dbt parse --profiles-dir . --quiet

# The instance settings (the duckdb concurrency pool), unless the instance already has its own.
$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

## demo: install, start the embedded SP-API emulator, materialize the last 3 complete UTC days, print a summary
demo: $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -m amazon_orders_pipeline.demo

## demo-lake: the same demo on the production profile (DuckLake on PostgreSQL + S3, a PostgreSQL Dagster instance),
## its services (Debian's PostgreSQL, moto's S3) started on loopback for the demo and gone after it
demo-lake: $(MANIFEST) postgresql
	$(BIN)/python -m amazon_orders_pipeline.demo --lake

# Debian's PostgreSQL server programs (initdb, pg_ctl), for the production profile's tests and demo: each starts a
# throwaway cluster of its own (amazon_orders_pipeline/local_services/postgres.py). Installed only where missing.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get install -y -qq postgresql >/dev/null 2>&1 || \
	    { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq postgresql >/dev/null; }; }

# Debian's Chromium for the UI test (Playwright drives it; it never downloads a browser of its own).
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get install -y -qq chromium >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

## test: install (Chromium and PostgreSQL from Debian too) and run the whole test suite
test: $(MANIFEST) $(CHROMIUM) postgresql
	CHROMIUM_PATH=$(CHROMIUM) $(BIN)/python -m pytest --durations=25

## test-quick: install and run the tests that are not end to end (not marked slow): the edit-test loop
test-quick: $(MANIFEST)
	$(BIN)/python -m pytest -m "not slow" --durations=10

## dev: install and start the Dagster UI on http://127.0.0.1:3000
dev: $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

## sql: install and open the DuckDB command line on the warehouse, read-only (DUCKDB_PATH, or the demo's file)
DUCKDB_PATH ?= data/amazon_orders.duckdb
sql: $(STAMP)
	$(BIN)/duckdb -readonly $(DUCKDB_PATH)

## bench: run the benchmarks (JSON on stdout)
bench: $(MANIFEST)
	$(BIN)/python -m benchmarks.extract
	$(BIN)/python -m benchmarks.extract --api v0
	$(BIN)/python -m benchmarks.transform --orders 1000000 --ducklake
	$(BIN)/python -m benchmarks.backfill --days 365 --orders-per-day 5000
	$(BIN)/python -m benchmarks.freshness
	$(BIN)/python -m benchmarks.finances

## lint: ruff over the package, the tests and the benchmarks (CI runs it before the tests)
lint: $(STAMP)
	$(BIN)/ruff check amazon_orders_pipeline amazon_orders_pipeline_tests benchmarks

clean:
	rm -rf $(VENV) data exports .dagster_home dbt_project/target dbt_project/logs
