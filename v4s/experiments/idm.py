"""``v4s-train-idm`` and ``v4s-eval-idm``: the inverse-dynamics model that reads actions from frames.

    v4s-train-idm out=runs/idm                    # simulator pairs of train houses + imagined pairs
    v4s-eval-idm split=val checkpoint=runs/idm/idm

Reads top to bottom: data, model, loop, checkpoint, evaluation.

- **Simulator pairs**: random walks in the houses of a split, for each task's camera and motion
  (ObjectNav turns 30 degrees, PoseNav 10, with other fields of view): the frame before and after
  each action, rendered at ``render_resolution`` and box-filtered to the model's ``resolution``
  (the video model's frames are made the same way). The label is the action, or no motion (0)
  when a forward step was blocked or nothing was done.
- **Imagined pairs**: the video model's own imagined frames on training clips (``imagined``),
  paired with the true actions of their clips, so the IDM learns to read blurrier frames too.
- Training: cross-entropy, AdamW (warmup, then a cosine decay over the run), mirrored pairs (left and right swapped) as augmentation;
  checkpoints (diffusers' layout) and the train state every ``checkpoint_every`` steps, and a rerun
  resumes. Pair sets are cached in ``out/`` (keyed to their settings).
- ``v4s-eval-idm`` prints JSON: ``accuracy`` on simulator pairs of the split's houses,
  ``accuracy_imagined`` on imagined pairs of the split's clips, per task, with confusion matrices.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import hydra
import numpy as np
import torch
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from v4s.actions import ACTION_NAMES, FORWARD, LEFT, NO_MOTION, RIGHT
from v4s.assets import IDM, VIDEO_MODEL
from v4s.envs.scenes.spec import split_scene_ids
from v4s.envs.sim import make_sim
from v4s.envs.sim.base import yaw_to_quaternion
from v4s.envs.tasks.config import require_tasks, task_config, task_kind
from v4s.envs.tasks.dataset import task_sim_config
from v4s.fileio import append_csv_row, atomic_path
from v4s.model.clips import load_clips
from v4s.model.conditioning import resize_depth, resize_frames
from v4s.planner.extractors import IDM_LABELS, InverseDynamicsModel, load_idm

#: how a random walk picks its actions: no motion, forward, left, right
WALK_PROBABILITIES = (0.1, 0.5, 0.2, 0.2)
BLOCKED = 0.02  #: metres: a forward step that moved less was blocked (no motion)


@dataclass
class PairsConfig:
    """Where the pairs come from (one source for the train and eval commands)."""

    split: str = "train"
    tasks: tuple[str, ...] = ("objectnav", "posenav")
    num_scenes: int = 40
    first_scene: int = 0  #: index of the first house of the split
    pairs_per_scene: int = 150
    walk_length: int = 20  #: actions of one random walk before it restarts elsewhere
    resolution: int = 64
    render_resolution: int = 128
    imagined: str | None = "data/clips/train"  #: clips whose imagined frames give imagined pairs; None: none
    imagined_clips: int = 400  #: clips per task
    pipeline: str = str(VIDEO_MODEL)  #: the video model that imagines
    num_inference_steps: int = 4  #: the planner's sampling settings
    guidance_scale: float = 2.0
    seed: int = 0

    def __post_init__(self) -> None:
        self.tasks = tuple(self.tasks)
        require_tasks(self.tasks)


@dataclass
class TrainIDMConfig:
    data: PairsConfig = field(default_factory=PairsConfig)
    out: str = "runs/idm"
    steps: int = 4000
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    imagined_share: float = 0.3  #: share of each batch drawn from the imagined pairs
    channels: tuple[int, ...] = (32, 64, 96, 128)
    checkpoint_every: int = 500
    threads: int = 0


@dataclass
class EvalIDMConfig:
    data: PairsConfig = field(default_factory=lambda: PairsConfig(split="val", num_scenes=10, pairs_per_scene=100,
                                                                  imagined="data/clips/val", imagined_clips=200))
    checkpoint: str = str(IDM)
    out: str | None = None  #: a directory for summary.json; None: print only
    threads: int = 0


ConfigStore.instance().store(name="train_idm_schema", node=TrainIDMConfig)
ConfigStore.instance().store(name="eval_idm_schema", node=EvalIDMConfig)


# ---------------------------------------------------------------------- data
def sim_pairs(cfg: PairsConfig, task_name: str, progress: bool = True) -> dict[str, np.ndarray]:
    """Frame pairs of random walks in ``cfg.num_scenes`` houses of ``cfg.split`` with ``task_name``'s camera
    and motion: ``first``, ``second`` (N, R, R, 3) uint8, ``label`` (N,) int64 and ``depth`` (N, R, R)
    float16 metres of the first frame (for the geometric extractor)."""
    sim_config = task_sim_config(task_config(task_name), {"width": cfg.render_resolution,
                                                          "height": cfg.render_resolution})
    sim = make_sim("embedded", sim_config)
    rng = np.random.default_rng([cfg.seed, len(task_name), cfg.first_scene])
    first, second, depths, labels = [], [], [], []
    scenes = split_scene_ids(cfg.split, cfg.num_scenes, cfg.first_scene)
    try:
        for scene_id in tqdm(scenes, desc=f"{task_name} pairs ({cfg.split})", unit="house", disable=not progress):
            sim.load_scene(scene_id)
            sim.pathfinder.seed(int(rng.integers(2**31)))
            made = 0
            while made < cfg.pairs_per_scene:
                sim.set_agent_state(sim.pathfinder.get_random_navigable_point(),
                                    yaw_to_quaternion(float(rng.uniform(-np.pi, np.pi))))
                before = sim.observe()
                for _ in range(min(cfg.walk_length, cfg.pairs_per_scene - made)):
                    action = int(rng.choice(4, p=WALK_PROBABILITIES))
                    position = sim.agent_state.position.copy()
                    after = sim.step(ACTION_NAMES[action]) if action != NO_MOTION else before
                    moved = float(np.linalg.norm(sim.agent_state.position - position))
                    label = NO_MOTION if action == FORWARD and moved < BLOCKED else action
                    first.append(before["rgb"])
                    second.append(after["rgb"])
                    depths.append(resize_depth(before["depth"], cfg.resolution).astype(np.float16))
                    labels.append(label)
                    before = after
                    made += 1
    finally:
        sim.close()
    return {"first": resize_frames(np.stack(first), cfg.resolution),
            "second": resize_frames(np.stack(second), cfg.resolution), "label": np.array(labels, np.int64),
            "depth": np.stack(depths)}


def imagined_pairs(cfg: PairsConfig, task_name: str, batch_size: int = 8,
                   progress: bool = True) -> dict[str, np.ndarray]:
    """The video model's imagined frames on clips of ``cfg.imagined``, paired frame to frame (the current
    view, then each imagined frame) with the clip's true actions."""
    from v4s.model.pipeline import ContextGuidedVideoPipeline

    clips = load_clips(cfg.imagined, (task_name,), limit=cfg.imagined_clips)
    pipe = ContextGuidedVideoPipeline.from_pretrained(cfg.pipeline)
    pipe.set_progress_bar_config(disable=True)
    is_text = not pipe.poses_supported or task_kind(task_name).text_instruction
    horizon = min(int(pipe.config.num_frames), clips["actions"].shape[1])  # the model's own horizon
    first, second, labels = [], [], []
    generator = torch.Generator().manual_seed(cfg.seed)
    for i in tqdm(range(0, len(clips["current"]), batch_size), desc=f"{task_name} imagined pairs", unit="batch",
                  disable=not progress):
        part = slice(i, i + batch_size)
        instruction = list(clips["instruction"][part]) if is_text else clips["relative"][part][:, :horizon]
        videos = pipe(clips["context"][part], clips["current"][part], instruction, num_frames=horizon,
                      num_inference_steps=cfg.num_inference_steps, guidance_scale=cfg.guidance_scale,
                      context_positions=clips["context_index"][part], generator=generator).videos[:, 0]
        chain = np.concatenate([clips["current"][part][:, None], videos], axis=1)
        first.append(chain[:, :-1].reshape(-1, *chain.shape[2:]))
        second.append(chain[:, 1:].reshape(-1, *chain.shape[2:]))
        labels.append(clips["actions"][part][:, :horizon].reshape(-1).astype(np.int64))
    return {"first": np.concatenate(first), "second": np.concatenate(second), "label": np.concatenate(labels)}


