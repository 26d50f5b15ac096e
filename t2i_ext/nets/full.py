"""The full T2I-Adapter (SD1 ``Adapter``) and its SDXL variant (``Adapter_XL`` / diffusers ``full_adapter_xl``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .base import SD1, SDXL, AdapterModel
from .blocks import ResnetBlock


class FullAdapter(AdapterModel):
    """Condition image ``[N, C, H, W]`` in [0, 1] → 4 feature maps, one per UNet encoder level.

    PixelUnshuffle(8) → 3×3 ``conv_in`` → 4 levels × ``num_res_blocks`` residual blocks (flat ``body`` list,
    index ``level · num_res_blocks + j``); the first block of levels 1–3 halves the size. For 512×512:
    ``[N,320,64,64], [N,640,32,32], [N,1280,16,16], [N,1280,8,8]``. Published: 77,000,640 parameters with
    1 input channel (sketch, canny), 77,369,280 with 3.
    """

    kind = "full"
    base = SD1
    #: levels whose first block halves the spatial size
    down_levels: frozenset[int] = frozenset({1, 2, 3})
    #: PixelUnshuffle factor when none is given
    default_downscale = 8

    def __init__(
        self,
        in_channels: int = 3,
        channels: Sequence[int] = (320, 640, 1280, 1280),
        num_res_blocks: int = 2,
        downscale_factor: int | None = None,
    ) -> None:
        super().__init__()
        downscale_factor = downscale_factor or self.default_downscale
        self.in_channels = in_channels
        self.channels = tuple(channels)
        self.num_res_blocks = num_res_blocks
        self.pixel_multiple = downscale_factor
        self.unshuffle = nn.PixelUnshuffle(downscale_factor)
        self.conv_in = nn.Conv2d(in_channels * downscale_factor**2, channels[0], 3, 1, 1)
        blocks = []
        for level, width in enumerate(channels):
            for j in range(num_res_blocks):
                first = j == 0 and level > 0
                in_c = channels[level - 1] if first else width
                blocks.append(ResnetBlock(in_c, width, down=first and level in self.down_levels))
        self.body = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.conv_in(self.unshuffle(x))
        features = []
        for level in range(len(self.channels)):
            for j in range(self.num_res_blocks):
                x = self.body[level * self.num_res_blocks + j](x)
            features.append(x)
        return features


class FullAdapterXL(FullAdapter):
    """SDXL full adapter: same parameter names as :class:`FullAdapter`, PixelUnshuffle(16), one downsampling.

    ``[N, C, H, W] → [N,320,H/16,W/16], [N,640,H/16,W/16], [N,1280,H/32,W/32], [N,1280,H/32,W/32]``
    (sizes rounded up). Level 1 widens without downsampling; only level 2 halves the size. Published:
    77,553,600 parameters with 1 input channel, 79,028,160 with 3.
    """

    base = SDXL
    down_levels = frozenset({2})
    default_downscale = 16
