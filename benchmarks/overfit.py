"""Can a configuration memorise 64 clips? Next-frame PSNR against copy-last after a few minutes of CPU.

A model that cannot memorise 64 training clips will not generalise from thousands. For each
configuration (horizon ``num_frames``, width, depth, learning rate, fp32 or bf16 autocast) this
trains a fresh transformer and text encoder on the same 64 clips (32 per task, the committed VAE's
latents) for ``--steps`` steps with ``v4s-train``'s own loss, then samples the next frame of each of
those clips (the planner's settings: 4 steps, g = 2; PoseNav pose-conditioned, ObjectNav by text)
and prints one JSON line per configuration: ``next_frame_psnr`` beside ``next_frame_psnr_copy_last``,
per task, with seconds per step and wall time (both measured in this run). A ``-goal`` configuration
has goal-pose conditioning (half of the PoseNav clips trained on the goal, half on the trajectory)
and adds ``posenav_goal_next_frame_psnr``: the next frame imagined from the goal pose alone.

An ``s<k>`` configuration spaces its target frames ``k`` actions apart (the clips' targets k, 2k, ...;
their trajectories likewise), so that ``num_frames`` frames cover ``k * num_frames`` actions: the
horizon choice of the model issue. Its ``next_frame_psnr`` is then the first imagined frame against
the true frame k actions ahead, and ``next_frame_psnr_copy_last`` the current frame against that one.

Usage: python benchmarks/overfit.py --data data/clips/train [--steps 400] [--configs f1,f2,f8,f2-w256,f2-bf16]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import time
from contextlib import nullcontext

import numpy as np
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from v4s.assets import VIDEO_MODEL
from v4s.experiments.train import TrainConfig, flow_matching_loss
from v4s.model.clips import load_clips
from v4s.model.data import LatentClips, encode_clips
from v4s.model.metrics import psnr
from v4s.model.pipeline import ContextGuidedVideoPipeline
from v4s.model.text import SmallTextEncoder
from v4s.model.transformer import ContextGuidedWanTransformer, parameter_count

BASE = {"num_layers": 4, "attention_head_dim": 32, "num_attention_heads": 4, "ffn_dim": 256, "text_dim": 64,
        "goal_dim": 0}
CONFIGS = {
    "f1": {"num_frames": 1},
    "f2": {"num_frames": 2},
    "f8": {"num_frames": 8},
    "f2-w256": {"num_frames": 2, "attention_head_dim": 64, "ffn_dim": 512},
    "f2-bf16": {"num_frames": 2, "bf16": True},
    "f2-w256-bf16": {"num_frames": 2, "attention_head_dim": 64, "ffn_dim": 512, "bf16": True},
    "f2-lr1e-3": {"num_frames": 2, "lr": 1e-3},
    "f1-goal": {"num_frames": 1, "goal_dim": 4},
    "f2-goal": {"num_frames": 2, "goal_dim": 4},
    "f2-goal-w256-bf16": {"num_frames": 2, "goal_dim": 4, "attention_head_dim": 64, "ffn_dim": 512, "bf16": True},
    "s2-f2": {"num_frames": 2, "stride": 2},
    "s4-f2": {"num_frames": 2, "stride": 4},
    "s8-f1": {"num_frames": 1, "stride": 8},
}


def strided(clips: dict, latents: LatentClips, stride: int) -> tuple[dict, LatentClips]:
    """``clips`` and ``latents`` with only every ``stride``-th target frame (the stride-th first)."""
    if stride == 1:
        return clips, latents
    keep = np.arange(stride - 1, clips["target"].shape[1], stride)
    if not len(keep):
        raise SystemExit(f"stride {stride}: the clips hold only {clips['target'].shape[1]} target frames")
    clips = {**clips, "target": clips["target"][:, keep], "relative": clips["relative"][:, keep]}
    return clips, dataclasses.replace(latents, target=latents.target[:, :, keep], pose=latents.pose[:, keep])


def run(name: str, settings: dict, clips: dict, latents: LatentClips, vae, steps: int) -> dict:
    torch.manual_seed(0)
    clips, latents = strided(clips, latents, settings.get("stride", 1))
    model = {**BASE, **{k: v for k, v in settings.items() if k in BASE}}
    frames = settings["num_frames"]
    transformer = ContextGuidedWanTransformer(in_channels=4, out_channels=4, patch_size=(1, 2, 2),
                                              context_patch_size=(1, 4, 4), freq_dim=64, **model)
    encoder = SmallTextEncoder(dim=model["text_dim"])
    cfg = TrainConfig(num_frames=frames, lr=settings.get("lr", 5e-4), warmup=50, batch_size=16)
    modules = torch.nn.ModuleDict({"transformer": transformer, "encoder": encoder})
    optimizer = torch.optim.AdamW(modules.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if settings.get("bf16") else nullcontext()
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr * min(1.0, (step + 1) / cfg.warmup)
        index = torch.randint(0, len(latents), (cfg.batch_size,), generator=generator)
        with autocast:
            loss = flow_matching_loss(transformer, encoder, latents.batch(index), cfg, generator, torch.device("cpu"))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(modules.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
    train_s = time.perf_counter() - start

    pipe = ContextGuidedVideoPipeline(transformer=copy.deepcopy(transformer).eval(), vae=vae,
                                      instruction_encoder=copy.deepcopy(encoder).eval(),
                                      scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0), num_frames=frames)
    pipe.set_progress_bar_config(disable=True)
    out = {"config": name, **settings, "steps": steps, "parameters": parameter_count(transformer),
           "seconds_per_step": round(train_s / steps, 3), "final_loss": round(loss.item(), 4)}
    modes = [("posenav", "trajectory"), ("objectnav", "text")] + ([("posenav", "goal")] if model["goal_dim"] else [])
    for task, mode in modes:
        idx = np.flatnonzero(clips["task"] == task)
        instruction = {"trajectory": clips["relative"][idx][:, :frames], "text": list(clips["instruction"][idx]),
                       "goal": None}[mode]
        videos = pipe(clips["context"][idx], clips["current"][idx], instruction, num_frames=frames,
                      num_inference_steps=4, guidance_scale=2.0, context_positions=clips["context_index"][idx],
                      goal_pose=clips["goal"][idx] if mode == "goal" else None,
                      generator=torch.Generator().manual_seed(1)).videos[:, 0]
        key = f"{task}_goal" if mode == "goal" else task
        out[f"{key}_next_frame_psnr"] = round(float(np.mean([psnr(v[0], clips["target"][i][0])
                                                             for v, i in zip(videos, idx)])), 2)
        out[f"{task}_next_frame_psnr_copy_last"] = round(float(np.mean([psnr(clips["current"][i], clips["target"][i][0])
                                                                         for i in idx])), 2)
    out["wall_s"] = round(time.perf_counter() - start, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/clips/train")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--configs", default="f1,f2,f8")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.configs.split(",")
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        raise SystemExit(f"--configs: unknown {unknown}; known: {sorted(CONFIGS)}")
    clips = load_clips(args.data, ("posenav", "objectnav"), limit=32)
    vae = ContextGuidedVideoPipeline.from_pretrained(VIDEO_MODEL).vae
    latents = encode_clips(vae, clips)
    for name in names:
        print(json.dumps(run(name, CONFIGS[name], clips, latents, vae, args.steps)), flush=True)


if __name__ == "__main__":
    main()
