"""The trained adapter as files others read: a ``.safetensors`` with TencentARC's key names (this extension,
sd-webui-controlnet, Forge, ComfyUI) and, on request, a diffusers ``T2IAdapter`` folder."""

from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from t2i_ext.convert import save_diffusers, save_safetensors


def export_adapter(adapter: nn.Module, folder: str | os.PathLike, diffusers: bool = False,
                   half: bool = False) -> list[Path]:
    """Write ``folder/adapter.safetensors`` (and ``folder/adapter-diffusers/``); never overwrites."""
    folder = Path(folder)
    adapter = adapter.float().cpu().eval()
    out = [save_safetensors(adapter, folder / "adapter.safetensors", half=half)]
    if diffusers:
        out.append(save_diffusers(adapter, folder / "adapter-diffusers", half=half))
    return out
