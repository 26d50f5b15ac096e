"""Mirrors modules/sd_hijack_optimizations.py@v1.10.1 in what reaches us: when the WebUI loads a model it replaces
ldm's ``CrossAttention.forward`` with an optimised attention (``sd_hijack.apply_optimizations``; on the CPU it picks
InvokeAI's, ``--opt-sdp-attention`` torch's SDPA). The stand-in applies SDPA: ldm's attention (softmax(q·kᵀ·scale)·v,
scale = head size^-½) without its (tokens × tokens) einsum matrix, which made a 512² stand-in job take a minute."""

from __future__ import annotations

from collections.abc import Callable

import torch
from einops import rearrange


def sdp_attention_forward(self, x: torch.Tensor, context: torch.Tensor | None = None, mask=None) -> torch.Tensor:
    context = x if context is None else context
    q, k, v = (rearrange(t, "b n (h d) -> b h n d", h=self.heads) for t in (self.to_q(x), self.to_k(context),
                                                                          self.to_v(context)))
    if mask is not None:  # ldm's mask: True where a context token may be attended to
        mask = rearrange(mask, "b ... -> b (...)")[:, None, None, :]
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return self.to_out(rearrange(out, "b h n d -> b n (h d)"))


def apply() -> Callable[[], None]:
    """Replace ldm's CrossAttention.forward, as the WebUI does; returns what puts ldm's own back."""
    from ldm.modules.attention import CrossAttention

    original = CrossAttention.forward
    CrossAttention.forward = sdp_attention_forward

    def undo() -> None:
        CrossAttention.forward = original

    return undo
