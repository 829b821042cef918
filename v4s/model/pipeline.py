"""ContextGuidedVideoPipeline: imagine the video of a route from a video of the scene.

Inputs are a context video of the scene, the current view and an instruction (text
for object grounding, or a trajectory of camera poses relative to the current view
for scene navigation); the output is ``num_candidates`` videos of ``num_frames``
frames, uint8 (K, T, H, W, 3), sampled in one batch with one generator each.

Joint classifier-free guidance (Video4Spatial): the unconditional branch sees the
null instruction and pure-noise context, so guidance pushes towards both the
instruction and the scene.

Components: ``transformer`` (:class:`ContextGuidedWanTransformer`, or a stock
``WanTransformer3DModel``, which then sees context, current and target frames as one
contiguous video and ignores poses), ``vae`` (:class:`IdentityVAE`, ``AutoencoderKL``
or ``AutoencoderKLWan``), ``instruction_encoder`` (:class:`SmallTextEncoder`, or a
``UMT5EncoderModel`` with its ``tokenizer``) and a flow-matching ``scheduler``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from diffusers import DiffusionPipeline, FlowMatchEulerDiscreteScheduler
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor

from v4s.model.text import SmallTextEncoder
from v4s.model.transformer import ContextGuidedWanTransformer
from v4s.model.vae import decode_latents, encode_frames, latent_channels, latent_scale


@dataclass
class ContextGuidedVideoPipelineOutput(BaseOutput):
    """``videos``: (K, T, H, W, 3) uint8 when ``output_type="np"``, else latents (K, C, T, h, w)."""

    videos: np.ndarray | torch.Tensor


class ContextGuidedVideoPipeline(DiffusionPipeline):
    model_cpu_offload_seq = "instruction_encoder->transformer->vae"
    _optional_components = ["tokenizer"]

    def __init__(self, transformer, vae, instruction_encoder, scheduler: FlowMatchEulerDiscreteScheduler,
                 tokenizer=None, resolution: int = 64, num_frames: int = 8, max_text_length: int = 32):
        super().__init__()
        self.register_modules(transformer=transformer, vae=vae, instruction_encoder=instruction_encoder,
                              scheduler=scheduler, tokenizer=tokenizer)
        self.register_to_config(resolution=resolution, num_frames=num_frames, max_text_length=max_text_length)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        """diffusers' loader, after checking that a local checkpoint has every component it lists."""
        import json
        from pathlib import Path

        root = Path(pretrained_model_name_or_path)
        if root.is_dir():
            index = root / "model_index.json"
            if not index.is_file():
                raise FileNotFoundError(f"{root} is not a pipeline checkpoint: model_index.json is missing")
            for name, entry in json.loads(index.read_text()).items():
                if isinstance(entry, list) and entry[0] is not None and not (root / name).is_dir():
                    raise FileNotFoundError(f"{root}: component '{name}' ({entry[1]}) is missing: expected the "
                                            f"folder {root / name}")
        elif not str(pretrained_model_name_or_path).count("/") == 1:
            raise FileNotFoundError(f"pipeline checkpoint not found: {root}")
        return super().from_pretrained(pretrained_model_name_or_path, **kwargs)

    # ------------------------------------------------------------------ conditions
    @property
    def poses_supported(self) -> bool:
        return isinstance(self.transformer, ContextGuidedWanTransformer) and self.transformer.pose_embedder is not None

    def encode_instruction(self, texts: list[str]) -> torch.Tensor:
        """Instruction embeddings (B, L, text_dim); the null instruction ("") embeds to zeros."""
        if isinstance(self.instruction_encoder, SmallTextEncoder):
            out = self.instruction_encoder(texts)
        else:  # UMT5 as in diffusers' WanPipeline: embeddings past each prompt's length are zero
            tokens = self.tokenizer(texts, padding="max_length", max_length=self.config.max_text_length,
                                    truncation=True, add_special_tokens=True, return_attention_mask=True,
                                    return_tensors="pt")
            mask = tokens.attention_mask.to(self.device)
            out = self.instruction_encoder(tokens.input_ids.to(self.device), mask).last_hidden_state
            out = out * mask[..., None]
        null = torch.tensor([t == "" for t in texts], device=out.device)
        return out.masked_fill(null[:, None, None], 0.0).to(self.transformer.dtype)

    def check_inputs(self, context: np.ndarray, current: np.ndarray, instruction: Any, num_candidates: int,
                     num_frames: int) -> None:
        size = self.config.resolution
        if num_candidates < 1:
            raise ValueError(f"num_candidates must be at least 1, got {num_candidates}")
        if num_frames < 1:
            raise ValueError(f"num_frames must be at least 1, got {num_frames}")
        for name, frames, rank in (("context", context, 4), ("current", current, 3)):
            if frames.ndim != rank or frames.shape[-3:] != (size, size, 3) or frames.dtype != np.uint8:
                raise ValueError(f"{name} must be uint8 frames of shape {'(T, ' if rank == 4 else '('}{size}, {size}, 3) "
                                 f"matching the model's resolution {size}, got {frames.dtype} {frames.shape}")
        if not isinstance(instruction, str):
            pose = np.asarray(instruction)
            if pose.shape != (num_frames, 4):
                raise ValueError(f"a pose instruction must be ({num_frames}, 4) [dx, dz, sin dyaw, cos dyaw] per "
                                 f"target frame, got shape {pose.shape}")
            if not self.poses_supported:
                raise ValueError("this pipeline's transformer takes no pose instructions; give a text instruction")

    # ------------------------------------------------------------------ denoiser
    def _velocity(self, latents: torch.Tensor, t: torch.Tensor, text: torch.Tensor, context: torch.Tensor | None,
                  current: torch.Tensor, positions: torch.Tensor | None, pose: torch.Tensor | None) -> torch.Tensor:
        timestep = t.expand(latents.shape[0]).to(latents.device)
        if isinstance(self.transformer, ContextGuidedWanTransformer):
            return self.transformer(latents, timestep, text, context=context, current=current,
                                    context_positions=positions, target_pose=pose).sample
        # a stock Wan transformer: one contiguous video, clean frames at timestep 0 (Wan 2.2 per-token timesteps)
        clean = current if context is None else torch.cat([context, current], dim=2)
        video = torch.cat([clean, latents], dim=2)
        p_t, p_h, p_w = self.transformer.config.patch_size
        per_frame = (video.shape[3] // p_h) * (video.shape[4] // p_w)
        n_clean = clean.shape[2] // p_t * per_frame
        n_noisy = latents.shape[2] // p_t * per_frame
        steps = torch.cat([torch.zeros(video.shape[0], n_clean, device=video.device),
                           timestep[:, None].float().expand(-1, n_noisy)], dim=1)
        out = self.transformer(video, steps, text).sample
        return out[:, :, -latents.shape[2]:]

    # ------------------------------------------------------------------ call
    @torch.no_grad()
    def __call__(
        self,
        context: np.ndarray,
        current: np.ndarray,
        instruction: str | np.ndarray,
        num_candidates: int = 1,
        num_frames: int | None = None,
        num_inference_steps: int = 10,
        guidance_scale: float = 2.0,
        context_positions: np.ndarray | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        output_type: str = "np",
        return_dict: bool = True,
    ) -> ContextGuidedVideoPipelineOutput | tuple:
        """Imagine ``num_candidates`` videos of the route.

        Args:
            context: (T, H, W, 3) uint8 frames of the scene (may be empty: T = 0).
            current: (H, W, 3) uint8 current view.
            instruction: text, or (num_frames, 4) target poses relative to the current view.
            context_positions: (T,) temporal positions of the context frames (default 0..T-1).
            generator: one generator, or one per candidate.
        """
        context, current = np.asarray(context), np.asarray(current)
        num_frames = num_frames or (len(instruction) if not isinstance(instruction, str) else self.config.num_frames)
        self.check_inputs(context, current, instruction, num_candidates, num_frames)
        device, k = self._execution_device, num_candidates
        dtype = self.transformer.dtype

        # 1. conditions: the instruction, and the null instruction for the unconditional branch
        text = self.encode_instruction([instruction if isinstance(instruction, str) else "", ""])
        pose = None  # the null pose is zeros (as in training), for the unconditional branch and text instructions
        if self.poses_supported:
            values = np.zeros((num_frames, 4), np.float32) if isinstance(instruction, str) else instruction
            pose = torch.as_tensor(np.asarray(values, np.float32), device=device)[None].expand(k, -1, -1)
        context_latents = encode_frames(self.vae, context[None]).to(dtype) if len(context) else None
        current_latents = encode_frames(self.vae, current[None, None]).to(dtype)
        positions = None
        if context_latents is not None:
            values = np.arange(len(context)) if context_positions is None else np.asarray(context_positions)
            positions = torch.as_tensor(values, device=device, dtype=torch.float64)[None].expand(k, -1)

        # 2. initial noise, one generator per candidate
        scale = latent_scale(self.vae)
        shape = (k, latent_channels(self.vae), num_frames, self.config.resolution // scale,
                 self.config.resolution // scale)
        latents = randn_tensor(shape, generator=generator, device=device, dtype=torch.float32)
        noise_context = None
        if context_latents is not None and guidance_scale != 1.0:
            cshape = (k, *context_latents.shape[1:])
            noise_context = randn_tensor(cshape, generator=generator, device=device, dtype=torch.float32).to(dtype)

        # 3. denoising loop: Euler steps of the flow, guided jointly by instruction and context
        self.scheduler.set_timesteps(num_inference_steps, device=device)
        cond_text = text[:1].expand(k, -1, -1)
        null_text = text[1:].expand(k, -1, -1)
        ctx = None if context_latents is None else context_latents.expand(k, -1, -1, -1, -1)
        cur = current_latents.expand(k, -1, -1, -1, -1)
        for t in self.progress_bar(self.scheduler.timesteps):
            x = latents.to(dtype)
            if guidance_scale == 1.0:
                velocity = self._velocity(x, t, cond_text, ctx, cur, positions, pose).float()
            else:
                both = self._velocity(
                    torch.cat([x, x]), t, torch.cat([cond_text, null_text]),
                    None if ctx is None else torch.cat([ctx, noise_context]), torch.cat([cur, cur]),
                    None if positions is None else torch.cat([positions, positions]),
                    None if pose is None else torch.cat([pose, torch.zeros_like(pose)])).float()
                conditional, unconditional = both.chunk(2)
                velocity = unconditional + guidance_scale * (conditional - unconditional)
            latents = self.scheduler.step(velocity, t, latents).prev_sample

        # 4. decode
        videos = latents if output_type == "latent" else decode_latents(self.vae, latents)
        self.maybe_free_model_hooks()
        if not return_dict:
            return (videos,)
        return ContextGuidedVideoPipelineOutput(videos=videos)


__all__ = ["ContextGuidedVideoPipeline", "ContextGuidedVideoPipelineOutput"]
