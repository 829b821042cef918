"""``v4s-gen-data split=<train|val> tasks=[posenav,objectnav] num_scenes=<N> out=<DIR>``.

Renders training clips from the houses of one split. A clip is what the video
model sees and must produce:

- ``context``: ``context_frames`` frames sampled non-contiguously (one per stratum)
  from the house tour, with their positions in the tour (``context_index``); in a
  share of the clips the last ``history_frames`` of them are the route's own earlier
  views, at positions after the tour (tour length + step), as the video agent's memory;
- ``current``: the agent's view at a step of the oracle's route drawn uniformly along
  the whole route (``windows_per_episode`` per episode), the start included;
- ``target``: the next ``target_frames`` views along the route, one per action
  (padded with the last view after STOP), with the actions, the absolute poses
  and the poses relative to the current view;
- ``goal``: PoseNav's goal pose (position and heading) relative to the current view,
  for goal-pose conditioning (zeros, the null goal, for ObjectNav);
- the instruction: ObjectNav text; PoseNav the relative target poses (and the
  episode's text). ObjectNav target frames carry a red box around each visible
  instance of the goal category, from the semantic sensor.

Frames are rendered at ``render_resolution`` and box-filtered down to
``resolution``. One shard per (task, house), ``<task>/<scene_id>.npz``; a rerun
skips the shards already written (and rewrites those of an older layout, which lack an
array the loader needs), and ``manifest.json`` lists them all. Every
house has its own seeded stream, so the output does not depend on what ran before.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import numpy as np
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from v4s.agent.base import EpisodeBrief
from v4s.agent.oracle import OracleAgent
from v4s.envs.nav_env import NavEnv
from v4s.envs.scenes.semantic import load_semantic
from v4s.envs.scenes.spec import SPLIT_SEEDS, resolve_scene
from v4s.envs.sim.base import quaternion_to_yaw
from v4s.envs.tasks.config import TaskConfig, require_tasks, task_kind
from v4s.envs.tasks.dataset import ensure_dataset
from v4s.envs.tasks.episodes import PoseGoal
from v4s.envs.tasks.tour import house_tour, render_poses
from v4s.fileio import atomic_path, write_text_atomic
from v4s.model.boxes import BOX_THICKNESS, draw_box
from v4s.model.clips import ARRAYS, STRINGS
from v4s.model.conditioning import context_indices, relative_poses, resize_frames
from v4s.typed_config import build, require

RUN_ONLY = ("workers",)  #: settings that change how clips are made, not which: left out of the manifest
MIN_BOX = 4  #: pixels, at the output resolution


@dataclass
class GenDataConfig:
    split: str = "train"
    tasks: tuple[str, ...] = ("posenav", "objectnav")
    num_scenes: int = 100
    episodes_per_scene: int = 8
    windows_per_episode: int = 3  #: clips per episode, starting anywhere along the route (uniformly)
    context_frames: int = 8  #: sampled non-contiguously from the house tour
    target_frames: int = 8  #: one per action after the current frame
    resolution: int = 64  #: frames are box-filtered down from render_resolution
    render_resolution: int = 128
    history_frames: int = 2  #: context slots that some clips fill with the route's earlier frames
    history_share: float = 0.5  #: the share of clips (past the route's first step) that do
    box_min_fraction: float = 0.002  #: smallest share of the frame a goal instance must cover to get a box
    seed: int = 0
    out: str = "data/clips/train"
    #: processes rendering houses side by side, each with its own simulator (every house has its own stream:
    #: the shards are the same for any count)
    workers: int = 1

    def __post_init__(self) -> None:
        self.tasks = tuple(self.tasks)
        require(self.split in SPLIT_SEEDS, "split", f"one of {list(SPLIT_SEEDS)}", self.split)
        require_tasks(self.tasks)
        for name in ("num_scenes", "episodes_per_scene", "windows_per_episode", "context_frames", "target_frames",
                     "workers"):
            require(getattr(self, name) >= 1, name, "at least 1", getattr(self, name))
        require(self.resolution >= 8, "resolution", "at least 8 pixels", self.resolution)
        require(self.render_resolution >= self.resolution, "render_resolution",
                f"at least resolution ({self.resolution})", self.render_resolution)
        require(0 <= self.history_frames < self.context_frames, "history_frames",
                f"in [0, context_frames={self.context_frames})", self.history_frames)
        require(0 <= self.history_share <= 1, "history_share", "in [0, 1]", self.history_share)
        require(0 <= self.box_min_fraction < 1, "box_min_fraction", "in [0, 1)", self.box_min_fraction)


def _boxes(semantic: np.ndarray, ids: set[int], min_fraction: float, scale: float) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1) at the output resolution of every goal instance covering enough pixels."""
    out = []
    for object_id in sorted(ids):
        rows, cols = np.nonzero(semantic == object_id)
        if len(rows) >= min_fraction * semantic.size:
            box = tuple(int(round(v * scale)) for v in (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1))
            if box[2] - box[0] >= MIN_BOX and box[3] - box[1] >= MIN_BOX:  # a sliver at the edge is no box
                out.append(box)
    return out


