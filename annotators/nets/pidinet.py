"""PiDiNet (Su et al., "Pixel Difference Networks for Efficient Edge Detection", ICCV 2021), the "table5"
configuration published as ``table5_pidinet.pth``: 60 base channels, the ``carv4`` pattern of pixel-difference
convolutions, compact dilation modules (24 channels) and spatial attention.

Parameter names follow hellozhuo/pidinet ``models/pidinet.py`` (the file is a training checkpoint:
``{"state_dict": {"module.<name>": tensor}}``; `annotators.weights.load_state_dict` unwraps it):

- ``init_block.weight`` [60, 3, 3, 3] (a pixel-difference conv, no bias)
- ``block{s}_{i}.conv1.weight`` [C, 1, 3, 3] (depthwise PDC), ``block{s}_{i}.conv2.weight`` [C', C, 1, 1];
  the first block of stages 2-4 also has ``shortcut.weight``/``shortcut.bias`` (1x1, after a 2x2 max-pool).
  Stage widths 60, 120, 240, 240; stages have 3, 4, 4, 4 blocks.
- ``dilations.{0..3}.conv1`` (1x1 -> 24, bias), ``.conv2_{1..4}.weight`` [24, 24, 3, 3] (dilations 5/7/9/11)
- ``attentions.{0..3}.conv1`` (1x1 24 -> 4, bias), ``.conv2.weight`` [1, 4, 3, 3]
- ``conv_reduces.{0..3}.conv`` (1x1 24 -> 1, bias), ``classifier`` (1x1 4 -> 1, bias)

Pixel-difference convolutions are computed by turning the learned 3x3 weights into an equivalent plain kernel
(the identity the paper uses to deploy the network). With taps x_i around a pixel and weights w_i:
central ``cd``: sum_i w_i (x_i - x_centre); angular ``ad``: sum_i w_i (x_i - x_{clockwise neighbour of i});
radial ``rd``: sum_j w_{j+1} (x at distance 2 in direction j - x at distance 1 in direction j), a 5x5 kernel.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

# Operator of the 16 pixel-difference layers in the "carv4" pattern: init_block, then blocks 1_1 .. 4_4.
CARV4 = ("cd", "ad", "rd", "cv") * 4

# For each tap j of a flattened 3x3 kernel, the tap whose clockwise neighbour is j (the centre maps to itself):
# kernel_j = w_j - w_{_ANTICLOCKWISE[j]} gives sum_i w_i (x_i - x_{clockwise(i)}).
_ANTICLOCKWISE = [3, 0, 1, 6, 4, 2, 7, 8, 5]
# Radial op: flattened 5x5 positions of the outer and inner rings. They take the learned taps 1..8 of the
# flattened 3x3 weight (tap 0 is unused by this op in the published model; keep it that way to match the file).
_RD_OUTER = [0, 2, 4, 10, 14, 20, 22, 24]
_RD_INNER = [6, 7, 8, 11, 13, 16, 17, 18]


def pdc_kernel(weight: torch.Tensor, op: str) -> tuple[torch.Tensor, int]:
    """Plain-convolution kernel equivalent to pixel-difference op `op` on `weight` [O, I, 3, 3]; returns the
    kernel and the padding it needs (for dilation 1)."""
    if op == "cv":
        return weight, 1
    o, i = weight.shape[:2]
    flat = weight.reshape(o, i, 9)
    if op == "cd":
        kernel = flat.clone()
        kernel[:, :, 4] = flat[:, :, 4] - flat.sum(dim=2)
        return kernel.reshape(o, i, 3, 3), 1
    if op == "ad":
        return (flat - flat[:, :, _ANTICLOCKWISE]).reshape(o, i, 3, 3), 1
    if op == "rd":
        kernel = flat.new_zeros(o, i, 25)
        kernel[:, :, _RD_OUTER] = flat[:, :, 1:]
        kernel[:, :, _RD_INNER] = -flat[:, :, 1:]
        return kernel.reshape(o, i, 5, 5), 2
    raise ValueError(f"unknown pixel-difference op {op!r}; expected cv, cd, ad or rd")


class PixelDifferenceConv2d(nn.Module):
    """3x3 pixel-difference convolution, stride 1, 'same' size. Parameter: ``weight`` [out, in/groups, 3, 3]."""

    def __init__(self, op: str, in_channels: int, out_channels: int, groups: int = 1) -> None:
        super().__init__()
        if op not in ("cv", "cd", "ad", "rd"):
            raise ValueError(f"unknown pixel-difference op {op!r}")
        self.op, self.groups = op, groups
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, 3, 3))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel, padding = pdc_kernel(self.weight, self.op)
        return F.conv2d(x, kernel, padding=padding, groups=self.groups)


class PDCBlock(nn.Module):
    """Depthwise PDC -> ReLU -> 1x1, plus identity (or, when `stride` 2: max-pool first and a 1x1 shortcut).
    [N, in, H, W] -> [N, out, H/stride, W/stride]."""

    def __init__(self, op: str, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride
        if stride > 1:
            self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
            self.shortcut = nn.Conv2d(in_channels, out_channels, kernel_size=1)
        self.conv1 = PixelDifferenceConv2d(op, in_channels, in_channels, groups=in_channels)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = self.pool(x)
        y = self.conv2(self.relu2(self.conv1(x)))
        return y + (self.shortcut(x) if self.stride > 1 else x)


class CompactDilation(nn.Module):
    """CDCM: ReLU -> 1x1 to `out_channels` -> sum of four 3x3 convs with dilations 5, 7, 9, 11."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=1)
        for n, d in enumerate((5, 7, 9, 11), start=1):
            setattr(self, f"conv2_{n}", nn.Conv2d(out_channels, out_channels, 3, dilation=d, padding=d, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(self.relu1(x))
        return self.conv2_1(x) + self.conv2_2(x) + self.conv2_3(x) + self.conv2_4(x)


class CompactSpatialAttention(nn.Module):
    """CSAM: x * sigmoid(conv3x3(conv1x1(relu(x)))), a one-channel spatial gate."""

    def __init__(self, channels: int, mid_channels: int = 4) -> None:
        super().__init__()
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(channels, mid_channels, kernel_size=1)
        self.conv2 = nn.Conv2d(mid_channels, 1, kernel_size=3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.conv2(self.conv1(self.relu1(x))))


class MapReduce(nn.Module):
    """1x1 conv to one edge-logit channel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 1, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class PiDiNet(nn.Module):
    """PiDiNet with dilation modules and attention. Input RGB in [0, 1], [N, 3, H, W] (any H, W);
    output: five sigmoid edge maps [N, 1, H, W] (four side outputs, then the fused one, which is the result)."""

    def __init__(self, channels: int = 60, ops: tuple[str, ...] = CARV4, dilation_channels: int = 24) -> None:
        super().__init__()
        if len(ops) != 16:
            raise ValueError(f"PiDiNet needs 16 pixel-difference ops, got {len(ops)}")
        c = channels
        self.init_block = PixelDifferenceConv2d(ops[0], 3, c)
        widths = (c, 2 * c, 4 * c, 4 * c)
        depths = (3, 4, 4, 4)
        layer = 1
        in_ch = c
        for stage, (width, depth) in enumerate(zip(widths, depths), start=1):
            for i in range(1, depth + 1):
                stride = 2 if stage > 1 and i == 1 else 1
                setattr(self, f"block{stage}_{i}", PDCBlock(ops[layer], in_ch, width, stride))
                in_ch = width
                layer += 1
        self.depths = depths
        self.dilations = nn.ModuleList(CompactDilation(w, dilation_channels) for w in widths)
        self.attentions = nn.ModuleList(CompactSpatialAttention(dilation_channels) for _ in widths)
        self.conv_reduces = nn.ModuleList(MapReduce(dilation_channels) for _ in widths)
        self.classifier = nn.Conv2d(4, 1, kernel_size=1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h, w = x.shape[2:]
        x = self.init_block(x)
        features = []
        for stage, depth in enumerate(self.depths, start=1):
            for i in range(1, depth + 1):
                x = getattr(self, f"block{stage}_{i}")(x)
            features.append(x)
        sides = []
        for feat, dil, att, reduce in zip(features, self.dilations, self.attentions, self.conv_reduces):
            edge = reduce(att(dil(feat)))
            sides.append(F.interpolate(edge, (h, w), mode="bilinear", align_corners=False))
        fused = self.classifier(torch.cat(sides, dim=1))
        return [torch.sigmoid(e) for e in (*sides, fused)]
