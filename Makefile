# Two commands do all the set-up on a fresh machine (Python 3.11 and make):
#   make run    creates .venv if missing, installs the pinned dependencies, runs the main job
#   make test   the same set-up, then the test suite
# Everything else is optional: make lab, make bench, make sample, make clean,
# make spark (PySpark for notebook 07), make test-spark and make test-browser.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.spark-installed
BROWSER_STAMP := $(VENV)/.browser-installed
CHROMIUM := /usr/bin/chromium

DATA ?= sample
OUTPUT_DIR ?= outputs
ARGS ?=
PYTEST_ARGS ?=

.PHONY: run test lab bench sample clean install spark test-spark test-browser

install: $(STAMP)

# requirements.txt pins the direct dependencies; constraints.txt pins every
# transitive one, so two installs give the same environment.
$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m cfutils --data "$(DATA)" --output-dir "$(OUTPUT_DIR)" $(ARGS)

# ruff first (lint, then the formatter as a check; settings in pyproject.toml): seconds, before minutes of tests.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# PySpark for notebook 07, on top of the core install (about half a gigabyte more); it needs Java.
spark: $(SPARK_STAMP)

$(SPARK_STAMP): $(STAMP) requirements-spark.txt
	@command -v java >/dev/null || { echo "make spark: no java found; install a Java 17 runtime (Debian/Ubuntu: apt-get install openjdk-17-jre-headless)"; exit 1; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-spark.txt -c constraints.txt
	touch $(SPARK_STAMP)

# The Spark job's parts against cfutils on small data, notebook 07 on tiny data, and the job on a standalone
# cluster (a master and two 1-core 1 GB workers started with spark-class; CFUTILS_CLUSTER_RATINGS sets its size, default 2M).
test-spark: $(SPARK_STAMP)
	$(BIN)/python -m pytest tests/test_spark.py tests/test_spark_notebook.py tests/test_spark_cluster.py $(PYTEST_ARGS)

# The report and notebook 06's explorer in JupyterLab, in a real browser: Debian's chromium, installed with apt-get when
# missing (as root, as in CI), driven by Playwright's Python package; no browser download.
$(BROWSER_STAMP): $(STAMP) requirements-browser.txt
	test -x $(CHROMIUM) || { test "$$(id -u)" = 0 || { echo "make test-browser: $(CHROMIUM) missing; run as root or: sudo apt-get install chromium"; exit 1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-browser.txt
	touch $(BROWSER_STAMP)

test-browser: $(BROWSER_STAMP)
	test -x $(CHROMIUM) || { rm -f $(BROWSER_STAMP); echo "make test-browser: $(CHROMIUM) is gone; run it again"; exit 1; }
	CFUTILS_BROWSER_TESTS=1 $(BIN)/python -m pytest tests/test_report_browser.py tests/test_lab_browser.py tests/test_hostile_browser.py -s $(PYTEST_ARGS)

# JupyterLab with the explorer widgets (ipywidgets and jupyterlab_widgets are pinned); the config
# turns off its news feed, update check and PyPI extension manager, so it never reaches the network.
lab: $(STAMP)
	$(BIN)/jupyter lab --config=jupyter_lab_config.py $$(test "$$(id -u)" = 0 && echo --allow-root) notebooks/

# Each benchmark runs the naive approach and ours on the same data and prints the ratio
# (slow: minutes each). Figures: benchmarks/README.md.
bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

sample: $(STAMP)
	$(BIN)/python -m cfutils.data.synth --sample

clean:
	rm -rf outputs data/processed/*.parquet .pytest_cache
