"""``v4s-train``: train the context-guided video model (or its VAE) on clips from v4s-gen-data.

    v4s-train stage=vae data=data/clips/train out=runs/vae
    v4s-train stage=diffusion data=data/clips/train val_data=data/clips/val vae=runs/vae/vae out=runs/small

Reads top to bottom: data, model, loop, checkpoint, log.

- ``stage=vae``: a small AutoencoderKL on the clips' frames (L1 + a little KL).
- ``stage=diffusion``: the transformer and the instruction encoder, with the VAE frozen.
  Flow matching: x_t = (1 - s) x0 + s e, the model predicts e - x0 on target tokens only;
  a PoseNav clip is conditioned on its goal pose (relative to the current view) with
  probability ``goal_share`` when the model has goal conditioning (``model.goal_dim``; a
  model started from a checkpoint without it gets it added, at zero), else on its target
  poses; the instruction (text, target poses or goal) and the context are dropped independently
  (replaced by the null instruction and by pure noise), for joint classifier-free
  guidance. ``box_weight`` w > 0 counts the latent cells under the goal's red box outline in
  ObjectNav targets 1 + w times (the val loss stays the plain MSE). An EMA of the weights is
  what gets saved.

Every ``checkpoint_every`` steps the EMA pipeline is saved in diffusers' layout to
``out/pipeline`` and the whole training state to ``out/train_state.pt``; a rerun resumes
from there. Without a state, training starts from ``init`` (by default the committed
checkpoint, so progress accumulates across runs). ``out/log.csv`` gets train and val
losses, ``out/loss.png`` the curve. CPU float32 by default, bf16 autocast on a GPU (``precision``).
"""

from __future__ import annotations

import copy
import csv
import hashlib
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import hydra
import numpy as np
import torch
from accelerate import Accelerator
from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from v4s.assets import VIDEO_MODEL
from v4s.envs.tasks.config import require_tasks, task_kind
from v4s.fileio import append_csv_row, atomic_path
from v4s.model.boxes import outline_mask
from v4s.model.clips import flip, load_clips
from v4s.model.data import LatentClips, encode_clips
from v4s.model.pipeline import ContextGuidedVideoPipeline
from v4s.model.text import SmallTextEncoder
from v4s.model.transformer import ContextGuidedWanTransformer, parameter_count
from v4s.model.vae import encode_frames, small_autoencoder, to_tensor
from v4s.typed_config import build, require

DEFAULT_INIT = VIDEO_MODEL


