# opeval — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DB     ?= data/opeval.duckdb
PORT   ?= 5006
SCALE  ?= small
LAB_PORT ?= 8888
# the suite on two workers (pytest-xdist); tests sharing a costly fixture stay on one (tests/conftest.py)
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,spark-connect]'
	$(BIN)/python -m ipykernel install --sys-prefix --name opeval --display-name 'Python (opeval)' >/dev/null
	touch $@

install: $(VENV)/.installed ## create .venv, install opeval with its test and notebook tools, register its Jupyter kernel

browser: ## install Debian's Chromium for the browser tests (Playwright cannot download one here)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; }

pdf: ## install Debian's Pango and DejaVu fonts for the PDF reports (WeasyPrint) if they are missing
	@{ ldconfig -p | grep -q libpangoft2-1.0.so.0 && fc-list 2>/dev/null | grep -qi dejavu; } || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core fontconfig >/dev/null; }

java: ## install a Java 17 runtime for the Spark engine and its tests if none is found
	@command -v java >/dev/null 2>&1 || [ -x "$${JAVA_HOME:-/nonexistent}/bin/java" ] || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO mkdir -p /usr/share/man/man1 && $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }

$(DB): | $(VENV)/.installed
	$(BIN)/opeval --db $(DB) demo --scale $(SCALE) --via-messages
	$(BIN)/opeval --db $(DB) alerts run    # what / says needs attention (as a load would)

demo: $(DB) ## build the demo database (SCALE=small|medium|large) if it is missing

serve: install pdf $(DB) ## set up, build the demo database if missing, serve the dashboards on http://localhost:5006
	$(BIN)/opeval --db $(DB) serve --port $(PORT)

test: install browser java pdf lint ## set up, lint, run every test
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

bench: install browser java pdf ## run the benchmarks and print figures against their references
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: install ## static checks
	$(BIN)/ruff check src tests bench dashboards notebooks

notebooks: install ## build notebooks/*.ipynb from their .py sources, executed on a small demo database
	$(BIN)/python notebooks/build.py $(NOTEBOOKS)

lab: install ## JupyterLab on http://127.0.0.1:8888 (LAB_PORT) with the project's kernel, in notebooks/
	$(BIN)/jupyter trust notebooks/*.ipynb >/dev/null
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) --ServerApp.root_dir=notebooks \
	  $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

clean: ## remove the virtual environment and generated data
	rm -rf $(VENV) data/demo $(DB) $(DB).wal

.PHONY: help install browser java pdf demo serve test bench lint notebooks lab clean
