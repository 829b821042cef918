"""Val loss per CPU-hour of the video model's widths, depths and precisions; one JSON line per configuration.

Every configuration trains a fresh transformer (``v4s-small``'s frozen VAE and text-encoder width, goal
conditioning, horizon 2: the long run's setup) on the same latent clips, with the long run's settings
(batch 16, lr 5e-4; an EMA of decay 0.99, short enough for the val loss to follow the weights within
a short run), for the same wall-clock budget (``--minutes``, ``v4s-train max_minutes``) at
``--threads`` threads, and is scored every ``--eval-every`` steps on the same 64 val clips. So the
figures compare what a CPU-hour buys: ``val_loss`` at the budget's end, ``seconds_per_step``, and
``val_loss_at_common_wall``, each run's val loss interpolated at the shortest run's wall time. The
runs live in ``--out/<name>`` and resume after a kill (their train state); they share one latent
cache (``--latents``: a run directory whose ``latents_*.pt`` were encoded with the same VAE from the
same clips) instead of encoding the clips again.

Usage: python benchmarks/train_sizes.py --minutes 12 --threads 1 --latents checkpoints/goal-f2 \\
           [--only w128-d4-fp32,w128-d4-bf16]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np

from v4s.assets import VIDEO_MODEL
from v4s.experiments.train import TrainConfig, run
from v4s.model.pipeline import ContextGuidedVideoPipeline
from v4s.model.transformer import ContextGuidedWanTransformer, parameter_count

BASE = {"attention_head_dim": 32, "patch_size": [1, 2, 2], "context_patch_size": [1, 4, 4], "text_dim": 64,
        "freq_dim": 64, "goal_dim": 4}
#: name -> (heads of 32 channels, layers, feed-forward width, precision); width = 32 x heads
CONFIGS = {
    "w128-d4-fp32": (4, 4, 256, "fp32"),  # v4s-small's size
    "w128-d4-bf16": (4, 4, 256, "bf16"),
    "w256-d4-fp32": (8, 4, 512, "fp32"),
    "w256-d4-bf16": (8, 4, 512, "bf16"),
    "w128-d8-fp32": (4, 8, 256, "fp32"),
}


def _fresh_init(root: Path, heads: int, layers: int, ffn: int) -> Path:
    """A pipeline directory with a fresh transformer of this size beside v4s-small's VAE and text encoder."""
    path = root / "init"
    if (path / "model_index.json").exists():
        return path
    pipe = ContextGuidedVideoPipeline.from_pretrained(VIDEO_MODEL)
    latent = pipe.vae.config.latent_channels
    pipe.transformer = ContextGuidedWanTransformer(in_channels=latent, out_channels=latent, num_layers=layers,
                                                   num_attention_heads=heads, ffn_dim=ffn, **BASE)
    pipe.register_to_config(num_frames=2)
    pipe.save_pretrained(path)
    return path


def _share_latents(source: Path, run_dir: Path) -> None:
    for name in ("latents_train.pt", "latents_val.pt"):
        if (source / name).exists() and not (run_dir / name).exists():
            try:
                os.link(source / name, run_dir / name)  # a hard link: the cache is read, never rewritten in place
            except OSError:
                shutil.copy2(source / name, run_dir / name)


def _curve(run_dir: Path) -> list[tuple[float, float, int]]:
    """(cumulative training wall s, val loss, step) per logged row; the wall time adds up across resumes."""
    rows = list(csv.DictReader((run_dir / "log.csv").open()))
    out, offset, previous = [], 0.0, 0.0
    for row in rows:
        wall = float(row["wall_s"])
        if wall < previous:  # a resumed run's clock starts again
            offset += previous
        previous = wall
        out.append((offset + wall, float(row["val_loss"]), int(row["step"])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=12.0, help="training budget per configuration")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--latents", default="checkpoints/goal-f2", help="a run directory with a latent cache")
    parser.add_argument("--out", default="runs/train_sizes")
    parser.add_argument("--only", default="", help="comma-separated configuration names")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(CONFIGS)
    unknown = sorted(set(names) - set(CONFIGS))
    if unknown:
        parser.error(f"--only: unknown configurations {unknown}; known: {list(CONFIGS)}")

    results = {}
    for name in names:
        heads, layers, ffn, precision = CONFIGS[name]
        run_dir = Path(args.out) / name
        run_dir.mkdir(parents=True, exist_ok=True)
        _share_latents(Path(args.latents), run_dir)
        init = _fresh_init(run_dir, heads, layers, ffn)
        spent = _curve(run_dir)[-1][0] if (run_dir / "log.csv").exists() else 0.0  # wall s of earlier runs
        if spent < 60 * args.minutes:
            run(TrainConfig(stage="diffusion", init=str(init), out=str(run_dir), num_frames=2, steps=100_000,
                            batch_size=16, lr=5e-4, ema_decay=0.99, checkpoint_every=args.eval_every, eval_every=args.eval_every,
                            val_clips=64, threads=args.threads, precision=precision,
                            max_minutes=max(args.minutes - spent / 60, 1e-3),
                            model={**BASE, "num_layers": layers, "num_attention_heads": heads, "ffn_dim": ffn}))
        curve = _curve(run_dir)
        transformer = ContextGuidedVideoPipeline.from_pretrained(run_dir / "pipeline").transformer
        results[name] = {"width": 32 * heads, "layers": layers, "precision": precision,
                         "parameters": parameter_count(transformer), "steps": curve[-1][2],
                         "wall_s": round(curve[-1][0], 1), "seconds_per_step": round(curve[-1][0] / curve[-1][2], 3),
                         "val_loss": curve[-1][1], "curve": curve}
    common = min(r["wall_s"] for r in results.values())
    for name, r in results.items():
        curve = r.pop("curve")
        r["val_loss_at_common_wall"] = round(float(np.interp(common, [c[0] for c in curve], [c[1] for c in curve])), 5)
        print(json.dumps({"benchmark": "train_sizes", "name": name, "threads": args.threads,
                          "budget_minutes": args.minutes, "common_wall_s": common, **r}))

if __name__ == "__main__":
    main()