@dataclass
class TrainConfig:
    stage: str = "diffusion"  #: "vae" or "diffusion"
    data: str = "data/clips/train"
    val_data: str | None = "data/clips/val"
    out: str = "runs/train"
    vae: str | None = None  #: a trained VAE directory (diffusion stage); None: the init pipeline's
    #: pipeline to start from when there is no train state (default: the committed v4s-small); null: a fresh model
    init: str | None = str(DEFAULT_INIT)
    tasks: tuple[str, ...] = ("posenav", "objectnav")
    steps: int = 2000  #: optimisation steps of this run (the total is kept in the train state; reruns resume)
    #: a wall-clock budget of this run's training steps, in minutes (0: none); when it is spent the run stops
    #: as at its last step (evaluated, checkpointed), e.g. before a session's end or for runs at equal CPU time
    max_minutes: float = 0.0
    batch_size: int = 16
    lr: float = 3e-4
    warmup: int = 200
    cooldown: int = 0  #: the last steps of this run decay the LR linearly (0: constant to the end)
    cooldown_to: float = 0.05  #: the LR factor the cooldown ends at
    weight_decay: float = 0.01
    ema_decay: float = 0.999
    drop_instruction: float = 0.1  #: joint classifier-free guidance: instruction and context dropped independently
    drop_context: float = 0.1
    #: the share of PoseNav clips conditioned on the goal pose instead of the trajectory (models with goal_dim)
    goal_share: float = 0.5
    #: extra loss weight on the latent cells under the goal's red box in ObjectNav targets (0: plain MSE); the
    #: box is a thin outline, a few cells of a frame, so the plain loss barely asks the model to draw it
    box_weight: float = 0.0
    flip: bool = True  #: mirrored clips as augmentation
    checkpoint_every: int = 250
    eval_every: int = 250
    val_clips: int = 64
    seed: int = 0
    threads: int = 0  #: torch CPU threads (0: torch's default)
    #: "auto": bf16 autocast on a GPU, float32 on a CPU; "bf16" or "fp32" force it (bf16 autocast on a CPU
    #: pays off only for layers wide enough, benchmarks/train_sizes.py)
    precision: str = "auto"
    model: dict = field(default_factory=lambda: {"num_layers": 4, "attention_head_dim": 32, "num_attention_heads": 4,
                                                 "ffn_dim": 256, "patch_size": [1, 2, 2],
                                                 "context_patch_size": [1, 4, 4], "text_dim": 64, "freq_dim": 64,
                                                 "goal_dim": 4})
    resolution: int = 64
    num_frames: int = 8  #: target frames per call: the first num_frames of each clip's targets

    def __post_init__(self) -> None:
        self.tasks = tuple(self.tasks)
        require(self.stage in ("vae", "diffusion"), "stage", "'vae' or 'diffusion'", self.stage)
        require_tasks(self.tasks)
        for name in ("steps", "batch_size", "checkpoint_every", "eval_every", "num_frames"):
            require(getattr(self, name) >= 1, name, "at least 1", getattr(self, name))
        for name in ("warmup", "cooldown", "val_clips", "threads"):
            require(getattr(self, name) >= 0, name, "at least 0", getattr(self, name))
        require(self.lr >= 0, "lr", "at least 0", self.lr)
        require(self.max_minutes >= 0, "max_minutes", "at least 0 (0: no budget)", self.max_minutes)
        for name in ("cooldown_to", "ema_decay", "drop_instruction", "drop_context", "goal_share"):
            require(0 <= getattr(self, name) <= 1, name, "in [0, 1]", getattr(self, name))
        require(self.weight_decay >= 0, "weight_decay", "at least 0", self.weight_decay)
        require(self.box_weight >= 0, "box_weight", "at least 0 (0: plain MSE)", self.box_weight)
        require(self.resolution >= 8, "resolution", "at least 8 pixels", self.resolution)
        require(self.precision in ("auto", "bf16", "fp32"), "precision", "'auto', 'bf16' or 'fp32'", self.precision)

    @property
    def mixed_precision(self) -> str:
        """accelerate's ``mixed_precision`` (on a GPU; its state is one per process, so a CPU's bf16 is
        :attr:`cpu_bf16` instead)."""
        return "bf16" if torch.cuda.is_available() and self.precision != "fp32" else "no"

    @property
    def cpu_bf16(self) -> bool:
        """bf16 autocast on the CPU."""
        return self.precision == "bf16" and not torch.cuda.is_available()


