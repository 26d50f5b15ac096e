"""MiDaS v3 DPT-Hybrid (Ranftl et al., "Vision Transformers for Dense Prediction", ICCV 2021), the depth model of
``dpt_hybrid-midas-501f0c75.pt`` that the T2I depth adapters were trained with (facts §1.2).

Encoder: timm's ``vit_base_resnet50_384`` (a ResNet-50 v2-style stem and three stages with weight-standardised
convs + GroupNorm(32), then a 12-layer ViT-B with 16x16 "patches" taken from the stage-3 features). DPT taps
the ResNet stage 1 and 2 outputs and ViT blocks 8 and 11, reassembles them to strides 4/8/16/32 (readout
"project": each patch token is concatenated with the class token and projected back), fuses them top-down with
RefineNet-style blocks, and a small head predicts relative inverse depth at the input size.

Key names are those of the published file (a plain state dict), i.e. isl-org/MiDaS ``DPTDepthModel`` with the
timm modules inside:

- ``pretrained.model.patch_embed.backbone.stem.conv.weight`` [64, 3, 7, 7], ``...stem.norm.{weight,bias}``
- ``pretrained.model.patch_embed.backbone.stages.{0,1,2}.blocks.{i}.{conv1,norm1,conv2,norm2,conv3,norm3}.*``
  and ``...blocks.0.downsample.{conv,norm}.*`` (depths 3, 4, 9; widths 256, 512, 1024)
- ``pretrained.model.patch_embed.proj.{weight,bias}`` [768, 1024, 1, 1], ``pretrained.model.cls_token``
  [1, 1, 768], ``pretrained.model.pos_embed`` [1, 577, 768] (24x24 grid + class token, resized to the input)
- ``pretrained.model.blocks.{0..11}.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.*``,
  ``pretrained.model.norm.*``, ``pretrained.model.head.*`` [1000, 768] (ImageNet classifier: in the file, unused)
- ``pretrained.act_postprocess3.{0.project.0,3}.*``, ``pretrained.act_postprocess4.{0.project.0,3,4}.*``
  (postprocess 1 and 2 are identities for the hybrid: they hold no weights)
- ``scratch.layer{1..4}_rn.weight``, ``scratch.refinenet{1..4}.{out_conv,resConfUnit1.conv{1,2},
  resConfUnit2.conv{1,2}}.*``, ``scratch.output_conv.{0,2,4}.*``

These names were read from isl-org/MiDaS ``midas/dpt_depth.py``, ``blocks.py``, ``vit.py`` and timm's
``resnetv2.py`` / ``vision_transformer_hybrid.py``, and are cross-checked in the tests against transformers'
``convert_dpt_hybrid_to_pytorch.py`` key mapping (which loads this very file into transformers' DPT-Hybrid
strictly): the test loads our state dict, renamed by that mapping, into transformers' model and compares outputs.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

VIT_WIDTH = 768
VIT_DEPTH = 12
VIT_HEADS = 12
PATCH = 16
GRID_384 = 24  # the position embedding's grid (384 / 16)
TAPPED_BLOCKS = (8, 11)


def _same_pad(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    """TensorFlow 'SAME' padding for stride > 1 (extra pixel on the right/bottom), as timm's pad_same."""
    ih, iw = x.shape[-2:]
    ph = max((math.ceil(ih / stride) - 1) * stride + kernel - ih, 0)
    pw = max((math.ceil(iw / stride) - 1) * stride + kernel - iw, 0)
    if ph or pw:
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=value)
    return x


class WeightStandardizedConv2d(nn.Conv2d):
    """Conv2d whose weights are standardised per output channel (zero mean, unit variance, eps 1e-8) before use,
    with TF 'SAME' padding (timm ``StdConv2dSame``). No bias."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, eps: float = 1e-8
    ) -> None:
        static = kernel_size // 2 if stride == 1 else 0
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=static, bias=False)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride[0] > 1:
            x = _same_pad(x, self.kernel_size[0], self.stride[0])
        w = self.weight
        mean = w.mean(dim=(1, 2, 3), keepdim=True)
        var = w.var(dim=(1, 2, 3), unbiased=False, keepdim=True)
        return F.conv2d(x, (w - mean) / torch.sqrt(var + self.eps), None, self.stride, self.padding)


def _group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(32, channels, eps=1e-5)


class Stem(nn.Module):
    """7x7/2 conv, GroupNorm + ReLU, 3x3/2 max-pool (SAME): [N, 3, H, W] -> [N, 64, H/4, W/4]."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = WeightStandardizedConv2d(3, 64, 7, stride=2)
        self.norm = _group_norm(64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.norm(self.conv(x)))
        return F.max_pool2d(_same_pad(x, 3, 2, value=float("-inf")), 3, 2)


