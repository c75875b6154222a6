# The two commands: `make run` (the app with demo data on the embedded default) and `make test`
# (lint, checks and the whole suite; PostgreSQL when DATABASE_URL is set, SQLite otherwise).

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
COMPOSE_VENV := .venv-compose
LOAD_VENV := .venv-load
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run serve test lint check-compose assets install install-dev migrate seed bench bench-dashboard bench-qbr bench-fanout bench-bulk bench-import bench-api load clean help

help:
	@echo "make run    - install, migrate, seed demo data, serve on http://$(HOST):$(PORT)/"
	@echo "make serve  - production: migrate, collectstatic, gunicorn (DJANGO_ENV=production settings)"
	@echo "make test   - install test tools, ruff, import layering, Django checks, migrations check, pytest"
	@echo "make bench  - scoring roll-up and peer benchmark timings on PostgreSQL (BENCH_DATABASE_URL)"
	@echo "make bench-dashboard - the portfolio dashboard at 25 and at 1,025 relationships, with its queries and plans"
	@echo "make bench-qbr - QBR pack render time and the quarterly job on the benchmark portfolio"
	@echo "make bench-fanout - the roll-up fanned out over 1, 2 and 4 Celery workers (REDIS_URL)"
	@echo "make bench-bulk - bulk upsert of 1,000 measurements through the API against one raw INSERT"
	@echo "make bench-import - a spreadsheet register (projects, KPIs, 10,000 measurements) parsed, dry-run, imported"
	@echo "make bench-api - GET /api/v1/projects/ (list, detail) under gunicorn against a hand-written floor"
	@echo "make load   - locust load test of gunicorn on PostgreSQL and Redis, and of its floor (LOAD_REDIS_URL)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

# Front-end libraries (Pico CSS, Chart.js) from npm, pinned by package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.runtime node_modules/.installed
install-dev: $(VENV)/.dev node_modules/.installed
assets: node_modules/.installed

migrate: install
	$(MANAGE) migrate --noinput

seed: migrate
	$(MANAGE) seed_demo

run: seed
	@echo ""
	@echo "BPO Innovation Portfolio: http://$(HOST):$(PORT)/   (admin: http://$(HOST):$(PORT)/admin/)"
	@echo "Sign in with one of the demo logins above."
	@echo ""
	$(MANAGE) runserver $(HOST):$(PORT)

# Production: DJANGO_ENV=production with the README's production settings in the environment;
# migrates, collects the hashed and compressed static files, and runs gunicorn with its config.
serve: install
	DJANGO_ENV=production $(MANAGE) migrate --noinput
	DJANGO_ENV=production $(MANAGE) collectstatic --noinput
	DJANGO_ENV=production $(BIN)/gunicorn -c python:bpo_portfolio.gunicorn_conf bpo_portfolio.wsgi:application

# docker-compose 1.29 validates compose files offline; it needs an old PyYAML, so it lives in a
# virtual environment of its own.
$(COMPOSE_VENV)/bin/docker-compose:
	$(PYTHON) -m venv $(COMPOSE_VENV)
	$(COMPOSE_VENV)/bin/pip install --quiet "cython<3" wheel setuptools
	$(COMPOSE_VENV)/bin/pip install --quiet --no-build-isolation pyyaml==5.4.1
	$(COMPOSE_VENV)/bin/pip install --quiet docker-compose==1.29.2

check-compose: $(COMPOSE_VENV)/bin/docker-compose
	DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-validation-only} $(COMPOSE_VENV)/bin/docker-compose -f docker-compose.yml config -q
	DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-validation-only} $(COMPOSE_VENV)/bin/docker-compose -f docker-compose.yml --profile pgbouncer config -q

