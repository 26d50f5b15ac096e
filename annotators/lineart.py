"""Lineart (realistic / coarse): the informative-drawings generator (``sk_model.pth`` / ``sk_model2.pth``),
as ControlNet 1.1's lineart preprocessor and the SDXL lineart adapter's annotator use it.

The network draws black lines on white; ControlNet 1.1 feeds the adapter ``1 - map`` and controlnet_aux returns
``255 - map``, so the condition is **white lines on black**, which is what this annotator returns.
Input RGB /255 at the detect resolution; the image is reflection-padded to a multiple of 8 (the generator halves
the size twice) and the padding cropped off.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from annotators.image import resize_to, short_side_resize
from annotators.registry import RESOLUTION, Param, register

WEIGHTS = "sk_model.pth"
WEIGHTS_COARSE = "sk_model2.pth"


@functools.lru_cache(maxsize=2)
def _model(path: str) -> Any:
    from annotators.nets.lineart_generator import LineartGenerator
    from annotators.weights import load_network

    return load_network(LineartGenerator(), path, "lineart generator")


def line_drawing(
    image: np.ndarray, *, coarse: bool = False, resolution: int = 512, weights_path: str | None = None
) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> uint8 (H, W) lines, white on black."""
    import torch
    import torch.nn.functional as F

    from annotators.weights import ensure_weights

    net = _model(str(ensure_weights(WEIGHTS_COARSE if coarse else WEIGHTS, weights_path)))
    work = short_side_resize(image, resolution)
    h, w = work.shape[:2]
    device = next(net.parameters()).device
    x = torch.from_numpy(work).to(device).permute(2, 0, 1)[None].float() / 255.0
    pad_h, pad_w = (-h) % 8, (-w) % 8
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect" if min(h, w) > 8 else "replicate")
    with torch.no_grad():
        paper = net(x)[0, 0, :h, :w].float().cpu().numpy()
    lines = ((1.0 - paper) * 255.0).round().clip(0, 255).astype(np.uint8)
    return resize_to(lines, image.shape[:2])


@register(
    output="edge",
    params=(RESOLUTION, Param("coarse", False, label="Coarse model (sk_model2.pth)")),
    weights=(WEIGHTS, WEIGHTS_COARSE),
    weights_for=lambda p: (WEIGHTS_COARSE if p["coarse"] else WEIGHTS,),
    suits=("lineart",),
)
def lineart_realistic(image: np.ndarray, *, resolution: int, coarse: bool) -> np.ndarray:
    """Informative-drawings lineart (ControlNet 1.1 'lineart_realistic'/'coarse'), white on black."""
    return line_drawing(image, coarse=coarse, resolution=resolution)
