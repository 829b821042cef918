"""ContextGuidedVideoPipeline: imagine the video of a route from a video of the scene.

Inputs are a context video of the scene, the current view and an instruction (text
for object grounding, a trajectory of camera poses relative to the current view for
scene navigation, or, for a model trained with goal conditioning, one goal pose
relative to the current view: ``goal_pose``); the output is ``num_candidates`` videos of ``num_frames``
frames, uint8 (K, T, H, W, 3), sampled in one batch with one generator each.

Joint classifier-free guidance (Video4Spatial): the unconditional branch sees the
null instruction (and the null goal) and pure-noise context, so guidance pushes
towards both the instruction and the scene.

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
from v4s.model.weights import check_finite_weights


@dataclass
class ContextGuidedVideoPipelineOutput(BaseOutput):
    """``videos``: (K, T, H, W, 3) uint8 when ``output_type="np"``, else latents (K, C, T, h, w); a batched
    call puts the B scenes in front: (B, K, ...)."""

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
        """diffusers' loader, after checking that a local checkpoint has every component it lists; the weights it
        loads must be finite (a corrupted file is an error naming it, see :func:`check_finite_weights`)."""
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
        pipe = super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        for name, component in pipe.components.items():
            if isinstance(component, torch.nn.Module) and name not in kwargs:  # loaded here, not passed in
                check_finite_weights(component, component.config._name_or_path)
        return pipe

    # ------------------------------------------------------------------ conditions
    @property
    def poses_supported(self) -> bool:
        return isinstance(self.transformer, ContextGuidedWanTransformer) and self.transformer.pose_embedder is not None

    @property
    def goals_supported(self) -> bool:
        """Whether the transformer was built for ``goal_pose`` (goal-pose conditioning, ``goal_dim``)."""
        return isinstance(self.transformer, ContextGuidedWanTransformer) and self.transformer.goal_embedder is not None

    def encode_instruction(self, texts: list[str]) -> torch.Tensor:
        """Instruction embeddings (B, L, text_dim); the null instruction ("") embeds to zeros."""
        if isinstance(self.instruction_encoder, SmallTextEncoder):
            out = self.instruction_encoder(texts)  # zero at padding, so "" is all zeros
        else:  # UMT5 as in diffusers' WanPipeline: embeddings past each prompt's length are zero
            tokens = self.tokenizer(texts, padding="max_length", max_length=self.config.max_text_length,
                                    truncation=True, add_special_tokens=True, return_attention_mask=True,
                                    return_tensors="pt")
            mask = tokens.attention_mask.to(self.device)
            out = self.instruction_encoder(tokens.input_ids.to(self.device), mask).last_hidden_state
            # zero past each prompt, and everywhere for "" (its end token would embed): the null instruction is zeros
            keep = mask * torch.tensor([t != "" for t in texts], device=mask.device)[:, None]
            out = out * keep[..., None]
        return out.to(self.transformer.dtype)

    def encode_context(self, frames: np.ndarray) -> torch.Tensor:
        """Context latents (B, C, T, h, w) of (B, T, H, W, 3) uint8 frames, each frame encoded alone, so a
        caller can encode a scene's frames once and pass slices of them as ``context_latents``."""
        frames = np.asarray(frames)
        size = self.config.resolution
        if frames.ndim != 5 or frames.shape[-3:] != (size, size, 3) or frames.dtype != np.uint8:
            raise ValueError(f"context must be uint8 frames of shape (B, T, {size}, {size}, 3) matching the model's "
                             f"resolution {size}, got {frames.dtype} {frames.shape}")
        return encode_frames(self.vae, frames).to(self.transformer.dtype)

    def check_inputs(self, context: np.ndarray | None, context_latents: torch.Tensor | None, current: np.ndarray,
                     instruction: Any, instruction_embeds: torch.Tensor | None, context_positions: np.ndarray | None,
                     num_candidates: int, num_frames: int, guidance_scale: float,
                     goal_pose: np.ndarray | None = None) -> None:
        """Shapes and finite values of the batched inputs (B scenes); every error names the argument."""
        size = self.config.resolution
        if num_candidates < 1:
            raise ValueError(f"num_candidates must be at least 1, got {num_candidates}")
        if num_frames < 1:
            raise ValueError(f"num_frames must be at least 1, got {num_frames}")
        _check_finite("guidance_scale", guidance_scale)
        if current.ndim != 4 or current.shape[-3:] != (size, size, 3) or current.dtype != np.uint8:
            raise ValueError(f"current must be uint8 frames of shape ({size}, {size}, 3), or (B, {size}, {size}, 3) "
                             f"for B scenes, matching the model's resolution {size}, got {current.dtype} "
                             f"{current.shape}")
        b = len(current)
        if context is not None and context_latents is not None:
            raise ValueError("give context or context_latents, not both")
        if context is not None and (context.ndim != 5 or context.shape[0] != b or context.shape[-3:] != (size, size, 3)
                                    or context.dtype != np.uint8):
            raise ValueError(f"context must be uint8 frames of shape (T, {size}, {size}, 3), or (B, T, {size}, {size}, "
                             f"3) for B = {b} scenes, matching the model's resolution {size}, got {context.dtype} "
                             f"{context.shape}")
        if context_latents is not None and (context_latents.ndim != 5 or context_latents.shape[0] != b):
            raise ValueError(f"context_latents must be (B, C, T, h, w) for B = {b} scenes (see encode_context), got "
                             f"{tuple(context_latents.shape)}")
        if context_latents is not None:
            _check_finite("context_latents", context_latents)
        num_context = context.shape[1] if context is not None else \
            context_latents.shape[2] if context_latents is not None else 0
        if context_positions is not None:
            positions = np.asarray(context_positions, dtype=np.float64)
            if positions.shape != (b, num_context):
                raise ValueError(f"context_positions must hold one position per context frame: {num_context} context "
                                 f"frames, got positions of shape {positions.shape}; give ({num_context},) or "
                                 f"({b}, {num_context}) positions, or None for 0, 1, 2, ...")
            _check_finite("context_positions", positions)
        if instruction is None and instruction_embeds is None:
            raise ValueError('instruction: give a text ("" for none), a (num_frames, 4) pose array, '
                             "instruction_embeds, or a goal_pose")
        if isinstance(instruction, (str, list)) and instruction_embeds is not None:
            raise ValueError("give a text instruction or instruction_embeds, not both")
        if instruction_embeds is not None and instruction_embeds.shape[0] != b:
            raise ValueError(f"instruction_embeds must be (B, L, D) for B = {b} scenes, got "
                             f"{tuple(instruction_embeds.shape)}")
        if instruction_embeds is not None:
            _check_finite("instruction_embeds", instruction_embeds)
        if isinstance(instruction, list):
            if len(instruction) != b or not all(isinstance(t, str) for t in instruction):
                raise ValueError(f"instruction: a list must hold one text per scene ({b}), got {instruction!r}")
        elif instruction is not None and not isinstance(instruction, str):
            pose = np.asarray(instruction)
            if pose.shape not in ((b, num_frames, 4), (b, num_candidates, num_frames, 4)):
                raise ValueError(f"a pose instruction must be ({num_frames}, 4) [dx, dz, sin dyaw, cos dyaw] per "
                                 f"target frame, (B, {num_frames}, 4) per scene or (B, K, {num_frames}, 4) per "
                                 f"candidate, got shape {pose.shape}")
            _check_finite("instruction (target poses)", pose)
            if not self.poses_supported:
                raise ValueError("this pipeline's transformer takes no pose instructions; give a text instruction")
        if goal_pose is not None:
            if not self.goals_supported:
                raise ValueError("goal_pose: this pipeline's transformer was not trained with goal conditioning "
                                 "(its config has no goal_dim); give a pose trajectory as the instruction")
            goal_dim = self.transformer.config.goal_dim
            if goal_pose.shape not in ((b, goal_dim), (b, num_candidates, goal_dim)):
                raise ValueError(f"goal_pose must be ({goal_dim},) [dx, dz, sin dyaw, cos dyaw] relative to the current "
                                 f"view, (B, {goal_dim}) per scene or (B, K, {goal_dim}) per candidate, got shape "
                                 f"{goal_pose.shape}")
            _check_finite("goal_pose", goal_pose)

    # ------------------------------------------------------------------ denoiser
    def _velocity(self, latents: torch.Tensor, t: torch.Tensor, text: torch.Tensor, context: torch.Tensor | None,
                  current: torch.Tensor, positions: torch.Tensor | None, pose: torch.Tensor | None,
                  goal: torch.Tensor | None = None) -> torch.Tensor:
        timestep = t.expand(latents.shape[0]).to(latents.device)
        if isinstance(self.transformer, ContextGuidedWanTransformer):
            return self.transformer(latents, timestep, text, context=context, current=current,
                                    context_positions=positions, target_pose=pose, goal_pose=goal).sample
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
        context: np.ndarray | None,
        current: np.ndarray,
        instruction: str | list[str] | np.ndarray | None = None,
        num_candidates: int = 1,
        num_frames: int | None = None,
        num_inference_steps: int = 10,
        guidance_scale: float = 2.0,
        context_positions: np.ndarray | None = None,
        context_latents: torch.Tensor | None = None,
        instruction_embeds: torch.Tensor | None = None,
        goal_pose: np.ndarray | None = None,
        sigmas: list[float] | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        output_type: str = "np",
        return_dict: bool = True,
    ) -> ContextGuidedVideoPipelineOutput | tuple:
        """Imagine ``num_candidates`` videos of the route, for one scene or a batch of B scenes in one call.

        Args:
            context: (T, H, W, 3) uint8 frames of the scene (T may be 0), or (B, T, H, W, 3); None with
                ``context_latents``.
            current: (H, W, 3) uint8 current view, or (B, H, W, 3): a leading batch axis here makes every
                input and the output batched.
            instruction: text (a list of B for a batch; "" is the null instruction, which guidance samples
                only the scene with), or target poses relative to the current view: (num_frames, 4),
                (B, num_frames, 4), or (B, K, num_frames, 4) for one trajectory per candidate. None with
                ``instruction_embeds``.
            context_positions: (T,) or (B, T) temporal positions of the context frames (default 0..T-1).
            context_latents: precomputed (B, C, T, h, w) context latents (:meth:`encode_context`), like
                diffusers' ``prompt_embeds``: a scene's context is encoded once, not once per call.
            instruction_embeds: precomputed (B, L, D) text embeddings (:meth:`encode_instruction`).
            goal_pose: the goal relative to the current view, (4,) [dx, dz, sin dyaw, cos dyaw] (x right, z
                back, metres; one goal, for every scene of a batch), (B, 4) per scene or (B, K, 4) per candidate, for a model trained with goal
                conditioning (:attr:`goals_supported`): the model imagines a route there. The instruction
                then defaults to the null text.
            sigmas: the noise levels of the denoising steps, decreasing in (0, 1] (as diffusers' flow
                pipelines take them; :func:`uniform_sigmas`), in place of the scheduler's own schedule of
                ``num_inference_steps``, which it then ignores.
            generator: one generator, or one per candidate (K, or B * K for a batch, scene-major).

        Returns ``videos`` (K, F, H, W, 3) uint8, or (B, K, F, H, W, 3) for a batch.
        """
        batched = np.asarray(current).ndim == 4
        current = np.asarray(current) if batched else np.asarray(current)[None]
        if context is not None:
            context = np.asarray(context) if batched else np.asarray(context)[None]
        if context_positions is not None:
            context_positions = np.asarray(context_positions, dtype=np.float64)
            if context_positions.ndim == 1:  # the same positions for every scene
                context_positions = np.broadcast_to(context_positions, (len(current), len(context_positions)))
        if not batched and context_latents is not None and context_latents.ndim == 4:
            context_latents = context_latents[None]
        if not batched and instruction_embeds is not None and instruction_embeds.ndim == 2:
            instruction_embeds = instruction_embeds[None]
        if goal_pose is not None:
            goal_pose = np.asarray(goal_pose, np.float32)
            if not batched or goal_pose.ndim == 1:  # one goal (for every scene of a batch)
                goal_pose = np.array(np.broadcast_to(goal_pose, (len(current), *goal_pose.shape[-1:])))
            if instruction is None and instruction_embeds is None:
                instruction = ""  # the goal is the instruction
        is_text = instruction is None or isinstance(instruction, str) or (
            isinstance(instruction, list) and all(isinstance(t, str) for t in instruction))
        if not is_text:  # poses: (F, 4), (B, F, 4) or (B, K, F, 4), as arrays or nested lists
            instruction = np.asarray(instruction, np.float32) if batched else np.asarray(instruction, np.float32)[None]
        if isinstance(instruction, str):
            instruction = [instruction] * len(current)
        if num_frames is None:
            num_frames = self.config.num_frames if is_text else np.asarray(instruction).shape[-2]
        self.check_inputs(context, context_latents, current, instruction, instruction_embeds, context_positions,
                          num_candidates, num_frames, guidance_scale, goal_pose)
        if sigmas is not None:
            sigmas = [float(v) for v in sigmas]
            if not sigmas or not all(0 < v <= 1 for v in sigmas) or any(a <= b for a, b in zip(sigmas, sigmas[1:])):
                raise ValueError(f"sigmas must be decreasing noise levels in (0, 1], got {sigmas}")
        device, k, b = self._execution_device, num_candidates, len(current)
        if isinstance(generator, list) and len(generator) not in (1, b * k):
            raise ValueError(f"generator: give one, or one per candidate ({b} scenes x {k} = {b * k}), got a list of "
                             f"{len(generator)}")
        dtype = self.transformer.dtype

        def per_candidate(x: torch.Tensor) -> torch.Tensor:  # (B, ...) -> (B * K, ...), scene-major
            return x.repeat_interleave(k, dim=0)

        # 1. conditions: the instruction (text embeddings, or poses with the null text), the null instruction
        null_text = self.encode_instruction([""])
        if instruction_embeds is not None:
            text = instruction_embeds.to(device, dtype)
        elif is_text:
            text = self.encode_instruction(instruction)
        else:
            text = null_text.expand(b, -1, -1)
        pose = None  # the null pose is zeros (as in training), for the unconditional branch and text instructions
        if self.poses_supported:
            if is_text:
                pose = torch.zeros(b * k, num_frames, 4, device=device)
            else:
                values = torch.as_tensor(np.asarray(instruction, np.float32), device=device)
                pose = values.reshape(b * k, num_frames, 4) if values.ndim == 4 else per_candidate(values)
        goal = None  # the null goal is zeros (as in training), for the unconditional branch
        if self.goals_supported:
            goal = torch.zeros(b * k, self.transformer.config.goal_dim, device=device)
            if goal_pose is not None:
                values = torch.as_tensor(goal_pose, device=device)
                goal = values.reshape(b * k, -1) if values.ndim == 3 else per_candidate(values)
        if context_latents is None and context is not None and context.shape[1]:
            context_latents = self.encode_context(context)
        if context_latents is not None and context_latents.shape[2] == 0:
            context_latents = None
        current_latents = encode_frames(self.vae, current[:, None]).to(dtype)
        positions = None
        if context_latents is not None:
            values = np.broadcast_to(np.arange(context_latents.shape[2]), (b, context_latents.shape[2])) \
                if context_positions is None else context_positions
            positions = per_candidate(torch.as_tensor(np.array(values), device=device,
                                                      dtype=torch.float64))

        # 2. initial noise, one generator per candidate
        scale = latent_scale(self.vae)
        shape = (b * k, latent_channels(self.vae), num_frames, self.config.resolution // scale,
                 self.config.resolution // scale)
        latents = randn_tensor(shape, generator=generator, device=device, dtype=torch.float32)
        ctx = None if context_latents is None else per_candidate(context_latents.to(device, dtype))
        noise_context = None
        if ctx is not None and guidance_scale != 1.0:
            noise_context = randn_tensor(tuple(ctx.shape), generator=generator, device=device,
                                         dtype=torch.float32).to(dtype)

        # 3. denoising loop: Euler steps of the flow, guided jointly by instruction and context
        if sigmas is None:
            self.scheduler.set_timesteps(num_inference_steps, device=device)
        else:
            self.scheduler.set_timesteps(sigmas=sigmas, device=device)
        cond_text = per_candidate(text)
        null_text = null_text.expand(b * k, -1, -1)
        cur = per_candidate(current_latents)
        for t in self.progress_bar(self.scheduler.timesteps):
            x = latents.to(dtype)
            if guidance_scale == 1.0:
                velocity = self._velocity(x, t, cond_text, ctx, cur, positions, pose, goal).float()
            else:
                both = self._velocity(
                    torch.cat([x, x]), t, torch.cat([cond_text, null_text]),
                    None if ctx is None else torch.cat([ctx, noise_context]), torch.cat([cur, cur]),
                    None if positions is None else torch.cat([positions, positions]),
                    None if pose is None else torch.cat([pose, torch.zeros_like(pose)]),
                    None if goal is None else torch.cat([goal, torch.zeros_like(goal)])).float()
                conditional, unconditional = both.chunk(2)
                velocity = unconditional + guidance_scale * (conditional - unconditional)
            latents = self.scheduler.step(velocity, t, latents).prev_sample

        # 4. decode
        videos = latents if output_type == "latent" else decode_latents(self.vae, latents)
        videos = videos.reshape(b, k, *videos.shape[1:]) if batched else videos
        self.maybe_free_model_hooks()
        if not return_dict:
            return (videos,)
        return ContextGuidedVideoPipelineOutput(videos=videos)


def uniform_sigmas(num_inference_steps: int) -> list[float]:
    """Noise levels of ``num_inference_steps`` Euler steps of equal size from noise (1) to the sample (0).

    FlowMatchEulerDiscreteScheduler's own schedule ends its last step at sigma 1/1000 (then steps to 0),
    so the last of its N transformer evaluations moves the sample by a thousandth only: 3 of its steps
    are about 2 of these, at two thirds of the cost."""
    if num_inference_steps < 1:
        raise ValueError(f"num_inference_steps must be at least 1, got {num_inference_steps}")
    return np.linspace(1.0, 0.0, num_inference_steps + 1)[:-1].tolist()


def _check_finite(name: str, value: float | np.ndarray | torch.Tensor) -> None:
    """A ValueError naming the argument ``name`` when ``value`` holds NaN or an infinity."""
    finite = torch.isfinite(value).all() if isinstance(value, torch.Tensor) else np.isfinite(value).all()
    if not finite and getattr(value, "ndim", 0) == 0:
        raise ValueError(f"{name} must be a finite number, got {value}")
    if not finite:
        raise ValueError(f"{name} holds NaN or infinite values")


__all__ = ["ContextGuidedVideoPipeline", "ContextGuidedVideoPipelineOutput", "uniform_sigmas"]
