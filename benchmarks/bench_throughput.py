"""Benchmark throughput: oracle episodes per second with 1 and 2 envs, and their ratio; one JSON line.

Both runs score the same ObjectNav val episodes in this process's run (the dataset is
sampled into the cache first, so neither run pays for it). The 2-env run pays for
starting its forkserver workers, as a user's run does.

Usage: python benchmarks/bench_throughput.py [--episodes 50] [--task objectnav]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from v4s.envs.tasks.config import task_config
from v4s.envs.tasks.dataset import ensure_dataset, task_sim_config
from v4s.experiments.bench import BenchSettings, run_bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--task", default="objectnav")
    args = parser.parse_args()
    task = task_config(args.task)
    sim = task_sim_config(task)
    dataset = ensure_dataset(task, "val", args.episodes, sim, progress=False)
    result = {"benchmark": "bench_throughput", "task": task.name, "agent": "oracle", "episodes": args.episodes}
    with tempfile.TemporaryDirectory() as tmp:
        for num_envs in (1, 2):
            settings = BenchSettings(task=task, sim=sim, agent="oracle", out=Path(tmp) / f"envs{num_envs}",
                                     num_episodes=args.episodes, num_envs=num_envs, dataset=dataset, progress=False)
            summary = run_bench(settings)
            result[f"episodes_per_s_{num_envs}"] = summary["episodes_per_s"]
            result[f"steps_per_s_{num_envs}"] = summary["steps_per_s"]
            result[f"success_{num_envs}"] = summary["success"]
    result["ratio_2_over_1"] = round(result["episodes_per_s_2"] / result["episodes_per_s_1"], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
