"""`pip install v4s` is the world side: the envs, the tasks and the bench with its baseline agents import,
and run, without torch or diffusers (the video model is `v4s[model]`)."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: the modules of the world side, as the bench and its baseline agents import them
WORLD_SIDE = ("v4s.envs", "v4s.envs.nav_env", "v4s.envs.sim.embedded", "v4s.envs.sim.habitat",
              "v4s.envs.tasks.dataset", "v4s.agent", "v4s.agent.oracle", "v4s.agent.random_agent",
              "v4s.experiments.bench", "v4s.experiments.records", "v4s.experiments.run_dir", "v4s.experiments.video",
              "v4s.experiments.gen_data")  # clips are rendered from the world alone (the clip layout: v4s.model.clips)

pytestmark = pytest.mark.habitat  # make test-habitat runs it in its torch-less venv too


def test_the_world_side_imports_without_torch_or_diffusers():
    # a fresh interpreter in which importing torch or diffusers fails, as in a venv without v4s[model]
    code = ("import sys\n"
            "for name in ('torch', 'diffusers', 'transformers', 'accelerate', 'safetensors'):\n"
            "    sys.modules[name] = None\n"
            f"for module in {WORLD_SIDE!r}:\n"
            "    __import__(module)\n"
            "from v4s.agent import agent_fingerprint, make_agent\n"
            "from v4s.envs.sim import SimConfig\n"
            "from v4s.envs.tasks.config import task_config\n"
            "for name in ('oracle', 'random'):\n"
            "    make_agent(name, SimConfig(), task_config('posenav'))\n"
            "    agent_fingerprint(name, {})\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
