"""The stand-in's attention optimisation (what the WebUI applies at model load) computes ldm's own attention."""

from __future__ import annotations

import torch

from tests.webui.harness import STANDIN_DIR


def test_the_standins_sdpa_attention_equals_ldms_einsum_attention(monkeypatch):
    from ldm.modules.attention import CrossAttention

    monkeypatch.syspath_prepend(str(STANDIN_DIR))
    from modules.sd_hijack_optimizations import sdp_attention_forward

    torch.manual_seed(0)
    self_attn = CrossAttention(query_dim=32, heads=2, dim_head=8).eval()
    cross_attn = CrossAttention(query_dim=32, context_dim=16, heads=2, dim_head=8).eval()
    x, context = torch.randn(2, 10, 32), torch.randn(2, 7, 16)
    mask = torch.rand(2, 7) > 0.3
    mask[:, 0] = True  # every row attends to something
    with torch.no_grad():
        for attn, args in ((self_attn, (x,)), (cross_attn, (x, context)), (cross_attn, (x, context, mask))):
            want = CrossAttention.forward(attn, *args)
            got = sdp_attention_forward(attn, *args)
            assert (got - want).abs().max() <= 1e-5
