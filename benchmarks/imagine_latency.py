"""Plan latency of the video model: seconds to imagine K candidate videos; one JSON line.

At the default sizes (8 context frames, the current frame, 8 imagined frames at the
checkpoint's resolution), with K candidates and the given number of denoising steps,
guided (two branches per step). The baseline measured in the same run is one bare
denoiser call at the same batch size; ``overhead_ratio`` is a plan's time over
``steps`` such calls (encoding, decoding and scheduling are the rest). On a machine
with a GPU the same figures are measured there too (``gpu_*``).

Usage: python benchmarks/imagine_latency.py [--checkpoint v4s/assets/v4s-small] [--candidates 4] [--steps 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
import torch

from v4s.model.pipeline import ContextGuidedVideoPipeline
from v4s.model.vae import encode_frames


def _measure(pipe: ContextGuidedVideoPipeline, candidates: int, steps: int, repeats: int, device: str) -> dict:
    pipe.to(device)
    size = pipe.config.resolution
    rng = np.random.default_rng(0)
    context = rng.integers(0, 256, (8, size, size, 3), dtype=np.uint8)
    current = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    poses = np.tile(np.array([0.0, -0.25, 0.0, 1.0], np.float32), (pipe.config.num_frames, 1))
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def plan():
        pipe(context, current, poses, num_candidates=candidates, num_inference_steps=steps, guidance_scale=2.0,
             context_positions=np.arange(0, 80, 10), generator=torch.Generator(device).manual_seed(0))
        sync()

    plan()  # warm-up
    plans = []
    for _ in range(repeats):
        start = time.perf_counter()
        plan()
        plans.append(time.perf_counter() - start)

    # the baseline: one bare denoiser call on a guided batch of the same shapes
    t = pipe.transformer
    ctx = encode_frames(pipe.vae, context[None]).to(device).expand(2 * candidates, -1, -1, -1, -1)
    cur = encode_frames(pipe.vae, current[None, None]).to(device).expand(2 * candidates, -1, -1, -1, -1)
    x = torch.randn(2 * candidates, *cur.shape[1:2], pipe.config.num_frames, *cur.shape[3:], device=device)
    text = torch.zeros(2 * candidates, 4, t.config.text_dim, device=device)
    pos = torch.arange(0, 80, 10, device=device)[None].expand(2 * candidates, -1)
    pose = torch.zeros(2 * candidates, pipe.config.num_frames, 4, device=device)
    calls = []
    with torch.no_grad():
        for i in range(repeats + 1):
            start = time.perf_counter()
            t(x, torch.full((2 * candidates,), 500.0, device=device), text, context=ctx, current=cur,
              context_positions=pos, target_pose=pose)
            sync()
            if i:
                calls.append(time.perf_counter() - start)
    plan_s, call_s = statistics.median(plans), statistics.median(calls)
    return {"seconds_per_plan": round(plan_s, 3), "denoiser_call_ms": round(call_s * 1e3, 2),
            "overhead_ratio": round(plan_s / (steps * call_s), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=os.path.join(os.path.dirname(__file__), "..", "v4s", "assets",
                                                             "v4s-small"))
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    pipe = ContextGuidedVideoPipeline.from_pretrained(args.checkpoint)
    pipe.set_progress_bar_config(disable=True)
    result = {"benchmark": "imagine_latency", "candidates": args.candidates, "num_inference_steps": args.steps,
              "guided": True, "resolution": pipe.config.resolution, "context_frames": 8,
              "num_frames": pipe.config.num_frames, "cpu_threads": torch.get_num_threads(),
              **_measure(pipe, args.candidates, args.steps, args.repeats, "cpu")}
    if torch.cuda.is_available():
        gpu = _measure(pipe, args.candidates, args.steps, args.repeats, "cuda")
        result.update({f"gpu_{k}": v for k, v in gpu.items()}, gpu=torch.cuda.get_device_name())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
