# The README's commands live here. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch is pinned here, not in the package metadata: 2.13.0 is the CPU wheel this machine
# has on disk, while a bare `torch` would pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: setup bench results bench-sim bench-throughput bench-parity test test-habitat gpu-wheels clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[model,dev]'
	touch $@

setup: $(VENV)/.installed

BENCH_OUT ?= runs/bench
BENCH_EPISODES ?= 50
VIDEO_EPISODES ?= 5

# the navigation benchmark on the val split of both tasks: the video agent (VIDEO_EPISODES episodes each),
# beside the oracle and random baselines (BENCH_EPISODES each); one table
bench: setup
	@set -e; for task in objectnav posenav; do \
	  $(VENV)/bin/v4s-bench task=$$task agent=video split=val num_episodes=$(VIDEO_EPISODES) \
	    out=$(BENCH_OUT)/$$task-video > /dev/null; \
	  for agent in oracle random; do \
	  $(VENV)/bin/v4s-bench task=$$task agent=$$agent split=val num_episodes=$(BENCH_EPISODES) \
	    out=$(BENCH_OUT)/$$task-$$agent > /dev/null; \
	done; done
	@$(PY) -m v4s.experiments.records $(foreach t,objectnav posenav,$(foreach a,video oracle random,\
	  $(BENCH_OUT)/$(t)-$(a)/summary.json))

# docs/results.md: the test-split table and its ablations (long; resumes after a kill)
results: setup
	$(PY) -m v4s.experiments.results

bench-sim: setup
	$(PY) benchmarks/sim_fps.py

bench-throughput: setup
	$(PY) benchmarks/bench_throughput.py

test: setup
	$(PY) -m pytest -q

# The habitat-sim backend against the real habitat-sim 0.2.2: HABITAT_VENV is made with the test harness
# ../shared/habitat-sim/install.sh (Python 3.13, llvmpipe; about 2 minutes), and gets v4s without torch (the
# world side: envs, tasks, the bench with the baseline agents). It runs every test marked `habitat` (the
# contract suite, the backend's tests, the env, oracle and bench cases of the habitat backend), and fails
# if any of them is skipped. With conda's habitat-sim instead: make test-habitat HABITAT_VENV=$CONDA_PREFIX
HABITAT_SIM ?= ../shared/habitat-sim
HABITAT_VENV ?= .venv-habitat
HPY := $(HABITAT_VENV)/bin/python
# the test modules that import torch (v4s[model]), which this venv has not: not collected there
TORCH_TESTS = tests/model tests/planner tests/agent/test_video_agent.py tests/experiments/test_train.py \
	tests/experiments/test_eval_video.py tests/experiments/test_gen_data.py

$(HABITAT_VENV)/.installed: pyproject.toml
	@test -x $(HPY) || test -f $(HABITAT_SIM)/install.sh || { echo "test-habitat: no habitat-sim: \
	$(HABITAT_SIM)/install.sh (the test harness) is not here; give HABITAT_VENV=<an env with habitat-sim>"; exit 2; }
	test -x $(HPY) || bash $(HABITAT_SIM)/install.sh $(HABITAT_VENV)
	$(HPY) -m pip install -q -e '.[dev]'
	touch $@

test-habitat: $(HABITAT_VENV)/.installed
	$(HPY) -m pytest -q -p no:cacheprovider -m habitat --require-habitat tests $(addprefix --ignore=,$(TORCH_TESTS))

# steps/s, depth, geodesic distances and oracle success of the same episodes on both backends (JSON)
bench-parity: $(HABITAT_VENV)/.installed
	$(HPY) benchmarks/backend_parity.py

# wheels and EGL libraries for scripts/gpu_train.sh on a lent GPU machine (Python 3.12, no network there)
GPU_WHEELS = diffusers gymnasium farama-notifications trimesh moderngl glcontext hydra-core omegaconf \
	antlr4-python3-runtime==4.9.3 importlib-metadata
gpu-wheels:
	grep -qx '/.whl/' .git/info/exclude || echo '/.whl/' >> .git/info/exclude
	grep -qx '/.gl/' .git/info/exclude || echo '/.gl/' >> .git/info/exclude
	python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
	  --platform any -d .whl $(GPU_WHEELS)
	mkdir -p .gl /tmp/amd64/partial && cd .gl && apt-get -oAPT::Architecture=amd64 -oDir::State::Lists=/tmp/amd64 update -q \
	  && apt-get -oAPT::Architecture=amd64 -oDir::State::Lists=/tmp/amd64 download libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2

clean:
	rm -rf $(VENV) .pytest_cache
