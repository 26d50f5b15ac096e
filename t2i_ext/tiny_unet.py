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
    #: transformer blocks per attention layer, by level, and in the middle block (SDXL: 2 and 10)
    level_depths: tuple[int, ...] = ()
    middle_depth: int = 1

    @property
    def channels(self) -> tuple[int, ...]:
        return tuple(self.model_channels * m for m in self.channel_mult)


TINY_SD1 = UNetSpec("sd1", 32, (1, 2, 4, 4), (0, 1, 2), context_dim=32, head_channels=16, linear_transformer=False)
TINY_SDXL = UNetSpec("sdxl", 32, (1, 2, 4), (1, 2), context_dim=32, head_channels=16, linear_transformer=True)
#: the real architectures (random weights), for benchmarks
SD15 = UNetSpec("sd15", 320, (1, 2, 4, 4), (0, 1, 2), context_dim=768, head_channels=40, linear_transformer=False)
SDXL_BASE = UNetSpec(
    "sdxl",
    320,
    (1, 2, 4),
    (1, 2),
    context_dim=2048,
    head_channels=64,
    linear_transformer=True,
    level_depths=(0, 2, 10),
    middle_depth=10,
)


def build_ldm_unet(spec: UNetSpec, seed: int = 0) -> nn.Module:
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
        transformer_depth=1,
        context_dim=spec.context_dim,
        use_linear_in_transformer=spec.linear_transformer,
        legacy=False,
    )
    _deepen_transformers(unet, spec)
    randomize_(unet, seed)
    return unet.eval().requires_grad_(False)


class _TransformerChain(nn.Module):
    """Several transformer blocks run as one: SD2's LDM ``SpatialTransformer`` gives every block its own context
    entry, so depth > 1 with one context is expressed as a chain (same computation as SGM's deeper blocks)."""

    def __init__(self, blocks: list[nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, context=context)
        return x


def _deepen_transformers(unet: nn.Module, spec: UNetSpec) -> None:
    """Give SDXL's levels their 2 and 10 transformer blocks per attention layer (by copying the first block)."""
    if not spec.level_depths:
        return
    import copy

    def deepen(module: nn.Module, depth: int) -> None:
        for st in module.modules():
            if type(st).__name__ == "SpatialTransformer" and depth > 1:
                first = st.transformer_blocks[0]
                st.transformer_blocks = nn.ModuleList(
                    [_TransformerChain([first] + [copy.deepcopy(first) for _ in range(depth - 1)])]
                )

    resolution_level = {}
    level, blocks = 0, list(unet.input_blocks)
    for i, block in enumerate(blocks):
        if type(next(iter(block.children()))).__name__ == "Downsample":
            level += 1
        resolution_level[i] = level
    for i, block in enumerate(blocks):
        deepen(block, spec.level_depths[resolution_level[i]])
    deepen(unet.middle_block, spec.middle_depth)
    levels = len(spec.channel_mult)
    for i, block in enumerate(unet.output_blocks):
        deepen(block, spec.level_depths[levels - 1 - i // 3])


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
