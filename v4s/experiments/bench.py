"""``v4s-bench``: run an agent on a task's episodes and score it with habitat-lab's measures.

    v4s-bench agent=<oracle|random|video> task=<objectnav|posenav> split=<train|val|test> \\
              num_episodes=<N> num_envs=<E> out=<DIR> video=<bool>

Writes ``DIR/episodes.jsonl`` (one line per finished episode, appended as it
finishes, after its video: rerunning the same command skips the episodes already there),
``DIR/run.json`` (the resolved config and the fingerprint of what decides the results),
``DIR/summary.json`` (strict JSON: never NaN or Infinity), ``DIR/summary.md`` and, with
``video=true``, ``DIR/videos/<episode_id>.mp4``.

Before the first episode (see :mod:`v4s.experiments.run_dir`): the out dir is locked (a second run
on it fails, naming the first one's pid), a rerun whose fingerprint differs from ``run.json``
refuses and names the fields (``resume=false`` starts afresh, keeping the old run beside it), and
the episodes of a ``dataset=`` file are checked (navigable start, a reachable goal, by the
sampler's rule): a bad one is an error naming ``episodes[i]``, unless ``skip_invalid=true``,
which drops it and lists it in the summary.

Episodes run in a gymnasium vector env (``SyncVectorEnv`` for one env, an
``AsyncVectorEnv`` of ``forkserver`` workers for more, so whatever GL context this
process holds never reaches a worker) without autoreset: each worker is reset to
the next episode of the queue by id. One vector agent in this process acts for all
workers at once (a video agent batches its model calls across them), and sees only
the agent-visible brief of each episode unless it declares itself privileged. A
worker left without episodes turns on the spot until the others finish.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import hydra
import numpy as np
from gymnasium.vector import AutoresetMode
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

import v4s
import v4s.experiments.conf  # noqa: F401  (stores the conf/task group's defaults before hydra composes)
from v4s.actions import LEFT
from v4s.agent import agent_fingerprint, make_agent
from v4s.agent.base import EpisodeBrief
from v4s.envs.nav_env import NavEnv
from v4s.envs.scenes import hm3d
from v4s.envs.scenes.spec import SPLIT_SEEDS, SceneSpec, resolve_scene
from v4s.envs.sim import SimConfig
from v4s.envs.tasks.config import TaskConfig
from v4s.envs.tasks.dataset import ensure_dataset, episode_problems, task_sim_config
from v4s.envs.tasks.episodes import dataset_digest, load_dataset
from v4s.experiments.records import METRICS, EpisodeLog, host, markdown_table, strict_json, summarize
from v4s.experiments.run_dir import RunDirectory
from v4s.fileio import digest_path, write_text_atomic
from v4s.typed_config import require

IDLE_ACTION = LEFT  #: what a worker without episodes does: turn left, which never ends an episode
SPLITS = tuple(SPLIT_SEEDS)
#: simulator settings that do not change results (left out of the fingerprint): where to render, and where the
#: scenes lie (the dataset's scene ids and digest say which scenes run)
SIM_RUN_ONLY = ("gpu_device_id", "scenes_dir")
logger = logging.getLogger(__name__)


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
    resume: bool = True  #: False: set an earlier run in ``out`` aside and start afresh
    skip_invalid: bool = False  #: drop a ``dataset=`` file's unrunnable episodes (listed in the summary)

    def config(self) -> dict[str, Any]:
        """The resolved config, as ``run.json`` records it."""
        return {"task": asdict(self.task), "sim": asdict(self.sim), "backend": self.backend, "agent": self.agent,
                "agent_kwargs": dict(self.agent_kwargs), "split": self.split, "num_episodes": self.num_episodes,
                "num_envs": self.num_envs, "out": str(self.out), "video": self.video,
                "dataset": None if self.dataset is None else str(self.dataset), "progress": self.progress,
                "resume": self.resume, "skip_invalid": self.skip_invalid}

    def fingerprint(self) -> dict[str, Any]:
        """What decides the results: task, simulator, agent (settings and checkpoint digests), split, dataset
        (a ``dataset=`` file's digest and the digest of every scene it names, as ``sim.scenes_dir`` resolves
        it; a sampled one is decided by task.dataset, sim and split) and the v4s version. ``num_episodes``,
        ``num_envs``, ``video``, ``progress`` and threads are not in it."""
        if self.dataset is None:
            dataset: dict[str, Any] = {"sampled": "by task.dataset's rules"}
        else:
            scene_ids = sorted({ep.scene_id for ep in load_dataset(self.dataset, self.task.name,
                                                                   self.sim.scenes_dir).episodes})
            dataset = {"digest": dataset_digest(self.dataset),
                       "scenes": {sid: _scene_digest(resolve_scene(sid, self.sim.scenes_dir)) for sid in scene_ids}}
        return {"v4s": v4s.__version__, "task": asdict(self.task),
                "sim": {k: v for k, v in asdict(self.sim).items() if k not in SIM_RUN_ONLY}, "backend": self.backend,
                "agent": agent_fingerprint(self.agent, self.agent_kwargs, self.task), "split": self.split, "dataset": dataset}


def _scene_digest(spec: SceneSpec) -> str:
    """sha256 of what a scene is: its files (render, collision, semantics, HM3D's semantic pair) and the frame
    its stage config gives it."""
    h = hashlib.sha256(repr((spec.up, spec.front, spec.scale)).encode())
    pair = hm3d.semantic_files(spec.glb) if spec.semantic is None else None
    for path in (spec.glb, spec.collision, spec.semantic, *(pair or ())):
        if path is not None:
            h.update(digest_path(path).encode())
    return h.hexdigest()


def settings_from_config(cfg: DictConfig | Mapping[str, Any]) -> BenchSettings:
    """Validate the config and resolve the task's simulator settings; errors name the field."""
    cfg = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    task = TaskConfig.from_mapping(cfg["task"])
    sim_values = {k: v for k, v in dict(cfg.get("sim") or {}).items() if v is not None}
    backend = sim_values.pop("backend", "embedded")
    agent = dict(cfg["agent"])
    name = agent.pop("name", None)
    for key in ("num_episodes", "num_envs"):
        require(isinstance(cfg[key], int) and not isinstance(cfg[key], bool) and cfg[key] >= 1, key,
                "a positive integer", cfg[key])
    if cfg.get("dataset"):  # a dataset file's split is only its name
        require(isinstance(cfg["split"], str) and cfg["split"], "split", "a name", cfg["split"])
    else:
        require(cfg["split"] in SPLITS, "split", f"one of {list(SPLITS)}", cfg["split"])
    for key in ("video", "progress", "resume", "skip_invalid"):
        require(isinstance(cfg.get(key, False), bool), key, "true or false", cfg.get(key))
    require(isinstance(cfg["out"], str) and cfg["out"], "out", "a directory path", cfg["out"])
    require(cfg.get("dataset") is None or isinstance(cfg["dataset"], str), "dataset", "a file path or null",
            cfg.get("dataset"))
    if cfg.get("dataset") and not Path(cfg["dataset"]).is_file():
        raise FileNotFoundError(f"dataset: no episode file at {cfg['dataset']}")
    return BenchSettings(task=task, sim=task_sim_config(task, sim_values), agent=name, backend=backend,
                         agent_kwargs={k: v for k, v in agent.items() if v is not None}, split=cfg["split"],
                         num_episodes=cfg["num_episodes"], num_envs=cfg["num_envs"], out=Path(cfg["out"]),
                         video=cfg["video"], dataset=Path(cfg["dataset"]) if cfg.get("dataset") else None,
                         progress=cfg.get("progress", True), resume=cfg.get("resume", True),
                         skip_invalid=cfg.get("skip_invalid", False))


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
    bad = [key for key in METRICS if not math.isfinite(record[key])]
    if bad:  # a figure that was never measured must not reach a summary
        raise RuntimeError(f"episode {record['episode_id']} ({scene_id}) ended at {info.get('position')} with "
                           f"non-finite {bad} = {[record[k] for k in bad]}: no path from where the agent ended to "
                           "the goal, though its start passed the dataset check; the episodes before it are in "
                           "episodes.jsonl (this is a simulator bug: please report it with the episode)")
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


def _checked_episodes(settings: BenchSettings, dataset) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's episodes by id, and the unrunnable ones of a ``dataset=`` file (an error naming ``episodes[i]``
    unless ``skip_invalid``). Sampled datasets are runnable by construction (the sampler applies the same rule)."""
    selected = dataset.episodes[:settings.num_episodes]
    skipped: list[dict[str, Any]] = []
    if settings.dataset is not None:
        problems = episode_problems(dataset, settings.backend, settings.sim, selected, progress=settings.progress)
        skipped = [{"index": i, "episode_id": ep.episode_id, "problem": problems[ep.episode_id]}
                   for i, ep in enumerate(selected) if ep.episode_id in problems]
        if skipped and not settings.skip_invalid:
            lines = [f"episodes[{s['index']}] (episode_id {s['episode_id']!r}): {s['problem']}" for s in skipped[:10]]
            more = f"\n  ... and {len(skipped) - 10} more" if len(skipped) > 10 else ""
            raise ValueError(f"dataset {settings.dataset}: {len(skipped)} of {len(selected)} episodes cannot run:\n  "
                             + "\n  ".join(lines) + more + "\nFix them, or pass skip_invalid=true to drop them "
                             "(they are listed in summary.json)")
        for s in skipped:
            logger.warning("skipping episodes[%d] (episode_id %r): %s", s["index"], s["episode_id"], s["problem"])
    bad = {s["episode_id"] for s in skipped}
    if len(bad) == len(selected):
        raise ValueError(f"dataset {settings.dataset}: none of its {len(selected)} episodes can run (see the warnings "
                         "above); there is nothing to measure")
    return {ep.episode_id: ep for ep in selected if ep.episode_id not in bad}, skipped


def run_bench(settings: BenchSettings) -> dict[str, Any]:
    """Run (or resume) the benchmark; returns the summary it writes."""
    run_dir = RunDirectory(settings.out)
    run_dir.lock()  # first: a run refused for another writer or an unwritable dir digests nothing
    try:
        aside = run_dir.open(settings.config(), settings.fingerprint(), resume=settings.resume)
        if aside is not None:
            logger.warning("resume=false: the earlier run in %s is kept in %s", settings.out, aside)
        return _run_locked(settings)
    finally:
        run_dir.release()


def _run_locked(settings: BenchSettings) -> dict[str, Any]:
    log_file = EpisodeLog(settings.out / "episodes.jsonl")
    dataset_path = settings.dataset or ensure_dataset(settings.task, settings.split, settings.num_episodes,
                                                      settings.sim, settings.backend, progress=settings.progress)
    dataset = load_dataset(dataset_path, settings.task.name, settings.sim.scenes_dir)
    if len(dataset.episodes) < settings.num_episodes:
        raise ValueError(f"num_episodes: {dataset_path} holds {len(dataset.episodes)} episodes, "
                         f"fewer than the {settings.num_episodes} asked for")
    episodes, skipped = _checked_episodes(settings, dataset)
    todo = [eid for eid in episodes if eid not in log_file]
    queue = EpisodeQueue(todo, {eid: ep.scene_id for eid, ep in episodes.items()})
    bar = tqdm(total=len(episodes), initial=len(episodes) - len(todo), unit="episode", disable=not settings.progress,
               desc=f"{settings.agent} on {settings.task.name} ({settings.split})")
    start, steps, finished = time.perf_counter(), 0, 0
    if queue:
        steps, finished = _run_queue(settings, dataset_path, episodes, queue, log_file, bar)
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
               **summarize(log_file.records[eid] for eid in episodes if eid in log_file), **speed}
    if skipped:
        summary["skipped_invalid"] = skipped
    write_text_atomic(settings.out / "summary.json", strict_json(summary, indent=2) + "\n")
    write_text_atomic(settings.out / "summary.md", markdown_table([summary]))
    return summary


def _run_queue(settings: BenchSettings, dataset_path: Path, episodes: Mapping[str, Any], queue: EpisodeQueue,
               log: EpisodeLog, bar: tqdm) -> tuple[int, int]:
    """Drive the vector env until the queue is empty and every running episode has finished."""
    from v4s.experiments.video import EpisodeVideo

    n = settings.num_envs
    agent = make_agent(settings.agent, settings.sim, settings.task, num_envs=n, backend=settings.backend,
                       **settings.agent_kwargs)
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
                    record["host"] = host()
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