def _cached(path: Path, key: dict, make) -> dict[str, np.ndarray]:
    """``make()``'s arrays, cached at ``path`` under ``key`` (a mismatching cache is made again)."""
    digest = hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    if path.exists():
        with np.load(path) as data:
            if str(data["key"]) == digest:
                return {k: data[k] for k in data.files if k != "key"}
    arrays = make()
    with atomic_path(path) as tmp:
        np.savez(tmp, key=digest, **arrays)
    return arrays


def pair_sets(cfg: PairsConfig, out: Path, progress: bool = True) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """``{"sim" | "imagined": {task: pairs}}``, cached under ``out``."""
    sets: dict[str, dict[str, dict[str, np.ndarray]]] = {"sim": {}, "imagined": {}}
    settings = asdict(cfg)
    for task_name in cfg.tasks:
        sim_key = {k: settings[k] for k in ("split", "num_scenes", "first_scene", "pairs_per_scene", "walk_length",
                                            "resolution", "render_resolution", "seed")}
        sets["sim"][task_name] = _cached(out / f"pairs_sim_{cfg.split}_{task_name}.npz", {**sim_key, "task": task_name},
                                         lambda t=task_name: sim_pairs(cfg, t, progress))
        if cfg.imagined:
            if not (Path(cfg.imagined) / "manifest.json").exists():
                raise FileNotFoundError(f"data.imagined: no clips at {cfg.imagined} (make them with v4s-gen-data "
                                        f"split={cfg.split} out={cfg.imagined}, or set data.imagined=null)")
            key = {k: settings[k] for k in ("imagined", "imagined_clips", "pipeline", "num_inference_steps",
                                            "guidance_scale", "seed")}
            sets["imagined"][task_name] = _cached(out / f"pairs_imagined_{cfg.split}_{task_name}.npz",
                                                  {**key, "task": task_name},
                                                  lambda t=task_name: imagined_pairs(cfg, t, progress=progress))
    return sets


