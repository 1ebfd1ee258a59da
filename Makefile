# Herald: `make run` serves the demo on the embedded broker; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# uv installs exactly uv.lock (docs/dependencies.md says why uv); this version of it, from PyPI, into .uv/<version>.
UV_VERSION := 0.13.10
UV := .uv/$(UV_VERSION)/bin/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install lock run check test lint types layers pytest clients bench clean

$(UV):
	$(PYTHON) -c 'import sys; sys.exit("Herald needs Python >= 3.11") if sys.version_info < (3, 11) else None'
	rm -rf .uv && $(PYTHON) -m venv .uv/$(UV_VERSION)
	.uv/$(UV_VERSION)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --locked: a uv.lock that no longer matches pyproject.toml is an error (run `make lock`), never a silent re-resolve.
$(STAMP): pyproject.toml uv.lock $(UV)
	$(UV) sync --locked --all-extras --python $(PYTHON) || { echo "uv.lock was not installed; if uv says" \
	  "the lockfile needs to be updated, run 'make lock' (docs/dependencies.md)" >&2; exit 1; }
	touch $(STAMP)

install: $(STAMP) ## create or update the virtual environment: exactly uv.lock

# After it: `make test`, then commit uv.lock and package-lock.json (docs/dependencies.md).
lock: $(UV) ## move uv.lock and the TypeScript client's package-lock.json to the newest versions pyproject.toml and package.json allow
	$(UV) lock --upgrade
	$(MAKE) --no-print-directory install
	$(BIN)/python -m tests.support.prerequisites node
	cd $(CLIENT) && npm update --package-lock-only --no-audit --no-fund --loglevel=error

run: $(STAMP) ## serve the API, the stream and the demo page on http://127.0.0.1:8000
	$(BIN)/herald run

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench template)
	$(BIN)/ruff format --check src tests $(wildcard bench template)

types: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

CLIENT := clients/typescript

clients: $(STAMP) ## regenerate the TypeScript client from the registry's AsyncAPI document, then compile it
	$(BIN)/python -m tests.support.prerequisites node
	cd $(CLIENT) && { cmp -s package-lock.json node_modules/.herald-lock || \
	  { npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.herald-lock; }; }
	$(BIN)/herald asyncapi --server-url http://localhost:8000 --output $(CLIENT)/asyncapi.json
	cd $(CLIENT) && node tools/generate.mjs asyncapi.json && node tools/validate.mjs asyncapi.json && npm run --silent check
	rm -f $(CLIENT)/asyncapi.json

# The tests install the Debian packages they drive themselves (as root; otherwise they fail naming them):
# tests/support/prerequisites.py. They run in parallel worker processes (pytest-xdist), each with its own
# servers on ports of its own; PYTEST_WORKERS=0 runs them in this process. Four on two cores: most tests
# wait (on a server, a timeout, a browser) more than they compute.
PYTEST_WORKERS ?= 4
# Each worker imports the same modules: let them share compiled (and assertion-rewritten) bytecode even
# where the environment turns writing it off, or every worker compiles everything again on every run.
unexport PYTHONDONTWRITEBYTECODE

pytest: $(STAMP) ## the whole pytest suite (PYTEST_ARGS="-k invoice.paid" for a selection)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# While editing: everything but the tests that start processes of their own (servers, Herald, a browser).
# Those left wait on loopback more than they compute, and start nothing that competes for the cores: more workers.
# Property tests try fewer examples here (tests/conftest.py's "check" profile); make test tries them all.
CHECK_WORKERS ?= 6
check: lint types layers ## lint, types, layers and every test that starts no process, in under a minute
	$(BIN)/python -m pytest -n $(CHECK_WORKERS) --dist worksteal -m "not spawns" --hypothesis-profile=check $(PYTEST_ARGS)

test: lint types layers pytest ## everything CI runs: before you push

# The benchmark (docs/performance.md): Herald, the Litestar channels baseline and the
# raw-ASGI ceiling, one after the other in one run, on a private redis-server of its own
# (BENCH_ARGS="--redis cluster" for a private cluster, "--redis <url>" for a Redis you name)
# and, for the outbox rows (and --presence's announced report), a private PostgreSQL ("--postgres none" skips them).
bench: $(STAMP)
	$(BIN)/python -m tests.support.prerequisites redis-server postgresql
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .uv .mypy_cache .pytest_cache .ruff_cache .hypothesis
