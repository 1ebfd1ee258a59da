# Herald: `make run` serves the demo on the embedded broker; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint types layers pytest browser nginx redis postgres node clients bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Herald needs Python >= 3.11") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create or update the virtual environment

run: $(STAMP) ## serve the API, the stream and the demo page on http://127.0.0.1:8000
	$(BIN)/herald run

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)

types: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

# The browser test drives Debian's Chromium (browser downloads are not possible here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: run 'sudo apt-get install chromium' (the browser test will be skipped)"; fi; }

# The deployment test checks deploy/nginx.conf with `nginx -t` (Debian's nginx package).
nginx:
	@command -v nginx >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	  else echo "nginx is missing: run 'sudo apt-get install nginx' (the nginx -t test will be skipped)"; fi; }

# The Redis tests start private redis-server processes of their own (Debian's redis-server package).
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  else echo "redis-server is missing: run 'sudo apt-get install redis-server' (the Redis tests will fail)"; fi; }

# The PostgreSQL tests start private postgres servers of their own (Debian's postgresql package).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "postgresql is missing: run 'sudo apt-get install postgresql' (the PostgreSQL tests will fail)"; fi; }

# The TypeScript client (clients/typescript) is generated and compiled with Node.js (Debian's packages);
# its npm packages are those of its lock file, installed again when the lock file changes.
node:
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	  else echo "Node.js is missing: run 'sudo apt-get install nodejs npm' (the client tests will fail)"; fi; }

CLIENT := clients/typescript

clients: $(STAMP) node ## regenerate the TypeScript client from the registry's AsyncAPI document, then compile it
	cd $(CLIENT) && { cmp -s package-lock.json node_modules/.herald-lock || \
	  { npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.herald-lock; }; }
	$(BIN)/herald asyncapi --server-url http://localhost:8000 --output $(CLIENT)/asyncapi.json
	cd $(CLIENT) && node tools/generate.mjs asyncapi.json && node tools/validate.mjs asyncapi.json && npm run --silent check
	rm -f $(CLIENT)/asyncapi.json

pytest: $(STAMP) browser nginx redis postgres node
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint types layers pytest ## everything CI runs

# The benchmark (docs/performance.md): Herald, the Litestar channels baseline and the
# raw-ASGI ceiling, one after the other in one run, on a private redis-server of its own
# (BENCH_ARGS="--redis cluster" for a private cluster, "--redis <url>" for a Redis you name)
# and, for the outbox rows, a private PostgreSQL ("--postgres none" skips them).
bench: $(STAMP) redis postgres
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
