"""``v4s-bench``: run an agent on a task's episodes and score it with habitat-lab's measures.

    v4s-bench agent=<oracle|random|video> task=<objectnav|posenav> split=<train|val|test> \\
              num_episodes=<N> num_envs=<E> out=<DIR> video=<bool>

Writes ``DIR/episodes.jsonl`` (one line per finished episode, appended as it
finishes: rerunning the same command skips the episodes already there),
``DIR/summary.json``, ``DIR/summary.md`` and, with ``video=true``,
``DIR/videos/<episode_id>.mp4``.

Episodes run in a gymnasium vector env (``SyncVectorEnv`` for one env, an
``AsyncVectorEnv`` of ``forkserver`` workers for more, so whatever GL context this
process holds never reaches a worker) without autoreset: each worker is reset to
the next episode of the queue by id. One vector agent in this process acts for all
workers at once (a video agent batches its model calls across them), and sees only
the agent-visible brief of each episode unless it declares itself privileged. A
worker left without episodes turns on the spot until the others finish.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import hydra
import numpy as np
from gymnasium.vector import AutoresetMode
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from v4s.agent import make_agent
from v4s.agent.base import EpisodeBrief
from v4s.envs.nav_env import NavEnv
from v4s.envs.sim import SimConfig
from v4s.envs.tasks.config import TaskConfig
from v4s.envs.tasks.dataset import ensure_dataset, task_sim_config
from v4s.envs.tasks.episodes import load_dataset
from v4s.experiments.records import METRICS, EpisodeLog, markdown_table, summarize
from v4s.fileio import write_text_atomic

IDLE_ACTION = 2  #: what a worker without episodes does: turn left, which never ends an episode


@dataclass
class BenchSettings:
    """Everything one benchmark run needs (built from the hydra config by :func:`settings_from_config`)."""

    task: TaskConfig
    sim: SimConfig
    agent: str
    out: Path
    backend: str = "embedded"
    agent_kwargs: dict[str, Any] = field(default_factory=dict)
    split: str = "val"
    num_episodes: int = 50
    num_envs: int = 1
    video: bool = False
    dataset: Path | None = None
    progress: bool = True


def settings_from_config(cfg: DictConfig | Mapping[str, Any]) -> BenchSettings:
    """Validate the config and resolve the task's simulator settings; errors name the field."""
    cfg = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    task = TaskConfig.from_mapping(cfg["task"])
    sim_values = {k: v for k, v in dict(cfg.get("sim") or {}).items() if v is not None}
    backend = sim_values.pop("backend", "embedded")
    agent = dict(cfg["agent"])
    name = agent.pop("name", None)
    for key in ("num_episodes", "num_envs"):
        if not isinstance(cfg[key], int) or cfg[key] < 1:
            raise ValueError(f"{key} must be a positive integer, got {cfg[key]!r}")
    return BenchSettings(task=task, sim=task_sim_config(task, sim_values), agent=name, backend=backend,
                         agent_kwargs={k: v for k, v in agent.items() if v is not None}, split=cfg["split"],
                         num_episodes=cfg["num_episodes"], num_envs=cfg["num_envs"], out=Path(cfg["out"]),
                         video=bool(cfg["video"]), dataset=Path(cfg["dataset"]) if cfg.get("dataset") else None,
                         progress=bool(cfg.get("progress", True)))


def _unbatch(infos: Mapping[str, Any], index: int) -> dict[str, Any]:
    """The info of env ``index`` out of a vector env's batched info."""
    out = {}
    for key, value in infos.items():
        if key.startswith("_"):
            continue
        if isinstance(value, Mapping):
            out[key] = _unbatch(value, index)
        elif infos.get(f"_{key}", np.ones(index + 1, bool))[index]:
            out[key] = value[index]
    return out


