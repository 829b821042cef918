"""The context-guided pipeline on tiny configs: real diffusers classes, real files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanTransformer3DModel

from v4s.model.pipeline import ContextGuidedVideoPipeline, uniform_sigmas
from v4s.model.text import SmallTextEncoder
from v4s.model.transformer import CONTEXT, CURRENT, TARGET, ContextGuidedWanTransformer
from v4s.model.vae import IdentityVAE, small_autoencoder

RES = 32  # frames of the tiny pipelines


def tiny_pipeline(vae: str = "kl") -> ContextGuidedVideoPipeline:
    torch.manual_seed(0)
    latent = {"kl": 4, "identity": 3}[vae]
    transformer = ContextGuidedWanTransformer(num_attention_heads=2, attention_head_dim=12, num_layers=1, ffn_dim=32,
                                              in_channels=latent, out_channels=latent, text_dim=16, freq_dim=16,
                                              patch_size=(1, 2, 2), context_patch_size=(1, 4, 4))
    for p in transformer.parameters():  # the zero-initialised conditioning layers would hide the wiring under test
        if p.abs().sum() == 0:
            torch.nn.init.normal_(p, std=0.2)
    autoencoder = small_autoencoder(sample_size=RES) if vae == "kl" else IdentityVAE()
    pipe = ContextGuidedVideoPipeline(transformer=transformer, vae=autoencoder,
                                      instruction_encoder=SmallTextEncoder(dim=16, num_layers=1),
                                      scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0), resolution=RES, num_frames=3)
    pipe.set_progress_bar_config(disable=True)
    for module in (pipe.transformer, pipe.vae, pipe.instruction_encoder):
        module.eval()
    return pipe


def frames(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, RES, RES, 3), dtype=np.uint8)


POSES = np.array([[0.0, -0.25, 0.0, 1.0], [0.0, -0.5, 0.0, 1.0], [0.0, -0.5, 0.17, 0.98]], np.float32)


@pytest.fixture(scope="module")
def pipe():
    return tiny_pipeline()


def test_shapes_dtype_and_candidates(pipe):
    out = pipe(frames(4), frames(1)[0], POSES, num_candidates=3, num_inference_steps=2,
               generator=[torch.Generator().manual_seed(k) for k in range(3)]).videos
    assert out.shape == (3, 3, RES, RES, 3) and out.dtype == np.uint8
    assert not np.array_equal(out[0], out[1])  # one generator per candidate
    text = pipe(frames(4), frames(1)[0], "Find the chair.", num_candidates=2, num_inference_steps=2,
                generator=torch.Generator().manual_seed(0)).videos
    assert text.shape == (2, 3, RES, RES, 3)
    latents = pipe(frames(4), frames(1)[0], POSES, num_inference_steps=2, output_type="latent").videos
    assert latents.shape == (1, 4, 3, RES // 4, RES // 4)


def test_fixed_generator_is_deterministic(pipe):
    kwargs = dict(num_candidates=2, num_inference_steps=3)
    a = pipe(frames(4), frames(1)[0], POSES, generator=[torch.Generator().manual_seed(k) for k in (5, 6)], **kwargs)
    b = pipe(frames(4), frames(1)[0], POSES, generator=[torch.Generator().manual_seed(k) for k in (5, 6)], **kwargs)
    np.testing.assert_array_equal(a.videos, b.videos)


def test_cfg_branches_see_null_instruction_and_noise_context(pipe):
    seen = []

    def capture(module, args, kwargs):
        seen.append({"text": args[2].clone(), "context": kwargs["context"].clone(), "pose": kwargs["target_pose"]})

    handle = pipe.transformer.register_forward_pre_hook(capture, with_kwargs=True)
    try:
        pipe(frames(4), frames(1)[0], "Find the chair.", num_candidates=2, num_inference_steps=2, guidance_scale=3.0,
             generator=torch.Generator().manual_seed(0))
        guided = len(seen)
        pipe(frames(4), frames(1)[0], "Find the chair.", num_candidates=2, num_inference_steps=2, guidance_scale=1.0,
             generator=torch.Generator().manual_seed(0))
    finally:
        handle.remove()
    first = seen[0]
    cond, uncond = first["text"].chunk(2)
    assert cond.abs().sum() > 0 and uncond.abs().sum() == 0  # the unconditional branch: null instruction
    real, noise = first["context"].chunk(2)
    assert torch.equal(real[0], real[1]) and not torch.allclose(real, noise)  # ... and pure-noise context
    assert abs(float(noise.std()) - 1.0) < 0.2
    assert guided == 2 and len(seen) == 4 and seen[-1]["text"].shape[0] == 2  # guidance 1: one branch only


def test_guidance_changes_the_output(pipe):
    kwargs = dict(num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    plain = pipe(frames(4), frames(1)[0], POSES, guidance_scale=1.0, **kwargs).videos
    kwargs["generator"] = torch.Generator().manual_seed(0)
    guided = pipe(frames(4), frames(1)[0], POSES, guidance_scale=4.0, **kwargs).videos
    assert not np.array_equal(plain, guided)


def test_rope_positions_of_non_contiguous_context(pipe):
    t = pipe.transformer
    tour = torch.tensor([[3, 17, 40, 95]])
    positions, kinds = t.token_layout(1, 4, True, 3, RES // 4, RES // 4, tour)
    grid = (RES // 4 // 2) ** 2  # fine tokens per frame
    coarse = (RES // 4 // 4) ** 2  # context tokens per frame
    assert kinds[0].tolist() == [CONTEXT] * 4 * coarse + [CURRENT] * grid + [TARGET] * 3 * grid
    context_t = positions[0, : 4 * coarse, 0].reshape(4, coarse)
    assert context_t[:, 0].tolist() == [3, 17, 40, 95]  # each context frame keeps its tour position
    assert positions[0, 4 * coarse, 0] == 96  # the current frame follows the last context frame
    assert positions[0, -3 * grid:, 0].reshape(3, grid)[:, 0].tolist() == [97, 98, 99]
    # coarse context patches sit at their centres on the fine grid: 0.5, 2.5, ...
    assert sorted(set(positions[0, :coarse, 1].tolist())) == [0.5, 2.5][: RES // 16]
    cos, sin = t.rotary_embedding(positions)
    assert cos.shape == (1, positions.shape[1], 1, t.config.attention_head_dim)
    # the positions reach the attention: other tour indices, other output
    x = torch.randn(1, 4, 3, RES // 4, RES // 4)
    kwargs = dict(context=torch.randn(1, 4, 4, RES // 4, RES // 4), current=torch.randn(1, 4, 1, RES // 4, RES // 4))
    with torch.no_grad():
        a = t(x, torch.tensor([500.0]), torch.randn(1, 5, 16), context_positions=tour, **kwargs).sample
        b = t(x, torch.tensor([500.0]), torch.randn(1, 5, 16), context_positions=tour * 0 + torch.arange(4), **kwargs)
    assert not torch.allclose(a, b.sample)


def test_save_and_load_round_trip(pipe, tmp_path):
    pipe.save_pretrained(tmp_path / "ckpt")
    index = json.loads((tmp_path / "ckpt" / "model_index.json").read_text())
    assert index["transformer"] == ["v4s.model.transformer", "ContextGuidedWanTransformer"]
    assert index["resolution"] == RES and (tmp_path / "ckpt" / "transformer" / "diffusion_pytorch_model.safetensors").exists()
    loaded = ContextGuidedVideoPipeline.from_pretrained(tmp_path / "ckpt")
    loaded.set_progress_bar_config(disable=True)
    for name in ("transformer", "vae", "instruction_encoder"):
        a, b = getattr(pipe, name).state_dict(), getattr(loaded, name).state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    kwargs = dict(num_inference_steps=2, num_candidates=2)
    a = pipe(frames(4), frames(1)[0], POSES, generator=torch.Generator().manual_seed(1), **kwargs).videos
    b = loaded(frames(4), frames(1)[0], POSES, generator=torch.Generator().manual_seed(1), **kwargs).videos
    np.testing.assert_array_equal(a, b)


def test_pixel_space_pipeline_with_identity_vae(tmp_path):
    pipe = tiny_pipeline("identity")
    out = pipe(frames(2), frames(1)[0], POSES, num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    assert out.videos.shape == (1, 3, RES, RES, 3)
    pipe.save_pretrained(tmp_path / "pixel")
    assert isinstance(ContextGuidedVideoPipeline.from_pretrained(tmp_path / "pixel").vae, IdentityVAE)


def _tiny_tokenizer(path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "</s>", "<unk>", "find", "the", "chair", "go", "to", "bed", "."]
    tok = Tokenizer(models.WordLevel(vocab={w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    fast.save_pretrained(path)
    return fast


def test_a_wan_layout_checkpoint_loads_and_samples(tmp_path):
    """Wan2.x's layout: WanTransformer3DModel, AutoencoderKLWan and UMT5 with its tokenizer (tiny configs)."""
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    transformer = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12,
                                        in_channels=4, out_channels=4, text_dim=16, freq_dim=16, ffn_dim=32,
                                        num_layers=1, rope_max_seq_len=32)
    vae = AutoencoderKLWan(base_dim=8, z_dim=4, dim_mult=[1, 2], num_res_blocks=1, temperal_downsample=[False],
                           latents_mean=[0.0] * 4, latents_std=[1.0] * 4)
    encoder = UMT5EncoderModel(UMT5Config(vocab_size=10, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2,
                                          relative_attention_num_buckets=8))
    pipe = ContextGuidedVideoPipeline(transformer=transformer, vae=vae, instruction_encoder=encoder,
                                      tokenizer=_tiny_tokenizer(tmp_path / "tok"),
                                      scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0), resolution=16,
                                      num_frames=2, max_text_length=8)
    pipe.save_pretrained(tmp_path / "wan")
    index = json.loads((tmp_path / "wan" / "model_index.json").read_text())
    assert index["transformer"] == ["diffusers", "WanTransformer3DModel"]
    assert index["instruction_encoder"] == ["transformers", "UMT5EncoderModel"]
    loaded = ContextGuidedVideoPipeline.from_pretrained(tmp_path / "wan")
    loaded.set_progress_bar_config(disable=True)
    rng = np.random.default_rng(0)
    context = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    out = loaded(context, context[0], "find the chair .", num_candidates=2, num_inference_steps=2,
                 generator=torch.Generator().manual_seed(0)).videos
    assert out.shape == (2, 2, 16, 16, 3) and out.dtype == np.uint8
    with pytest.raises(ValueError, match="takes no pose instructions"):
        loaded(context, context[0], POSES[:2], num_inference_steps=1)
    # the Wan transformer's weights load into the context-guided transformer, whose additions start at zero
    guided = ContextGuidedWanTransformer.from_wan(tmp_path / "wan" / "transformer")
    assert torch.equal(guided.blocks[0].attn1.to_q.weight, transformer.blocks[0].attn1.to_q.weight)
    assert float(guided.pose_embedder[2].weight.detach().abs().sum()) == 0.0


