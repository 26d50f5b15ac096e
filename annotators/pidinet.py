"""PiDiNet edges: the T2I sketch adapters' annotator (``table5_pidinet.pth``; facts §1.2).

T2I recipe: the image (RGB, /255) goes through PiDiNet, the fused (last) output is kept and binarised at
``> 0.5``, giving white lines on black. ``soft=True`` returns the probability map (x255) instead, as used by
soft-edge adapters. The network runs at the detect resolution (short side); its probability map is resized
back to the input size before thresholding, so the lines stay thin at any input size.
Channel order: T2I's sketch path feeds RGB (basicsr ``img2tensor`` converts OpenCV's BGR); ControlNet 1.1's
``PidiNetDetector`` feeds BGR. We follow T2I.
"""

from __future__ import annotations

import functools
from typing import Any

import cv2
import numpy as np

from annotators.image import short_side_resize
from annotators.registry import RESOLUTION, Param, register

WEIGHTS = "table5_pidinet.pth"


@functools.lru_cache(maxsize=1)
def _model(path: str) -> Any:
    from annotators.nets.pidinet import PiDiNet
    from annotators.weights import load_network

    return load_network(PiDiNet(), path, "PiDiNet (table5)")


def edge_probability(image: np.ndarray, *, resolution: int = 512, weights_path: str | None = None) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> float32 (H, W) edge probability in [0, 1] (PiDiNet's fused output)."""
    import torch

    from annotators.weights import ensure_weights

    net = _model(str(ensure_weights(WEIGHTS, weights_path)))
    work = short_side_resize(image, resolution)
    device = next(net.parameters()).device
    x = torch.from_numpy(work).to(device).permute(2, 0, 1)[None].float() / 255.0
    with torch.no_grad():
        prob = net(x)[-1][0, 0].float().cpu().numpy()
    h, w = image.shape[:2]
    if prob.shape != (h, w):
        prob = cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR)
    return prob


@register(
    output="edge",
    params=(
        RESOLUTION,
        Param("threshold", 0.5, 0.01, 0.99, 0.01, "Edge threshold (T2I sketch: 0.5)"),
        Param("soft", False, label="Soft edges (probability map, no threshold)"),
    ),
    weights=(WEIGHTS,),
    suits=("sketch",),
)
def pidinet(image: np.ndarray, *, resolution: int, threshold: float, soft: bool) -> np.ndarray:
    """PiDiNet edges, white on black, thresholded at 0.5 (the T2I sketch recipe)."""
    prob = edge_probability(image, resolution=resolution)
    if soft:
        return (prob * 255.0).round().clip(0, 255).astype(np.uint8)
    return np.where(prob > threshold, 255, 0).astype(np.uint8)