def _record(info: Mapping[str, Any], settings: BenchSettings, scene_id: str, instruction: str) -> dict[str, Any]:
    record = {"episode_id": str(info["episode_id"]), "scene_id": scene_id, "task": settings.task.name,
              "agent": settings.agent, "split": settings.split, "instruction": instruction}
    for key in METRICS:
        record[key] = float(info[key]) if key not in ("collisions", "num_steps") else int(info[key])
    return record


def _worker_env(**kwargs: Any) -> NavEnv:
    """A NavEnv in a vector-env worker: one rasteriser thread each, so workers do not fight over cores."""
    os.environ.setdefault("LP_NUM_THREADS", "1")
    return NavEnv(**kwargs)


def make_vector_env(settings: BenchSettings, dataset: Path) -> gym.vector.VectorEnv:
    """``num_envs`` NavEnvs on ``dataset``, without autoreset."""
    kwargs = dict(task=settings.task, split=settings.split, dataset=dataset, sim=settings.sim,
                  backend=settings.backend, topdown=settings.video)
    if settings.num_envs == 1:
        return gym.vector.SyncVectorEnv([partial(NavEnv, **kwargs)], autoreset_mode=AutoresetMode.DISABLED)
    return gym.vector.AsyncVectorEnv([partial(_worker_env, **kwargs)] * settings.num_envs, context="forkserver",
                                     autoreset_mode=AutoresetMode.DISABLED)


class EpisodeQueue:
    """Episodes still to run, handed out so that a worker stays in its house while the house has some
    (each house a worker enters costs a scene load)."""

    def __init__(self, episode_ids: list[str], scene_of: Mapping[str, str]):
        self.by_scene: dict[str, deque[str]] = {}
        for eid in episode_ids:
            self.by_scene.setdefault(scene_of[eid], deque()).append(eid)
        self.scene_of = scene_of

    def __bool__(self) -> bool:
        return bool(self.by_scene)

    def pop(self, current: str | None, busy: set[str]) -> str | None:
        """The next episode for a worker in scene ``current``, preferring a house no other worker is in."""
        if not self.by_scene:
            return None
        if current in self.by_scene:
            scene = current
        else:
            scene = next((s for s in self.by_scene if s not in busy), next(iter(self.by_scene)))
        episodes = self.by_scene[scene]
        eid = episodes.popleft()
        if not episodes:
            del self.by_scene[scene]
        return eid


def run_bench(settings: BenchSettings) -> dict[str, Any]:
    """Run (or resume) the benchmark; returns the summary it writes."""
    settings.out.mkdir(parents=True, exist_ok=True)
    log = EpisodeLog(settings.out / "episodes.jsonl")
    dataset_path = settings.dataset or ensure_dataset(settings.task, settings.split, settings.num_episodes,
                                                      settings.sim, settings.backend, progress=settings.progress)
    dataset = load_dataset(dataset_path, settings.task.name)
    if len(dataset.episodes) < settings.num_episodes:
        raise ValueError(f"num_episodes: {dataset_path} holds {len(dataset.episodes)} episodes, "
                         f"fewer than the {settings.num_episodes} asked for")
    episodes = {ep.episode_id: ep for ep in dataset.episodes[:settings.num_episodes]}
    todo = [eid for eid in episodes if eid not in log]
    queue = EpisodeQueue(todo, {eid: ep.scene_id for eid, ep in episodes.items()})
    bar = tqdm(total=len(episodes), initial=len(episodes) - len(todo), unit="episode", disable=not settings.progress,
               desc=f"{settings.agent} on {settings.task.name} ({settings.split})")
    start, steps, finished = time.perf_counter(), 0, 0
    if queue:
        steps, finished = _run_queue(settings, dataset_path, episodes, queue, log, bar)
    bar.close()
    wall = time.perf_counter() - start

    speed = {"episodes_per_s": round(finished / wall, 4) if finished else 0.0,
             "steps_per_s": round(steps / wall, 2) if finished else 0.0,
             "num_envs": settings.num_envs, "wall_s": round(wall, 2)}
    previous = settings.out / "summary.json"
    if not finished and previous.exists():  # nothing left to run: keep the speed of the run that did the work
        old = json.loads(previous.read_text())
        speed = {k: old.get(k, v) for k, v in speed.items()}
    summary = {"task": settings.task.name, "agent": settings.agent, "split": settings.split,
               **summarize(log.records[eid] for eid in episodes if eid in log), **speed}
    write_text_atomic(settings.out / "summary.json", json.dumps(summary, indent=2) + "\n")
    write_text_atomic(settings.out / "summary.md", markdown_table([summary]))
    return summary


