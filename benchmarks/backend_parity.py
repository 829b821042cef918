"""The habitat-sim backend beside the embedded one, on the same episodes; prints one JSON object.

Per task (PoseNav, ObjectNav), on the embedded backend's sampled val episodes, each backend in a
process of its own (a fresh interpreter: moderngl's and habitat-sim's GL contexts are not shared):

- ``steps_per_s``: ``sim.step`` of a seeded random walk in each episode's house (the task's sensors
  and resolution), per backend;
- ``depth``: the depth frames both render from the same poses (each episode's start and goal, four
  headings each): the mean absolute difference over the pixels both hit, metres, and the share of
  pixels only one of them hits;
- ``geodesic``: the start-to-goal geodesic distance of each episode by each backend's own pathfinder:
  mean absolute and relative difference, the share within 5 %, and how many are reachable on each;
- ``oracle``: ``v4s-bench agent=oracle`` on the episodes (``dataset=`` the embedded ones, each backend
  planning with its own pathfinder), success and SPL on each backend over the episodes both run;
  episodes a backend cannot run (its ``skip_invalid`` list: a start off its navmesh, an unreachable
  goal) are named.

Usage: python benchmarks/backend_parity.py [--episodes 20] [--split val] [--walk 200]
(in an environment with both backends: make bench-parity runs it in .venv-habitat).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

BACKENDS = ("embedded", "habitat")
TASKS = ("posenav", "objectnav")
HEADINGS = 4  #: yaws rendered at each pose, evenly spaced


def _poses(episodes: list[Any]) -> list[tuple[str, np.ndarray, float]]:
    """(scene id, position, yaw) of each episode's start and first goal, at HEADINGS yaws each."""
    out = []
    for episode in episodes:
        for point in (episode.start_position, episode.goal_positions[0]):
            for k in range(HEADINGS):
                out.append((episode.scene_id, np.asarray(point, dtype=np.float64), 2 * math.pi * k / HEADINGS))
    return out


def measure(backend: str, task_name: str, split: str, dataset: str, num_episodes: int, walk: int,
            out: str) -> dict[str, Any]:
    """Everything one backend contributes on the first ``num_episodes`` episodes of ``dataset``, measured in
    this (spawned) process."""
    from v4s.envs.scenes.spec import resolve_scene
    from v4s.envs.sim import NotNavigableError, make_sim
    from v4s.envs.sim.base import SIM_ACTIONS, yaw_to_quaternion
    from v4s.envs.tasks.config import task_config
    from v4s.envs.tasks.dataset import task_sim_config
    from v4s.envs.tasks.episodes import load_dataset
    from v4s.experiments.bench import BenchSettings, run_bench

    task = task_config(task_name)
    config = task_sim_config(task)
    episodes = load_dataset(dataset, task_name).episodes[:num_episodes]
    rng = np.random.default_rng(0)
    actions = [str(a) for a in rng.choice(SIM_ACTIONS, size=walk, p=[0.6, 0.2, 0.2])]
    sim = make_sim(backend, replace(config, sensors=("rgb", "depth")))
    depth, geodesic, step_seconds, steps = [], [], 0.0, 0
    try:
        for scene, position, yaw in _poses(episodes):
            sim.load_scene(resolve_scene(scene))
            try:
                sim.set_agent_state(position, yaw_to_quaternion(yaw))
                depth.append(sim.observe()["depth"][..., 0])
            except NotNavigableError:
                depth.append(np.full((config.height, config.width), np.nan, np.float32))
        for episode in episodes:
            sim.load_scene(resolve_scene(episode.scene_id))
            start = np.asarray(episode.start_position, dtype=np.float64)
            geodesic.append(sim.pathfinder.geodesic_distance(start, episode.goal_positions))
            try:
                sim.set_agent_state(start, episode.start_rotation)
            except NotNavigableError:
                continue
            began = time.perf_counter()
            for action in actions:
                sim.step(action)
            step_seconds += time.perf_counter() - began
            steps += len(actions)
    finally:
        sim.close()
    summary = run_bench(BenchSettings(task=task, sim=config, agent="oracle", backend=backend, out=Path(out),
                                      split=split, num_episodes=len(episodes), dataset=Path(dataset),
                                      skip_invalid=True, progress=False))
    records = [json.loads(line) for line in (Path(out) / "episodes.jsonl").read_text().splitlines()]
    return {"steps_per_s": round(steps / step_seconds, 1), "depth": np.stack(depth), "geodesic": geodesic,
            "oracle": {r["episode_id"]: (r["success"], r["spl"]) for r in records},
            "skipped": [s["episode_id"] for s in summary.get("skipped_invalid", [])]}


