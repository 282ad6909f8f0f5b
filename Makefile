# One command to set up and run the main job, one to run the tests (README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Worker processes for agree and reproduce: one per core (each pins itself to one thread); results do not
# depend on it. Each worker loads both frameworks (about 1 GB), so it is capped: `make JOBS=N ...` to change.
JOBS   ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)

.PHONY: setup reproduce test test-all ci verdict baseline lint bench table clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch==2.13.0 resolves to the CPU wheel on this machine's disk (see pyproject.toml).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,lint]"
	touch $@

setup: $(VENV)/.installed

# The main job is a smoke run (the tiny profile): it writes to results/smoke/ (git-ignored), so the committed
# reduced-profile results in results/ are never replaced by smoke verdicts; it ends with the report's path.
reproduce: setup  ## the main job: agreement + every paper at the tiny profile, then the HTML report
	$(BIN)/python -m harness --results-dir results/smoke agree all --skip-slow --jobs $(JOBS)
	$(BIN)/python -m harness --results-dir results/smoke reproduce all --profile tiny --jobs $(JOBS); test $$? -le 1
	$(BIN)/python -m harness --results-dir results/smoke report

test: setup  ## the fast tier (minutes)
	$(BIN)/python -m pytest -m "not slow" -q -n 2 --dist loadgroup

test-all: setup  ## every tier, slow included
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

ci:  ## what CI runs (.ci/run): setup, lint, every test tier, and the regression verdict against the baseline
	bash .ci/run

# The CI regression verdict: fresh agreement checks (the slow cases run in the slow test tier) and
# tiny-profile claims in a scratch results directory, compared with the committed baseline. Exit 0: no
# regression; 1: a regression; 2: an unreadable baseline or records, or records made from other data than
# the baseline's (set HARNESS_DATA_DIR to the real datasets, as .ci/run does). README says what it detects.
verdict: setup
	dir=$$(mktemp -d) && echo "verdict: records in $$dir" && \
	{ $(BIN)/python -m harness --results-dir $$dir agree all --skip-slow --jobs $(JOBS); test $$? -le 1; } && \
	{ $(BIN)/python -m harness --results-dir $$dir reproduce all --profile tiny --jobs $(JOBS); test $$? -le 1; } && \
	$(BIN)/python -m harness --results-dir $$dir compare results/baseline.jsonl

# A baseline made from the digits fallback would compare with nothing, so the real data is required; the
# new file must read cleanly (strictly, as `compare` reads it) before it replaces the committed one.
baseline: setup  ## regenerate results/baseline.jsonl (commit it with the change that moved it, and say why)
	@test -n "$$HARNESS_DATA_DIR" || { echo "make baseline: set HARNESS_DATA_DIR to the real datasets" >&2; exit 2; }
	rm -rf results/.baseline-run
	$(BIN)/python -m harness --results-dir results/.baseline-run agree all --skip-slow --jobs $(JOBS); test $$? -le 1
	$(BIN)/python -m harness --results-dir results/.baseline-run reproduce all --profile tiny --jobs $(JOBS); test $$? -le 1
	$(BIN)/python -m harness --results-dir results/.baseline-run compare results/.baseline-run/records.jsonl
	cp results/.baseline-run/records.jsonl results/baseline.jsonl
	rm -rf results/.baseline-run

lint: setup
	$(BIN)/ruff check harness reproductions tests

bench: setup
	$(BIN)/python -m harness bench all

table: setup
	$(BIN)/python -m harness table

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