def _save_atomic(obj: object, path: Path) -> None:
    """``torch.save`` through a temporary file, so a kill mid-write leaves the previous file whole."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


# ---------------------------------------------------------------------- logging
def _log(out: Path, row: dict) -> None:
    append_csv_row(out / "log.csv", row)


def plot_curve(out: Path) -> None:
    """``out/loss.png`` from ``out/log.csv``: train loss (smoothed) and val loss against step."""
    from PIL import Image, ImageDraw

    path = out / "log.csv"
    rows = list(csv.DictReader(path.open())) if path.exists() else []
    if len(rows) < 2:
        return
    steps = np.array([float(r["step"]) for r in rows])
    series = {k: np.array([float(r[k]) if r.get(k) not in (None, "") else np.nan for r in rows])
              for k in ("train_loss", "val_loss")}
    w, h, pad = 640, 400, 50
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    values = np.concatenate([v[np.isfinite(v)] for v in series.values()])
    lo, hi = float(values.min()), float(values.max())
    lo, hi = (lo, hi) if hi > lo else (lo - 1, hi + 1)

    def xy(s, v):
        return pad + (s - steps.min()) / max(1.0, steps.max() - steps.min()) * (w - 2 * pad), \
            h - pad - (v - lo) / (hi - lo) * (h - 2 * pad)

    draw.rectangle([pad, pad, w - pad, h - pad], outline="black")
    for key, color in (("train_loss", (40, 110, 230)), ("val_loss", (220, 40, 40))):
        v = series[key]
        ok = np.isfinite(v)
        pts = [xy(s, y) for s, y in zip(steps[ok], v[ok])]
        if len(pts) > 1:
            draw.line(pts, fill=color, width=2)
        draw.text((pad + 5, pad + 5 + 15 * (key == "val_loss")), key, fill=color)
    draw.text((pad, h - pad + 10), f"step {int(steps.min())} .. {int(steps.max())}", fill="black")
    draw.text((5, pad - 20), f"loss {lo:.4f} .. {hi:.4f}", fill="black")
    img.save(out / "loss.png")


# ---------------------------------------------------------------------- VAE stage
def train_vae(cfg: TrainConfig, accelerator: Accelerator, out: Path) -> None:
    clips = load_clips(cfg.data, cfg.tasks)
    frames = np.concatenate([clips["current"], clips["target"].reshape(-1, *clips["target"].shape[2:]),
                             clips["context"].reshape(-1, *clips["context"].shape[2:])])
    accelerator.print(f"{len(frames)} frames")
    state_path = out / "train_state.pt"
    vae = small_autoencoder(sample_size=cfg.resolution)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step = 0
    if state_path.exists():
        state = torch.load(state_path, weights_only=False)
        vae.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
    vae, optimizer = accelerator.prepare(vae, optimizer)
    rng = np.random.default_rng([cfg.seed, step])
    start, end = time.time(), step + cfg.steps
    while step < end:
        batch = to_tensor(frames[rng.integers(0, len(frames), cfg.batch_size)], accelerator.device, torch.float32)
        with accelerator.autocast():
            posterior = accelerator.unwrap_model(vae).encode(batch).latent_dist
            recon = accelerator.unwrap_model(vae).decode(posterior.sample()).sample
            l1 = (recon.float() - batch).abs().mean()
            loss = l1 + 1e-6 * posterior.kl().mean()
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        step += 1
        if step % 50 == 0 or step == end:
            psnr = float(-10 * torch.log10(((recon.detach().float().clamp(-1, 1) - batch) / 2).pow(2).mean()))
            _log(out, {"step": step, "train_loss": loss.item(), "val_loss": "", "psnr": round(psnr, 2),
                       "wall_s": round(time.time() - start, 1)})
            accelerator.print(f"step {step} loss {loss.item():.4f} psnr {psnr:.2f}")
        if step % cfg.checkpoint_every == 0 or step == end:
            unwrapped = accelerator.unwrap_model(vae)
            unwrapped.save_pretrained(out / "vae")
            _save_atomic({"model": unwrapped.state_dict(), "optimizer": optimizer.state_dict(), "step": step},
                         state_path)
            plot_curve(out)


# ---------------------------------------------------------------------- diffusion stage
def flow_matching_loss(transformer: ContextGuidedWanTransformer, encoder: SmallTextEncoder, batch: dict,
                       cfg: TrainConfig, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """MSE between predicted and true velocity on target latents, with condition dropout; with ``box_weight`` w,
    the latent cells under the goal's red box outline (ObjectNav targets) count 1 + w times."""
    x0 = batch["target"][:, :, : cfg.num_frames].to(device)  # the first num_frames targets: the model's horizon
    b = x0.shape[0]
    # logit-normal noise levels (SD3): most training where the flow is hardest, mid-range
    sigma = torch.sigmoid(torch.randn(b, generator=generator).to(device))
    noise = torch.randn(x0.shape, generator=generator).to(device)
    s = sigma.view(b, 1, 1, 1, 1)
    xt = (1 - s) * x0 + s * noise
    drop_instruction = torch.rand(b, generator=generator) < cfg.drop_instruction
    drop_context = torch.rand(b, generator=generator) < cfg.drop_context
    is_pose = torch.tensor([not task_kind(t).text_instruction for t in batch["task"]])
    # text conditions only the tasks whose instruction is text; a pose task's clips carry theirs for reading only
    texts = ["" if d or p else t for t, d, p in zip(batch["instruction"], drop_instruction.tolist(), is_pose.tolist())]
    context = batch["context"].clone()
    context[drop_context] = torch.randn(context[drop_context].shape, generator=generator)
    # drawn only for a model with goal conditioning, last: a model without it sees the generator stream it always did
    by_goal = torch.rand(b, generator=generator) < cfg.goal_share if transformer.goal_embedder is not None \
        else torch.zeros(b, dtype=torch.bool)
    pose = batch["pose"][:, : cfg.num_frames] * (is_pose & ~by_goal & ~drop_instruction).view(b, 1, 1).float()
    goal = batch["goal"] * (is_pose & by_goal & ~drop_instruction).view(b, 1).float()
    text = encoder(texts)
    pred = transformer(xt, sigma * 1000.0, text, context=context.to(device), current=batch["current"].to(device),
                       context_positions=batch["context_index"].to(device), target_pose=pose.to(device),
                       goal_pose=goal.to(device)).sample
    error = (pred.float() - (noise - x0)).pow(2)
    if cfg.box_weight:
        error = error * (1.0 + cfg.box_weight * box_cells(batch["boxes"][:, : cfg.num_frames], cfg.resolution,
                                                          x0.shape[-2:]).to(device)[:, None])
    return error.mean()


