"""Frames <-> latents for the pipeline's ``vae``: an identity (pixel space), AutoencoderKL or AutoencoderKLWan.

Every frame is encoded on its own (context frames are not contiguous, so a video VAE's
temporal compression would mix unrelated frames; Wan's VAE encodes a lone frame as one
latent frame). Latents are normalised as each VAE's pipelines do: ``scaling_factor``
(and ``shift_factor``) for AutoencoderKL, ``latents_mean`` / ``latents_std`` for
AutoencoderKLWan.
"""

from __future__ import annotations

import numpy as np
import torch
from diffusers import AutoencoderKL, AutoencoderKLWan
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn


class IdentityVAE(ModelMixin, ConfigMixin):
    """The ``vae`` of a pixel-space model: latents are the frames scaled to [-1, 1]."""

    @register_to_config
    def __init__(self, latent_channels: int = 3):
        super().__init__()
        self._device_anchor = nn.Parameter(torch.zeros(0), requires_grad=False)  # gives the module a device/dtype


def to_tensor(frames: np.ndarray | torch.Tensor, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """uint8 frames (..., H, W, 3) -> float (..., 3, H, W) in [-1, 1]."""
    x = torch.as_tensor(np.asarray(frames)).to(device)
    return (x.to(dtype) / 127.5 - 1.0).movedim(-1, -3)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """float (..., 3, H, W) in [-1, 1] -> uint8 (..., H, W, 3)."""
    x = ((images.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return x.movedim(-3, -1).cpu().numpy()


def latent_scale(vae: nn.Module) -> int:
    """Spatial downsampling factor of ``vae``."""
    if isinstance(vae, IdentityVAE):
        return 1
    if isinstance(vae, AutoencoderKLWan):
        return 2 ** len(vae.config.temperal_downsample)
    return 2 ** (len(vae.config.block_out_channels) - 1)


def latent_channels(vae: nn.Module) -> int:
    if isinstance(vae, AutoencoderKLWan):
        return vae.config.z_dim
    return vae.config.latent_channels


@torch.no_grad()
def encode_frames(vae: nn.Module, frames: np.ndarray | torch.Tensor, sample: bool = False,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """uint8 frames (B, F, H, W, 3) -> normalised latents (B, C, F, h, w); the posterior mean unless ``sample``."""
    param = next(iter(vae.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.dtype.is_floating_point else torch.float32
    x = to_tensor(frames, device, dtype)  # (B, F, 3, H, W)
    b, f = x.shape[:2]
    if isinstance(vae, IdentityVAE):
        return x.transpose(1, 2)
    if isinstance(vae, AutoencoderKLWan):
        dist = vae.encode(x.reshape(b * f, *x.shape[2:]).unsqueeze(2)).latent_dist  # each frame a 1-frame video
        z = (dist.sample(generator) if sample else dist.mode()).squeeze(2)
        mean = torch.tensor(vae.config.latents_mean, device=device, dtype=z.dtype).view(1, -1, 1, 1)
        std = torch.tensor(vae.config.latents_std, device=device, dtype=z.dtype).view(1, -1, 1, 1)
        z = (z - mean) / std
    else:
        dist = vae.encode(x.reshape(b * f, *x.shape[2:])).latent_dist
        z = dist.sample(generator) if sample else dist.mode()
        z = (z - (vae.config.shift_factor or 0.0)) * vae.config.scaling_factor
    return z.reshape(b, f, *z.shape[1:]).transpose(1, 2)


@torch.no_grad()
def decode_latents(vae: nn.Module, latents: torch.Tensor) -> np.ndarray:
    """Normalised latents (B, C, F, h, w) -> uint8 frames (B, F, H, W, 3)."""
    b, _, f = latents.shape[:3]
    z = latents.transpose(1, 2).reshape(b * f, *latents.shape[1:2], *latents.shape[3:])
    if isinstance(vae, IdentityVAE):
        images = z
    elif isinstance(vae, AutoencoderKLWan):
        mean = torch.tensor(vae.config.latents_mean, device=z.device, dtype=z.dtype).view(1, -1, 1, 1)
        std = torch.tensor(vae.config.latents_std, device=z.device, dtype=z.dtype).view(1, -1, 1, 1)
        images = vae.decode((z * std + mean).unsqueeze(2).to(vae.dtype)).sample.squeeze(2)
    else:
        z = z / vae.config.scaling_factor + (vae.config.shift_factor or 0.0)
        images = vae.decode(z.to(vae.dtype)).sample
    return to_uint8(images.reshape(b, f, *images.shape[1:]))


def small_autoencoder(latent_channels: int = 4, sample_size: int = 64) -> AutoencoderKL:
    """The small model's VAE: 64x64x3 frames to 16x16x4 latents (about 0.5M parameters)."""
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=latent_channels, sample_size=sample_size,
        down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(16, 32, 64), layers_per_block=1, norm_num_groups=8, mid_block_add_attention=False,
        scaling_factor=1.0)


__all__ = ["AutoencoderKL", "AutoencoderKLWan", "IdentityVAE", "decode_latents", "encode_frames", "latent_channels",
           "latent_scale", "small_autoencoder", "to_tensor", "to_uint8"]