def _depth_figures(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """a, b: (N, H, W) metres, 0 where nothing was hit, NaN where a pose could not be taken."""
    rendered = np.isfinite(a).all(axis=(1, 2)) & np.isfinite(b).all(axis=(1, 2))
    a, b = a[rendered], b[rendered]
    both = (a > 0) & (b > 0)
    return {"mean_abs_diff_m": round(float(np.abs(a - b)[both].mean()), 4),
            "median_abs_diff_m": round(float(np.median(np.abs(a - b)[both])), 4),
            "one_hit_only_share": round(float(((a > 0) != (b > 0)).mean()), 5), "frames": int(rendered.sum())}


def _geodesic_figures(a: list[float], b: list[float]) -> dict[str, Any]:
    a_, b_ = np.asarray(a), np.asarray(b)
    both = np.isfinite(a_) & np.isfinite(b_)
    rel = np.abs(a_ - b_)[both] / np.maximum(a_[both], 1e-9)
    return {"episodes": len(a), "reachable": {"embedded": int(np.isfinite(a_).sum()),
                                              "habitat": int(np.isfinite(b_).sum())},
            "mean_abs_diff_m": round(float(np.abs(a_ - b_)[both].mean()), 4),
            "mean_rel_diff": round(float(rel.mean()), 4), "max_rel_diff": round(float(rel.max()), 4),
            "within_5pct": round(float((rel <= 0.05).mean()), 4)}


def _oracle_figures(runs: dict[str, dict[str, tuple[float, float]]]) -> dict[str, Any]:
    common = sorted(set.intersection(*(set(r) for r in runs.values())), key=int)
    out: dict[str, Any] = {"episodes": len(common)}
    for backend, run in runs.items():
        out[backend] = {"success": round(float(np.mean([run[e][0] for e in common])), 3),
                        "spl": round(float(np.mean([run[e][1] for e in common])), 3)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--split", default="val")
    parser.add_argument("--walk", type=int, default=200, help="random-walk steps per episode for steps/s")
    args = parser.parse_args()
    import habitat_sim

    from v4s.envs.tasks.config import task_config
    from v4s.envs.tasks.dataset import ensure_dataset, task_sim_config

    spawn = multiprocessing.get_context("spawn")  # one backend, one fresh interpreter
    result: dict[str, Any] = {"benchmark": "backend_parity", "habitat_sim": habitat_sim.__version__,
                              "split": args.split, "episodes": args.episodes, "walk_steps": args.walk}
    with tempfile.TemporaryDirectory() as tmp:
        for task_name in TASKS:
            task = task_config(task_name)
            dataset = str(ensure_dataset(task, args.split, args.episodes, task_sim_config(task), backend="embedded",
                                         progress=False))
            runs = {}
            for backend in BACKENDS:
                with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                    runs[backend] = pool.submit(measure, backend, task_name, args.split, dataset, args.episodes,
                                                args.walk, str(Path(tmp) / f"{task_name}-{backend}")).result()
            embedded, habitat = runs["embedded"], runs["habitat"]
            result[task_name] = {
                "steps_per_s": {b: runs[b]["steps_per_s"] for b in BACKENDS},
                "depth": _depth_figures(embedded["depth"], habitat["depth"]),
                "geodesic": _geodesic_figures(embedded["geodesic"], habitat["geodesic"]),
                "oracle": _oracle_figures({b: runs[b]["oracle"] for b in BACKENDS}),
                "not_runnable": {b: runs[b]["skipped"] for b in BACKENDS},
            }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
