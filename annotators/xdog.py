"""Sketch by XDoG (difference of Gaussians): binary white strokes on black, for the sketch adapters.

The recipe is sd-webui-controlnet's `scribble_xdog`: blur the RGB image with a small (σ 0.5) and a large (σ 5)
Gaussian; a pixel is a stroke where it is darker than its surroundings by more than `threshold / 2` in any
channel. Dark lines and edges of dark regions become white (255), everything else black (0), which is the
{0, 1} white-on-black map the T2I sketch adapters were trained on (PiDiNet thresholded at 0.5).
"""

from __future__ import annotations

import cv2
import numpy as np

from annotators.image import resize_to, short_side_resize
from annotators.registry import RESOLUTION, Param, register


@register(
    output="edge",
    params=(RESOLUTION, Param("threshold", 32, 1, 64, 1, "XDoG threshold (lower = more strokes)")),
    suits=("sketch", "lineart"),
)
def sketch_xdog(image: np.ndarray, *, resolution: int, threshold: int) -> np.ndarray:
    """Binary sketch by XDoG (difference of Gaussians), white strokes on black.

    RGB uint8 (H, W, 3) -> binary {0, 255} uint8 (H, W)."""
    work = short_side_resize(image, resolution).astype(np.float32)
    fine = cv2.GaussianBlur(work, (0, 0), 0.5)
    coarse = cv2.GaussianBlur(work, (0, 0), 5.0)
    # Darker than the neighbourhood in the most contrasting channel. The reference stores 255 - darkness as
    # uint8 (truncating), which rounds the darkness up: ceil keeps the same strokes for odd thresholds.
    darkness = np.ceil(np.min(coarse - fine, axis=2))
    strokes = np.where(2.0 * darkness > threshold, 255, 0).astype(np.uint8)
    return resize_to(strokes, image.shape[:2], nearest=True)
