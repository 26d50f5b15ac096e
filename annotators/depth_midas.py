"""MiDaS depth (DPT-Hybrid, ``dpt_hybrid-midas-501f0c75.pt``): the T2I depth adapters' annotator (facts §1.2).

T2I/ControlNet recipe: RGB scaled to [-1, 1] (``x / 127.5 - 1``), DPT-Hybrid gives relative inverse depth
(larger = nearer), the map is min-max normalised over the image, so **near = bright**, and replicated to three
channels for the depth adapters. The network needs sizes divisible by 32: the detect-resolution image is resized
to the nearest multiples of 32 (as ControlNet rounds to 64), and the map is resized back to the input size.
"""

from __future__ import annotations

import functools
from typing import Any

import cv2
import numpy as np

from annotators.image import resize_to, short_side_resize
from annotators.registry import RESOLUTION, register

WEIGHTS = "dpt_hybrid-midas-501f0c75.pt"


@functools.lru_cache(maxsize=1)
def _model(path: str) -> Any:
    import torch

    from annotators.nets.dpt_hybrid import DPTHybridDepth
    from annotators.weights import load_network

    with torch.device("meta"):  # 123 M parameters: skip the random initialisation, adopt the file's tensors
        net = DPTHybridDepth()
    return load_network(net, path, "MiDaS DPT-Hybrid", assign=True)


def inverse_depth(image: np.ndarray, *, resolution: int = 512, weights_path: str | None = None) -> np.ndarray:
    """uint8 RGB (H', W', 3) -> float32 relative inverse depth at the network size (multiples of 32)."""
    import torch

    from annotators.weights import ensure_weights

    net = _model(str(ensure_weights(WEIGHTS, weights_path)))
    work = short_side_resize(image, resolution)
    h, w = work.shape[:2]
    h32, w32 = max(32, round(h / 32) * 32), max(32, round(w / 32) * 32)
    if (h32, w32) != (h, w):
        work = cv2.resize(work, (w32, h32), interpolation=cv2.INTER_AREA if h32 * w32 < h * w else cv2.INTER_CUBIC)
    device = next(net.parameters()).device
    x = torch.from_numpy(work).to(device).permute(2, 0, 1)[None].float() / 127.5 - 1.0
    with torch.no_grad():
        return net(x)[0].float().cpu().numpy()


def depth_map(image: np.ndarray, *, resolution: int = 512, weights_path: str | None = None) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> uint8 (H, W, 3) depth map, near = bright, min-max normalised."""
    depth = inverse_depth(image, resolution=resolution, weights_path=weights_path)
    depth = depth - depth.min()
    top = float(depth.max())
    grey = np.zeros(depth.shape, np.uint8) if top <= 0 else (depth / top * 255.0).round().clip(0, 255).astype(np.uint8)
    grey = resize_to(grey, image.shape[:2])
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))


@register(output="rgb", params=(RESOLUTION,), weights=(WEIGHTS,), suits=("depth",))
def depth_midas(image: np.ndarray, *, resolution: int) -> np.ndarray:
    """MiDaS DPT-Hybrid relative depth, near = bright, 3 channels (T2I depth adapters)."""
    return depth_map(image, resolution=resolution)
