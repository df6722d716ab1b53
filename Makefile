# Two commands do all the set-up on a fresh machine (Python 3.11 and make):
#   make run    creates .venv if missing, installs the pinned dependencies, runs the main job
#   make test   the same set-up, then the test suite
# Everything else is optional: make lab, make bench, make sample, make clean,
# make spark (PySpark for notebook 07) and make test-spark.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.spark-installed

DATA ?= sample
OUTPUT_DIR ?= outputs
ARGS ?=
PYTEST_ARGS ?=

.PHONY: run test lab bench sample clean install spark test-spark

install: $(STAMP)

# requirements.txt pins the direct dependencies; constraints.txt pins every
# transitive one, so two installs give the same environment.
$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m cfutils.pipeline --data "$(DATA)" --output-dir "$(OUTPUT_DIR)" $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# PySpark for notebook 07, on top of the core install (about half a gigabyte more); it needs Java.
spark: $(SPARK_STAMP)

$(SPARK_STAMP): $(STAMP) requirements-spark.txt
	@command -v java >/dev/null || { echo "make spark: no java found; install a Java 17 runtime (Debian/Ubuntu: apt-get install openjdk-17-jre-headless)"; exit 1; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-spark.txt -c constraints.txt
	touch $(SPARK_STAMP)

# The Spark splits against cfutils.split, the top-N lists against references, and notebook 07 on tiny data.
test-spark: $(SPARK_STAMP)
	$(BIN)/python -m pytest tests/test_spark.py tests/test_spark_notebook.py $(PYTEST_ARGS)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

# Each benchmark runs the naive approach and ours on the same data and prints the ratio
# (slow: minutes each). Figures: benchmarks/README.md.
bench: $(STAMP)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

sample: $(STAMP)
	$(BIN)/python -m cfutils.synth --sample

clean:
	rm -rf outputs data/processed/*.parquet .pytest_cache
