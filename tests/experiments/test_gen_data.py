"""v4s-gen-data: clips from the simulator, deterministic, with boxes on ObjectNav targets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from v4s.agent import EpisodeBrief
from v4s.agent.oracle import OracleAgent
from v4s.agent.video import VideoAgent
from v4s.envs.nav_env import NavEnv
from v4s.envs.tasks.config import TaskConfig
from v4s.experiments.gen_data import GenDataConfig, generate
from v4s.experiments.idm import PairsConfig
from v4s.experiments.train import TrainConfig
from v4s.model.boxes import BOX_COLOR, detect_box, outline_mask
from v4s.model.clips import ClipFileError, flip, load_clips
from v4s.model.conditioning import relative_poses
from v4s.planner import PlanRequest
from v4s.planner.objectives import objective_for
from v4s.typed_config import ConfigError


@pytest.fixture(scope="module")
def clips_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("clips")
    generate(GenDataConfig(split="val", num_scenes=1, episodes_per_scene=2, windows_per_episode=2, out=str(out)),
             progress=False)
    return out


def test_clip_layout(clips_dir):
    manifest = json.loads((clips_dir / "manifest.json").read_text())
    assert manifest["format"] == "v4s-clips-v1" and {s["task"] for s in manifest["shards"]} == {"posenav", "objectnav"}
    clips = load_clips(clips_dir)
    n = len(clips["task"])
    assert n == manifest["num_clips"] >= 4
    assert clips["context"].shape == (n, 8, 64, 64, 3) and clips["context"].dtype == np.uint8
    assert clips["target"].shape == (n, 8, 64, 64, 3) and clips["current"].shape == (n, 64, 64, 3)
    assert clips["relative"].shape == (n, 8, 4) and clips["actions"].shape == (n, 8)
    # context frames are a spread-out, non-contiguous sample of the tour, in order
    steps = np.diff(clips["context_index"], axis=1)
    assert np.all(steps > 0) and np.any(steps > 1)
    assert set(np.unique(clips["actions"])) <= {0, 1, 2, 3}


def test_relative_poses_follow_the_actions(clips_dir):
    clips = load_clips(clips_dir, ("posenav",))
    for rel, actions in zip(clips["relative"], clips["actions"]):
        yaw = np.degrees(np.arctan2(rel[:, 2], rel[:, 3]))
        turns = np.cumsum(np.select([actions == 2, actions == 3], [10.0, -10.0], 0.0))
        np.testing.assert_allclose(yaw, turns, atol=1e-3)
    # a step forward from the current pose is -0.25 m along z in the current frame
    assert np.allclose(relative_poses(np.array([1.0, 2.0, 0.5]), np.array([[1.0 - 0.25 * np.sin(0.5),
                                                                            2.0 - 0.25 * np.cos(0.5), 0.5]]))[0],
                       [0.0, -0.25, 0.0, 1.0], atol=1e-6)


def test_objectnav_targets_carry_boxes(clips_dir):
    clips = load_clips(clips_dir, ("objectnav",))
    final = clips["target"][:, -1]
    found = [detect_box(f) for f in final]
    drawn = clips["boxes"][:, -1, 0] >= 0
    assert drawn.mean() > 0.5  # most routes end facing the object
    for box, was_drawn in zip(found, drawn):
        assert (box is not None) == bool(was_drawn)
    assert not any(detect_box(c) for c in clips["current"][:2])  # observations never carry the box
    # the stored box is the outline drawn on the frame (the training loss weights its pixels), mirrored with it
    for frames in (clips, flip(clips)):
        mask, some = outline_mask(frames["boxes"], frames["target"].shape[-2]), frames["boxes"][..., 0] >= 0
        assert some.any() and mask[some].any(axis=(1, 2)).all()
        assert not mask[~some].any()
        assert (frames["target"][mask] == BOX_COLOR).all()


def test_generation_is_deterministic_and_resumes(clips_dir, tmp_path):
    cfg = GenDataConfig(split="val", num_scenes=1, episodes_per_scene=2, windows_per_episode=2, out=str(tmp_path),
                        tasks=("posenav",))
    generate(cfg, progress=False)
    a, b = load_clips(tmp_path), load_clips(clips_dir, ("posenav",))
    for key in ("context", "target", "relative", "context_index"):
        np.testing.assert_array_equal(a[key], b[key])
    shard = next(tmp_path.glob("posenav/*.npz"))
    stamp = shard.stat().st_mtime_ns
    generate(cfg, progress=False)  # a rerun keeps what is written
    assert shard.stat().st_mtime_ns == stamp
    # a shard of an older layout (no goal) is an error naming it, and a rerun writes it again
    with np.load(shard) as data:
        old = {k: data[k] for k in data.files if k != "goal"}
    np.savez_compressed(shard, **old)
    with pytest.raises(ClipFileError, match=rf"{shard}: clip shard without \['goal'\].*rerun v4s-gen-data"):
        load_clips(tmp_path)
    generate(cfg, progress=False)
    np.testing.assert_array_equal(load_clips(tmp_path)["goal"], b["goal"])


def test_workers_render_the_same_shards_as_one_process(tmp_path):
    def run(workers: int):
        out = tmp_path / f"workers{workers}"
        generate(GenDataConfig(split="val", num_scenes=2, episodes_per_scene=1, windows_per_episode=1,
                               tasks=("objectnav",), workers=workers, out=str(out)), progress=False)
        return out

    one, two = run(1), run(2)
    shards = sorted(p.relative_to(one) for p in one.glob("objectnav/*.npz"))
    assert len(shards) == 2 and shards == sorted(p.relative_to(two) for p in two.glob("objectnav/*.npz"))
    for shard in shards:
        with np.load(one / shard) as a, np.load(two / shard) as b:
            assert a.files == b.files
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{shard}: {key}")
    manifests = [json.loads((out / "manifest.json").read_text()) for out in (one, two)]
    for manifest in manifests:  # the worker count says how the clips were made, not which
        assert "workers" not in manifest["config"] and manifest.pop("config").pop("out")
    assert manifests[0] == manifests[1] and manifests[0]["num_clips"] == len(load_clips(one)["task"])


def test_a_clip_goal_is_the_goal_the_agent_reads_from_its_sensors_at_that_pose(clips_dir):
    """Training (world poses) and inference (point-goal sensor, compass, the brief's goal heading) give the model
    the same goal pose: replay each clip's oracle route in the env to its current view and ask the planner."""
    clips = load_clips(clips_dir, ("posenav",))
    task = TaskConfig.from_mapping({"name": "posenav", "dataset": {"episodes_per_scene": 2, "seed": 0}})
    env = NavEnv(task, split="val", num_episodes=2, sim={"width": 64, "height": 64})
    objective = objective_for(env.task, env.sim_config, goal_conditioned=True)
    oracle = OracleAgent(env.sim_config)
    checked = 0
    for episode_id, pose, goal in zip(clips["episode_id"], clips["poses"][:, 0], clips["goal"]):
        obs, info = env.reset(options={"episode_id": str(episode_id)})
        brief = EpisodeBrief.from_info(info, "posenav")
        oracle.reset(EpisodeBrief.from_info(info, "posenav", privileged=True))
        for _ in range(env.task.max_episode_steps):
            if np.allclose([*info["position"][[0, 2]], info["heading"]], pose, atol=1e-6):
                break
            obs, _, _, _, info = env.step(oracle.act(obs))
        else:
            pytest.fail(f"the oracle's route of {episode_id} never passes the clip's current pose {pose}")
        request = PlanRequest(current=obs["rgb"], depth=None, context_latents=None, context_positions=np.zeros(0),
                              instruction_embeds=None, sensors=VideoAgent.sensors(brief, obs))
        seen = objective.conditions([request], [None], 1, 0, 8, None)["goal_pose"][0]
        np.testing.assert_allclose(seen, goal, atol=2e-3)
        checked += 1
    env.close()
    assert checked == len(clips["task"]) >= 2 and np.all(np.hypot(clips["goal"][:, 0], clips["goal"][:, 1]) > 0)
    assert np.count_nonzero(load_clips(clips_dir, ("objectnav",))["goal"]) == 0  # the null goal


def test_missing_clips_are_named(tmp_path):
    with pytest.raises(ClipFileError, match="manifest.json is missing"):
        load_clips(tmp_path)


@pytest.mark.parametrize("config", [GenDataConfig, TrainConfig, PairsConfig])
def test_an_unknown_task_is_named(config):
    with pytest.raises(ConfigError, match=r"tasks must be a non-empty list of objectnav, posenav, got \['pickplace'\]"):
        config(tasks=("pickplace",))
    with pytest.raises(ConfigError, match=r"tasks must be a non-empty list"):
        config(tasks=())
