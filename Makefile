# The two commands of the README:  make run  (service on embedded defaults + demo data)
#                                  make test (the whole test suite)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BIND ?= 127.0.0.1:8000
# make test's pytest-xdist workers (the suites that must not overlap share one: tests/conftest.py)
TEST_WORKERS ?= 2
# documents name URLs on this service: they must match where it listens (unless set explicitly)
export LIVERY_PUBLIC_BASE_URL ?= http://$(BIND)

.PHONY: run test lint bench install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt client/pyproject.toml
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi demo seed
	$(BIN)/flask --app wsgi viewer load-catalogue
	@echo "Livery on http://$(BIND) — try: curl -i <discovery_url above>"
	$(BIN)/gunicorn --config gunicorn.conf.py --bind $(BIND) wsgi:app

test: install-dev
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install-dev
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
