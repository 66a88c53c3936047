# make demo [HOST=127.0.0.1] [PORT=8080]   install lakecat into .venv and run its demo
# make test [ARGS="-k fits"]                run the test suite against a throwaway PostgreSQL
# make lint                                 ruff, mypy and import-linter
HOST ?= 127.0.0.1
PORT ?= 8080
ARGS ?=
VENV := .venv/bin

.PHONY: demo test lint bench

demo:
	bash scripts/demo --host $(HOST) --port $(PORT)

test:
	bash scripts/test $(ARGS)

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy
	$(VENV)/lint-imports

bench:
	@echo "Benchmarks live in bench/; run one with, e.g.:"
	@echo "  $(VENV)/python bench/ingest.py 100000"
