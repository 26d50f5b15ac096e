"""Reading adapter weights from every container they are published in, without running pickled code.

Accepted: a state dict in memory; ``.safetensors``; ``.pth``/``.ckpt``/``.pt``/``.bin`` through
``torch.load(weights_only=True)``; wrappers ``{"adapter": …}``, ``{"state_dict": …}``, ``module.``/``adapter.``
prefixes; diffusers folders (``config.json`` + ``diffusion_pytorch_model[.fp16].safetensors|.bin``).
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import torch

from .errors import AdapterLoadError
from .keys import StateDict, diffusers_to_original, is_diffusers_layout

Source = Union[str, "os.PathLike[str]", dict]

DIFFUSERS_WEIGHT_NAMES = (
    "diffusion_pytorch_model.safetensors",
    "diffusion_pytorch_model.fp16.safetensors",
    "diffusion_pytorch_model.bin",
    "diffusion_pytorch_model.fp16.bin",
)
_WRAPPER_KEYS = ("adapter", "state_dict", "model", "module")
_PREFIXES = ("module.", "adapter.")


@dataclass
class RawWeights:
    """Tensors with original key names, and where they came from."""

    state_dict: StateDict
    format: str  # e.g. "safetensors", "pickle (.pth)", "diffusers folder (safetensors)", "state dict"
    path: Path | None = None
    config: dict[str, Any] = field(default_factory=dict)  # diffusers config.json, if any


def read_weights(source: Source) -> RawWeights:
    """Read ``source`` into tensors with TencentARC's original key names."""
    if isinstance(source, dict):
        return RawWeights(canonical_state_dict(source), "state dict")
    path = Path(source)
    if path.is_dir():
        return _read_diffusers_folder(path)
    if not path.is_file():
        raise AdapterLoadError(
            f"{path}: no such file or folder. Put adapter files in the models folder and pass their path."
        )
    sd, fmt = read_file(path)
    return RawWeights(canonical_state_dict(sd), fmt, path)


def read_file(path: Path) -> tuple[dict, str]:
    """Tensors of one weights file, sniffed by content (not by extension), and a name for its format."""
    with open(path, "rb") as f:
        head = f.read(16)
    if not head:
        raise AdapterLoadError(f"{path.name}: the file is empty. Download it again.")
    if _looks_like_safetensors(head):
        return _read_safetensors(path), "safetensors"
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":  # torch zip archive, or legacy pickle
        return _read_pickle(path), "pickle (.pth)"
    raise AdapterLoadError(
        f"{path.name}: not a PyTorch or safetensors weights file (it starts with bytes {head[:8]!r}). "
        "It may be an HTML error page or an incomplete download: download the adapter file again."
    )


def _looks_like_safetensors(head: bytes) -> bool:
    # 8-byte little-endian header length, then a JSON object.
    return len(head) >= 9 and head[8:9] == b"{" and 0 < struct.unpack("<Q", head[:8])[0] < 100_000_000


def _read_safetensors(path: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise AdapterLoadError(
            f"{path.name}: the safetensors file is truncated or corrupt ({e}). Download it again."
        ) from e


def _read_pickle(path: Path) -> dict:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise AdapterLoadError(
            f"{path.name}: refused to load: the file holds pickled objects other than tensors, and loading them "
            f"could run code ({str(e).splitlines()[0]}). Adapter files hold only tensors: get a .safetensors copy "
            "of this adapter."
        ) from e
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as e:
        raise AdapterLoadError(f"{path.name}: the file is truncated or corrupt ({e}). Download it again.") from e
    if not isinstance(obj, dict):
        raise AdapterLoadError(
            f"{path.name}: holds a {type(obj).__name__}, not a dictionary of tensors; not an adapter file."
        )
    return obj


def _read_diffusers_folder(path: Path) -> RawWeights:
    config_path = path / "config.json"
    if not config_path.is_file():
        raise AdapterLoadError(
            f"{path}: a folder without config.json. A diffusers adapter folder holds config.json and "
            f"{DIFFUSERS_WEIGHT_NAMES[0]} (or .bin); or pass the path of a single .safetensors/.pth file."
        )
    try:
        config = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AdapterLoadError(f"{config_path}: not valid JSON ({e}).") from e
    class_name = config.get("_class_name")
    if class_name != "T2IAdapter":
        raise AdapterLoadError(
            f"{path}: config.json describes a diffusers {class_name or 'model of unknown class'}, not a T2IAdapter."
        )
    for name in DIFFUSERS_WEIGHT_NAMES:
        if (path / name).is_file():
            sd, fmt = read_file(path / name)
            kind = "safetensors" if name.endswith(".safetensors") else ".bin"
            return RawWeights(canonical_state_dict(sd), f"diffusers folder ({kind})", path / name, config)
    raise AdapterLoadError(
        f"{path}: config.json found but no weights; expected one of {', '.join(DIFFUSERS_WEIGHT_NAMES)}."
    )


def canonical_state_dict(obj: dict) -> StateDict:
    """Unwrap containers, drop non-tensor entries, strip prefixes and map diffusers names to original ones."""
    for _ in range(3):  # nested wrappers, e.g. {"state_dict": {"adapter": {...}}}
        inner = next((obj[k] for k in _WRAPPER_KEYS if isinstance(obj.get(k), dict)), None)
        if inner is None or any(isinstance(v, torch.Tensor) for v in obj.values()):
            break
        obj = inner
    sd = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    for prefix in _PREFIXES:
        if sd and all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix) :]: v for k, v in sd.items()}
    return diffusers_to_original(sd) if is_diffusers_layout(sd) else sd
