"""The adapter to train: a fresh one of the chosen architecture, or an existing file to fine-tune."""

from __future__ import annotations

import torch
from torch import nn

import t2i_ext
from t2i_ext.nets import AdapterModel, FullAdapter, FullAdapterXL, LightAdapter

from .errors import ConfigError


def _out_channels(block: nn.Module) -> int:
    # a block starts with a ResBlock or a Downsample (both know their output width); transformers keep the width
    for child in block.children():
        if hasattr(child, "out_channels"):
            return int(child.out_channels)
    raise ConfigError(f"cannot tell the output width of UNet block {type(block).__name__}")


def feature_channels(unet: nn.Module, base: str) -> tuple[int, ...]:
    """Widths of the 4 blocks ``t2i_ext.inject`` adds features to (SD1.5: 320, 640, 1280, 1280)."""
    return tuple(_out_channels(b) for b in t2i_ext.injection_points(unet, base))


def make_adapter(architecture: str, in_channels: int, unet: nn.Module, base: str, seed: int = 0,
                 init: str | None = None) -> AdapterModel:
    """A trainable adapter (float32, CPU) whose feature widths match ``unet``'s injection points.

    ``init``: an adapter file to fine-tune instead; it must match the architecture, family and widths.
    """
    channels = feature_channels(unet, base)
    if init is not None:
        try:
            adapter = t2i_ext.load_adapter(init)
        except t2i_ext.AdapterError as e:  # not an adapter, unsafe pickle (refused, nothing ran), …: one line
            raise ConfigError(f"init_adapter {init}: {e}") from None
        if adapter.base != base or not adapter.is_spatial:
            raise ConfigError(f"{init} is a {adapter.describe()} adapter; this base model needs a spatial {base} one.")
        if tuple(adapter.channels) != channels:
            raise ConfigError(f"{init} has feature widths {adapter.channels}, the UNet needs {channels}.")
        return adapter.train().requires_grad_(True)
    torch.manual_seed(seed)  # the same initial weights in every process (DDP broadcasts rank 0's anyway)
    if architecture == "full":
        cls = FullAdapterXL if base == "SDXL" else FullAdapter
        return cls(in_channels=in_channels, channels=channels).train()
    if architecture == "light":
        if base == "SDXL":
            raise ConfigError("the light adapter exists for SD1/SD2 only; use architecture 'full' for SDXL.")
        return LightAdapter(in_channels=in_channels, channels=channels).train()
    raise ConfigError(f"unknown architecture {architecture!r} (full, light).")