def box_cells(boxes: torch.Tensor, resolution: int, grid: tuple[int, int]) -> torch.Tensor:
    """(B, F, h, w) float: 1 on the latent cells whose pixels the goal's red box outline covers in each target
    frame (``boxes`` (B, F, 4) in pixels of a ``resolution`` frame, x0 = -1 for none), else 0."""
    mask = torch.from_numpy(outline_mask(boxes.numpy(), resolution)).float()  # (B, F, R, R)
    b, f = mask.shape[:2]
    cells = torch.nn.functional.adaptive_max_pool2d(mask.view(b * f, 1, resolution, resolution), tuple(grid))
    return cells.view(b, f, *grid)


def _latents(vae: AutoencoderKL, root: str, cfg: TrainConfig, cache: Path, use_flip: bool,
             limit: int | None = None) -> LatentClips:
    """Encoded clips, cached on disk next to the run (the VAE is frozen, so this is done once).

    The cache is keyed to the VAE (its weights and latent scale) and to the clips asked for; a
    mismatching cache, or one of an older layout (a field of :class:`LatentClips` missing), is encoded again."""
    key = f"{_vae_key(vae)}|{Path(root).resolve()}|{','.join(cfg.tasks)}|{limit}|{use_flip}"
    if cache.exists():
        cached = torch.load(cache, weights_only=False)
        if isinstance(cached, dict) and cached.get("key") == key and \
                all(hasattr(cached["latents"], name) for name in LatentClips.__dataclass_fields__):
            return cached["latents"]
        reason = "has no VAE key (written by an older v4s)" if not isinstance(cached, dict) or "key" not in cached \
            else "was encoded with another VAE or other clips" if cached["key"] != key \
            else "holds clips of an older layout (written by an older v4s)"
        print(f"{cache} {reason}: encoding again")
    clips = load_clips(root, cfg.tasks, limit=limit)
    parts = [encode_clips(vae, clips)] + ([encode_clips(vae, flip(clips))] if use_flip else [])
    latents = LatentClips.concat(parts)
    _save_atomic({"key": key, "latents": latents}, cache)
    return latents


def _vae_key(vae: AutoencoderKL) -> str:
    digest = hashlib.sha1(str(vae.config.scaling_factor).encode())
    for name, tensor in vae.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().float().numpy().tobytes())
    return digest.hexdigest()


