# The two commands a fresh clone needs are `make generate` and `make test`;
# both create .venv and install the project first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.contractgen-installed

.PHONY: generate test check lint goldens schema demo review bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

generate: $(STAMP)
	$(BIN)/contractgen generate

test: $(STAMP)
	$(BIN)/pytest

check: $(STAMP)
	$(BIN)/contractgen check

lint: $(STAMP)
	$(BIN)/ruff check generator generated tests templates/runtime demo
	$(BIN)/black --check --quiet generator tests templates/runtime demo
	$(BIN)/mypy --strict generator
	$(BIN)/mypy --strict generated

# Rewrites the golden files under tests/goldens/ from the current generator.
# Read the diff (git diff tests/goldens) before committing it.
goldens: $(STAMP)
	$(BIN)/python -m tests.goldens

schema: $(STAMP)
	$(BIN)/contractgen schema > docs/spec.schema.json

# Markdown for a pull-request comment: what the spec changes mean for callers,
# against the merge base with main (or AGAINST=<rev>). Exits 1 when a change
# breaks callers without a version bump.
review: $(STAMP)
	@$(BIN)/contractgen diff --format markdown $(if $(AGAINST),--against $(AGAINST))

demo: $(STAMP)
	$(BIN)/python -m demo

# Generation speed and runtime overhead against their baselines; installs the
# `bench` extra and rewrites the committed bench/results.md. A minute or two
# with every core busy: see docs/performance.md. N is a switch, not a size:
# `make bench N=2000` adds the scaling run, and any other N stops here rather
# than being ignored.
N ?= 500
RUNS ?= 3
ifneq ($(filter bench,$(MAKECMDGOALS)),)
ifneq ($(filter-out 500 2000,$(N)),)
$(error N=$(N): make bench measures N=500, and N=2000 adds the scaling run; \
no other N is supported)
endif
endif
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(BIN)/python -m bench.run --runs $(RUNS) $(if $(filter 2000,$(N)),--scale,)

clean:
	rm -rf $(VENV) .contractgen-cache .pytest_cache .mypy_cache .ruff_cache