def _merge(parts: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray] | None:
    if not parts:
        return None
    return {k: np.concatenate([p[k] for p in parts.values()]) for k in ("first", "second", "label")}


def _batch(pairs: dict[str, np.ndarray], index: np.ndarray, mirror: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs ``index`` as model input, the ``mirror`` ones flipped left-right with their turns swapped."""
    first, second, label = pairs["first"][index].copy(), pairs["second"][index].copy(), pairs["label"][index].copy()
    first[mirror], second[mirror] = first[mirror][:, :, ::-1], second[mirror][:, :, ::-1]
    turned = label[mirror]
    label[mirror] = np.where(turned == LEFT, RIGHT, np.where(turned == RIGHT, LEFT, turned))
    return InverseDynamicsModel.to_pairs(first, second), torch.as_tensor(label)


# ---------------------------------------------------------------------- training
def _log(out: Path, row: dict) -> None:
    append_csv_row(out / "log.csv", row)


def _lr_factor(step: int, first: int, cfg: TrainIDMConfig) -> float:
    """Linear warmup over the first 100 steps of training, then a cosine decay to 5 % over this run."""
    warm = min(1.0, (step + 1) / 100)
    progress = (step - first) / max(1, cfg.steps)
    return warm * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(1.0, progress))))


def train(cfg: TrainIDMConfig, progress: bool = True) -> Path:
    """Train (or resume) the IDM; returns the checkpoint directory ``out/idm``."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    sets = pair_sets(cfg.data, out, progress)
    sim, imagined = _merge(sets["sim"]), _merge(sets["imagined"])
    print(f"{len(sim['label'])} simulator pairs, {0 if imagined is None else len(imagined['label'])} imagined pairs")

    model = InverseDynamicsModel(resolution=cfg.data.resolution, channels=tuple(cfg.channels))
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    state_path, step = out / "train_state.pt", 0
    if state_path.exists():
        state = torch.load(state_path, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        for group in optimizer.param_groups:  # this run's lr, not the one saved with the moments
            group["lr"] = cfg.lr
        step = state["step"]
        print(f"resumed at step {step}")
    first = step
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: _lr_factor(first + i, first, cfg))
    rng = np.random.default_rng([cfg.data.seed, step])
    n_imagined = 0 if imagined is None else int(round(cfg.batch_size * cfg.imagined_share))
    end, start, losses, hits = step + cfg.steps, time.time(), [], []
    model.train()
    while step < end:
        parts = [(sim, cfg.batch_size - n_imagined)] + ([(imagined, n_imagined)] if n_imagined else [])
        inputs, labels = zip(*[_batch(p, rng.integers(0, len(p["label"]), n), rng.random(n) < 0.5) for p, n in parts])
        inputs, labels = torch.cat(inputs), torch.cat(labels)
        logits = model(inputs)
        loss = torch.nn.functional.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        step += 1
        losses.append(loss.item())
        hits.append(float((logits.argmax(-1) == labels).float().mean()))
        if step % 100 == 0 or step == end:
            row = {"step": step, "loss": round(float(np.mean(losses)), 5), "accuracy": round(float(np.mean(hits)), 4),
                   "wall_s": round(time.time() - start, 1)}
            _log(out, row)
            print(row)
            losses, hits = [], []
        if step % cfg.checkpoint_every == 0 or step == end:
            with atomic_path(out / "idm") as tmp:
                model.save_pretrained(tmp)
            with atomic_path(state_path) as tmp:
                torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step}, tmp)
    return out / "idm"


