# The commands of the README: `make run`, `make test`, and `make serve` for production.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUM    := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# Two stamps per pyproject.toml: the app alone (make run, make serve) and the app with the
# test and lint tools (make test, test-browser, lint). Installing the tools also satisfies
# the app's stamp; installing the app alone never satisfies the tools' stamp.
APP_STAMP := $(VENV)/.installed-app-$(SUM)
STAMP     := $(VENV)/.installed-$(SUM)
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run serve test test-browser browser-tools vendor lint clean translations

# Stamps of an older pyproject.toml are removed; the other stamp of this one is kept.
$(APP_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e .
	find $(VENV) -maxdepth 1 -name '.installed-*' ! -name '*-$(SUM)' -delete
	touch $(APP_STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	find $(VENV) -maxdepth 1 -name '.installed-*' ! -name '*-$(SUM)' -delete
	touch $(STAMP) $(APP_STAMP)

# The Spanish catalog: messages.po is edited by hand; messages.mo, read by the app, is built
# from it (and committed, so a fresh clone works; tests/test_i18n.py checks the two agree).
CATALOGS := $(patsubst %.po,%.mo,$(wildcard translations/*/LC_MESSAGES/messages.po))
translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po | $(APP_STAMP)
	$(BIN)/pybabel compile -d translations -D messages -l $*

# After wrapping new strings: extract them (pages, code, the rules' sentences: babel.cfg),
# merge them into the catalog (new ones have an empty msgstr), then compile.
translations: $(APP_STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l --add-location=file --sort-output --no-wrap \
	  -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations -D messages \
	  --no-wrap --ignore-obsolete --no-fuzzy-matching
	$(BIN)/pybabel compile -d translations -D messages

run: $(APP_STAMP) $(CATALOGS)
	$(BIN)/registry db upgrade
	@if $(BIN)/registry db is-empty; then $(BIN)/registry demo; else echo "Database has data: demo not loaded again."; fi
	@echo "Registry on http://$(HOST):$(PORT)/  (demo password for every login: demo-password)"
	@echo "Mail (written to instance/mail/ unless MAIL_SERVER is set): http://$(HOST):$(PORT)/staff/mail as staff@demo.example"
	@# `registry worker` beside the app (delivers mail, seals the audit chain, signs
	@# checkpoints); stopped with it. Links in mail point at this server unless PUBLIC_URL is set.
	export REGISTRY_PUBLIC_URL=$${REGISTRY_PUBLIC_URL:-http://$(HOST):$(PORT)}; \
	$(BIN)/registry worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn --bind $(HOST):$(PORT) --workers 2 --threads 4 --access-logfile - 'registry:create_app()'

# Production: nginx in front of gunicorn, and the background worker (see deploy/run).
serve: $(APP_STAMP) $(CATALOGS)
	deploy/run

# Two processes (pytest-xdist) on a machine with two cores or more. The fuzz tests of every
# door (tests/api/test_openapi.py: each API operation and mode; tests/interop: FHIR, CDS
# Hooks, NCPDP) try 20 generated requests each here; the PostgreSQL run in .ci/run tries 100
# (API_FUZZ_EXAMPLES=100 make test does too). Bytecode is written even where the
# environment says not to (PYTHONDONTWRITEBYTECODE): pytest keeps each test module it
# rewrote for its assertions there (__pycache__, ignored by git); without it, each worker
# of each run rewrites and compiles them all again (~1 s CPU a worker). Each module runs
# whole on one worker (--dist loadscope): a module that builds its world once
# (tests/harness.py shared_app) then builds it once, not once on each worker. Modules are
# handed out in the order tests/conftest.py collects them, longest first by the last run's
# timings (--no-loadscope-reorder; xdist would otherwise order them by their count of tests),
# so that no worker starts a long module while the other is nearly done.
test: $(STAMP) $(CATALOGS)
	API_FUZZ_EXAMPLES=$${API_FUZZ_EXAMPLES:-20} PYTHONDONTWRITEBYTECODE= \
	$(BIN)/python -m pytest -m "not browser" -q -n auto --maxprocesses=4 --dist loadscope \
	  --no-loadscope-reorder

# The browser tests check every page with axe-core, an npm package used by the tests only.
browser-tools:
	npm ci --prefix tests/browser --no-audit --no-fund

test-browser: $(STAMP) browser-tools
	$(BIN)/python -m pytest -m browser -q

# The camera's QR decoder (jsQR, Apache-2.0) is served by the app from registry/static/vendor,
# copied from the npm package pinned in tests/browser/package-lock.json.
vendor: browser-tools
	mkdir -p registry/static/vendor
	cp tests/browser/node_modules/jsqr/dist/jsQR.js registry/static/vendor/jsQR.js
	cp tests/browser/node_modules/jsqr/LICENSE registry/static/vendor/jsQR.LICENSE

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy registry

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/browser/node_modules
