"""The scheduler's own 3 steps against 2 uniform Euler steps: the same imagined routes at two thirds of the cost?

FlowMatchEulerDiscreteScheduler's schedule for N steps ends at sigma 1/1000, so its last transformer
evaluation moves the sample by a thousandth (``v4s.model.pipeline.uniform_sigmas``). This samples the
planner's calls (K = 4 candidates, g = 2, the committed ``v4s-small`` and IDM, the full horizon) on val
clips of both tasks, once with the scheduler's ``--steps`` and once with ``uniform_sigmas(--steps - 1)``,
from the same noise, and prints one JSON line per task:

- ``psnr_between``: imagined frames of one schedule against the other's (dB; 100 for identical ones);
- ``actions_agree``: the share of imagined steps where the IDM reads the same action from both;
- ``readback_scheduler`` / ``readback_uniform``: the IDM's reading of imagined frame 1 against the
  clip's first action, per schedule;
- ``seconds_per_call_scheduler`` / ``seconds_per_call_uniform`` and their ratio, measured in this run.

Usage: python benchmarks/schedule.py --data data/clips/val [--clips 24] [--steps 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from v4s.assets import IDM, VIDEO_MODEL
from v4s.envs.tasks.config import task_kind
from v4s.model.clips import load_clips
from v4s.model.metrics import psnr
from v4s.model.pipeline import ContextGuidedVideoPipeline, uniform_sigmas
from v4s.planner.extractors import load_idm


def imagine(pipe, clips: dict, i: int, task: str, schedule: dict, seed: int) -> tuple[np.ndarray, float]:
    """K = 4 candidate videos (4, F, H, W, 3) of clip ``i`` and the seconds the call took."""
    frames = pipe.config.num_frames
    instruction = str(clips["instruction"][i]) if task_kind(task).text_instruction else clips["relative"][i][:frames]
    start = time.perf_counter()
    videos = pipe(clips["context"][i], clips["current"][i], instruction, num_candidates=4, num_frames=frames,
                  guidance_scale=2.0, context_positions=clips["context_index"][i],
                  generator=[torch.Generator().manual_seed(seed + k) for k in range(4)], **schedule).videos
    return videos, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/clips/val")
    parser.add_argument("--clips", type=int, default=24, help="clips per task")
    parser.add_argument("--steps", type=int, default=3, help="the scheduler's steps (uniform: one fewer)")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.steps < 2:
        raise SystemExit(f"--steps must be at least 2, got {args.steps}")
    if args.threads:
        torch.set_num_threads(args.threads)
    pipe = ContextGuidedVideoPipeline.from_pretrained(VIDEO_MODEL)
    pipe.set_progress_bar_config(disable=True)
    idm = load_idm(IDM)
    schedules = {"scheduler": {"num_inference_steps": args.steps},
                 "uniform": {"sigmas": uniform_sigmas(args.steps - 1)}}
    for task in ("posenav", "objectnav"):
        clips = load_clips(args.data, (task,))
        between, agree, readback, seconds = [], [], {name: [] for name in schedules}, {name: [] for name in schedules}
        for i in range(min(args.clips, len(clips["task"]))):
            videos, actions = {}, {}
            for name, schedule in schedules.items():
                videos[name], took = imagine(pipe, clips, i, task, schedule, seed=1000 * i)
                seconds[name].append(took)
                with_current = np.concatenate([np.broadcast_to(clips["current"][i], (4, 1, *videos[name].shape[2:])),
                                               videos[name]], axis=1)
                actions[name] = idm.extract(with_current)[0]  # (4, F)
                readback[name] += (actions[name][:, 0] == int(clips["actions"][i][0])).tolist()
            between += [psnr(a, b) for a, b in zip(videos["scheduler"].reshape(-1, *videos["scheduler"].shape[2:]),
                                                    videos["uniform"].reshape(-1, *videos["uniform"].shape[2:]))]
            agree += (actions["scheduler"] == actions["uniform"]).ravel().tolist()
        calls = {name: float(np.mean(seconds[name][1:] or seconds[name])) for name in schedules}  # the first warms up
        print(json.dumps({
            "task": task, "clips": min(args.clips, len(clips["task"])), "candidates": 4,
            "frames": int(pipe.config.num_frames), "scheduler_steps": args.steps,
            "uniform_sigmas": [round(v, 4) for v in schedules["uniform"]["sigmas"]],
            "psnr_between": round(float(np.mean(between)), 2), "frames_compared": len(between),
            "actions_agree": round(float(np.mean(agree)), 4),
            "readback_scheduler": round(float(np.mean(readback["scheduler"])), 4),
            "readback_uniform": round(float(np.mean(readback["uniform"])), 4),
            "seconds_per_call_scheduler": round(calls["scheduler"], 3),
            "seconds_per_call_uniform": round(calls["uniform"], 3),
            "uniform_over_scheduler": round(calls["uniform"] / calls["scheduler"], 3)}), flush=True)


if __name__ == "__main__":
    main()