# ---------------------------------------------------------------------- evaluation
@torch.no_grad()
def accuracy(model: InverseDynamicsModel, pairs: dict[str, np.ndarray], batch_size: int = 256) -> dict:
    """Accuracy and the confusion matrix (rows: true action, columns: read action) of ``model`` on ``pairs``."""
    predicted = []
    for i in range(0, len(pairs["label"]), batch_size):
        x = InverseDynamicsModel.to_pairs(pairs["first"][i:i + batch_size], pairs["second"][i:i + batch_size])
        predicted.append(model(x).argmax(-1).numpy())
    predicted = np.concatenate(predicted)
    confusion = np.zeros((4, 4), np.int64)
    np.add.at(confusion, (pairs["label"], predicted), 1)
    return {"accuracy": round(float((predicted == pairs["label"]).mean()), 4), "num_pairs": int(len(predicted)),
            "confusion": confusion.tolist()}


def evaluate(cfg: EvalIDMConfig, progress: bool = True) -> dict:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    model = load_idm(cfg.checkpoint)
    cache = Path(cfg.out) if cfg.out else Path("runs") / "idm-eval"
    cache.mkdir(parents=True, exist_ok=True)
    sets = pair_sets(cfg.data, cache, progress)
    summary: dict = {"split": cfg.data.split, "checkpoint": str(cfg.checkpoint), "actions": list(IDM_LABELS)}
    for kind, name in (("sim", "accuracy"), ("imagined", "accuracy_imagined")):
        if not sets[kind]:
            summary[name] = None
            continue
        summary[name] = accuracy(model, _merge(sets[kind]))["accuracy"]
        summary[f"{name}_per_task"] = {t: accuracy(model, p) for t, p in sets[kind].items()}
    if cfg.out:
        with atomic_path(Path(cfg.out) / "summary.json") as tmp:
            tmp.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _structured(cfg: DictConfig, schema: type) -> object:
    values = OmegaConf.to_object(cfg)
    return values if isinstance(values, schema) else schema(**values)


@hydra.main(version_base=None, config_path="conf", config_name="train_idm")
def train_main(cfg: DictConfig) -> None:
    print(f"checkpoint: {train(_structured(cfg, TrainIDMConfig))}")


@hydra.main(version_base=None, config_path="conf", config_name="eval_idm")
def eval_main(cfg: DictConfig) -> None:
    print(json.dumps(evaluate(_structured(cfg, EvalIDMConfig)), indent=2))
