"""Canny edges: the T2I canny adapters' annotator (`cv2.Canny(img, 100, 200)`, white edges on black)."""

from __future__ import annotations

import cv2
import numpy as np

from annotators.image import resize_to, short_side_resize
from annotators.registry import Param, register


@register(
    output="edge",
    params=(
        # 0 by default: T2I runs Canny on the image at the size it is given (the caller sizes it).
        Param("resolution", 0, 0, 2048, 64, "Detect resolution (short side; 0 = input size)"),
        Param("low_threshold", 100, 1, 255, 1, "Low threshold"),
        Param("high_threshold", 200, 1, 255, 1, "High threshold"),
    ),
    suits=("canny",),
)
def canny(image: np.ndarray, *, resolution: int, low_threshold: int, high_threshold: int) -> np.ndarray:
    """Canny edges, white on black (T2I defaults 100/200).

    RGB uint8 (H, W, 3) -> binary {0, 255} uint8 (H, W). OpenCV takes the strongest gradient over the three
    channels, so the result equals `cv2.Canny(rgb, low, high)` (and the same on BGR: the max is order-free)."""
    work = short_side_resize(image, resolution)
    edges = cv2.Canny(work, low_threshold, high_threshold)
    # Nearest keeps the map binary when a detect resolution was used.
    return resize_to(edges, image.shape[:2], nearest=True)