class Downsample(nn.Module):
    """Projection shortcut: 1x1 conv (stride s) + GroupNorm (no activation)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv = WeightStandardizedConv2d(in_channels, out_channels, 1, stride=stride)
        self.norm = _group_norm(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x))


class Bottleneck(nn.Module):
    """Non-pre-activation bottleneck (1x1, 3x3/stride, 1x1; GroupNorm after each; ReLU after the sum)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, project: bool) -> None:
        super().__init__()
        mid = out_channels // 4
        self.downsample = Downsample(in_channels, out_channels, stride) if project else None
        self.conv1 = WeightStandardizedConv2d(in_channels, mid, 1)
        self.norm1 = _group_norm(mid)
        self.conv2 = WeightStandardizedConv2d(mid, mid, 3, stride=stride)
        self.norm2 = _group_norm(mid)
        self.conv3 = WeightStandardizedConv2d(mid, out_channels, 1)
        self.norm3 = _group_norm(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.downsample(x) if self.downsample is not None else x
        y = F.relu(self.norm1(self.conv1(x)))
        y = F.relu(self.norm2(self.conv2(y)))
        return F.relu(self.norm3(self.conv3(y)) + shortcut)


class Stage(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, depth: int, stride: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(
            *(
                Bottleneck(in_channels if i == 0 else out_channels, out_channels, stride if i == 0 else 1, i == 0)
                for i in range(depth)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class ResNetBackbone(nn.Module):
    """Stem + stages of depth 3, 4, 9 (widths 256, 512, 1024; strides 4, 8, 16). Returns all three outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = Stem()
        self.stages = nn.Sequential(Stage(64, 256, 3, 1), Stage(256, 512, 4, 2), Stage(512, 1024, 9, 2))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        stage1 = self.stages[0](self.stem(x))
        stage2 = self.stages[1](stage1)
        return stage1, stage2, self.stages[2](stage2)


class HybridPatchEmbed(nn.Module):
    """ResNet features (stride 16) -> 1x1 conv to the ViT width."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = ResNetBackbone()
        self.proj = nn.Conv2d(1024, VIT_WIDTH, kernel_size=1)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, c = x.shape
        q, k, v = self.qkv(x).reshape(n, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)
        return self.proj(y.transpose(1, 2).reshape(n, t, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class TransformerBlock(nn.Module):
    """Pre-norm ViT block (LayerNorm eps 1e-6)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, dim * 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class HybridViT(nn.Module):
    """timm ``vit_base_resnet50_384`` (incl. its unused ImageNet ``head`` and final ``norm``, which are in the
    file). `forward` returns the ResNet stage-1/2 features and the tokens after blocks 8 and 11."""

    def __init__(self) -> None:
        super().__init__()
        self.patch_embed = HybridPatchEmbed()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, VIT_WIDTH))
        self.pos_embed = nn.Parameter(torch.zeros(1, GRID_384 * GRID_384 + 1, VIT_WIDTH))
        self.blocks = nn.Sequential(*(TransformerBlock(VIT_WIDTH, VIT_HEADS) for _ in range(VIT_DEPTH)))
        self.norm = nn.LayerNorm(VIT_WIDTH, eps=1e-6)
        self.head = nn.Linear(VIT_WIDTH, 1000)

    def position_embedding(self, grid_h: int, grid_w: int) -> torch.Tensor:
        """The 24x24 position grid resized (bilinear) to the input's patch grid; class position kept."""
        cls_pos, grid = self.pos_embed[:, :1], self.pos_embed[0, 1:]
        grid = grid.reshape(1, GRID_384, GRID_384, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(grid_h, grid_w), mode="bilinear", align_corners=False)
        return torch.cat([cls_pos, grid.permute(0, 2, 3, 1).reshape(1, grid_h * grid_w, -1)], dim=1)

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        h, w = x.shape[-2:]
        stage1, stage2, stage3 = self.patch_embed.backbone(x)
        tokens = self.patch_embed.proj(stage3).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), tokens], dim=1)
        tokens = tokens + self.position_embedding(h // PATCH, w // PATCH)
        tapped = []
        for i, block in enumerate(self.blocks):
            tokens = block(tokens)
            if i in TAPPED_BLOCKS:
                tapped.append(tokens)
        return [stage1, stage2], tapped


class ProjectReadout(nn.Module):
    """Patch tokens concatenated with the class token, Linear(2C -> C) + GELU: [N, 1+T, C] -> [N, T, C]."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        patches = x[:, 1:]
        return self.project(torch.cat([patches, x[:, :1].expand_as(patches)], dim=-1))


class _Placeholder(nn.Identity):
    """Holds an index in an nn.Sequential whose original member (Transpose/Unflatten) has no weights."""


def _reassemble(dim: int, out: int, downsample: bool) -> nn.Sequential:
    """Indices as in MiDaS: 0 readout, 1 transpose, 2 unflatten (weightless), 3 1x1 conv, [4 3x3/2 conv]."""
    layers: list[nn.Module] = [ProjectReadout(dim), _Placeholder(), _Placeholder(), nn.Conv2d(dim, out, 1)]
    if downsample:
        layers.append(nn.Conv2d(out, out, 3, stride=2, padding=1))
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """``pretrained``: the hybrid ViT and the reassembly of its two tapped token maps."""

    def __init__(self) -> None:
        super().__init__()
        self.model = HybridViT()
        self.act_postprocess3 = _reassemble(VIT_WIDTH, 768, downsample=False)
        self.act_postprocess4 = _reassemble(VIT_WIDTH, 768, downsample=True)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h, w = x.shape[-2:]
        (layer1, layer2), (tokens8, tokens11) = self.model(x)
        maps = []
        for tokens, post in ((tokens8, self.act_postprocess3), (tokens11, self.act_postprocess4)):
            t = post[0](tokens).transpose(1, 2)
            t = t.reshape(t.shape[0], t.shape[1], h // PATCH, w // PATCH)
            for layer in post[3:]:
                t = layer(t)
            maps.append(t)
        return [layer1, layer2, *maps]


class ResidualConvUnit(nn.Module):
    """x + conv(relu(conv(relu(x)))) (3x3 convs with bias; ReLU not in place: x is reused)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class FusionBlock(nn.Module):
    """out_conv(up2(rcu2(x + rcu1(skip)))); the deepest block has no skip (its rcu1 is unused but in the file)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.out_conv = nn.Conv2d(channels, channels, 1)
        self.resConfUnit1 = ResidualConvUnit(channels)
        self.resConfUnit2 = ResidualConvUnit(channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        if skip is not None:
            x = x + self.resConfUnit1(skip)
        x = self.resConfUnit2(x)
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        return self.out_conv(x)


class _Upsample2x(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)


class Decoder(nn.Module):
    """``scratch``: 3x3 convs to 256 channels, four fusion blocks, and the depth head (non-negative output)."""

    def __init__(self, features: int = 256) -> None:
        super().__init__()
        for i, cin in enumerate((256, 512, 768, 768), start=1):
            setattr(self, f"layer{i}_rn", nn.Conv2d(cin, features, 3, padding=1, bias=False))
        for i in range(1, 5):
            setattr(self, f"refinenet{i}", FusionBlock(features))
        self.output_conv = nn.Sequential(
            nn.Conv2d(features, features // 2, 3, padding=1),
            _Upsample2x(),
            nn.Conv2d(features // 2, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 1, 1),
            nn.ReLU(),
        )

    def forward(self, layers: list[torch.Tensor]) -> torch.Tensor:
        l1, l2, l3, l4 = (getattr(self, f"layer{i}_rn")(t) for i, t in enumerate(layers, start=1))
        path = self.refinenet4(l4)
        path = self.refinenet3(path, l3)
        path = self.refinenet2(path, l2)
        path = self.refinenet1(path, l1)
        return self.output_conv(path)


class DPTHybridDepth(nn.Module):
    """Input RGB scaled to [-1, 1], [N, 3, H, W] with H, W multiples of 32; output relative inverse depth
    [N, H, W] (larger = nearer), non-negative."""

    multiple = 32

    def __init__(self) -> None:
        super().__init__()
        self.pretrained = Encoder()
        self.scratch = Decoder()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        if h % self.multiple or w % self.multiple:
            raise ValueError(f"DPT-Hybrid needs height and width divisible by {self.multiple}, got {h}x{w}")
        return self.scratch(self.pretrained(x)).squeeze(1)