def test_sigmas_replace_the_schedulers_steps(pipe):
    """Given noise levels, the pipeline runs one transformer evaluation per level; uniform 2 lands where the
    scheduler's 3 do, whose last step moves the sample by a thousandth only."""
    evaluations = []
    hook = pipe.transformer.register_forward_hook(lambda module, args, out: evaluations.append(1))
    kwargs = dict(num_candidates=2, output_type="latent")
    try:
        scheduled = pipe(frames(4), frames(1)[0], POSES, num_inference_steps=3,
                         generator=[torch.Generator().manual_seed(k) for k in (5, 6)], **kwargs).videos
        assert len(evaluations) == 3  # CFG's two branches run as one batch
        np.testing.assert_allclose(pipe.scheduler.sigmas.numpy(), [1.0, 0.5005, 0.001, 0.0], atol=1e-6)
        evaluations.clear()
        uniform = pipe(frames(4), frames(1)[0], POSES, sigmas=uniform_sigmas(2),
                       generator=[torch.Generator().manual_seed(k) for k in (5, 6)], **kwargs).videos
        assert len(evaluations) == 2
        np.testing.assert_allclose(pipe.scheduler.sigmas.numpy(), [1.0, 0.5, 0.0])
    finally:
        hook.remove()
    assert uniform.shape == scheduled.shape
    scale = float(scheduled.abs().max())
    assert float((uniform - scheduled).abs().max()) < 0.02 * scale
    assert uniform_sigmas(4) == [1.0, 0.75, 0.5, 0.25]
    with pytest.raises(ValueError, match=r"sigmas must be decreasing noise levels in \(0, 1\], got \[0.5, 1.0\]"):
        pipe(frames(4), frames(1)[0], POSES, sigmas=[0.5, 1.0])
    with pytest.raises(ValueError, match="num_inference_steps must be at least 1, got 0"):
        uniform_sigmas(0)


