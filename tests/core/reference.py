"""Independent references for the core tests: diffusers models and an explicit original↔diffusers key table.

The key table is written out here from the published layout (facts §2.7) instead of reusing ``t2i_ext.keys``, so a
mistake in the product's mapping cannot cancel itself out.
"""

from __future__ import annotations

import re

import torch
from diffusers import T2IAdapter, UNet2DConditionModel
from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint

from t2i_ext.tiny_unet import UNetSpec, build_ldm_unet

# name → (diffusers adapter_type, in_channels, downscale factor, residual blocks per level)
ADAPTER_CONFIGS = {
    "full_1ch": ("full_adapter", 1, 8, 2),
    "full_3ch": ("full_adapter", 3, 8, 2),
    "light": ("light_adapter", 3, 8, 4),
    "xl_1ch": ("full_adapter_xl", 1, 16, 2),
    "xl_3ch": ("full_adapter_xl", 3, 16, 2),
}
PUBLISHED_CHANNELS = (320, 640, 1280, 1280)
TINY_CHANNELS = (32, 64, 128, 128)


def diffusers_adapter(name: str, channels=PUBLISHED_CHANNELS, seed: int = 0) -> T2IAdapter:
    adapter_type, in_ch, factor, per_level = ADAPTER_CONFIGS[name]
    torch.manual_seed(seed)
    # diffusers' light adapter lists 3 widths and appends a 4th level of the last width itself
    chans = list(channels[:3]) if adapter_type == "light_adapter" else list(channels)
    model = T2IAdapter(in_ch, chans, per_level, factor, adapter_type)
    with torch.no_grad():  # diffusers' default init is fine, but randomise biases too so every tensor matters
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return model.eval()


def to_original_keys(sd: dict, light: bool, per_level: int = 2) -> dict:
    """diffusers ``adapter.*`` names → TencentARC's original names (the published .pth layout)."""
    out = {}
    for key, value in sd.items():
        key = key.removeprefix("adapter.")
        if light:
            key = key.replace(".resnets.", ".body.")
        elif m := re.match(r"body\.(\d+)\.resnets\.(\d+)\.(.*)", key):
            key = f"body.{int(m[1]) * per_level + int(m[2])}.{m[3]}"
        elif m := re.match(r"body\.(\d+)\.in_conv\.(.*)", key):
            key = f"body.{int(m[1]) * per_level}.in_conv.{m[2]}"
        out[key] = value
    return out


def diffusers_unet_config(spec: UNetSpec) -> dict:
    levels = range(len(spec.channel_mult))
    return dict(
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=tuple("CrossAttnDownBlock2D" if i in spec.attention_levels else "DownBlock2D" for i in levels),
        up_block_types=tuple(
            "CrossAttnUpBlock2D" if i in spec.attention_levels else "UpBlock2D" for i in reversed(levels)
        ),
        block_out_channels=spec.channels,
        layers_per_block=2,
        cross_attention_dim=spec.context_dim,
        # diffusers calls the head count "attention_head_dim" in this config
        attention_head_dim=tuple(c // spec.head_channels for c in spec.channels),
        use_linear_projection=spec.linear_transformer,
    )


def ldm_and_diffusers_unets(spec: UNetSpec, seed: int = 0):
    """The WebUI's LDM UNet with random weights, and diffusers' UNet with the same weights (diffusers' converter)."""
    ldm = build_ldm_unet(spec, seed)
    config = diffusers_unet_config(spec)
    ref = UNet2DConditionModel(**config)
    converted = convert_ldm_unet_checkpoint(
        {"model.diffusion_model." + k: v for k, v in ldm.state_dict().items()}, config
    )
    ref.load_state_dict(converted, strict=True)
    return ldm, ref.eval().requires_grad_(False)
