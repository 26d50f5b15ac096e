"""Tiny random UNets with the WebUI's block layouts, built with the WebUI's own LDM ``UNetModel`` code.

Used by ``python -m t2i_ext selftest``, the tests and the benchmarks. Needs the ``ldm`` package (inside the WebUI it
is on the path; elsewhere ``pip install --no-deps stable-diffusion-sdkit``). SD1 layout: 4 levels, attention at the
first three, 12 input blocks. SDXL layout: 3 levels, attention at levels 1 and 2, 9 input blocks, linear projections.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class UNetSpec:
    """Hyper-parameters shared by the LDM UNet and its diffusers twin (tests)."""

    name: str
    model_channels: int
    channel_mult: tuple[int, ...]
    attention_levels: tuple[int, ...]
    context_dim: int
    head_channels: int
    linear_transformer: bool

    @property
    def channels(self) -> tuple[int, ...]:
        return tuple(self.model_channels * m for m in self.channel_mult)


TINY_SD1 = UNetSpec("sd1", 32, (1, 2, 4, 4), (0, 1, 2), context_dim=32, head_channels=16, linear_transformer=False)
TINY_SDXL = UNetSpec("sdxl", 32, (1, 2, 4), (1, 2), context_dim=32, head_channels=16, linear_transformer=True)
#: the real architectures (random weights), for benchmarks
SD15 = UNetSpec("sd15", 320, (1, 2, 4, 4), (0, 1, 2), context_dim=768, head_channels=40, linear_transformer=False)
SDXL_BASE = UNetSpec("sdxl", 320, (1, 2, 4), (1, 2), context_dim=2048, head_channels=64, linear_transformer=True)


def build_ldm_unet(spec: UNetSpec, seed: int = 0, transformer_depth: int = 1) -> nn.Module:
    """An LDM ``UNetModel`` with ``spec``'s layout and random weights (zero-initialised layers re-randomised,
    otherwise a fresh UNet outputs zeros and no effect could be seen)."""
    try:
        from ldm.modules.diffusionmodules.openaimodel import UNetModel
    except ImportError as e:
        raise ImportError(
            "the LDM UNet code is missing: run inside the WebUI, or `pip install --no-deps stable-diffusion-sdkit`"
        ) from e
    torch.manual_seed(seed)
    unet = UNetModel(
        image_size=32,
        in_channels=4,
        out_channels=4,
        model_channels=spec.model_channels,
        num_res_blocks=2,
        attention_resolutions=[2**level for level in spec.attention_levels],
        channel_mult=spec.channel_mult,
        num_head_channels=spec.head_channels,
        use_spatial_transformer=True,
        transformer_depth=transformer_depth,
        context_dim=spec.context_dim,
        use_linear_in_transformer=spec.linear_transformer,
        legacy=False,
    )
    randomize_(unet, seed)
    return unet.eval().requires_grad_(False)


def randomize_(module: nn.Module, seed: int = 0, std: float = 0.05) -> None:
    """Give every parameter random values (also the layers LDM initialises to zero), deterministically."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=gen) * std)
            elif "norm" in name and p.ndim == 1:
                p.copy_(1 + torch.randn(p.shape, generator=gen) * std)
            else:
                fan_in = p[0].numel() if p.ndim > 1 else p.numel()
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in**0.5)
