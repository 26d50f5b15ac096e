"""The trained adapter as files others read: a ``.safetensors`` with TencentARC's key names (this extension,
sd-webui-controlnet, Forge, ComfyUI) and, on request, a diffusers ``T2IAdapter`` folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from torch import nn

from t2i_ext.convert import save_diffusers, save_safetensors


def export_adapter(adapter: nn.Module, folder: str | os.PathLike, diffusers: bool = False,
                   half: bool = False, replace: bool = False) -> list[Path]:
    """Write ``folder/adapter.safetensors`` (and ``folder/adapter-diffusers/``), each complete or not at all.

    An existing export is refused, unless ``replace`` (a resumed run continuing this folder's own training): then
    the new file takes the old one's place in one rename, so a failure leaves the old export as it was."""
    folder = Path(folder)
    adapter = adapter.float().cpu().eval()
    out = [_write(folder / "adapter.safetensors", lambda p: save_safetensors(adapter, p, half=half), replace)]
    if diffusers:
        out.append(_write(folder / "adapter-diffusers", lambda p: save_diffusers(adapter, p, half=half), replace))
    return out


def _write(target: Path, save, replace: bool) -> Path:
    if not (replace and target.exists()):
        return save(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        new = save(staging / target.name)
        if new.is_dir():  # a folder cannot be renamed over another: the old one steps aside first
            old = staging / "old"
            os.replace(target, old)
            try:
                os.replace(new, target)
            except BaseException:
                os.replace(old, target)
                raise
        else:
            os.replace(new, target)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)