def test_bad_input_is_named(pipe, tmp_path):
    with pytest.raises(ValueError, match=f"context must be uint8 frames of shape \\(T, {RES}, {RES}, 3\\)"):
        pipe(np.zeros((4, 64, 64, 3), np.uint8), frames(1)[0], POSES)
    with pytest.raises(ValueError, match="num_candidates must be at least 1, got 0"):
        pipe(frames(4), frames(1)[0], POSES, num_candidates=0)
    with pytest.raises(ValueError, match=r"a pose instruction must be \(3, 4\)"):
        pipe(frames(4), frames(1)[0], POSES[:, :2])
    pipe.save_pretrained(tmp_path / "ckpt")
    shutil.rmtree(tmp_path / "ckpt" / "vae")
    with pytest.raises(FileNotFoundError, match="component 'vae' \\(AutoencoderKL\\) is missing"):
        ContextGuidedVideoPipeline.from_pretrained(tmp_path / "ckpt")
    with pytest.raises(FileNotFoundError, match="model_index.json is missing"):
        ContextGuidedVideoPipeline.from_pretrained(tmp_path / "ckpt" / "transformer")


def test_a_batch_of_scenes_is_the_scenes_one_by_one(pipe):
    """B scenes x K candidates in one call give what B calls give, with the same generators."""
    kwargs = {"num_candidates": 2, "num_inference_steps": 2, "guidance_scale": 2.0}
    contexts, currents = np.stack([frames(4, 1), frames(4, 2)]), frames(2, 3)
    positions = np.array([[0, 3, 9, 12], [1, 2, 5, 7]])
    texts = ["Find the chair.", "Find the bed."]

    def generators(seeds):
        return [torch.Generator().manual_seed(s) for s in seeds]

    batched = pipe(contexts, currents, texts, context_positions=positions, generator=generators([1, 2, 3, 4]),
                   **kwargs).videos
    assert batched.shape == (2, 2, 3, RES, RES, 3)
    for b, seeds in enumerate(([1, 2], [3, 4])):
        alone = pipe(contexts[b], currents[b], texts[b], context_positions=positions[b], generator=generators(seeds),
                     **kwargs).videos
        np.testing.assert_allclose(batched[b].astype(int), alone.astype(int), atol=1)

    # one pose trajectory per candidate
    poses = np.stack([np.stack([POSES, POSES * 0.5])] * 2)  # (B, K, F, 4)
    per_candidate = pipe(contexts, currents, poses, generator=generators([1, 1, 2, 2]), **kwargs).videos
    assert per_candidate.shape == (2, 2, 3, RES, RES, 3)
    # candidate k of scene b is what an unbatched call with trajectory k and the same noise gives
    alone = pipe(contexts[1], currents[1], POSES * 0.5, generator=generators([2]), **{**kwargs, "num_candidates": 1})
    np.testing.assert_allclose(per_candidate[1, 1].astype(int), alone.videos[0].astype(int), atol=1)
    assert not np.array_equal(per_candidate[:, 0], per_candidate[:, 1])  # same noise, other trajectories
    with pytest.raises(ValueError, match="one per candidate"):
        pipe(contexts, currents, texts, generator=generators([1, 2, 3]), **kwargs)
    with pytest.raises(ValueError, match="not both"):
        pipe(None, currents, texts, context_latents=pipe.encode_context(contexts),
             instruction_embeds=pipe.encode_instruction(texts), **kwargs)


