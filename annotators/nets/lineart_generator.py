"""The "informative drawings" line-drawing generator (Chan, Durand, Isola, CVPR 2022), as published in
lllyasviel/Annotators: ``sk_model.pth`` ("realistic" lineart) and ``sk_model2.pth`` (coarse), same architecture.

ResNet-style generator, 3 residual blocks, InstanceNorm without affine parameters (so norms hold no weights),
sigmoid output. Key names follow carolineec/informative-drawings ``model.py`` ``Generator(3, 1, 3)`` (also
ControlNet-v1-1-nightly ``annotator/lineart/__init__.py``); the file is a plain state dict:

- ``model0.1.weight`` [64, 3, 7, 7] (+bias; reflection pad 3 first)
- ``model1.0.weight`` [128, 64, 3, 3], ``model1.3.weight`` [256, 128, 3, 3] (stride 2, +bias)
- ``model2.{0,1,2}.conv_block.{1,5}.weight`` [256, 256, 3, 3] (+bias; reflection pads at 0 and 4)
- ``model3.0.weight`` [256, 128, 3, 3], ``model3.3.weight`` [128, 64, 3, 3] (ConvTranspose2d, stride 2, +bias)
- ``model4.1.weight`` [1, 64, 7, 7] (+bias)

4,290,945 parameters (17.2 MB as float32, which matches the published 17,173,511-byte files).
"""

from __future__ import annotations

import torch
import torch.nn as nn


class ResidualBlock(nn.Module):
    """x + (pad, conv3x3, IN, ReLU, pad, conv3x3, IN)(x); [N, C, H, W] -> same."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class LineartGenerator(nn.Module):
    """RGB in [0, 1], [N, 3, H, W] with H, W multiples of 4 -> [N, 1, H, W] in [0, 1]: ~1 on the paper,
    ~0 on the strokes (black lines on white; invert for ControlNet/T2I maps)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 1, residual_blocks: int = 3) -> None:
        super().__init__()
        self.model0 = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(in_channels, 64, 7), nn.InstanceNorm2d(64), nn.ReLU(inplace=True)
        )
        self.model1 = nn.Sequential(
            nn.Conv2d(64, 128, 3, stride=2, padding=1),
            nn.InstanceNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 256, 3, stride=2, padding=1),
            nn.InstanceNorm2d(256),
            nn.ReLU(inplace=True),
        )
        self.model2 = nn.Sequential(*(ResidualBlock(256) for _ in range(residual_blocks)))
        self.model3 = nn.Sequential(
            nn.ConvTranspose2d(256, 128, 3, stride=2, padding=1, output_padding=1),
            nn.InstanceNorm2d(128),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(128, 64, 3, stride=2, padding=1, output_padding=1),
            nn.InstanceNorm2d(64),
            nn.ReLU(inplace=True),
        )
        self.model4 = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(64, out_channels, 7), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model4(self.model3(self.model2(self.model1(self.model0(x)))))
