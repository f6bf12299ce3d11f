# The README's first two commands: `make demo` (set up, then run the main job on built-in sample data)
# and `make test` (set up, then run the tests). Setting up needs only Python 3.11 with venv and pip.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-all bench clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

demo: setup
	$(PY) -m scripts.demo

# Two pytest workers (pytest-xdist), each test file kept on one worker so its module fixtures run once:
# 22 min instead of 36 for test-all on a slow 2-core CPU. TEST_JOBS=0 runs them in this process.
TEST_JOBS ?= 2
XDIST := $(if $(filter 0,$(TEST_JOBS)),,-n $(TEST_JOBS) --dist loadfile)

test: setup
	$(PY) -m pytest -q $(XDIST) -m "not slow" tests

# Everything, slow tests included: what CI runs (.ci/run installs Chromium and Redis first).
test-all: setup
	$(PY) -m pytest -q $(XDIST) tests

bench: setup
	$(PY) tools.py bench --quick

clean:
	rm -rf $(VENV) sample_output