def _run_oracle(env: NavEnv, oracle: OracleAgent, episode_id: str) -> dict[str, Any]:
    """Frames (n+1, H, W, 3), semantic (n+1, H, W), poses (n+1, 3) and actions (n,) of the oracle's route."""
    obs, info = env.reset(options={"episode_id": episode_id})
    oracle.reset(EpisodeBrief.from_info(info, env.task.name, privileged=True))
    frames, semantic, poses, actions = [obs["rgb"]], [obs["semantic"]], [], []
    poses.append([*info["position"][[0, 2]], info["heading"]])
    done = False
    while not done:
        action = oracle.act(obs)
        obs, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
        frames.append(obs["rgb"])
        semantic.append(obs["semantic"])
        poses.append([*info["position"][[0, 2]], info["heading"]])
        actions.append(action)
    return {"frames": np.stack(frames), "semantic": np.stack(semantic), "poses": np.array(poses, np.float32),
            "actions": np.array(actions, np.int8), "info": info}


def _goal_pose(episode: Any) -> np.ndarray | None:
    """The episode's goal pose (3,) [x, z, yaw] for a pose goal, or None; the yaw is NaN for a goal without a
    heading (the clip's goal then keeps the current heading, as the planner's does)."""
    goal = next((g for g in episode.goals if isinstance(g, PoseGoal)), None)
    if goal is None:
        return None
    yaw = quaternion_to_yaw(goal.rotation) if goal.rotation is not None else math.nan
    return np.array([goal.position[0], goal.position[2], yaw], np.float64)


def _relative_goal(pose: np.ndarray, goal: np.ndarray | None) -> np.ndarray:
    """The goal relative to ``pose`` (4,), zeros (the null goal) without one."""
    if goal is None:
        return np.zeros(4, np.float32)
    return relative_poses(pose, np.where(np.isnan(goal), pose, goal)[None])[0]


