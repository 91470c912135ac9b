# Two commands do all the set-up on a fresh machine:
#   make demo   create or reuse .venv, install nalm, run the main job (`nalm demo`)
#   make test   the same set-up plus the dev, ray, docs and tensorboard extras, the example unit
#               package (examples/custom_unit, a unit declared through nalm's entry point) and,
#               where it is missing, Chromium from the distribution (for the site's browser
#               test), then ruff and pytest
#   make docs   the documentation site into site/ (strict: a broken link fails the build)
# torch==2.13.0 is installed first when the venv has no torch: the project's own requirement is a
# range (torch>=2.2), which on a machine without torch would pull the newest CUDA build.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_PIN ?= torch==2.13.0

.PHONY: demo test setup setup-dev lint docs browser clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch: | $(PY)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install "$(TORCH_PIN)"
	touch $@

$(VENV)/.nalm: pyproject.toml $(VENV)/.torch
	$(PIP) install -e .
	touch $@

$(VENV)/.nalm-dev: pyproject.toml examples/custom_unit/pyproject.toml $(VENV)/.nalm
	$(PIP) install -e ".[dev,ray,docs,tensorboard]"
	$(PIP) install --no-deps -e examples/custom_unit
	touch $@

setup: $(VENV)/.nalm

setup-dev: $(VENV)/.nalm-dev browser

# the browser test's Chromium, from the distribution's packages (as root, where apt-get exists);
# without it that test is skipped with its reason
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	    echo "make: Chromium not installed; the site's browser test will be skipped"; }

docs: $(VENV)/.nalm-dev
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

demo: setup
	$(VENV)/bin/nalm demo

lint: setup-dev
	$(PY) -m ruff check src tests benchmarks examples docs/_build
	$(PY) -m ruff format --check src tests benchmarks examples docs/_build

test: lint
	$(PY) -m pytest

clean:
	rm -rf $(VENV) build site docs/assets/katex src/*.egg-info .pytest_cache .ruff_cache