def _build(cfg: TrainConfig, out: Path) -> ContextGuidedVideoPipeline:
    """The pipeline to start from.

    A run that resumes takes its own last pipeline (its VAE, with the latent scale its cached
    latents were made with; the train state then restores the weights). Otherwise ``init`` (with ``vae``
    swapped in and its latent scale measured, if given), or a fresh model with ``init=null``; an ``init``
    that does not exist is an error naming it, not a fresh model."""
    if (out / "train_state.pt").exists() and (out / "pipeline" / "model_index.json").exists():
        return ContextGuidedVideoPipeline.from_pretrained(out / "pipeline")
    if cfg.init and not (Path(cfg.init) / "model_index.json").is_file():
        raise FileNotFoundError(f"init: no pipeline at {cfg.init} (no model_index.json there); "
                                "init=null starts a fresh model")
    if cfg.init:
        pipe = ContextGuidedVideoPipeline.from_pretrained(cfg.init)
        pipe.register_to_config(num_frames=cfg.num_frames)  # this run's horizon
        if cfg.model.get("goal_dim"):  # goal conditioning added to a model trained without (at zero)
            pipe.transformer = pipe.transformer.extended(goal_dim=cfg.model["goal_dim"])
        if cfg.vae:
            pipe.vae = AutoencoderKL.from_pretrained(cfg.vae)
            _normalise_latents(pipe.vae, cfg)
        return pipe
    if not cfg.vae:
        raise ValueError("vae: a fresh model (init=null) needs a trained VAE (vae=<dir>)")
    model = {**cfg.model, "patch_size": tuple(cfg.model["patch_size"]),
             "context_patch_size": tuple(cfg.model["context_patch_size"])}
    vae = AutoencoderKL.from_pretrained(cfg.vae)
    _normalise_latents(vae, cfg)
    transformer = ContextGuidedWanTransformer(in_channels=vae.config.latent_channels,
                                              out_channels=vae.config.latent_channels, **model)
    encoder = SmallTextEncoder(dim=model["text_dim"])
    return ContextGuidedVideoPipeline(transformer=transformer, vae=vae, instruction_encoder=encoder,
                                      scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0),
                                      resolution=cfg.resolution, num_frames=cfg.num_frames)


