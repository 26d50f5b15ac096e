"""Shared fixtures: a synthetic line drawing in every input form the annotators accept, and skimage's astronaut."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

EDGE_ANNOTATORS = ("canny", "sketch_xdog", "lineart_standard", "invert", "binary")
RGB_ANNOTATORS = ("color_palette", "shuffle")
OFFLINE_ANNOTATORS = EDGE_ANNOTATORS + RGB_ANNOTATORS
BINARY_ANNOTATORS = ("canny", "sketch_xdog", "binary")


def line_drawing(height: int = 96, width: int = 128) -> np.ndarray:
    """RGB uint8: white paper with a black rectangle outline (3 px) and a black diagonal stroke.

    Everything farther than ~20 px from a stroke is plain white, so a white-on-black map must be 0 there."""
    img = np.full((height, width, 3), 255, np.uint8)
    cv2.rectangle(img, (width // 4, height // 4), (3 * width // 4, 3 * height // 4), (0, 0, 0), 3)
    cv2.line(img, (width // 4, height // 4), (3 * width // 4, 3 * height // 4), (0, 0, 0), 3)
    return img


def stroke_mask(height: int, width: int) -> np.ndarray:
    """bool (H, W): True on the drawing's strokes."""
    return line_drawing(height, width)[:, :, 0] < 128


def far_background_mask(height: int, width: int, margin: int = 20) -> np.ndarray:
    """bool (H, W): True where no stroke lies within `margin` px."""
    strokes = stroke_mask(height, width).astype(np.uint8)
    near = cv2.dilate(strokes, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)) > 0
    return ~near


def _variants() -> dict[str, tuple[object, tuple[int, int]]]:
    rgb = line_drawing()
    h, w = rgb.shape[:2]
    rgba = np.dstack([rgb, np.full((h, w), 255, np.uint8)])
    # Transparent pixels composite on white: make the right-hand border transparent black.
    rgba[:, -8:] = (0, 0, 0, 0)
    gray16 = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.uint16) * 257
    odd = line_drawing(333, 517)
    return {
        "rgb_uint8": (rgb, (h, w)),
        "rgba_uint8": (rgba, (h, w)),
        "pil_rgba": (Image.fromarray(rgba, "RGBA"), (h, w)),
        "pil_L": (Image.fromarray(rgb).convert("L"), (h, w)),
        "uint16_gray": (gray16, (h, w)),
        "pil_I16": (Image.fromarray(gray16), (h, w)),
        "rgb_uint16": (rgb.astype(np.uint16) * 257, (h, w)),
        "float01": (rgb.astype(np.float32) / 255.0, (h, w)),
        "odd_333x517": (odd, (333, 517)),
    }


INPUT_VARIANTS = _variants()


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """skimage's public-domain astronaut photo, RGB uint8 512x512 (ships inside the scikit-image wheel)."""
    from skimage import data

    return data.astronaut()
