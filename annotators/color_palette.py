"""Colour palette: the T2I colour adapter's spatial palette (`get_cond_color` / `AddSpatialPalette`).

Bicubic down to (W // 64, H // 64), then nearest back up to (W, H): a grid of flat colour blocks (8×8 blocks at
512×512). Sides shorter than `block` pixels keep one block (T2I's recipe would ask OpenCV for a 0-pixel image).
"""

from __future__ import annotations

import cv2
import numpy as np

from annotators.registry import Param, register


@register(output="rgb", params=(Param("block", 64, 4, 512, 4, "Block size in pixels (T2I: 64)"),), suits=("color",))
def color_palette(image: np.ndarray, *, block: int) -> np.ndarray:
    """Spatial colour palette (T2I recipe: bicubic to W/64 x H/64, nearest back up).

    RGB uint8 (H, W, 3) -> RGB uint8 (H, W, 3) of flat blocks."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, w // block), max(1, h // block)), interpolation=cv2.INTER_CUBIC)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
