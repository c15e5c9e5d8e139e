# `make test` and `make demo` are the two commands in the README: both must work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two steps, so that `make demo` installs only what the demo needs: the package with its runtime
# dependencies (RUNTIME), and for the tests the dev extras on top (STAMP).
RUNTIME := $(VENV)/.runtime-stamp
STAMP := $(VENV)/.installed-stamp
LOWEST := .venv-lowest
# Tests of the pure modules: run again with the lowest pandas/numpy/matplotlib (ci/lowest.txt).
PURE_TESTS := tests/test_schema.py tests/test_frames.py tests/test_frames_properties.py \
	tests/test_frames_job.py tests/test_frames_hardening.py tests/test_frames_logs.py \
	tests/test_frames_metrics.py

export MPLBACKEND := Agg
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: test lint typecheck pytest browser test-lowest demo lab bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# setup.py and the .pyx: the compiled reader is rebuilt when they change.
# The demo's install is the quickest that gives the same report: no compiled reader (the NumPy
# reader gives the same frames) and no byte-compiling of every installed file up front (Python
# compiles what it imports). The tests' install builds the compiled reader and compiles the rest.
$(RUNTIME): pyproject.toml setup.py deadline_nb/frames/_speedups.pyx | $(BIN)/python
	DEADLINE_NB_NO_EXTENSION=1 $(BIN)/pip install -q --no-compile -e .
	touch $@

$(STAMP): $(RUNTIME)
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib >/dev/null
	touch $@

# Everything CI runs (.ci/run is just `make test`): lint, types, the tests with the browser test
# and the notebooks, and the pure modules' tests again on the lowest versions pyproject allows.
test: lint typecheck pytest test-lowest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) browser
	$(BIN)/pytest

# tests/test_browser.py drives Debian's Chromium: installed here when missing (as root or with
# sudo), or make test stops with one line saying what to do.
browser:
	@ci/chromium

$(LOWEST)/.installed-stamp: pyproject.toml setup.py deadline_nb/frames/_speedups.pyx ci/lowest.txt
	$(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/pip install -q -c ci/lowest.txt -e . pytest hypothesis
	touch $@

test-lowest: $(LOWEST)/.installed-stamp
	$(LOWEST)/bin/python -c "import pandas, numpy, matplotlib; print('lowest bounds: pandas', pandas.__version__, 'numpy', numpy.__version__, 'matplotlib', matplotlib.__version__)"
	$(LOWEST)/bin/pytest -p no:cacheprovider $(PURE_TESTS)

# The local farm's failing job, reported: prints the path of a single-file HTML report that opens
# offline (./deadline-nb-demo/report.html). The farm runs inside the command and ends with it.
demo: $(RUNTIME)
	$(BIN)/deadline-nb demo

# JupyterLab on notebooks/. No farm process to start or stop: a notebook whose ids are left empty
# starts the local farm inside its own kernel, and the farm ends with the kernel (Ctrl-C twice
# stops JupyterLab and its kernels). MPLBACKEND is unset so that kernels draw inline.
# More options for JupyterLab: make lab LAB_ARGS="--no-browser --port 8890"
LAB_ARGS ?=
lab: $(STAMP)
	env -u MPLBACKEND $(BIN)/jupyter lab notebooks/ $(LAB_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_frames.py
	$(BIN)/python benchmarks/bench_localfarm.py
	$(BIN)/python benchmarks/bench_fetch.py
	$(BIN)/python benchmarks/bench_plots.py

clean:
	rm -rf $(VENV) $(LOWEST) .mypy_cache .ruff_cache .pytest_cache .hypothesis build *.egg-info
