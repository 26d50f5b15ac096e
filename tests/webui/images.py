"""Condition images for the WebUI tests."""

from __future__ import annotations

import numpy as np


def shapes(size: int = 64, seed: int = 0) -> np.ndarray:
    """White rectangles and a diagonal on black, RGB uint8 (an edge-map-like condition)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size, 3), np.uint8)
    for _ in range(3):
        x0, y0 = rng.integers(0, size // 2, 2)
        w, h = rng.integers(size // 8, size // 2, 2)
        img[y0 : y0 + h, x0 : x0 + w] = 255
        img[y0 + 2 : y0 + h - 2, x0 + 2 : x0 + w - 2] = 0
    idx = np.arange(size)
    img[idx, idx] = 255
    return img


def pixels(processed, index: int = 0) -> np.ndarray:
    return np.asarray(processed.images[index].convert("RGB"), dtype=np.int16)


def max_diff(a, b) -> int:
    return int(np.abs(pixels(a) - pixels(b)).max())
