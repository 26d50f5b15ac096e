"""ldm's attention through ``torch.nn.functional.scaled_dot_product_attention`` while training.

ldm's ``CrossAttention`` materialises the full ``[B·heads, N, M]`` score matrix (4096² per head at 512² in SD1's
first level); SDPA computes the same softmax(QKᵀ/√d)·V with fused kernels and without keeping that matrix for the
backward pass. It is the WebUI's own "sdp" optimisation. Only the attention modules' forward is swapped, per
instance and reversibly; ``UNet.forward``, the blocks and the injection hooks are untouched.
"""

from __future__ import annotations

import types
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


def _sdpa_forward(self, x: torch.Tensor, context: torch.Tensor | None = None, mask=None) -> torch.Tensor:
    if mask is not None:  # the UNet never passes one; keep ldm's own path for anything else
        return type(self).forward(self, x, context, mask)
    context = x if context is None else context
    q, k, v = self.to_q(x), self.to_k(context), self.to_v(context)
    b, n, _ = q.shape
    heads = self.heads
    q, k, v = (t.reshape(b, t.shape[1], heads, t.shape[2] // heads).transpose(1, 2) for t in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v)  # default scale 1/√d_head, as ldm's self.scale
    return self.to_out(out.transpose(1, 2).reshape(b, n, -1))


def use_sdpa(unet: nn.Module) -> Callable[[], None]:
    """Swap every ldm ``CrossAttention`` of ``unet`` to SDPA; returns a function that restores ldm's forward."""
    swapped = []
    for module in unet.modules():
        if type(module).__name__ == "CrossAttention" and hasattr(module, "to_q") and "forward" not in vars(module):
            module.forward = types.MethodType(_sdpa_forward, module)
            swapped.append(module)

    def undo() -> None:
        for module in swapped:
            del module.forward

    return undo
