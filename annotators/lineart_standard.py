"""Lineart "standard": a weight-free line extractor (controlnet_aux / sd-webui `lineart_standard`).

Each pixel's darkness relative to a σ=6 Gaussian blur of the image (max over channels), normalised by the
median darkness of the line pixels and scaled so typical lines land near 127 and strong ones saturate at 255.
Grey white-on-black lines; suits the lineart and sketch adapters (the SDXL lineart adapter was trained on a
network's lineart, which this approximates without weights).
"""

from __future__ import annotations

import cv2
import numpy as np

from annotators.image import resize_to, short_side_resize
from annotators.registry import RESOLUTION, Param, register


@register(
    output="edge",
    params=(
        RESOLUTION,
        Param("sigma", 6.0, 0.5, 20.0, 0.5, "Gaussian sigma (line width)"),
        Param("intensity_threshold", 8, 0, 255, 1, "Darkness that counts as a line when normalising"),
    ),
    suits=("lineart", "sketch"),
)
def lineart_standard(image: np.ndarray, *, resolution: int, sigma: float, intensity_threshold: int) -> np.ndarray:
    """Lineart without weights (darkness against a Gaussian blur), grey lines on black.

    RGB uint8 (H, W, 3) -> uint8 (H, W), 0 = background, brighter = stronger line."""
    work = short_side_resize(image, resolution).astype(np.float32)
    blurred = cv2.GaussianBlur(work, (0, 0), sigma)
    darkness = np.clip(np.min(blurred - work, axis=2), 0, 255)
    lines = darkness[darkness > intensity_threshold]
    # Floor of 16 keeps a nearly flat image from amplifying noise into lines.
    scale = max(16.0, float(np.median(lines))) if lines.size else 16.0
    out = np.clip(darkness / scale * 127.0, 0, 255).astype(np.uint8)
    return resize_to(out, image.shape[:2])
