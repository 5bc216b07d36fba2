# Everything a fresh machine needs, from one command: `make test` or `make demo`.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
export MPLBACKEND := Agg
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup system release test lint unit validate demo lab bench clean

setup: $(STAMP) system

# Python packages: the whole tree pinned in requirements.lock (torch==2.13.0, CPU build here).
$(STAMP): requirements.lock pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

# System packages the sandbox needs, installed when missing.
system:
	@command -v bwrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; }

release: setup
	$(BIN)/autograder release

lint: setup
	$(BIN)/ruff check .

unit: setup
	$(BIN)/pytest -q tests

# The course itself: releases current, every reference notebook runs top to bottom and passes its public
# checks in a fresh kernel, and the hidden checks give reference = full, blank = 0, known-wrong = exact loss.
validate: setup
	$(BIN)/autograder release --check
	@for nb in solutions/*/*.ipynb; do $(BIN)/autograder check "$$nb" || exit 1; done
	$(BIN)/autograder validate --jobs 2

test: lint unit validate

# The main job: release, then grade the bundled week-1 samples (perfect, partial, blank, corrupt, malicious) in
# the sandbox, into gradebook.db, autograded/<student>/ and feedback/<student>/, and export the CSV.
demo: setup
	$(BIN)/autograder release
	$(BIN)/python examples/build_samples.py
	$(BIN)/autograder grade week01-markov --submissions examples/submissions --jobs 2 --regrade
	$(BIN)/autograder export week01-markov --format csv
	@echo "== what a student runs before submitting: the reference passes every public check =="
	$(BIN)/autograder check solutions/week01-markov/markov.ipynb

bench: setup
	$(BIN)/python benchmarks/bench_grading.py

lab: setup
	$(BIN)/jupyter lab --notebook-dir=release

clean:
	rm -rf $(VENV) submitted autograded feedback exports
