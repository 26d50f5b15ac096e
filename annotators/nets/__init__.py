"""Networks behind the model-based annotators, in plain torch (or transformers classes built from a config
written here, never downloaded). Parameter names and shapes match the published weight files, so each loads
with ``load_state_dict(strict=True)``; see `annotators.weights` for the files themselves.

One module per architecture: `pidinet`, `lineart_generator`, `openpose_body`, `dpt_hybrid`, `clip_vision`,
`segformer`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported lazily so that `import annotators` stays light
    import torch


def default_device() -> torch.device:
    """CUDA when available (the WebUI case), else CPU."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def parameter_count(module: torch.nn.Module) -> int:
    """Number of parameters (buffers excluded)."""
    return sum(p.numel() for p in module.parameters())
