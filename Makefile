# The README's commands live here. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch is pinned here, not in the package metadata: 2.13.0 is the CPU wheel this machine
# has on disk, while a bare `torch` would pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: setup bench bench-sim bench-throughput test clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

BENCH_OUT ?= runs/bench
BENCH_EPISODES ?= 50

# the navigation benchmark: oracle and random agents on the val split of both tasks
bench: setup
	@set -e; for task in objectnav posenav; do for agent in oracle random; do \
	  $(VENV)/bin/v4s-bench task=$$task agent=$$agent split=val num_episodes=$(BENCH_EPISODES) \
	    out=$(BENCH_OUT)/$$task-$$agent > /dev/null; \
	done; done
	@$(PY) -m v4s.experiments.records $(BENCH_OUT)/objectnav-oracle/summary.json \
	  $(BENCH_OUT)/objectnav-random/summary.json $(BENCH_OUT)/posenav-oracle/summary.json \
	  $(BENCH_OUT)/posenav-random/summary.json

bench-sim: setup
	$(PY) benchmarks/sim_fps.py

bench-throughput: setup
	$(PY) benchmarks/bench_throughput.py

test: setup
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache
