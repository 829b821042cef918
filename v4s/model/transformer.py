"""ContextGuidedWanTransformer: diffusers' WanTransformer3DModel with Video4Spatial's token layout.

The sequence is clean context frames, then the clean current frame, then the noisy
target frames, concatenated along time:

- context and current tokens carry timestep 0, target tokens the diffusion timestep
  (Wan 2.2's per-token timesteps);
- context frames are patchified more coarsely (``context_patch_size``), so they cost
  fewer tokens than target frames;
- rotary positions are explicit per token: context frames keep their positions in the
  tour they were sampled from (non-contiguous), the current frame and the targets
  follow; coarse context patches sit at their centres on the fine grid;
- a per-frame embedding of the target camera pose relative to the current view
  (``target_pose``: dx, dz, sin dyaw, cos dyaw) is added to that frame's tokens (the
  paper's scene navigation: follow a camera trajectory);
- with ``goal_dim``, an embedding of one goal pose relative to the current view
  (``goal_pose``, the same four numbers) is added to every target token: the model
  imagines a route to the goal, of its own choosing (learned from oracle routes).

Only target tokens are projected out, so the output has the targets' shape. The
blocks, embeddings and names are the parent's, so a Wan checkpoint loads into this
class (the added modules start at zero and leave the pretrained function unchanged), and
:meth:`ContextGuidedWanTransformer.extended` adds goal conditioning to a model trained without.
"""

from __future__ import annotations

import torch
from diffusers.configuration_utils import register_to_config
from diffusers.models.modeling_outputs import Transformer2DModelOutput
from diffusers.models.modeling_utils import ModelMixin  # noqa: F401  (diffusers' loader looks for it here)
from diffusers.models.transformers.transformer_wan import WanTransformer3DModel
from torch import nn

#: frame kinds, for the learned type embedding
CONTEXT, CURRENT, TARGET = 0, 1, 2


def rope_angles(positions: torch.Tensor, dim: int, theta: float = 10000.0) -> torch.Tensor:
    """Rotary angles (..., dim / 2) of real-valued ``positions`` (...), as diffusers' get_1d_rotary_pos_embed."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64, device=positions.device)[: dim // 2] / dim))
    return positions.to(torch.float64)[..., None] * inv_freq


class ContextGuidedWanTransformer(WanTransformer3DModel):
    """See the module docstring. Extra config: ``context_patch_size``, ``pose_dim`` (0: no pose input),
    ``goal_dim`` (0: no goal input)."""

    @register_to_config
    def __init__(
        self,
        patch_size: tuple[int, ...] = (1, 2, 2),
        num_attention_heads: int = 4,
        attention_head_dim: int = 32,
        in_channels: int = 4,
        out_channels: int = 4,
        text_dim: int = 64,
        freq_dim: int = 64,
        ffn_dim: int = 256,
        num_layers: int = 4,
        cross_attn_norm: bool = True,
        qk_norm: str | None = "rms_norm_across_heads",
        eps: float = 1e-6,
        image_dim: int | None = None,
        added_kv_proj_dim: int | None = None,
        rope_max_seq_len: int = 1024,
        pos_embed_seq_len: int | None = None,
        context_patch_size: tuple[int, ...] = (1, 4, 4),
        pose_dim: int = 4,
        goal_dim: int = 0,
    ) -> None:
        super().__init__(patch_size=patch_size, num_attention_heads=num_attention_heads,
                         attention_head_dim=attention_head_dim, in_channels=in_channels, out_channels=out_channels,
                         text_dim=text_dim, freq_dim=freq_dim, ffn_dim=ffn_dim, num_layers=num_layers,
                         cross_attn_norm=cross_attn_norm, qk_norm=qk_norm, eps=eps, image_dim=image_dim,
                         added_kv_proj_dim=added_kv_proj_dim, rope_max_seq_len=rope_max_seq_len,
                         pos_embed_seq_len=pos_embed_seq_len)
        inner = num_attention_heads * attention_head_dim
        if patch_size[0] != 1 or context_patch_size[0] != 1:
            raise ValueError(f"patch_size {patch_size} and context_patch_size {context_patch_size} must patch one "
                             "frame at a time (temporal size 1): frames are not contiguous")
        if any(c % p for c, p in zip(context_patch_size[1:], patch_size[1:])):
            raise ValueError(f"context_patch_size {context_patch_size} must be a spatial multiple of patch_size "
                             f"{patch_size}")
        self.context_patch_embedding = nn.Conv3d(in_channels, inner, kernel_size=context_patch_size,
                                                 stride=context_patch_size)
        self.frame_type_embedding = nn.Embedding(3, inner)
        nn.init.zeros_(self.frame_type_embedding.weight)
        self.pose_embedder = None
        if pose_dim:
            self.pose_embedder = nn.Sequential(nn.Linear(pose_dim, inner), nn.SiLU(), nn.Linear(inner, inner))
            nn.init.zeros_(self.pose_embedder[2].weight)
            nn.init.zeros_(self.pose_embedder[2].bias)
        self.goal_embedder = None
        if goal_dim:
            self.goal_embedder = nn.Sequential(nn.Linear(goal_dim, inner), nn.SiLU(), nn.Linear(inner, inner))
            nn.init.zeros_(self.goal_embedder[2].weight)
            nn.init.zeros_(self.goal_embedder[2].bias)

    ADDED = ("context_patch_embedding.", "frame_type_embedding.", "pose_embedder.", "goal_embedder.")

    @classmethod
    def _with_weights(cls, model: WanTransformer3DModel, what: str, config: dict) -> ContextGuidedWanTransformer:
        """A new float32 transformer of ``config`` holding ``model``'s weights; the modules ``model`` lacks (this
        class's additions) start at zero."""
        out = cls(**config)
        missing, unexpected = out.load_state_dict(model.state_dict(), strict=False)
        if unexpected or any(not k.startswith(cls.ADDED) for k in missing):
            raise ValueError(f"not a {what}: missing {missing}, unexpected {unexpected}")
        return out

    @classmethod
    def from_wan(cls, wan: WanTransformer3DModel | str, **extra) -> ContextGuidedWanTransformer:
        """This transformer with a Wan checkpoint's weights (a model, or a ``transformer`` folder): the Wan
        layers are copied, the additions (``extra`` sets their config) start at zero."""
        if not isinstance(wan, WanTransformer3DModel):
            wan = WanTransformer3DModel.from_pretrained(wan)
        config = {k: v for k, v in wan.config.items() if not k.startswith("_")}
        if set(extra) & set(config):
            raise ValueError(f"from_wan: {sorted(set(extra) & set(config))} are the Wan checkpoint's own config; "
                             "extra sets only this class's additions")
        return cls._with_weights(wan, "Wan transformer checkpoint", {**config, **extra})

    def extended(self, **extra) -> ContextGuidedWanTransformer:
        """This model with more inputs (e.g. ``goal_dim=4``): its weights kept, the new modules at zero, so it
        computes the same function until training teaches the new input. Itself when nothing changes."""
        if all(self.config.get(k) == v for k, v in extra.items()):
            return self
        config = {k: v for k, v in self.config.items() if not k.startswith("_")}
        out = type(self)._with_weights(self, "ContextGuidedWanTransformer", {**config, **extra})
        return out.to(self.device, self.dtype).train(self.training)

    # ------------------------------------------------------------------ positions
    def _axes(self) -> tuple[int, int, int]:
        head = self.config.attention_head_dim
        h = w = 2 * (head // 6)
        return head - h - w, h, w

    def _grid_positions(self, frames: torch.Tensor, height: int, width: int, stride: int) -> torch.Tensor:
        """(B, F * height * width, 3) positions (t, h, w) of a patch grid; ``stride`` in fine patches."""
        b, f = frames.shape
        centre = (stride - 1) / 2.0
        hh = torch.arange(height, device=frames.device, dtype=torch.float64) * stride + centre
        ww = torch.arange(width, device=frames.device, dtype=torch.float64) * stride + centre
        t = frames.to(torch.float64)[:, :, None, None].expand(b, f, height, width)
        h = hh[None, None, :, None].expand(b, f, height, width)
        w = ww[None, None, None, :].expand(b, f, height, width)
        return torch.stack([t, h, w], dim=-1).reshape(b, f * height * width, 3)

    def rotary_embedding(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin (B, S, 1, head_dim) for token positions (B, S, 3), laid out as Wan's rotary embedding."""
        angles = torch.cat([rope_angles(positions[..., i], d) for i, d in enumerate(self._axes())], dim=-1)
        angles = angles.repeat_interleave(2, dim=-1)
        return angles.cos().float().unsqueeze(2), angles.sin().float().unsqueeze(2)

    def token_layout(self, batch: int, num_context: int, has_current: bool, num_targets: int, height: int, width: int,
                     context_positions: torch.Tensor | None = None, device: torch.device | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotary positions (B, S, 3) [t, h, w] and kinds (B, S) of the token sequence: context tokens at their
        tour positions (coarse patches at their centres on the fine grid), then the current frame one step after
        the last context frame, then the targets."""
        p_h, p_w = self.config.patch_size[1:]
        c_h, c_w = self.config.context_patch_size[1:]
        gh, gw = height // p_h, width // p_w
        positions, kinds = [], []
        start = torch.zeros(batch, device=device, dtype=torch.float64)
        if num_context:
            if context_positions is None:
                context_positions = torch.arange(num_context, device=device).expand(batch, num_context)
            context_positions = context_positions.to(device)
            positions.append(self._grid_positions(context_positions, height // c_h, width // c_w, c_h // p_h))
            kinds.append(torch.full(positions[-1].shape[:2], CONTEXT, device=device))
            start = context_positions.to(torch.float64).max(dim=1).values + 1.0
        if has_current:
            positions.append(self._grid_positions(start[:, None], gh, gw, 1))
            kinds.append(torch.full(positions[-1].shape[:2], CURRENT, device=device))
            start = start + 1.0
        frames = start[:, None] + torch.arange(num_targets, device=device, dtype=torch.float64)
        positions.append(self._grid_positions(frames, gh, gw, 1))
        kinds.append(torch.full(positions[-1].shape[:2], TARGET, device=device))
        return torch.cat(positions, dim=1), torch.cat(kinds, dim=1).long()

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        hidden_states: torch.Tensor,
        timestep: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        context: torch.Tensor | None = None,
        current: torch.Tensor | None = None,
        context_positions: torch.Tensor | None = None,
        target_pose: torch.Tensor | None = None,
        goal_pose: torch.Tensor | None = None,
        return_dict: bool = True,
        **kwargs,
    ) -> torch.Tensor | Transformer2DModelOutput:
        """Velocity of the noisy target latents.

        Args:
            hidden_states: noisy target latents (B, C, Ft, H, W).
            timestep: (B,) diffusion timesteps of the targets (0..1000).
            encoder_hidden_states: instruction embeddings (B, L, text_dim).
            context: clean context latents (B, C, Fc, H, W), or None.
            current: clean current-frame latent (B, C, 1, H, W), or None.
            context_positions: (B, Fc) temporal positions of the context frames (their indices in
                the tour); the current frame sits one after the last, the targets after it.
                Defaults to 0..Fc-1.
            target_pose: (B, Ft, pose_dim) target poses relative to the current view, or None.
            goal_pose: (B, goal_dim) the goal pose relative to the current view; zeros are the null goal the
                model was trained with (what the pipeline passes without a goal). None adds nothing (not the
                same as zeros once the embedding is trained); ignored by a model without ``goal_dim``.
        """
        b, _, ft, height, width = hidden_states.shape
        p_t, p_h, p_w = self.config.patch_size
        gh, gw = height // p_h, width // p_w
        n_context = 0 if context is None else context.shape[2]
        positions, kind = self.token_layout(b, n_context, current is not None, ft, height, width, context_positions,
                                            hidden_states.device)
        tokens = []
        if n_context:
            tokens.append(self.context_patch_embedding(context.to(hidden_states.dtype)).flatten(2).transpose(1, 2))
        if current is not None:
            tokens.append(self.patch_embedding(current.to(hidden_states.dtype)).flatten(2).transpose(1, 2))
        target = self.patch_embedding(hidden_states).flatten(2).transpose(1, 2)  # (B, Ft*gh*gw, D)
        if target_pose is not None and self.pose_embedder is not None:
            pose = self.pose_embedder(target_pose.to(target.dtype))  # (B, Ft, D)
            target = target + pose.repeat_interleave(gh * gw, dim=1)
        if goal_pose is not None and self.goal_embedder is not None:
            target = target + self.goal_embedder(goal_pose.to(target.dtype))[:, None]
        n_target = target.shape[1]
        tokens.append(target)

        x = torch.cat(tokens, dim=1) + self.frame_type_embedding(kind)
        rotary = self.rotary_embedding(positions)
        # per-token timesteps take two values, 0 (clean frames) and t (targets): embed those two, then spread
        pair = torch.stack([torch.zeros_like(timestep, dtype=torch.float32), timestep.float()], dim=1)  # (B, 2)
        temb, timestep_proj, text, _ = self.condition_embedder(pair.flatten(), encoder_hidden_states, None,
                                                               timestep_seq_len=2)
        noisy = (kind == TARGET)[..., None]
        temb = torch.where(noisy, temb[:, 1:2], temb[:, 0:1])  # (B, S, D)
        timestep_proj = torch.where(noisy[..., None], timestep_proj[:, 1:2].unflatten(2, (6, -1)),
                                    timestep_proj[:, 0:1].unflatten(2, (6, -1)))  # (B, S, 6, D)

        for block in self.blocks:
            if torch.is_grad_enabled() and self.gradient_checkpointing:
                x = self._gradient_checkpointing_func(block, x, text, timestep_proj, rotary)
            else:
                x = block(x, text, timestep_proj, rotary)

        x, temb = x[:, -n_target:], temb[:, -n_target:]
        shift, scale = (self.scale_shift_table.unsqueeze(0) + temb.unsqueeze(2)).chunk(2, dim=2)
        x = (self.norm_out(x.float()) * (1 + scale.squeeze(2)) + shift.squeeze(2)).type_as(x)
        x = self.proj_out(x)
        x = x.reshape(b, ft // p_t, gh, gw, p_t, p_h, p_w, -1).permute(0, 7, 1, 4, 2, 5, 3, 6)
        out = x.flatten(6, 7).flatten(4, 5).flatten(2, 3)
        if not return_dict:
            return (out,)
        return Transformer2DModelOutput(sample=out)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["ContextGuidedWanTransformer", "parameter_count", "rope_angles", "CONTEXT", "CURRENT", "TARGET"]