def _normalise_latents(vae: AutoencoderKL, cfg: TrainConfig, frames: int = 512) -> None:
    """Set the VAE's ``scaling_factor`` so that latents of training frames have unit standard deviation."""
    sample = load_clips(cfg.data, cfg.tasks, limit=frames // 2)["current"][:frames]
    vae.register_to_config(scaling_factor=1.0, shift_factor=None)
    std = float(encode_frames(vae, sample[:, None]).std())
    vae.register_to_config(scaling_factor=round(1.0 / std, 5))


def lr_factor(i: int, cfg: TrainConfig, first: int, end: int) -> float:
    """The learning rate's factor at the run's i-th step (``first + i`` overall): linear warmup over the
    first ``warmup`` steps of training, then constant, and over the last ``cooldown`` steps of this run
    a linear decay to ``cooldown_to`` (a cooldown before a checkpoint is committed)."""
    step = first + i + 1
    factor = min(1.0, step / max(1, cfg.warmup))
    if cfg.cooldown > 0:
        factor *= max(cfg.cooldown_to, min(1.0, (end - step) / cfg.cooldown))
    return factor


def train_diffusion(cfg: TrainConfig, accelerator: Accelerator, out: Path) -> None:
    pipe = _build(cfg, out)
    pipe.vae.requires_grad_(False)
    train = _latents(pipe.vae, cfg.data, cfg, out / "latents_train.pt", cfg.flip)
    val = _latents(pipe.vae, cfg.val_data, cfg, out / "latents_val.pt", False, limit=cfg.val_clips // 2) \
        if cfg.val_data else None
    accelerator.print(f"{len(train)} training clips; transformer {parameter_count(pipe.transformer):,} parameters, "
                      f"text encoder {parameter_count(pipe.instruction_encoder):,}")

    modules = torch.nn.ModuleDict({"transformer": pipe.transformer, "encoder": pipe.instruction_encoder})
    ema = copy.deepcopy(modules).requires_grad_(False)
    optimizer = torch.optim.AdamW(modules.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    state_path = out / "train_state.pt"
    step, samples = 0, 0
    if state_path.exists():  # resume exactly where the last run stopped
        state = torch.load(state_path, weights_only=False)
        modules.load_state_dict(state["modules"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        for group in optimizer.param_groups:  # this run's lr, not the one saved with the moments
            group["lr"] = group["initial_lr"] = cfg.lr
        step, samples = state["step"], state["samples"]
        accelerator.print(f"resumed at step {step}")
    modules, optimizer = accelerator.prepare(modules, optimizer)
    end, start, losses = step + cfg.steps, time.time(), []
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, partial(lr_factor, cfg=cfg, first=step, end=end))
    generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
    device = accelerator.device

    while step < end:
        index = torch.randint(0, len(train), (cfg.batch_size,), generator=generator)
        with accelerator.autocast(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.cpu_bf16):
            loss = flow_matching_loss(accelerator.unwrap_model(modules)["transformer"],
                                      accelerator.unwrap_model(modules)["encoder"], train.batch(index), cfg,
                                      generator, device)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(modules.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        with torch.no_grad():
            for e, p in zip(ema.parameters(), accelerator.unwrap_model(modules).parameters()):
                e.lerp_(p.detach().to(e.device), 1 - cfg.ema_decay)
        step += 1
        samples += cfg.batch_size
        losses.append(loss.item())

        # a spent time budget ends the run like its last step: evaluated and checkpointed, so a rerun resumes
        last = step == end or (cfg.max_minutes > 0 and time.time() - start >= 60 * cfg.max_minutes)
        if step % cfg.eval_every == 0 or last:
            val_loss = _val_loss(ema, val, cfg, device) if val is not None else float("nan")
            row = {"step": step, "train_loss": round(float(np.mean(losses)), 5), "val_loss": round(val_loss, 5),
                   "samples": samples, "lr": float(f"{schedule.get_last_lr()[0]:.6g}"), "wall_s": round(time.time() - start, 1)}
            _log(out, row)
            accelerator.print(row)
            losses = []
        if step % cfg.checkpoint_every == 0 or last:
            _save(pipe, ema, out / "pipeline")
            _save_atomic({"modules": accelerator.unwrap_model(modules).state_dict(), "ema": ema.state_dict(),
                          "optimizer": optimizer.state_dict(), "step": step, "samples": samples}, state_path)
            plot_curve(out)
        if last and step < end:
            accelerator.print(f"stopped at step {step}: the budget of max_minutes={cfg.max_minutes} is spent")
            break


@torch.no_grad()
def _val_loss(ema: torch.nn.ModuleDict, val: LatentClips, cfg: TrainConfig, device: torch.device) -> float:
    """Loss of the EMA weights on the val clips, with fixed noise, no dropout and no box weight."""
    # the plain MSE (no box weight), so that val losses of runs with and without it compare
    fixed = TrainConfig(**{**cfg.__dict__, "drop_instruction": 0.0, "drop_context": 0.0, "box_weight": 0.0})
    generator = torch.Generator().manual_seed(1234)
    total, count = 0.0, 0
    for i in range(0, len(val), cfg.batch_size):
        index = torch.arange(i, min(i + cfg.batch_size, len(val)))
        total += float(flow_matching_loss(ema["transformer"], ema["encoder"], val.batch(index), fixed, generator,
                                          device)) * len(index)
        count += len(index)
    return total / count


def _save(pipe: ContextGuidedVideoPipeline, ema: torch.nn.ModuleDict, path: Path) -> None:
    """The pipeline with the EMA weights, in diffusers' layout (safetensors).

    The EMA modules are saved in a pipeline of their own: the live weights of ``pipe``, which the
    optimiser goes on updating, are only read, never written (nanoGPT's rule for checkpoints)."""
    snapshot = ContextGuidedVideoPipeline(transformer=ema["transformer"], vae=pipe.vae,
                                          instruction_encoder=ema["encoder"], scheduler=pipe.scheduler,
                                          tokenizer=pipe.tokenizer, resolution=pipe.config.resolution,
                                          num_frames=pipe.config.num_frames,
                                          max_text_length=pipe.config.max_text_length)
    with atomic_path(path) as tmp:
        snapshot.save_pretrained(tmp)


def run(cfg: TrainConfig) -> Path:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision, cpu=not torch.cuda.is_available())
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (train_vae if cfg.stage == "vae" else train_diffusion)(cfg, accelerator, out)  # __post_init__ checked stage
    return out


ConfigStore.instance().store(name="train_schema", node=TrainConfig)


@hydra.main(version_base=None, config_path="conf", config_name="train")
def main(cfg: DictConfig) -> None:
    run(build(TrainConfig, OmegaConf.to_container(cfg, resolve=True)))


if __name__ == "__main__":
    main()
