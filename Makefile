# make run   set up on a fresh machine, then `dvc repro` -> reports/index.html
# make test  set up, then the whole test suite (what .ci/run calls)
# make ui    MLflow UI on http://127.0.0.1:5000 (prints the link that opens on the runs)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# Stage commands say `python3`: the one in .venv, with the pinned packages.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)

# The project's environment variables, kept in environment.env (no telemetry, quiet TensorFlow, ...).
include environment.env
export $(shell sed -n 's/^\([A-Z_]*\)=.*/\1/p' environment.env)

.PHONY: setup data run test test-fast lint site ui lock clean-venv

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	touch $@

data: setup
	@scripts/ensure-dataset.sh $(BIN)/python

run: setup data
	$(BIN)/python -m pipeline check
	$(BIN)/dvc repro
	@echo "Report: $(CURDIR)/reports/index.html (and reports/report.md)"

test: setup data lint
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

site: setup
	$(BIN)/python -m pipeline publish
	$(BIN)/python scripts/check-site-offline.py public

ui: setup
	@$(BIN)/python -c 'from pipeline import config, tracking; print("MLflow UI, opened on the runs:", tracking.ui_url(config.load().mlflow.experiment))'
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --host 127.0.0.1 --port 5000

# The direct dependencies are pyproject.toml's (and its dev extra); the lock pins them and everything they need.
lock: setup
	$(BIN)/python -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
		print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))' > .direct-requirements.txt
	$(BIN)/pip install --quiet -r .direct-requirements.txt && rm .direct-requirements.txt
	$(BIN)/pip freeze --exclude-editable > requirements.lock

clean-venv:
	rm -rf $(VENV)
