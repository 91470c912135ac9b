# Two commands do all the set-up on a fresh machine:
#   make demo   create or reuse .venv, install nalm, run the main job (`nalm demo`)
#   make test   the same set-up plus the dev and ray extras and the example unit package
#               (examples/custom_unit, a unit declared through nalm's entry point), then ruff
#               and pytest
# torch==2.13.0 is installed first when the venv has no torch: the project's own requirement is a
# range (torch>=2.2), which on a machine without torch would pull the newest CUDA build.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_PIN ?= torch==2.13.0

.PHONY: demo test setup setup-dev lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch: | $(PY)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install "$(TORCH_PIN)"
	touch $@

$(VENV)/.nalm: pyproject.toml $(VENV)/.torch
	$(PIP) install -e .
	touch $@

$(VENV)/.nalm-dev: pyproject.toml examples/custom_unit/pyproject.toml $(VENV)/.nalm
	$(PIP) install -e ".[dev,ray]"
	$(PIP) install --no-deps -e examples/custom_unit
	touch $@

setup: $(VENV)/.nalm

setup-dev: $(VENV)/.nalm-dev

demo: setup
	$(VENV)/bin/nalm demo

lint: setup-dev
	$(PY) -m ruff check src tests benchmarks examples
	$(PY) -m ruff format --check src tests benchmarks examples

test: lint
	$(PY) -m pytest

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache
