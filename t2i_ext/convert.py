"""Writing adapters back out: safetensors with the original key names, or a diffusers folder."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from .errors import AdapterLoadError
from .keys import original_to_diffusers
from .nets import AdapterModel, LightAdapter

_DIFFUSERS_TYPES = {
    ("full", "SD1"): "full_adapter",
    ("full", "SDXL"): "full_adapter_xl",
    ("light", "SD1"): "light_adapter",
}


def save_safetensors(adapter: AdapterModel, path: str | os.PathLike, half: bool = False) -> Path:
    """One ``.safetensors`` file with TencentARC's key names (what the WebUI extensions and ComfyUI read)."""
    path = Path(path)
    sd = _tensors(adapter.state_dict(), half)
    _atomic(path, lambda tmp: save_file(sd, str(tmp), metadata={"format": "pt"}))
    return path


def save_diffusers(adapter: AdapterModel, folder: str | os.PathLike, half: bool = False) -> Path:
    """A diffusers ``T2IAdapter`` folder that ``T2IAdapter.from_pretrained(folder)`` loads; ``half`` stores fp16."""
    adapter_type = _DIFFUSERS_TYPES.get((adapter.kind, adapter.base))
    if adapter_type is None:
        raise AdapterLoadError(
            f"diffusers has no class for a {adapter.base} {adapter.kind} adapter; convert it to safetensors."
        )
    channels = list(adapter.channels)
    if isinstance(adapter, LightAdapter):  # diffusers' light adapter lists 3 widths and repeats the last one
        if channels[-1] != channels[-2]:
            raise AdapterLoadError(f"diffusers' light adapter needs its last two levels equally wide, got {channels}.")
        channels = channels[:-1]
    config = {
        "_class_name": "T2IAdapter",
        "adapter_type": adapter_type,
        "in_channels": adapter.in_channels,
        "channels": channels,
        "num_res_blocks": _res_blocks(adapter),
        "downscale_factor": adapter.pixel_multiple,
    }
    sd = _tensors(original_to_diffusers(adapter.state_dict(), adapter.kind, _res_blocks(adapter)), half)
    # the plain file name even in fp16: `T2IAdapter.from_pretrained(folder)` loads it as it is (as float32 unless
    # torch_dtype says otherwise); a ".fp16." variant file would need variant="fp16" from every caller
    weights = "diffusion_pytorch_model.safetensors"

    def write(tmp: Path) -> None:
        tmp.mkdir()
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        save_file(sd, str(tmp / weights), metadata={"format": "pt"})

    folder = Path(folder)
    _atomic(folder, write)
    return folder


def _res_blocks(adapter: AdapterModel) -> int:
    if isinstance(adapter, LightAdapter):
        return len(adapter.body[0].body)
    return adapter.num_res_blocks


def _tensors(sd: dict[str, torch.Tensor], half: bool) -> dict[str, torch.Tensor]:
    return {k: (v.half() if half and v.is_floating_point() else v).contiguous().cpu() for k, v in sd.items()}


def _atomic(target: Path, write) -> None:
    """Write through a temporary sibling and rename, so an interrupted conversion (a Ctrl-C, a full disk, a
    read-only folder) leaves nothing half-written; safetensors' own write error becomes the ``OSError`` it wraps."""
    if target.exists():
        raise FileExistsError(f"{target} already exists; remove it or choose another output path.")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent)) / "out"
    except OSError as e:  # named by the path the user asked for, not by our temporary name
        raise OSError(e.errno, e.strerror, str(target)) from None
    try:
        try:
            write(tmp)
        except Exception as e:
            if type(e).__name__ != "SafetensorError":
                raise
            code = re.search(r"code: (\d+)", str(e))  # "… IoError(Os { code: 28, kind: StorageFull, … })"
            errno_ = int(code.group(1)) if code else errno.EIO
            raise OSError(errno_, os.strerror(errno_), str(target)) from None
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)