def _run_queue(settings: BenchSettings, dataset_path: Path, episodes: Mapping[str, Any], queue: EpisodeQueue,
               log: EpisodeLog, bar: tqdm) -> tuple[int, int]:
    """Drive the vector env until the queue is empty and every running episode has finished."""
    from v4s.experiments.video import EpisodeVideo

    n = settings.num_envs
    agent = make_agent(settings.agent, settings.sim, settings.task, num_envs=n, **settings.agent_kwargs)
    running: list[str | None] = [None] * n  # episode id per worker, None when idle
    scenes: list[str | None] = [None] * n  # the house each worker is in
    videos: list[EpisodeVideo | None] = [None] * n
    started = [0.0] * n  # wall time at each episode's reset
    envs = make_vector_env(settings, dataset_path)
    obs: dict[str, np.ndarray] = {}
    steps = finished = 0
    idle_episode = next(iter(episodes))
    imagined_view = getattr(agent, "imagined_view", None)

    def start_next(i: int) -> None:
        nonlocal obs
        busy = {scenes[j] for j in range(n) if j != i and running[j] is not None}
        running[i] = queue.pop(scenes[i], busy)
        if running[i] is not None:
            scenes[i] = episodes[running[i]].scene_id
        mask = np.zeros(n, dtype=bool)
        mask[i] = True
        obs, infos = envs.reset(options={"episode_id": running[i] or idle_episode, "reset_mask": mask})
        info = _unbatch(infos, i)
        if running[i] is not None:
            started[i] = time.perf_counter()
            agent.reset(i, EpisodeBrief.from_info(info, settings.task.name, privileged=agent.privileged))
            videos[i] = EpisodeVideo(info) if settings.video else None

    try:
        for i in range(n):
            start_next(i)
        while any(r is not None for r in running):
            active = np.array([r is not None for r in running])
            actions = np.where(active, agent.act(obs, active), IDLE_ACTION)
            obs, _, terminated, truncated, infos = envs.step(actions)
            for i in range(n):
                if running[i] is None:
                    if terminated[i] or truncated[i]:
                        start_next(i)
                    continue
                steps += 1
                info = _unbatch(infos, i)
                if videos[i] is not None:
                    videos[i].add(obs["rgb"][i], info, imagined=imagined_view(i) if imagined_view else None)
                if terminated[i] or truncated[i]:
                    episode = episodes[running[i]]
                    if videos[i] is not None:  # the video first: a logged episode always has its video
                        videos[i].write(settings.out / "videos" / f"{running[i]}.mp4")
                    record = _record(info, settings, episode.scene_id, episode.instruction_text)
                    record.update(agent.episode_figures(i))
                    record["episode_seconds"] = round(time.perf_counter() - started[i], 3)
                    log.append(record)
                    finished += 1
                    bar.update(1)
                    start_next(i)
    finally:
        envs.close()
    return steps, finished


@hydra.main(version_base=None, config_path="conf", config_name="bench")
def main(cfg: DictConfig) -> None:
    settings = settings_from_config(cfg)
    summary = run_bench(settings)
    print((settings.out / "summary.md").read_text(), end="")
    print(f"results in {settings.out.resolve()}  (success {summary['success']:.3f}, SPL {summary['spl']:.3f})")


if __name__ == "__main__":
    main()
