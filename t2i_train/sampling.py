"""Deterministic DDIM sampling for preview grids and the tests: the same seed with and without the adapter."""

from __future__ import annotations

import torch
from torch import nn

import t2i_ext

from .base_model import Conditioning, call_unet


@torch.no_grad()
def ddim_sample(
    unet: nn.Module,
    text: Conditioning,
    uncond: Conditioning | None,
    shape: tuple[int, int, int, int],
    alphas_cumprod: torch.Tensor,
    prediction: str = "epsilon",
    features: list[torch.Tensor] | None = None,
    steps: int = 20,
    guidance: float = 5.0,
    seed: int = 0,
    depth: int = 1,
    adapter_base: str | None = None,
) -> torch.Tensor:
    """Latents ``shape`` = ``[B, 4, h, w]`` from noise drawn with ``seed`` (on the CPU, so every device agrees);
    ``features`` (adapter output for the B images) are injected with ``t2i_ext.inject`` as in the WebUI."""
    param = next(unet.parameters())
    device, dtype = param.device, param.dtype
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed)).to(device)
    T = alphas_cumprod.shape[0]
    ts = torch.linspace(T - 1, 0, steps).round().long().tolist()
    acp = alphas_cumprod.to(device)
    cfg = uncond is not None and guidance != 1.0
    b = shape[0]
    if cfg:
        rows = Conditioning(torch.cat([uncond.context, text.context]).to(device, dtype),
                            None if text.y is None else torch.cat([uncond.y, text.y]).to(device, dtype))
    else:
        rows = Conditioning(text.context.to(device, dtype), None if text.y is None else text.y.to(device, dtype))
    units = []
    if features is not None:
        units = [t2i_ext.AdapterUnit(features=[f.to(device, dtype) for f in features], base=adapter_base)]
    layout = t2i_ext.BatchLayout.cfg(b) if cfg else t2i_ext.BatchLayout.all_cond(b)
    with t2i_ext.inject(unet, units, layout=layout) as injection:
        for i, t in enumerate(ts):
            injection.progress = i / steps
            inp = torch.cat([x, x]) if cfg else x
            out = call_unet(unet, inp.to(dtype), torch.full((inp.shape[0],), t, device=device), rows, depth).float()
            if cfg:
                out_u, out_c = out.chunk(2)
                out = out_u + guidance * (out_c - out_u)
            a = acp[t].float()
            a_prev = acp[ts[i + 1]].float() if i + 1 < len(ts) else torch.tensor(1.0, device=device)
            if prediction == "v":
                x0 = a.sqrt() * x - (1 - a).sqrt() * out
                eps = a.sqrt() * out + (1 - a).sqrt() * x
            else:
                eps = out
                x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    return x
