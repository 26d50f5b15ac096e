"""``load_adapter``: any published adapter file, folder or state dict → a ready network."""

from __future__ import annotations

import torch

from .architectures import build_adapter
from .formats import Source, read_weights
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
    model = build_adapter(raw.state_dict, raw.config)
    model.source_format = raw.format
    return model.to(device=device or "cpu", dtype=dtype or torch.float32).eval().requires_grad_(False)
