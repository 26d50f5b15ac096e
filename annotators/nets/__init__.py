"""Networks behind the model-based annotators, in plain torch (or transformers classes built from a config
written here, never downloaded). Parameter names and shapes match the published weight files, so each loads
with ``load_state_dict(strict=True)``; see `annotators.weights` for the files themselves.

One module per architecture: `pidinet`, `lineart_generator`, `openpose_body`, `dpt_hybrid`, `clip_vision`,
`segformer`.
"""

from __future__ import annotations


def default_device() -> "object":
    """CUDA when available (the WebUI case), else CPU."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def parameter_count(module: "object") -> int:
    """Number of parameters (buffers excluded)."""
    return sum(p.numel() for p in module.parameters())  # type: ignore[attr-defined]
