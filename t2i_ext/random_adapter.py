"""Adapters with random weights, of every published architecture, for trying a host without a download and for
tests: the published key names and, by default, the published shapes (``python -m t2i_ext random-adapter``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from .nets import AdapterModel, CoAdapterFuser, FullAdapter, FullAdapterXL, LightAdapter, StyleAdapter

#: ``--arch`` names → what they build (published configurations: TencentARC's T2I-Adapter and CoAdapter releases)
ARCHITECTURES = ("full", "light", "style", "fuser", "xl")
PUBLISHED_WIDTHS = (320, 640, 1280, 1280)


def random_adapter(arch: str, in_channels: int = 3, channels: Sequence[int] = PUBLISHED_WIDTHS,
                   seed: int = 0) -> AdapterModel:
    """An adapter of architecture ``arch`` with random weights drawn from ``seed`` (the same seed, the same file).

    ``in_channels`` (1 or 3) applies to the spatial ones (``full``, ``light``, ``xl``); ``channels``: the UNet's
    feature widths (the published SD1.5/SDXL ones by default; small ones for tests)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}, not {arch!r}")
    if arch in ("full", "light", "xl") and in_channels not in (1, 3):
        raise ValueError(f"in_channels must be 1 or 3, not {in_channels}")
    if arch == "full":
        net: AdapterModel = FullAdapter(in_channels, channels)
    elif arch == "xl":
        net = FullAdapterXL(in_channels, channels)
    elif arch == "light":
        net = LightAdapter(in_channels, channels)
    elif arch == "style":
        net = StyleAdapter()
    else:
        net = CoAdapterFuser(tuple(channels))
    return randomise(net, seed).eval()


def randomise(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every parameter drawn from N(0, (0.3 / √fan-in)²): features of a moderate size whatever the width."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            fan_in = p[0].numel() if p.ndim > 1 else 1
            p.copy_(torch.randn(p.shape, generator=gen) * (0.3 / max(1, fan_in) ** 0.5))
    return net


def write_random_adapter(path: str | os.PathLike, arch: str, in_channels: int = 3,
                         channels: Sequence[int] = PUBLISHED_WIDTHS, seed: int = 0, half: bool = False) -> Path:
    """:func:`random_adapter` written as one ``.safetensors`` (original key names), atomically, never over a file."""
    from .convert import save_safetensors

    return save_safetensors(random_adapter(arch, in_channels, channels, seed), path, half=half)
