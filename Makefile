# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: install demo test lint bench bench-quick conformance clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/offthewire demo

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check aggregator tests bench
	$(BIN)/ruff format --check aggregator tests bench
	$(BIN)/mypy aggregator

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

# The full benchmark (2,000 feeds, medians of 3 runs): the table on stdout, every figure in
# bench/results.json. How long it takes and how to read it: bench/README.md.
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench --json bench/results.json
	$(BIN)/python -m bench.storyeval
	$(BIN)/python -m bench.schedule_savings
	$(BIN)/python -m bench.story_scale

# The same sections at day-to-day size (60 feeds, one run).
bench-quick: $(BENCH_STAMP)
	$(BIN)/python -m bench --quick --json bench/results.json

conformance: $(STAMP)
	$(BIN)/python -m tests.conformance

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
