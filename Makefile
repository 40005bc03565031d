# tuzheng: `make run` serves the app, `make test` runs the tests. Both install what is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := run
VENV := .venv
PY := $(VENV)/bin/python
TZ := $(VENV)/bin/tuzheng
PYTHON ?= python3
STAMP := .make
APT_RUNTIME := postgresql-15-postgis-3
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test install system-deps test-system-deps db notebooks lint bench clean stop mutation

run: install db  ## install, start PostGIS, migrate, load the demo on first start, serve :8000
	$(TZ) serve --host 127.0.0.1 --port $${TUZHENG_API_PORT:-8000}

test: install test-system-deps db  ## the same bootstrap, then pytest against a real PostGIS
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

install: system-deps $(STAMP)/venv $(STAMP)/npm

# PostGIS from apt when it is absent and we are root; otherwise say exactly what to do.
# The CJK font (fonts-wqy-zenhei) is a product dependency: the PDF review report and printed
# maps embed it.
system-deps:
	@if [ -z "$$DATABASE_URL" ] && [ ! -f /usr/share/postgresql/15/extension/postgis.control ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $(APT_RUNTIME) from apt"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_RUNTIME); \
	  else \
	    echo "PostGIS is missing. Install it:  sudo apt-get install $(APT_RUNTIME)"; \
	    echo "or run the database in Docker:   docker compose up -d db"; \
	    echo "  and export DATABASE_URL=postgresql://tuzheng:tuzheng@127.0.0.1:5432/tuzheng"; \
	    exit 2; \
	  fi; \
	fi
	@if [ ! -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing fonts-wqy-zenhei from apt (PDF reports)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei; \
	  else echo "the PDF reports need a CJK font: sudo apt-get install fonts-wqy-zenhei"; exit 2; fi; \
	fi

# ogr2ogr (OAPIF client test, benchmarks), shp2pgsql, headless Chromium (browser test), wrk,
# a CJK font so screenshots show Chinese labels, poppler-utils (pdftoppm, pdftotext) to render
# and read the PDF reports in tests, and QGIS with its Python bindings (the PyQGIS client test
# runs Debian's /usr/bin/python3; about 1.1 GB, under 2 minutes to install).
QGIS_APT := qgis python3-qgis
test-system-deps:
	@missing=""; \
	command -v ogr2ogr >/dev/null || missing="$$missing gdal-bin"; \
	command -v shp2pgsql >/dev/null || missing="$$missing postgis"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	[ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || missing="$$missing fonts-wqy-zenhei"; \
	command -v pdftoppm >/dev/null || missing="$$missing poppler-utils"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing from apt"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "missing test tools:$$missing (sudo apt-get install$$missing)"; exit 2; fi; \
	fi
	@if ! /usr/bin/python3 -c "import qgis.core" 2>/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $(QGIS_APT) from apt"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends $(QGIS_APT); \
	  else echo "missing QGIS (sudo apt-get install $(QGIS_APT))"; exit 2; fi; \
	fi

$(STAMP)/venv: pyproject.toml
	@mkdir -p $(STAMP)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@touch $@

$(STAMP)/npm: package.json package-lock.json
	@mkdir -p $(STAMP)
	npm ci --no-audit --no-fund --silent
	@touch $@

db: install  ## start the local cluster (unless DATABASE_URL) and migrate
	$(TZ) db up

stop:  ## stop the local cluster
	$(TZ) db stop

notebooks: install  ## JupyterLab on the notebooks, pointed at the local database (demo loaded if empty)
	$(TZ) bootstrap
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 --no-browser $$([ "$$(id -u)" = 0 ] && echo --allow-root)

lint: install
	$(VENV)/bin/ruff check spatial api data tests bench notebooks
	$(VENV)/bin/ruff format --check spatial api data tests bench
	$(VENV)/bin/mypy

# Mutation testing of the pure rule modules ([tool.mutmut] in pyproject.toml), with the tests
# that need no database. Not part of `make test`. Fails on a survivor that
# tests/mutation_survivors.txt does not explain.
mutation: install
	rm -rf mutants
	TUZHENG_NO_DB=1 $(VENV)/bin/mutmut run --max-children 2 > .mutmut.log 2>&1 || (tail -c 2000 .mutmut.log; exit 1)
	$(VENV)/bin/mutmut results --all true > .mutmut-results.txt
	$(PY) tests/mutation_report.py .mutmut-results.txt tests/mutation_survivors.txt

bench: install test-system-deps db
	$(PY) bench/siting.py
	$(PY) bench/ingest.py
	$(PY) bench/overlaps.py
	$(PY) bench/copy_encoder.py
	$(PY) bench/analysis.py
	$(PY) bench/tiles.py
	$(PY) bench/bbox.py
	$(PY) bench/procedure.py
	$(PY) bench/cql2_parse.py

clean:
	rm -rf $(STAMP) $(VENV) node_modules
