# borderfusion — the README's commands. Everything installs itself into .venv.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test test-fast test-tansu test-kafka lint bench chaos fuzz deploy-check clean help

help:
	@echo "make demo   - install, start broker + workers + simulator + web UI, print the URL"
	@echo "make test   - install, start what the tests need, run the whole suite (Tansu + Apache Kafka)"
	@echo "make lint   - ruff + mypy"
	@echo "make bench  - benchmarks (results in benchmarks/results and the README)"
	@echo "make chaos  - fault-injection scenario report"
	@echo "make fuzz   - fuzz the decoders and the HTTP ingest"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/borderfusion demo

test: $(STAMP)
	bash scripts/run-tests.sh $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not broker and not slow and not browser" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check streams sensors fusion tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/run_all.py

chaos: $(STAMP)
	$(BIN)/python scripts/chaos.py

fuzz: $(STAMP)
	FUZZ_EXAMPLES=20000 $(BIN)/pytest -q -m fuzz tests/fuzz

deploy-check: $(STAMP)
	bash scripts/validate-deploy.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var test-artifacts
