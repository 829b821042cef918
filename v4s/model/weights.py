"""Finite weights: a checkpoint whose tensors hold NaN or infinities (a corrupted file) fails at load time.

diffusers and transformers load such a file silently, and the model then samples NaN. Every loader of a
v4s checkpoint calls :func:`check_finite_weights` on what it loaded.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import safe_open


def check_finite_weights(model: torch.nn.Module, folder: str | Path) -> None:
    """Raise a ValueError naming the weights file and the first parameter (or buffer) of ``model`` that holds
    NaN or infinite values; ``folder`` is the checkpoint folder ``model`` was loaded from."""
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and tensor.device.type != "meta" and not torch.isfinite(tensor).all():
            raise ValueError(f"{_weights_file(Path(folder), name)}: corrupted weights: {name!r} holds NaN or "
                             "infinite values; restore the checkpoint (or save it again from a good copy)")


def _weights_file(folder: Path, name: str) -> Path:
    """The safetensors file in ``folder`` that holds the tensor ``name``; the folder when none lists it."""
    files = sorted(folder.glob("*.safetensors"))
    for file in files:
        with safe_open(file, "pt") as f:
            if name in f.keys():
                return file
    return files[0] if len(files) == 1 else folder


__all__ = ["check_finite_weights"]
