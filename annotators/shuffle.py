"""Content shuffle: the image warped by a random smooth flow field (ControlNet/T2I "shuffle").

Two smooth noise fields (uniform noise on a coarse grid, bicubic-upsampled, normalised to [0, 1]) give for every
output pixel the source coordinates to sample, so colours and textures survive but the layout is scrambled.
`scale` is the noise grid's cell size in pixels at a 512 short side (the reference uses 256 at 512); it scales
with the image so a map looks the same at any size. Seeded: the same seed gives the same map; -1 draws a fresh one.
"""

from __future__ import annotations

import cv2
import numpy as np

from annotators.image import fit_within, resize_to
from annotators.registry import Param, register


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """float32 (h, w) in [0, 1]: uniform noise on a grid with `cell`-pixel cells, bicubic-interpolated."""
    grid = rng.uniform(0.0, 1.0, size=(h // cell + 2, w // cell + 2)).astype(np.float32)
    big = cv2.resize(grid, (w + 2 * cell, h + 2 * cell), interpolation=cv2.INTER_CUBIC)
    field = big[cell : cell + h, cell : cell + w]
    field = field - field.min()
    peak = field.max()
    return field / peak if peak > 0 else field


@register(
    output="rgb",
    params=(
        Param("seed", 0, -1, 2**31 - 1, 1, "Seed (-1 = random)"),
        Param("scale", 256, 16, 1024, 16, "Flow cell size at 512 px"),
    ),
    suits=("shuffle",),  # ControlNet shuffle; no T2I adapter was trained on it
)
def shuffle(image: np.ndarray, *, seed: int, scale: int) -> np.ndarray:
    """Content shuffle: the image warped by a seeded random smooth flow.

    RGB uint8 (H, W, 3) -> RGB uint8 (H, W, 3)."""
    # cv2.remap refuses sides of 32767 px and more: very large images are shuffled at a reduced size.
    work = fit_within(image)
    h, w = work.shape[:2]
    rng = np.random.default_rng(None if seed < 0 else seed)
    cell = max(1, round(scale * min(h, w) / 512))
    map_x = _smooth_noise(rng, h, w, cell) * float(w - 1)
    map_y = _smooth_noise(rng, h, w, cell) * float(h - 1)
    out = cv2.remap(work, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return resize_to(out, image.shape[:2])
