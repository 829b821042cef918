# The README's commands live here. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch is pinned here, not in the package metadata: 2.13.0 is the CPU wheel this machine
# has on disk, while a bare `torch` would pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: setup bench test clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

bench: setup
	$(PY) benchmarks/sim_fps.py

test: setup
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
