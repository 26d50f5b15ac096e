"""``load_adapter``: any published adapter file, folder or state dict → a ready network; ``identify_adapter``: what
it is, without loading a tensor."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch

from .architectures import build_adapter, identify
from .errors import AdapterLoadError, UnsafePickleError
from .formats import Source, read_tensor_info, read_weights
from .nets import AdapterModel


def load_adapter(
    source: Source, device: torch.device | str | None = None, dtype: torch.dtype | None = None
) -> AdapterModel:
    """Load a T2I-Adapter (full, light, style, CoAdapter fuser; SD1 or SDXL) from ``source``.

    ``source`` is a path to an original ``.pth``/``.ckpt``, a ``.safetensors`` (fp32 or fp16), a diffusers folder,
    or a state dict. The architecture is detected from the tensors. ``dtype`` defaults to float32 (fp16 files are
    upcast; pass ``torch.float16`` to keep half precision), ``device`` to the CPU. The returned module is in eval
    mode and describes itself (``kind``, ``base``, ``in_channels``, ``num_parameters``, ``source_format``,
    ``describe()``). Raises :class:`~t2i_ext.errors.AdapterLoadError` with the reason for anything else.
    """
    raw = read_weights(source)
    model = _naming(source, lambda: build_adapter(raw.state_dict, raw.config))
    model.source_format = raw.format
    return model.to(device=device or "cpu", dtype=dtype or torch.float32).eval().requires_grad_(False)


@dataclass(frozen=True)
class AdapterInfo:
    """What :func:`identify_adapter` tells about a file or folder: the kind and family, and how it is stored."""

    kind: str  # full, light, style, fuser
    base: str  # SD1 or SDXL
    format: str  # as ``AdapterModel.source_format``
    weights: Path | None  # the file holding the tensors (inside a diffusers folder: its weights file)


def identify_adapter(source: Source) -> AdapterInfo:
    """Kind and family of an adapter from its tensor names and shapes; no tensor is loaded, no pickled code runs.

    Reading is bounded by the file's real content (see :mod:`t2i_ext.sniff`). Raises
    :class:`~t2i_ext.errors.NotAnAdapterError` for another kind of model (saying which) and
    :class:`~t2i_ext.errors.AdapterLoadError` for anything broken or hostile — the errors :func:`load_adapter`
    gives for the same file, except those only the tensors' values or a strict load can show.
    """
    raw = read_tensor_info(source)
    identity = _naming(source, lambda: identify(raw.state_dict, raw.config))
    return AdapterInfo(identity.kind, identity.base, raw.format, raw.path)


T = TypeVar("T")


def _naming(source: Source, call: Callable[[], T]) -> T:
    """``call()``, its refusal of what the tensors are prefixed with the file's name (reading errors already are),
    so "not a T2I-Adapter: it looks like a ControlNet" says which file."""
    try:
        return call()
    except UnsafePickleError:
        raise
    except AdapterLoadError as e:
        if not isinstance(source, (str, os.PathLike)):
            raise
        raise type(e)(f"{Path(source).name}: {e}") from None