lint: install-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: install-dev $(COMPOSE_VENV)/bin/docker-compose
	@if [ -n "$$DATABASE_URL" ]; then echo "make test: database = PostgreSQL ($${DATABASE_URL%%\?*})"; \
	  else echo "make test: database = SQLite (embedded default; set DATABASE_URL for PostgreSQL)"; fi
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(MANAGE) check --fail-level WARNING
	$(MANAGE) makemigrations --check --dry-run
	COMPOSE_BIN=$(abspath $(COMPOSE_VENV)/bin/docker-compose) $(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(COMPOSE_VENV) $(LOAD_VENV) node_modules staticfiles .pytest_cache .ruff_cache

# Scoring roll-up benchmark: generates a portfolio (1,000 relationships, 50,000 projects,
# 1,000,000 measurements by default) in its own PostgreSQL database and times the current-month
# roll-up against one hand-written SQL statement (the floor). See docs/BENCHMARKS.md.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bpo_bench
BENCH_ARGS ?=
# Creates the database named by its argument's URL if it does not exist yet.
create_bench_db = $(BIN)/python -c "import psycopg2, urllib.parse as u; p = u.urlparse('$(1)'); \
	  c = psycopg2.connect(host=p.hostname, port=p.port or 5432, user=p.username, password=p.password, dbname='postgres'); \
	  c.autocommit = True; cur = c.cursor(); name = p.path.lstrip('/'); \
	  cur.execute('SELECT 1 FROM pg_database WHERE datname = %s', [name]); \
	  cur.fetchone() or cur.execute('CREATE DATABASE \"%s\"' % name)"
bench: install
	$(call create_bench_db,$(BENCH_DATABASE_URL))
	DATABASE_URL=$(BENCH_DATABASE_URL) $(MANAGE) migrate --noinput -v 0
	DATABASE_URL=$(BENCH_DATABASE_URL) $(MANAGE) bench_scoring $(BENCH_ARGS)

# The portfolio dashboard (the home page) at the demo's 25 relationships and with seed_large_portfolio's
# 1,000 more, in two databases (created, migrated and seeded if missing), rendered alternately for
# the demo executive; prints the ratio, each query's time and the plans of the slowest. See
# docs/BENCHMARKS.md.
DASHBOARD_SMALL_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bpo_dashboard_bench_small
DASHBOARD_LARGE_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bpo_dashboard_bench_large
DASHBOARD_BENCH_ARGS ?=
bench-dashboard: install
	$(call create_bench_db,$(DASHBOARD_SMALL_DATABASE_URL))
	$(call create_bench_db,$(DASHBOARD_LARGE_DATABASE_URL))
	DATABASE_URL=$(DASHBOARD_SMALL_DATABASE_URL) $(MANAGE) migrate --noinput -v 0
	DATABASE_URL=$(DASHBOARD_LARGE_DATABASE_URL) $(MANAGE) migrate --noinput -v 0
	DATABASE_URL=$(DASHBOARD_SMALL_DATABASE_URL) $(MANAGE) seed_demo > /dev/null
	DATABASE_URL=$(DASHBOARD_LARGE_DATABASE_URL) $(MANAGE) seed_demo > /dev/null
	DATABASE_URL=$(DASHBOARD_LARGE_DATABASE_URL) $(MANAGE) seed_large_portfolio
	$(MANAGE) bench_dashboard --small-database-url $(DASHBOARD_SMALL_DATABASE_URL) \
	  --large-database-url $(DASHBOARD_LARGE_DATABASE_URL) $(DASHBOARD_BENCH_ARGS)

# QBR pack benchmark on the portfolio `make bench` generated: one relationship with 40 delivered
# projects over 12 months, and the quarterly job over a sample of the portfolio. See docs/BENCHMARKS.md.
BENCH_QBR_ARGS ?=
bench-qbr: install
	DATABASE_URL=$(BENCH_DATABASE_URL) $(MANAGE) migrate --noinput -v 0
	DATABASE_URL=$(BENCH_DATABASE_URL) $(MANAGE) bench_qbr $(BENCH_QBR_ARGS)

# Bulk upsert of 1,000 measurements through the API (create pass and replay pass) against the floor:
# the same rows in one INSERT … ON CONFLICT DO UPDATE (psycopg2 execute_values). See docs/BENCHMARKS.md.
BULK_BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bpo_bulk_bench
BULK_BENCH_ARGS ?=
bench-bulk: install
	$(call create_bench_db,$(BULK_BENCH_DATABASE_URL))
	DATABASE_URL=$(BULK_BENCH_DATABASE_URL) $(MANAGE) migrate --noinput -v 0
	DATABASE_URL=$(BULK_BENCH_DATABASE_URL) API_THROTTLE_BULK=100000/min $(MANAGE) bench_bulk $(BULK_BENCH_ARGS)

# A spreadsheet import of a generated register: 500 projects, 1,000 project KPIs and 10,000
# measurements as XLSX sheets; parse, dry run and import times per sheet and for the whole register
# (against the 30 s goal) and the peak RSS, the job's body run in this process (no broker: REDIS_URL
# unset). See docs/BENCHMARKS.md.
IMPORT_BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bpo_import_bench
IMPORT_BENCH_ARGS ?=
bench-import: install
	$(call create_bench_db,$(IMPORT_BENCH_DATABASE_URL))
	DATABASE_URL=$(IMPORT_BENCH_DATABASE_URL) $(MANAGE) migrate --noinput -v 0
	env -u REDIS_URL DATABASE_URL=$(IMPORT_BENCH_DATABASE_URL) $(MANAGE) bench_import $(IMPORT_BENCH_ARGS)

# The monthly roll-up fanned out over 1, 2 and 4 Celery worker processes (10,000 relationships by
# default) against the single-process roll-up; needs REDIS_URL (a database number no other worker
# uses: the benchmark starts its own workers there). See docs/BENCHMARKS.md.
FANOUT_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bpo_fanout_bench
FANOUT_ARGS ?=
bench-fanout: install
	@test -n "$$REDIS_URL" || { echo "bench-fanout: set REDIS_URL=redis://HOST:6379/N (a database number of its own)"; exit 2; }
	$(call create_bench_db,$(FANOUT_DATABASE_URL))
	DATABASE_URL=$(FANOUT_DATABASE_URL) $(MANAGE) migrate --noinput -v 0
	DATABASE_URL=$(FANOUT_DATABASE_URL) $(MANAGE) bench_rollup_fanout $(FANOUT_ARGS)

# The load test (load/run.py, locust in a virtual environment of its own): the app under gunicorn on
# PostgreSQL and Redis, stepped up to its saturation point, held at 80 % of it, then the same for the
# floor (load/floor.py). Loopback only, about ten minutes. Needs LOAD_REDIS_URL (or REDIS_URL): a
# Redis database number no other worker uses. See docs/BENCHMARKS.md.
LOAD_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bpo_load
LOAD_ARGS ?=
$(LOAD_VENV)/bin/locust: requirements-load.txt
	$(PYTHON) -m venv $(LOAD_VENV)
	$(LOAD_VENV)/bin/pip install --quiet --upgrade pip
	$(LOAD_VENV)/bin/pip install --quiet -r requirements-load.txt
	touch $@

load: install $(LOAD_VENV)/bin/locust
	@test -n "$${LOAD_REDIS_URL:-$$REDIS_URL}" || { echo "load: set LOAD_REDIS_URL=redis://127.0.0.1:6379/N (a database number of its own)"; exit 2; }
	$(call create_bench_db,$(LOAD_DATABASE_URL))
	$(LOAD_VENV)/bin/python load/run.py --app-python $(BIN)/python --database-url $(LOAD_DATABASE_URL) \
	  --redis-url "$${LOAD_REDIS_URL:-$$REDIS_URL}" $(LOAD_ARGS)

# API reads against a hand-written floor: GET /api/v1/projects/ (list and detail) under gunicorn
# (2 sync workers, throttles raised) and load/floor.py's projects_application on the same portfolio
# (1,025 relationships, 8,000 projects), answers checked equal on every page, measured interleaved at
# concurrency 1 and 4. See docs/BENCHMARKS.md.
BENCH_API_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bpo_api_bench
BENCH_API_ARGS ?=
bench-api: install
	$(call create_bench_db,$(BENCH_API_DATABASE_URL))
	DATABASE_URL=$(BENCH_API_DATABASE_URL) $(MANAGE) migrate --noinput -v 0
	DATABASE_URL=$(BENCH_API_DATABASE_URL) $(MANAGE) bench_api $(BENCH_API_ARGS)