def scene_clips(env: NavEnv, oracle: OracleAgent, scene_id: str, episodes: list, cfg: GenDataConfig,
                rng: np.random.Generator) -> dict[str, np.ndarray]:
    """All clips of one house for the env's task, as stacked arrays."""
    task = env.task.name
    env.sim.load_scene(resolve_scene(scene_id))
    spec = resolve_scene(scene_id)
    rooms = load_semantic(spec.semantic).rooms if spec.semantic else []
    tour = house_tour(env.sim, rooms, turn_degrees=env.sim_config.turn_angle)
    tour_frames = resize_frames(render_poses(env.sim, tour.poses), cfg.resolution)
    scale = cfg.resolution / cfg.render_resolution
    F = cfg.target_frames
    clips: dict[str, list] = {k: [] for k in ("context", "context_index", "current", "target", "actions", "poses",
                                              "relative", "boxes", "goal", "instruction", "task", "scene_id",
                                              "episode_id")}
    for episode in episodes:
        route = _run_oracle(env, oracle, episode.episode_id)
        n = len(route["actions"])
        frames = resize_frames(route["frames"], cfg.resolution)
        goal_ids = {g.object_id for g in episode.goals if hasattr(g, "object_id")}
        goal_pose = _goal_pose(episode)
        # windows start anywhere along the route, uniformly: at its start the goal is mostly out of view,
        # which is where the closed loop spends its time
        starts = {int(rng.integers(0, max(1, n))) for _ in range(cfg.windows_per_episode)}
        for s in sorted(starts):
            steps = np.minimum(np.arange(s + 1, s + F + 1), n)  # past the end: the view after STOP
            target = frames[steps].copy()
            boxes = np.full((F, 4), -1, dtype=np.int16)
            if task_kind(task).goal_box:
                for k, step in enumerate(steps):
                    found = _boxes(route["semantic"][step], goal_ids, cfg.box_min_fraction, scale)
                    for box in found:
                        target[k] = draw_box(target[k], box, thickness=BOX_THICKNESS)
                    if found:  # the largest instance's box stands for the frame
                        boxes[k] = max(found, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
            # the action that leads into each target frame; none (0) past the end
            actions = np.array([route["actions"][s + k] if s + k < n else 0 for k in range(F)], np.int8)
            context_index = context_indices(len(tour), cfg.context_frames, rng)
            context = tour_frames[context_index]
            if s > 0 and cfg.history_frames and rng.random() < cfg.history_share:
                # the agent's own earlier frames of this route as the last context frames, placed after the
                # tour (position tour length + step), the way the video agent feeds its memory
                seen = context_indices(s, cfg.history_frames, rng)
                context = np.concatenate([context[:-cfg.history_frames], frames[seen]])
                context_index = np.concatenate([context_index[:-cfg.history_frames], len(tour) + seen])
            clips["context"].append(context)
            clips["context_index"].append(context_index.astype(np.int32))
            clips["current"].append(frames[s])
            clips["target"].append(target)
            clips["actions"].append(actions)
            clips["poses"].append(np.concatenate([route["poses"][s][None], route["poses"][steps]]))
            clips["relative"].append(relative_poses(route["poses"][s], route["poses"][steps]))
            clips["boxes"].append(boxes)
            clips["goal"].append(_relative_goal(route["poses"][s], goal_pose))
            clips["instruction"].append(episode.instruction_text)
            clips["task"].append(task)
            clips["scene_id"].append(scene_id)
            clips["episode_id"].append(episode.episode_id)
    out = {k: np.stack(v) if k not in ("instruction", "task", "scene_id", "episode_id") else np.array(v)
           for k, v in clips.items()}
    out["tour_length"] = np.full(len(out["task"]), len(tour), dtype=np.int32)
    return out


def generate(cfg: GenDataConfig, progress: bool = True) -> Path:
    """Write (or complete) the shards of ``cfg`` and its manifest; returns the manifest path."""
    out = Path(cfg.out)
    for task_name in cfg.tasks:
        env = _clip_env(task_name, cfg)
        dataset_path = ensure_dataset(env.task, cfg.split, cfg.num_scenes * cfg.episodes_per_scene, env.sim_config,
                                      sim=env.sim, progress=progress)
        env.dataset_path = dataset_path
        by_scene: dict[str, list] = {}
        for episode in env.dataset.episodes:
            by_scene.setdefault(episode.scene_id, []).append(episode)
        houses = [(index, scene_id, episodes) for index, (scene_id, episodes) in enumerate(sorted(by_scene.items()))
                  if not _current_shard(out / task_name / f"{scene_id}.npz")]
        bar = tqdm(total=len(by_scene), initial=len(by_scene) - len(houses), disable=not progress,
                   desc=f"{task_name} clips ({cfg.split})", unit="house")
        try:
            if cfg.workers == 1 or len(houses) <= 1:
                oracle = OracleAgent(env.sim_config)
                for house in houses:
                    _write_shard(env, oracle, cfg, *house)
                    bar.update(1)
            else:
                env.close()
                _write_shards_in_workers(task_name, cfg, dataset_path, houses, bar)
        finally:
            env.close()
            bar.close()
    return write_manifest(out, cfg)


def _write_shards_in_workers(task_name: str, cfg: GenDataConfig, dataset_path: Path, houses: list, bar: tqdm) -> None:
    """The houses' shards from ``cfg.workers`` processes. A worker's error stops the run at once (the houses
    not started are cancelled); the shards written so far are kept, and a rerun goes on from them."""
    context = multiprocessing.get_context("forkserver")
    pool = ProcessPoolExecutor(min(cfg.workers, len(houses)), mp_context=context, initializer=_start_worker,
                               initargs=(task_name, cfg, dataset_path))
    try:
        for done in as_completed([pool.submit(_worker_shard, *house) for house in houses]):
            done.result()
            bar.update(1)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _clip_env(task_name: str, cfg: GenDataConfig, dataset_path: Path | None = None) -> NavEnv:
    """The env that renders ``task_name``'s clips: semantic frames (for the boxes), no depth."""
    task = TaskConfig.from_mapping({"name": task_name, "semantic": True, "depth": False,
                                    "dataset": {"episodes_per_scene": cfg.episodes_per_scene, "seed": cfg.seed}})
    sim = {"width": cfg.render_resolution, "height": cfg.render_resolution}
    env = NavEnv(task, split=cfg.split, sim=sim, num_episodes=cfg.num_scenes * cfg.episodes_per_scene)
    if dataset_path is not None:
        env.dataset_path = dataset_path
    return env


def _write_shard(env: NavEnv, oracle: OracleAgent, cfg: GenDataConfig, index: int, scene_id: str,
                 episodes: list) -> None:
    """The shard of the house at ``index`` of the split's sorted houses, from that house's own stream."""
    rng = np.random.default_rng([cfg.seed, env.task.clip_stream, index])
    clips = scene_clips(env, oracle, scene_id, episodes, cfg, rng)
    with atomic_path(Path(cfg.out) / env.task.name / f"{scene_id}.npz") as tmp:
        np.savez_compressed(tmp, **clips)


_worker: dict[str, Any] = {}  #: a worker process's env, oracle and config


def _start_worker(task_name: str, cfg: GenDataConfig, dataset_path: Path) -> None:
    os.environ.setdefault("LP_NUM_THREADS", "1")  # one rasteriser thread per worker (software GL)
    env = _clip_env(task_name, cfg, dataset_path)
    _worker.update(env=env, oracle=OracleAgent(env.sim_config), cfg=cfg)


def _worker_shard(index: int, scene_id: str, episodes: list) -> None:
    _write_shard(_worker["env"], _worker["oracle"], _worker["cfg"], index, scene_id, episodes)


def _current_shard(path: Path) -> bool:
    """Whether ``path`` is a readable shard with every array of today's layout."""
    if not path.is_file():
        return False
    try:
        with np.load(path) as data:
            return set(ARRAYS + STRINGS) <= set(data.files)
    except (OSError, ValueError, zipfile.BadZipFile):
        return False


def write_manifest(out: Path, cfg: GenDataConfig) -> Path:
    shards = []
    for path in sorted(out.glob("*/*.npz")):
        if path.name.startswith("."):  # a shard being written
            continue
        with np.load(path) as data:
            shards.append({"path": str(path.relative_to(out)), "task": str(data["task"][0]),
                           "num_clips": int(len(data["task"]))})
    manifest = {"format": "v4s-clips-v1", "config": {k: (list(v) if isinstance(v, tuple) else v)
                                                     for k, v in cfg.__dict__.items() if k not in RUN_ONLY},
                "num_clips": sum(s["num_clips"] for s in shards), "shards": shards}
    path = out / "manifest.json"
    write_text_atomic(path, json.dumps(manifest, indent=1))
    return path


ConfigStore.instance().store(name="gen_data_schema", node=GenDataConfig)


@hydra.main(version_base=None, config_path="conf", config_name="gen_data")
def main(cfg: DictConfig) -> None:
    values = OmegaConf.to_container(cfg, resolve=True)
    manifest = generate(build(GenDataConfig, values))
    data = json.loads(manifest.read_text())
    print(f"{data['num_clips']} clips in {len(data['shards'])} shards: {manifest}")


if __name__ == "__main__":
    main()
