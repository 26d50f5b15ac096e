"""Reading adapter weights from every container they are published in, without running pickled code.

Accepted: a state dict in memory; ``.safetensors``; ``.pth``/``.ckpt``/``.pt``/``.bin`` through
``torch.load(weights_only=True)``; wrappers ``{"adapter": …}``, ``{"state_dict": …}``, ``module.``/``adapter.``
prefixes; diffusers folders (``config.json`` + ``diffusion_pytorch_model[.fp16].safetensors|.bin``).

The container is told by content, never by the file name. :func:`read_tensor_info` reads the same containers
through the same steps but only their names, shapes and dtypes (:mod:`.sniff`), so the model store and the
loader cannot disagree about what a file is.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Union

import torch

from .errors import AdapterLoadError, NotAnAdapterError
from .keys import diffusers_to_original, is_diffusers_layout
from .sniff import TensorInfo, container, open_regular, os_reason, pickle_contents, read_config, safetensors_header

Source = Union[str, "os.PathLike[str]", dict]

DIFFUSERS_WEIGHT_NAMES = (
    "diffusion_pytorch_model.safetensors",
    "diffusion_pytorch_model.fp16.safetensors",
    "diffusion_pytorch_model.bin",
    "diffusion_pytorch_model.fp16.bin",
)
_WRAPPER_KEYS = ("adapter", "state_dict", "model", "module")
_PREFIXES = ("module.", "adapter.")
_FLATTEN_LIMIT = 64  # nested entries shown for a file that has no tensors at its top level


@dataclass
class RawWeights:
    """Tensors (or, from :func:`read_tensor_info`, their :class:`TensorInfo`) with original key names."""

    state_dict: dict[str, Any]  # name → torch.Tensor, or name → TensorInfo
    format: str  # e.g. "safetensors", "pickle (.pth)", "diffusers folder (safetensors)", "state dict"
    path: Path | None = None
    config: dict[str, Any] = field(default_factory=dict)  # diffusers config.json, if any


def read_weights(source: Source) -> RawWeights:
    """Read ``source`` into tensors with TencentARC's original key names."""
    return _read(source, load=True)


def read_tensor_info(source: Source) -> RawWeights:
    """Names, shapes and dtypes of ``source``'s tensors, as :func:`read_weights` would return them, loading none."""
    return _read(source, load=False)


def _read(source: Source, load: bool) -> RawWeights:
    if isinstance(source, dict):
        return RawWeights(canonical_state_dict(source), "state dict")
    path = Path(source)
    if path.is_dir():
        return _read_diffusers_folder(path, load)
    if not path.is_file() and not os.path.lexists(path):
        raise AdapterLoadError(
            f"{path}: no such file or folder. Put adapter files in the models folder and pass their path."
        )
    sd, fmt = read_file(path, load)
    return RawWeights(canonical_state_dict(sd), fmt, path)


def read_file(path: Path, load: bool = True) -> tuple[dict, str]:
    """Tensors (or their :class:`TensorInfo`) of one weights file, sniffed by content, and its format's name."""
    with open_regular(path) as f:
        try:
            kind = container(f, path.name)
            if kind == "safetensors":
                header = safetensors_header(f, path.name, strict=load)
                return (_load_safetensors(path) if load else header), "safetensors"
            obj = pickle_contents(f, path.name, kind)  # refuses code before torch sees the file
        except OSError as e:  # a failing drive, or a special file behind a regular-looking name (/proc/self/mem)
            raise AdapterLoadError(f"{path.name}: {os_reason(path, e)}") from None
        if load:
            obj = _load_pickle(f, path.name)
    if not isinstance(obj, dict):
        shown = "Tensor" if isinstance(obj, (torch.Tensor, TensorInfo)) else type(obj).__name__.strip("_")
        raise AdapterLoadError(f"{path.name}: holds a {shown}, not a dictionary of tensors; not an adapter file.")
    return obj, "pickle (.pth)"


