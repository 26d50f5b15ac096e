"""Building blocks shared by the adapter networks (names as in TencentARC's checkpoints)."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn


def downsample() -> nn.AvgPool2d:
    """2×2 average pool, ceil mode: an odd side ``s`` gives ``ceil(s / 2)``, like the UNet's stride-2 3×3 conv.

    The original code floors, which breaks at sizes that are not multiples of 64 (facts §6); ceil mode is what
    diffusers adopted. Pooling has no weights, so checkpoints are unaffected.
    """
    return nn.AvgPool2d(kernel_size=2, stride=2, ceil_mode=True)


class ResnetBlock(nn.Module):
    """Residual block of the full adapters, published variant (ksize 1, ``sk=True``, average-pool downsampling).

    ``[N, in_c, H, W] → [N, out_c, H', W']`` with ``H' = ceil(H / 2)`` when ``down`` else ``H``:
    [avg-pool] → [1×1 ``in_conv`` if the width changes] → 3×3 ``block1`` → ReLU → 1×1 ``block2`` → + identity.
    """

    def __init__(self, in_c: int, out_c: int, down: bool = False, ksize: int = 1) -> None:
        super().__init__()
        self.down = down
        self.pool = downsample() if down else None
        self.in_conv = nn.Conv2d(in_c, out_c, ksize, 1, ksize // 2) if in_c != out_c else None
        self.block1 = nn.Conv2d(out_c, out_c, 3, 1, 1)
        self.act = nn.ReLU()
        self.block2 = nn.Conv2d(out_c, out_c, ksize, 1, ksize // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = self.pool(x)
        if self.in_conv is not None:
            x = self.in_conv(x)
        return x + self.block2(self.act(self.block1(x)))


class LightResnetBlock(nn.Module):
    """Residual block of the light (colour) adapter: 3×3 conv → ReLU → 3×3 conv → + identity, ``[N, C, H, W]``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block1 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.act = nn.ReLU()
        self.block2 = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block2(self.act(self.block1(x)))


class FP32LayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 and cast back, as in the original (fp16 statistics are unreliable)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.float()).to(x.dtype)


class QuickGELU(nn.Module):
    """CLIP's GELU approximation ``x · sigmoid(1.702 x)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """CLIP-style pre-norm transformer block, sequence-first: ``[L, N, D] → [L, N, D]``, no mask."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads)
        self.ln_1 = FP32LayerNorm(width)
        self.mlp = nn.Sequential(
            OrderedDict(
                [("c_fc", nn.Linear(width, width * 4)), ("gelu", QuickGELU()), ("c_proj", nn.Linear(width * 4, width))]
            )
        )
        self.ln_2 = FP32LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class TransformerStack(nn.Sequential):
    """``layers`` residual attention blocks applied to batch-first tokens: ``[N, L, D] → [N, L, D]``."""

    def __init__(self, width: int, heads: int, layers: int) -> None:
        super().__init__(*[ResidualAttentionBlock(width, heads) for _ in range(layers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(1, 0, 2)).permute(1, 0, 2)
