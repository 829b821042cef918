"""The hydra configs compose the task defaults, and overrides reach the simulator."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_module

from v4s.envs.tasks.config import TASK_CONFIGS, task_config
from v4s.experiments.bench import settings_from_config


def _compose(*overrides: str):
    with initialize_config_module(config_module="v4s.experiments.conf", version_base=None):
        return compose(config_name="bench", overrides=list(overrides))


def test_every_task_has_its_yaml_and_its_schema():
    from importlib.resources import files

    from hydra.core.config_store import ConfigStore

    import v4s.experiments.conf  # noqa: F401  (stores the task group's schemas)

    stored = ConfigStore.instance().list("task")
    for name in TASK_CONFIGS:
        assert (files("v4s.experiments.conf") / "task" / f"{name}.yaml").is_file(), name
        assert f"{name}_schema.yaml" in stored, stored


@pytest.mark.parametrize("task", sorted(TASK_CONFIGS))
def test_the_task_group_composes_the_task_defaults(task):
    settings = settings_from_config(_compose(f"task={task}"))
    assert settings.task == task_config(task)
    expected = task_config(task).sim
    for key, value in expected.items():
        assert getattr(settings.sim, key) == value


def test_overrides_reach_the_simulator_and_the_agent():
    settings = settings_from_config(_compose("task=posenav", "sim.turn_angle=15", "sim.width=64", "agent=random",
                                             "agent.seed=4", "num_envs=2", "split=test"))
    assert settings.sim.turn_angle == 15 and settings.sim.width == 64 and settings.sim.hfov == 90.0
    assert settings.agent == "random" and settings.agent_kwargs == {"seed": 4}
    assert settings.num_envs == 2 and settings.split == "test" and settings.backend == "embedded"
    assert str(settings.out) == "runs/bench/posenav-random-test"


def test_bad_values_are_named():
    with pytest.raises(ValueError, match="num_envs must be a positive integer"):
        settings_from_config(_compose("num_envs=0"))
    with pytest.raises(ValueError, match=r"task.dataset: unknown field\(s\) \['episodes'\]"):
        settings_from_config(_compose("+task.dataset.episodes=3"))


@pytest.mark.parametrize("app, override, message", [
    ("train", "steps=abc", "Value 'abc' of type 'str' could not be converted to Integer\n    full_key: steps"),
    ("train", "lr=-1", "lr must be at least 0, got -1.0"),
    ("train", "goal_share=2", "goal_share must be in [0, 1], got 2.0"),
    ("eval_video", "pose_instruction=route", "pose_instruction must be 'trajectory' or 'goal', got 'route'"),
    ("gen_data", "num_scenes=0", "num_scenes must be at least 1, got 0"),
    ("episodes", "num_episodes=0", "num_episodes must be a positive integer, got 0"),
    ("scenes", "num=x", "num must be a positive integer, got 'x'"),
    ("bench", "sim.turn_angle=abc", "sim.turn_angle must be a number, got 'abc'"),
])
def test_every_app_names_a_bad_value_before_it_starts(app, override, message, tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", f"v4s.experiments.{app}", override, f"out={tmp_path / 'out'}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and message in done.stderr, done.stderr[-2000:]
    assert not (tmp_path / "out").exists()  # nothing was written