def _load_safetensors(path: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise AdapterLoadError(
            f"{path.name}: the safetensors file is truncated or corrupt ({type(e).__name__}). Download it again."
        ) from None


def _load_pickle(f: BinaryIO, name: str) -> Any:
    f.seek(0)  # a file object, not the path: torch.load hands any "*.safetensors" path to safetensors
    try:
        with warnings.catch_warnings():  # torch's note on an unusual pickle protocol is no news to a user
            warnings.simplefilter("ignore", UserWarning)
            # torch.serialization.load, not torch.load: AUTOMATIC1111 replaces torch.load with its own checker
            # (modules/safe.py), which answers None for every archive torch >= 2.1 writes (its entry-name rule refuses
            # `.format_version`). The pickle was already read symbolically (sniff.py), and weights_only holds here.
            return torch.serialization.load(f, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's own text suggests weights_only=False, the opposite of what to do; keep only the global's name
        found = re.search(r"(?:Unsupported global: GLOBAL|global) ([\w.]+)", str(e))
        what = f" ({found.group(1)})" if found else ""
        raise AdapterLoadError(
            f"{name}: refused to load: the file holds pickled objects other than tensors{what}, and loading them "
            "could run code. Adapter files hold only tensors: get a .safetensors copy of this adapter."
        ) from None
    except Exception:  # torch's reader on a damaged file: RuntimeError, EOFError, BadZipFile, IndexError, …
        raise AdapterLoadError(f"{name}: the file is truncated or corrupt. Download it again.") from None


def diffusers_weights(folder: Path) -> Path | None:
    """The weights file of a diffusers folder, in diffusers' order of preference; None when it has none."""
    return next((folder / n for n in DIFFUSERS_WEIGHT_NAMES if (folder / n).is_file()), None)


def _read_diffusers_folder(path: Path, load: bool) -> RawWeights:
    config_path = path / "config.json"
    if not os.path.lexists(config_path):
        raise NotAnAdapterError(
            f"{path}: a folder without config.json. A diffusers adapter folder holds config.json and "
            f"{DIFFUSERS_WEIGHT_NAMES[0]} (or .bin); or pass the path of a single .safetensors/.pth file."
        )
    config = read_config(config_path)
    class_name = config.get("_class_name")
    if class_name != "T2IAdapter":
        what = class_name if isinstance(class_name, str) else "model of unknown class"
        raise NotAnAdapterError(f"{path}: config.json describes a diffusers {what}, not a T2IAdapter.")
    weights = diffusers_weights(path)
    if weights is None:
        raise AdapterLoadError(
            f"{path}: config.json found but no weights; expected one of {', '.join(DIFFUSERS_WEIGHT_NAMES)}."
        )
    sd, fmt = read_file(weights, load)
    kind = "safetensors" if fmt == "safetensors" else ".bin"
    return RawWeights(canonical_state_dict(sd), f"diffusers folder ({kind})", weights, config)


def _is_tensor(value: Any) -> bool:
    return isinstance(value, (torch.Tensor, TensorInfo))


def canonical_state_dict(obj: Mapping) -> dict[str, Any]:
    """Unwrap containers, drop non-tensor entries, strip prefixes and map diffusers names to original ones.

    Works on tensors and on :class:`TensorInfo` alike. A file with no tensors at its top level (a textual
    inversion's ``{"string_to_param": {"*": …}}``) keeps its nested tensors under dotted names, so the registry
    can say what it is.
    """
    for _ in range(3):  # nested wrappers, e.g. {"state_dict": {"adapter": {...}}}
        inner = next((obj[k] for k in _WRAPPER_KEYS if isinstance(obj.get(k), dict)), None)
        if inner is None or any(_is_tensor(v) for v in obj.values()):
            break
        obj = inner
    sd = {str(k): v for k, v in obj.items() if _is_tensor(v)}
    if not sd:
        sd = _nested_tensors(obj)
    for prefix in _PREFIXES:
        if sd and all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix) :]: v for k, v in sd.items()}
    return diffusers_to_original(sd) if is_diffusers_layout(sd) else sd


def _nested_tensors(obj: Mapping) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            for inner_key, inner in value.items():
                if _is_tensor(inner):
                    out[f"{key}.{inner_key}"] = inner
                if len(out) >= _FLATTEN_LIMIT:
                    return out
    return out
