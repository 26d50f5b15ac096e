"""The light adapter (``Adapter_light``), published as the colour-palette adapter."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .base import SD1, AdapterModel
from .blocks import LightResnetBlock, downsample


class LightExtractor(nn.Module):
    """One level of the light adapter: ``[N, in_c, H, W] → [N, out_c, H', W']``.

    [avg-pool if ``down``] → 1×1 ``in_conv`` to ``out_c // 4`` → ``num_res_blocks`` light residual blocks
    (``body``) → 1×1 ``out_conv`` to ``out_c``.
    """

    def __init__(self, in_c: int, out_c: int, num_res_blocks: int, down: bool) -> None:
        super().__init__()
        inner = out_c // 4
        self.pool = downsample() if down else None
        self.in_conv = nn.Conv2d(in_c, inner, 1, 1, 0)
        self.body = nn.Sequential(*[LightResnetBlock(inner) for _ in range(num_res_blocks)])
        self.out_conv = nn.Conv2d(inner, out_c, 1, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = self.pool(x)
        return self.out_conv(self.body(self.in_conv(x)))


class LightAdapter(AdapterModel):
    """Condition ``[N, C, H, W]`` in [0, 1] → 4 feature maps with the same shapes as :class:`FullAdapter`.

    PixelUnshuffle(8) (no ``conv_in``) → 4 extractors, levels 1–3 downsampling. Published (colour, CoAdapter
    colour): 3 input channels, 4 residual blocks per level, 18,689,200 parameters.
    """

    kind = "light"
    base = SD1

    def __init__(
        self,
        in_channels: int = 3,
        channels: Sequence[int] = (320, 640, 1280, 1280),
        num_res_blocks: int = 4,
        downscale_factor: int = 8,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.channels = tuple(channels)
        self.pixel_multiple = downscale_factor
        self.unshuffle = nn.PixelUnshuffle(downscale_factor)
        widths = [in_channels * downscale_factor**2, *channels]
        self.body = nn.ModuleList(
            LightExtractor(widths[i], widths[i + 1], num_res_blocks, down=i > 0) for i in range(len(channels))
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.unshuffle(x)
        features = []
        for level in self.body:
            x = level(x)
            features.append(x)
        return features
