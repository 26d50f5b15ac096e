"""The style adapter: CLIP ViT-L/14 image tokens → extra context tokens for the UNet's cross-attention."""

from __future__ import annotations

import torch
from torch import nn

from .base import SD1, AdapterModel
from .blocks import FP32LayerNorm, TransformerStack


class StyleAdapter(AdapterModel):
    """``[N, 257, 1024]`` CLIP vision ``last_hidden_state`` → ``[N, num_token, context_dim]`` style tokens.

    Appends ``num_token`` learned tokens, runs ``layers`` transformer blocks and keeps only the appended tokens,
    projected to the text-context width. Published (style_sd14v1, coadapter-style): width 1024, context 768,
    8 heads, 3 layers, 8 tokens, 38,587,392 parameters. (``transformer_layes`` is the original's spelling.)
    """

    kind = "style"
    base = SD1

    def __init__(
        self, width: int = 1024, context_dim: int = 768, num_head: int = 8, layers: int = 3, num_token: int = 8
    ) -> None:
        super().__init__()
        self.num_token = num_token
        self.context_dim = context_dim
        self.style_embedding = nn.Parameter(torch.randn(1, num_token, width) * width**-0.5)
        self.ln_pre = FP32LayerNorm(width)
        self.transformer_layes = TransformerStack(width, num_head, layers)
        self.ln_post = FP32LayerNorm(width)
        self.proj = nn.Parameter(torch.randn(width, context_dim) * width**-0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        style = self.style_embedding.to(x.dtype).expand(x.shape[0], -1, -1)
        x = self.transformer_layes(self.ln_pre(torch.cat([x, style], dim=1)))
        return self.ln_post(x[:, -self.num_token :]) @ self.proj
