"""``v4s-eval-video task=<posenav|objectnav> split=val num_clips=<N> checkpoint=<DIR> out=<DIR>``.

Open-loop evaluation of a video model on clips of houses it never trained on:

- PoseNav: the model imagines the frames along the clip's target poses; ``psnr`` and
  ``ssim`` compare them with the simulator's renders at those poses, and
  ``psnr_copy_last`` / ``ssim_copy_last`` score the baseline that repeats the current frame.
  With ``pose_instruction=goal`` (a goal-conditioned model) the model gets only the episode's
  goal pose relative to the current view and imagines its own route, scored against the
  oracle's.
- ObjectNav: ``box_rate`` is the share of clips whose final imagined frame holds a red box,
  ``box_centered_rate`` the share whose box is centred; ``gt_box_rate`` and
  ``gt_box_centered_rate`` are the same rates on the ground-truth clips. ``next_box_recall`` is the
  share of the clips whose true next frame holds the box where the imagined next frame holds one too,
  ``next_box_false_rate`` the share of the others where it holds one all the same: the grounding that
  the agent's STOP reads (None when no clip counts).

With ``num_candidates=K`` the model samples K videos per clip in one batch (the paper's
several candidates). Candidate 0 gives the figures above; ObjectNav adds ``box_rate_any`` and
``box_centered_rate_any``, the rates when the agent keeps a candidate whose final frame holds a
(centred) box (the detector runs at inference, so this is a selection an agent can make), and
PoseNav adds ``psnr_candidates``, the mean over all candidates.

The closed loop's gates, on every clip: ``next_frame_psnr`` (imagined frame 1 against the true
frame 1) beside ``next_frame_psnr_copy_last`` (the current frame against it), and
``idm_readback`` (whether the IDM reads the clip's first action from the current frame to imagined
frame 1). With the real context the same clip is also imagined with a noise context, and
``next_frame_psnr_noise_context`` / ``idm_readback_noise_context`` say what the scene's video is
worth to the gates.

``context=noise`` replaces the context frames by uniform noise (the ablation that shows
the model uses the scene). Writes ``summary.json``, ``clips.jsonl`` and a png of the first
clips (context, current, imagined and true frames).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, fields
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from PIL import Image
from tqdm import tqdm

import v4s.experiments.conf  # noqa: F401  (stores the conf/task group's defaults before hydra composes)
from v4s.assets import IDM, VIDEO_MODEL
from v4s.envs.scenes.spec import SPLIT_SEEDS
from v4s.envs.tasks.config import task_kind
from v4s.experiments.records import strict_json
from v4s.fileio import write_text_atomic
from v4s.model.boxes import box_centered, detect_box
from v4s.model.clips import load_clips
from v4s.model.metrics import psnr, ssim
from v4s.model.pipeline import ContextGuidedVideoPipeline
from v4s.planner.extractors import load_idm
from v4s.typed_config import build, require


@dataclass
class EvalConfig:
    task: str = "posenav"
    split: str = "val"
    num_clips: int = 100
    checkpoint: str = str(VIDEO_MODEL)
    idm: str | None = str(IDM)  #: the IDM for idm_readback; None: no readback
    out: str = "runs/eval"
    data: str | None = None  #: clip directory; None: data/clips/<split>, generated when missing
    context: str = "real"  #: "real" or "noise"
    pose_instruction: str = "trajectory"  #: PoseNav: "trajectory" (target poses) or "goal" (the goal pose only)
    num_candidates: int = 1  #: K videos per clip; ObjectNav adds box_rate_any, PoseNav psnr_candidates
    num_inference_steps: int = 10
    guidance_scale: float = 2.0
    seed: int = 0
    threads: int = 0  #: torch CPU threads; 0: torch's default
    save_examples: int = 4  #: clips drawn into examples.png

    def __post_init__(self) -> None:
        require(self.task in TASKS, "task", " or ".join(TASKS), self.task)
        require(self.split in SPLIT_SEEDS, "split", f"one of {list(SPLIT_SEEDS)}", self.split)
        for name in ("num_clips", "num_candidates", "num_inference_steps"):
            require(getattr(self, name) >= 1, name, "at least 1", getattr(self, name))
        require(self.context in ("real", "noise"), "context", "'real' or 'noise'", self.context)
        require(self.pose_instruction in ("trajectory", "goal"), "pose_instruction", "'trajectory' or 'goal'",
                self.pose_instruction)
        require(self.pose_instruction == "trajectory" or not task_kind(self.task).text_instruction, "pose_instruction",
                "'trajectory' (the default) for a task with a text instruction", self.pose_instruction)
        require(self.threads >= 0, "threads", "at least 0 (0: torch's default)", self.threads)
        require(self.save_examples >= 0, "save_examples", "at least 0", self.save_examples)
        if not Path(self.checkpoint).is_dir():
            raise FileNotFoundError(f"checkpoint: no pipeline directory at {self.checkpoint}")
        if self.idm and not Path(self.idm).is_dir():
            raise FileNotFoundError(f"idm: no IDM checkpoint directory at {self.idm} (idm=null skips idm_readback)")
        if self.data is not None and not (Path(self.data) / "manifest.json").is_file():
            raise FileNotFoundError(f"data: no clip directory at {self.data} (it has no manifest.json); make one with "
                                    f"v4s-gen-data split={self.split} out={self.data}, or leave data unset to use "
                                    f"(and, when missing, generate) data/clips/{self.split}")


# ---------------------------------------------------------------------- what each task measures, in one place
def _pose_conditions(clips: dict, i: int, horizon: int, cfg: EvalConfig) -> dict:
    if cfg.pose_instruction == "goal":  # the goal alone: the model imagines its own route, scored against the oracle's
        return {"instruction": None, "goal_pose": clips["goal"][i]}
    return {"instruction": clips["relative"][i][:horizon], "goal_pose": None}


def _pose_figures(videos: np.ndarray, target: np.ndarray, current: np.ndarray) -> dict:
    video = videos[0]
    return {"psnr": float(np.mean([psnr(a, b) for a, b in zip(video, target)])),
            "ssim": float(np.mean([ssim(a, b) for a, b in zip(video, target)])),
            "psnr_copy_last": float(np.mean([psnr(current, b) for b in target])),
            "ssim_copy_last": float(np.mean([ssim(current, b) for b in target])),
            "psnr_candidates": float(np.mean([psnr(a, b) for v in videos for a, b in zip(v, target)]))}


def _box_figures(videos: np.ndarray, target: np.ndarray, current: np.ndarray) -> dict:
    width = videos.shape[3]
    boxes, gt = [detect_box(v[-1]) for v in videos], detect_box(target[-1])
    drawn, due = detect_box(videos[0][0]) is not None, detect_box(target[0]) is not None  # the next frame's
    return {"box_rate": boxes[0] is not None, "box_centered_rate": box_centered(boxes[0], width),
            "gt_box_rate": gt is not None, "gt_box_centered_rate": box_centered(gt, width),
            "box_rate_any": any(b is not None for b in boxes),
            "box_centered_rate_any": any(box_centered(b, width) for b in boxes),
            # the grounding that ObjectNav's STOP reads: a box in the imagined next frame where the true one has
            # one (recall), and where it has none (false boxes); None where the clip does not count
            "next_box_recall": float(drawn) if due else None, "next_box_false_rate": None if due else float(drawn)}


#: task -> (the pipeline's conditions of clip i, the clip's figures from its K videos); the one place that knows tasks
TASKS = {
    "posenav": (_pose_conditions, _pose_figures),
    "objectnav": (lambda clips, i, horizon, cfg: {"instruction": str(clips["instruction"][i]), "goal_pose": None},
                  _box_figures),
}


def eval_config(cfg: DictConfig) -> EvalConfig:
    """The app's config, every field's type and range checked (errors name the field); null checkpoints are
    the committed ones."""
    values = OmegaConf.to_container(cfg, resolve=True)
    values["task"] = values["task"]["name"]  # the task group (conf/task) names the task
    for key, default in (("checkpoint", VIDEO_MODEL), ("idm", IDM)):
        values[key] = str(default) if values.get(key) is None else values[key]
    return build(EvalConfig, values)


def _clips(cfg: EvalConfig) -> dict[str, np.ndarray]:
    root = Path(cfg.data or f"data/clips/{cfg.split}")
    if not (root / "manifest.json").exists():  # only the default directory is generated (a given one must exist)
        from v4s.experiments.gen_data import GenDataConfig, generate

        generate(GenDataConfig(split=cfg.split, num_scenes=25, windows_per_episode=1, out=str(root)))
    clips = load_clips(root, (cfg.task,))
    return {k: v[: cfg.num_clips] for k, v in clips.items()}


def evaluate(cfg: EvalConfig, pipe: ContextGuidedVideoPipeline | None = None) -> dict:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    pipe = pipe or ContextGuidedVideoPipeline.from_pretrained(cfg.checkpoint)
    if cfg.pose_instruction == "goal" and not pipe.goals_supported:  # before any clip is generated
        raise ValueError(f"pose_instruction=goal: the checkpoint {cfg.checkpoint} was not trained with goal "
                         "conditioning (its transformer has no goal_dim); use pose_instruction=trajectory")
    idm = load_idm(cfg.idm) if cfg.idm else None
    pipe.set_progress_bar_config(disable=True)
    clips = _clips(cfg)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    rows, examples, start = [], [], time.time()
    conditions_of, figures_of = TASKS[cfg.task]
    for i in tqdm(range(len(clips["task"])), desc=f"eval {cfg.task}", unit="clip"):
        context = clips["context"][i]
        if cfg.context == "noise":
            context = rng.integers(0, 256, context.shape, dtype=np.uint8)
        horizon = min(pipe.config.num_frames, clips["target"].shape[1])  # the model's own horizon
        conditions = conditions_of(clips, i, horizon, cfg)
        generators = [torch.Generator().manual_seed(cfg.seed + i + 100_003 * k) for k in range(cfg.num_candidates)]
        videos = pipe(context, clips["current"][i], num_candidates=cfg.num_candidates, num_frames=horizon,
                      num_inference_steps=cfg.num_inference_steps, guidance_scale=cfg.guidance_scale,
                      context_positions=clips["context_index"][i], generator=generators, **conditions).videos
        video = videos[0]
        target = clips["target"][i][:horizon]
        row = {"clip": i, "scene_id": str(clips["scene_id"][i]), "episode_id": str(clips["episode_id"][i]),
               "next_frame_psnr_copy_last": psnr(clips["current"][i], target[0])}
        nexts = {"": video[0]}
        if cfg.context == "real":  # the gates again with a noise context: what the scene's video is worth
            noise = rng.integers(0, 256, context.shape, dtype=np.uint8)
            nexts["_noise_context"] = pipe(noise, clips["current"][i], num_frames=horizon,
                                           num_inference_steps=cfg.num_inference_steps,
                                           guidance_scale=cfg.guidance_scale,
                                           context_positions=clips["context_index"][i],
                                           generator=torch.Generator().manual_seed(cfg.seed + i),
                                           **conditions).videos[0, 0]
        for suffix, frame in nexts.items():
            row[f"next_frame_psnr{suffix}"] = psnr(frame, target[0])
            if idm is not None:  # does the IDM read the clip's first action from the imagined next frame?
                read = idm.extract(np.stack([clips["current"][i], frame])[None])[0][0, 0]
                row[f"idm_readback{suffix}"] = float(read == int(clips["actions"][i][0]))
        figures = figures_of(videos, target, clips["current"][i])
        row.update(figures)
        rows.append(row)
        if len(examples) < cfg.save_examples:
            examples.append(_example(context, clips["current"][i], video, target))
    gates = ("next_frame_psnr",) + (("idm_readback",) if idm is not None else ())
    keys = tuple(figures) + ("next_frame_psnr_copy_last",) + gates
    if cfg.context == "real":
        keys += tuple(f"{k}_noise_context" for k in gates)
    summary = {"task": cfg.task, "split": cfg.split, "num_clips": len(rows), "context": cfg.context,
               "pose_instruction": cfg.pose_instruction,
               "checkpoint": cfg.checkpoint, "num_candidates": cfg.num_candidates, "num_inference_steps": cfg.num_inference_steps,
               "guidance_scale": cfg.guidance_scale,
               **{k: _mean([r[k] for r in rows if r[k] is not None]) for k in keys},
               "seconds_per_clip": round((time.time() - start) / max(1, len(rows)), 3)}
    write_text_atomic(out / "summary.json", strict_json(summary, indent=2) + "\n")
    write_text_atomic(out / "clips.jsonl", "".join(strict_json(r) + "\n" for r in rows))
    if examples:
        Image.fromarray(np.concatenate(examples, 0)).save(out / "examples.png")
    return summary


def _mean(values: list[float]) -> float | None:
    """The mean of a figure over the clips it counts on (4 decimals), or None where it counts on none."""
    return round(float(np.mean(values)), 4) if values else None


def _example(context: np.ndarray, current: np.ndarray, video: np.ndarray, target: np.ndarray,
             width: int = 8) -> np.ndarray:
    """One clip of ``examples.png``: rows of ``width`` frames (black where a row has fewer): the context, then
    the current frame followed by the imagined frames, then by the true ones."""
    def row(frames: list[np.ndarray]) -> np.ndarray:
        frames = frames[:width] + [np.zeros_like(current)] * (width - len(frames))
        return np.concatenate(frames, 1)

    return np.concatenate([row(list(context)), row([current, *video]), row([current, *target])], 0)


#: the app's defaults: EvalConfig's, less ``task``, which the conf/task group fills with the task's node
ConfigStore.instance().store(name="eval_video_schema",
                             node={f.name: f.default for f in fields(EvalConfig) if f.name != "task"})


@hydra.main(version_base=None, config_path="conf", config_name="eval_video")
def main(cfg: DictConfig) -> None:
    summary = evaluate(eval_config(cfg))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