def test_precomputed_context_latents_and_instruction_embeds_match(pipe):
    """diffusers' prompt_embeds pattern: conditions encoded once give the same videos."""
    context, current = frames(4, 5)[None], frames(1, 6)
    kwargs = {"num_candidates": 2, "num_inference_steps": 2, "context_positions": np.arange(4)[None] * 3}
    raw = pipe(context, current, ["Find the plant."], generator=torch.Generator().manual_seed(0), **kwargs).videos
    latents = pipe.encode_context(context)
    embeds = pipe.encode_instruction(["Find the plant."])
    pre = pipe(None, current, context_latents=latents, instruction_embeds=embeds,
               generator=torch.Generator().manual_seed(0), **kwargs).videos
    np.testing.assert_allclose(raw.astype(int), pre.astype(int), atol=1)  # one grey level: float summation order
    with pytest.raises(ValueError, match="context or context_latents, not both"):
        pipe(context, current, "x", context_latents=latents)
    with pytest.raises(ValueError, match="instruction_embeds must be"):
        pipe(None, current, context_latents=latents, instruction_embeds=embeds.expand(2, -1, -1))
    with pytest.raises(ValueError, match="instruction: give a text"):
        pipe(None, current, None, context_latents=latents)
    with pytest.raises(ValueError, match="guidance_scale must be a finite"):
        pipe(context[0], current[0], "x", guidance_scale=float("nan"))
    with pytest.raises(ValueError, match="context_positions holds NaN"):
        pipe(context[0], current[0], "x", context_positions=np.array([0.0, np.nan, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"context_positions must hold one position per context frame"):
        pipe(context[0], current[0], "x", context_positions=np.arange(3))
