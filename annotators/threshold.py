"""Binary threshold: a clean 0/255 map from a drawing or scan (sd-webui-controlnet's "binary").

Grey image; `threshold` 0 picks the level automatically with Otsu's method, any other value is a fixed level.
With `dark_lines` (default) pixels at or below the level become white (255): black strokes on paper turn into
white strokes on black. Set `dark_lines=false` for inputs that already have light lines on a dark background.
"""

from __future__ import annotations

import cv2
import numpy as np

from annotators.image import to_gray
from annotators.registry import Param, register


@register(
    output="edge",
    params=(
        Param("threshold", 0, 0, 255, 1, "Level (0 = automatic, Otsu)"),
        Param("dark_lines", True, label="Lines are darker than the background"),
    ),
    suits=("sketch", "canny", "lineart"),
)
def binary(image: np.ndarray, *, threshold: int, dark_lines: bool) -> np.ndarray:
    """Binary map by a fixed level or Otsu (threshold 0); dark strokes -> white on black.

    RGB uint8 (H, W, 3) -> binary {0, 255} uint8 (H, W)."""
    gray = to_gray(image)
    mode = cv2.THRESH_BINARY_INV if dark_lines else cv2.THRESH_BINARY
    if threshold == 0:
        _, out = cv2.threshold(gray, 0, 255, mode | cv2.THRESH_OTSU)
    elif dark_lines:
        # THRESH_BINARY_INV whitens pixels <= level; the level itself counts as a line.
        _, out = cv2.threshold(gray, threshold, 255, mode)
    else:
        # THRESH_BINARY whitens pixels > level; shift by one so "at or above" the level is a line.
        _, out = cv2.threshold(gray, threshold - 1, 255, mode)
    return out
