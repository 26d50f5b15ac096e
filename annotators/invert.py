"""Invert: turns a drawing with dark lines on a light background into the white-on-black map edge adapters
expect (T2I's sketch path does not invert; sd-webui offers the same "invert" preprocessor)."""

from __future__ import annotations

import numpy as np

from annotators.image import to_gray
from annotators.registry import register


@register(output="edge", suits=("sketch", "canny", "lineart"))
def invert(image: np.ndarray) -> np.ndarray:
    """255 - grey: black lines on white -> white lines on black (for user drawings).

    RGB uint8 (H, W, 3) -> uint8 (H, W) = 255 - luma. Transparent pixels were composited on white first,
    so strokes on a transparent canvas come out white on black."""
    return 255 - to_gray(image)
