"""v4s-train end to end on a few real clips: the VAE stage, the diffusion stage, resume after a stop."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import torch

from v4s.experiments.gen_data import GenDataConfig, generate
from v4s.experiments.train import TrainConfig, run
from v4s.model.pipeline import ContextGuidedVideoPipeline

TINY = {"num_layers": 1, "attention_head_dim": 8, "num_attention_heads": 2, "ffn_dim": 32, "patch_size": [1, 2, 2],
        "context_patch_size": [1, 4, 4], "text_dim": 16, "freq_dim": 16}


@pytest.fixture(scope="module")
def clips(tmp_path_factory, val_clips):
    root = tmp_path_factory.mktemp("clips")
    generate(GenDataConfig(split="train", num_scenes=1, episodes_per_scene=2, windows_per_episode=1,
                           out=str(root / "train")), progress=False)
    (root / "val").symlink_to(val_clips)
    return root


def _rows(path):
    with path.open() as f:
        return list(csv.DictReader(f))


def test_vae_then_diffusion_then_resume_keeps_the_latent_scale(clips, tmp_path):
    common = {"data": str(clips / "train"), "val_data": str(clips / "val"), "batch_size": 2, "val_clips": 4,
              "threads": 1}
    run(TrainConfig(stage="vae", out=str(tmp_path / "vae"), steps=3, checkpoint_every=3, **common))
    assert (tmp_path / "vae" / "vae" / "config.json").exists() and (tmp_path / "vae" / "train_state.pt").exists()

    cfg = TrainConfig(stage="diffusion", vae=str(tmp_path / "vae" / "vae"), init=None,
                      out=str(tmp_path / "run"), steps=2, checkpoint_every=2, eval_every=1, model=TINY, **common)
    run(cfg)
    pipeline = tmp_path / "run" / "pipeline"
    scale = json.loads((pipeline / "vae" / "config.json").read_text())["scaling_factor"]
    assert scale != 1.0  # measured on the training frames
    assert [r["step"] for r in _rows(tmp_path / "run" / "log.csv")] == ["1", "2"]
    first = {k: v.clone() for k, v in ContextGuidedVideoPipeline.from_pretrained(pipeline).transformer.state_dict().items()}

    run(cfg)  # the same command again: resumes at step 2 and keeps the run's VAE and latent scale
    rows = _rows(tmp_path / "run" / "log.csv")
    assert [r["step"] for r in rows] == ["1", "2", "3", "4"] and int(rows[-1]["samples"]) == 8
    assert all(np.isfinite(float(r["val_loss"])) for r in rows)
    assert torch.load(tmp_path / "run" / "train_state.pt", weights_only=False)["step"] == 4
    pipe = ContextGuidedVideoPipeline.from_pretrained(pipeline)
    assert pipe.vae.config.scaling_factor == scale
    assert any(not torch.equal(first[k], v) for k, v in pipe.transformer.state_dict().items())
    assert (tmp_path / "run" / "loss.png").exists()

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    video = pipe(frames[:2], frames[2], "Find the bed.", num_candidates=2, num_inference_steps=2).videos
    assert video.shape == (2, 8, 64, 64, 3) and video.dtype == np.uint8

    # a new run that starts from a committed pipeline with a freshly trained VAE swapped in: the
    # swapped VAE's latent scale is measured, and a resumed run keeps it
    shutil.copytree(pipeline, tmp_path / "init")
    again = TrainConfig(**{**cfg.__dict__, "init": str(tmp_path / "init"), "out": str(tmp_path / "run2"), "steps": 1})
    for _ in range(2):
        run(again)
        assert json.loads((tmp_path / "run2" / "pipeline" / "vae" / "config.json").read_text())["scaling_factor"] \
            == scale
    assert torch.load(tmp_path / "run2" / "train_state.pt", weights_only=False)["step"] == 2


def test_a_cached_latent_set_is_encoded_again_for_another_vae(clips, tmp_path):
    common = {"data": str(clips / "train"), "val_data": None, "batch_size": 2, "threads": 1}
    for name, seed in (("a", 0), ("b", 1)):
        run(TrainConfig(stage="vae", out=str(tmp_path / name), steps=1, seed=seed, **common))
    cfg = {"stage": "diffusion", "init": None, "out": str(tmp_path / "run"), "steps": 1,
           "model": TINY, **common}
    run(TrainConfig(vae=str(tmp_path / "a" / "vae"), **cfg))
    key = torch.load(tmp_path / "run" / "latents_train.pt", weights_only=False)["key"]
    # a new run directory with the same cache file but another VAE: the cache must not be reused
    (tmp_path / "run" / "train_state.pt").unlink()
    run(TrainConfig(vae=str(tmp_path / "b" / "vae"), **cfg))
    assert torch.load(tmp_path / "run" / "latents_train.pt", weights_only=False)["key"] != key


def test_checkpoints_copy_the_ema_out_and_resume_continues_from_the_live_weights(clips, tmp_path):
    """A checkpoint must not write the EMA into the live model: the train state keeps both, apart."""
    common = {"data": str(clips / "train"), "val_data": None, "batch_size": 2, "threads": 1}
    run(TrainConfig(stage="vae", out=str(tmp_path / "vae"), steps=1, **common))
    cfg = TrainConfig(stage="diffusion", vae=str(tmp_path / "vae" / "vae"), init=None,
                      out=str(tmp_path / "run"), steps=3, checkpoint_every=1, warmup=1, lr=1e-2, ema_decay=0.9,
                      model=TINY, **common)
    run(cfg)
    state = torch.load(tmp_path / "run" / "train_state.pt", weights_only=False)
    live = {k[len("transformer."):]: v for k, v in state["modules"].items() if k.startswith("transformer.")}
    ema = {k[len("transformer."):]: v for k, v in state["ema"].items() if k.startswith("transformer.")}
    # three checkpoints were saved; had any of them loaded the EMA into the model, live would equal EMA
    assert any(not torch.equal(live[k], ema[k]) for k in live)
    saved = ContextGuidedVideoPipeline.from_pretrained(tmp_path / "run" / "pipeline").transformer.state_dict()
    assert all(torch.equal(saved[k], ema[k]) for k in ema)  # the pipeline on disk is the EMA

    # resume with a zero learning rate: the live weights go on exactly where they were, and the EMA
    # moves towards them (it would not move if the run had resumed from the EMA)
    run(TrainConfig(**{**cfg.__dict__, "steps": 1, "lr": 0.0}))
    resumed = torch.load(tmp_path / "run" / "train_state.pt", weights_only=False)
    assert resumed["step"] == 4
    assert all(torch.equal(resumed["modules"][k], v) for k, v in state["modules"].items())
    moved = {k[len("transformer."):]: v for k, v in resumed["ema"].items() if k.startswith("transformer.")}
    assert any(not torch.equal(moved[k], ema[k]) for k in ema)


def test_a_latent_cache_without_a_vae_key_is_encoded_again(clips, tmp_path):
    common = {"data": str(clips / "train"), "val_data": None, "batch_size": 2, "threads": 1}
    run(TrainConfig(stage="vae", out=str(tmp_path / "vae"), steps=1, **common))
    cfg = TrainConfig(stage="diffusion", vae=str(tmp_path / "vae" / "vae"), init=None,
                      out=str(tmp_path / "run"), steps=1, model=TINY, **common)
    run(cfg)
    cache = tmp_path / "run" / "latents_train.pt"
    latents = torch.load(cache, weights_only=False)["latents"]
    torch.save(latents, cache)  # the layout of caches written before the key existed
    (tmp_path / "run" / "train_state.pt").unlink()
    run(cfg)
    cached = torch.load(cache, weights_only=False)
    assert "key" in cached
    # a cache with the right key but of an older layout (clips without goals) is encoded again, not trained on
    del cached["latents"].__dict__["goal"]
    torch.save(cached, cache)
    (tmp_path / "run" / "train_state.pt").unlink()
    run(cfg)
    assert torch.load(cache, weights_only=False)["latents"].goal.shape[1] == 4


def test_goal_conditioning_is_added_to_a_model_trained_without_and_learned_through_resume(clips, tmp_path):
    common = {"data": str(clips / "train"), "val_data": None, "batch_size": 2, "threads": 1}
    run(TrainConfig(stage="vae", out=str(tmp_path / "vae"), steps=1, **common))
    run(TrainConfig(stage="diffusion", vae=str(tmp_path / "vae" / "vae"), init=None,
                    out=str(tmp_path / "base"), steps=1, model=TINY, **common))
    base = ContextGuidedVideoPipeline.from_pretrained(tmp_path / "base" / "pipeline")
    assert not base.goals_supported
    cfg = TrainConfig(stage="diffusion", init=str(tmp_path / "base" / "pipeline"), out=str(tmp_path / "run"), steps=2,
                      checkpoint_every=2, warmup=1, lr=1e-2, goal_share=1.0, model={**TINY, "goal_dim": 4}, **common)
    for step in (2, 4):  # the second run resumes the first
        run(cfg)
        state = torch.load(tmp_path / "run" / "train_state.pt", weights_only=False)
        assert state["step"] == step
        assert torch.count_nonzero(state["modules"]["transformer.goal_embedder.2.weight"]) > 0  # learned from zero
    pipe = ContextGuidedVideoPipeline.from_pretrained(tmp_path / "run" / "pipeline")
    assert pipe.goals_supported and pipe.transformer.config.goal_dim == 4
    video = pipe(np.zeros((2, 64, 64, 3), np.uint8), np.zeros((64, 64, 3), np.uint8), goal_pose=[1.0, -2.0, 0.0, 1.0],
                 num_inference_steps=1).videos
    assert video.shape == (1, 8, 64, 64, 3)


def test_a_spent_time_budget_stops_the_run_like_its_last_step_and_a_rerun_resumes(clips, tmp_path):
    """max_minutes ends a run early, evaluated and checkpointed; bf16 autocast trains on a CPU too."""
    common = {"data": str(clips / "train"), "val_data": None, "batch_size": 2, "threads": 1}
    run(TrainConfig(stage="vae", out=str(tmp_path / "vae"), steps=1, **common))
    cfg = TrainConfig(stage="diffusion", vae=str(tmp_path / "vae" / "vae"), init=None,
                      out=str(tmp_path / "run"), steps=1000, checkpoint_every=500, eval_every=500,
                      max_minutes=1e-9, precision="bf16", model=TINY, **common)
    assert cfg.cpu_bf16 or cfg.mixed_precision == "bf16"
    run(cfg)
    state = torch.load(tmp_path / "run" / "train_state.pt", weights_only=False)
    assert state["step"] == 1  # the budget was spent after the first step, far before the 1,000 asked for
    assert [int(r["step"]) for r in _rows(tmp_path / "run" / "log.csv")] == [1]
    assert all(v.dtype == torch.float32 for v in state["modules"].values())  # autocast keeps float32 weights
    run(TrainConfig(**{**cfg.__dict__, "max_minutes": 0.0, "steps": 2}))
    assert torch.load(tmp_path / "run" / "train_state.pt", weights_only=False)["step"] == 3
    with pytest.raises(ValueError, match="precision must be 'auto', 'bf16' or 'fp32', got 'fp16'"):
        TrainConfig(precision="fp16")
    with pytest.raises(ValueError, match="max_minutes must be at least 0"):
        TrainConfig(max_minutes=-1)


def test_an_init_that_does_not_exist_is_named_not_replaced_by_a_fresh_model(clips, tmp_path):
    cfg = TrainConfig(stage="diffusion", init=str(tmp_path / "typo" / "pipeline"), data=str(clips),
                      val_data=None, out=str(tmp_path / "run"), steps=1, threads=1)
    with pytest.raises(FileNotFoundError, match=r"init: no pipeline at .*typo/pipeline .*init=null starts a fresh"):
        run(cfg)
    assert not (tmp_path / "run" / "train_state.pt").exists()
