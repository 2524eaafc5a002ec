# The CPx card platform. `make run` starts it, `make test` proves it.
SHELL := /bin/bash
PYTHON ?= /usr/bin/python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DJANGO_SETTINGS_MODULE ?= config.settings

.PHONY: venv system db test lint typecheck pytest run manage bench clean graph

venv: $(STAMP)

$(STAMP): pyproject.toml scripts/deps.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip >/dev/null
	$(BIN)/python -m pip install -q $$($(BIN)/python scripts/deps.py --dev)
	@touch $(STAMP)

system:
	@scripts/ensure_system.sh

db:
	@scripts/ensure_db.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy .

pytest: venv system db
	$(BIN)/pytest $(PYTEST_ARGS)

test: venv system db lint typecheck pytest

# As production runs it: gunicorn, DEBUG off (DJANGO_DEBUG=true make run turns it on), WhiteNoise static files.
run: venv system
	$(BIN)/python scripts/run.py

# A management command against what `make run` runs (var/run.env), e.g. make manage ARGS="import_registry F".
manage: venv
	$(BIN)/python manage.py $(ARGS)

bench: venv system db
	$(BIN)/python bench/run_all.py

# The order and card state machines, drawn by django-fsm-2 (kept in docs/).
graph: venv system
	$(BIN)/python manage.py graph_transitions orders.Order > docs/order_transitions.dot
	dot -Tsvg docs/order_transitions.dot -o docs/order_transitions.svg
	$(BIN)/python manage.py graph_transitions cards.Card > docs/card_transitions.dot
	dot -Tsvg docs/card_transitions.dot -o docs/card_transitions.svg

clean:
	rm -rf $(VENV) var
