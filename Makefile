# make run   set up on a fresh machine, then `dvc repro` -> reports/index.html
# make test  set up, then the whole test suite (what .ci/run calls)
# make ui    MLflow UI on http://127.0.0.1:5000

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# Stage commands say `python`: the one in .venv, with the pinned packages.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)

# No telemetry, no update checks: nothing leaves this machine.
export DVC_NO_ANALYTICS := 1
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0

.PHONY: setup data run test ui lock clean-venv

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	touch $@

data: setup
	@scripts/ensure-dataset.sh $(BIN)/python

run: setup data
	$(BIN)/dvc repro
	@echo "Report: $(CURDIR)/reports/index.html (and reports/report.md)"

test: setup data
	$(BIN)/python -m pytest

ui: setup
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --host 127.0.0.1 --port 5000

lock: setup
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip freeze --exclude-editable > requirements.lock

clean-venv:
	rm -rf $(VENV)
