"""SmallTextEncoder: the instruction encoder of the small model, trained with it.

Words are lower-cased, split on non-letters and hashed into ``vocab_size`` buckets
(no vocabulary file, so any text encodes), then a small transformer encoder embeds
them. Padding positions come out as zeros, as Wan's pipeline zeroes the text
embeddings past the prompt, so a text without words (the null instruction "") embeds
to all zeros, in train and eval mode alike. Wan checkpoints use UMT5 (transformers)
instead.
"""

from __future__ import annotations

import re
import zlib

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

_WORD = re.compile(r"[a-z]+")


class SmallTextEncoder(ModelMixin, ConfigMixin):
    """Text -> (B, max_length, dim) embeddings, zero at padding."""

    @register_to_config
    def __init__(self, vocab_size: int = 1024, dim: int = 64, num_layers: int = 2, num_heads: int = 4,
                 max_length: int = 32):
        super().__init__()
        self.embed = nn.Embedding(vocab_size + 1, dim, padding_idx=0)
        self.position = nn.Embedding(max_length, dim)
        layer = nn.TransformerEncoderLayer(dim, num_heads, dim_feedforward=2 * dim, batch_first=True,
                                           norm_first=True, dropout=0.0)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        """Hashed word ids (B, max_length), 0 for padding."""
        cfg = self.config
        ids = torch.zeros(len(texts), cfg.max_length, dtype=torch.long)
        for i, text in enumerate(texts):
            words = _WORD.findall(text.lower())[: cfg.max_length]
            for j, word in enumerate(words):
                ids[i, j] = 1 + zlib.crc32(word.encode()) % cfg.vocab_size
        return ids.to(self.device)

    def forward(self, texts: list[str]) -> torch.Tensor:
        """(B, max_length, dim) embeddings of ``texts``, zero at padding: a text without words is all zeros."""
        ids = self.tokenize(texts)
        mask = ids > 0
        # a row whose every key is masked gives NaN in PyTorch's attention fast path (eval, no grad): a text
        # without words attends to its first (padding) position instead, whose output the mask zeroes below
        attended = mask.clone()
        attended[:, 0] |= ~mask.any(dim=1)
        x = self.embed(ids) + self.position(torch.arange(ids.shape[1], device=ids.device))
        x = self.encoder(x, src_key_padding_mask=~attended)
        return self.norm(x) * mask[..., None]
