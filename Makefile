# The two commands: `make run` (the whole stack on embedded defaults) and `make test` (the whole suite).
# Both install what they need first: a virtual environment in .venv with the project and its tools.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
BENCH_STAMP := $(VENV)/.bench-installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run test lint unit integration e2e browser bench backpressure contracts clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is needed"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[embedded,dev]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/psc run

# pytest exits 5 when it collected no test: that must fail, never pass quietly.
define PYTEST
	$(BIN)/pytest $(1); rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest ran no tests: failing"; exit 1; fi; exit $$rc
endef

# The browser tests drive Debian's Chromium (Playwright cannot download its own here): installed where it is missing.
/usr/bin/chromium:
	apt-get install -y chromium fonts-noto-cjk || { apt-get update && apt-get install -y chromium fonts-noto-cjk; }

test: install lint /usr/bin/chromium
	$(call PYTEST,)

unit: install
	$(call PYTEST,tests/unit)

integration: install
	$(call PYTEST,tests/integration)

e2e: install
	$(call PYTEST,tests/e2e)

# The staff console and the parent's status page in headless Chromium, against the whole stack.
browser: install /usr/bin/chromium
	$(call PYTEST,tests/browser)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Rewrite docs/openapi/ and docs/asyncapi/ from the code (the suite fails while they differ).
contracts: install
	PSC_WRITE_CONTRACTS=1 $(call PYTEST,tests/integration/test_contract_documents.py)

# The benchmarks' extra (matplotlib, for the backpressure plot) on top of what install puts in.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[embedded,dev,bench]'
	rm -f $(VENV)/.bench-installed-* && touch $(BENCH_STAMP)

# Throughput and latency, then a short saturation run's summary (a few minutes in all).
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.throughput
	$(BIN)/python -m bench.deadline_sweep
	$(BIN)/python -m bench.notify_throughput
	$(BIN)/python -m bench.catalog_search
	$(BIN)/python -m bench.backpressure --short

# Drive intake past saturation, then a burst through the Kafka door: a table per second and docs/backpressure.png.
backpressure: $(BENCH_STAMP)
	$(BIN)/python -m bench.backpressure --per-second --plot docs/backpressure.png

# The fault run (a few minutes): load through both doors while processes are killed, PostgreSQL and the broker restart,
# a consumer is paused and malformed records arrive; then the same load without faults. Fails if anything was lost
# or duplicated.
.PHONY: chaos
chaos: install
	$(BIN)/python -m bench.chaos --duration 180

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
