"""Mirrors modules/masking.py@v1.10.1: the crop region of "Inpaint area: Only masked".

``get_crop_region_v2``: the mask's bounding box (PIL ``getbbox``: non-zero pixels), grown by ``pad`` on every side
and clamped to the image; ``None`` for an empty mask. ``expand_crop_region``: grow the shorter side of the box
(half on each side, the odd pixel after) to the processing aspect ratio, then shift the box back inside the image
and clamp. Written from the WebUI's description of the algorithm; the tests compare against fixed boxes."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter, ImageOps


def get_crop_region_v2(mask, pad=0):
    mask = mask if isinstance(mask, Image.Image) else Image.fromarray(mask)
    box = mask.getbbox()
    if not box:
        return None
    if not pad:
        return box
    x1, y1, x2, y2 = box
    w, h = mask.size
    return max(x1 - pad, 0), max(y1 - pad, 0), min(x2 + pad, w), min(y2 + pad, h)


def get_crop_region(mask, pad=0):
    """masking.py: the v1 variant returns an inverted (invalid) box for an empty mask instead of None."""
    mask = mask if isinstance(mask, Image.Image) else Image.fromarray(np.asarray(mask))
    box = get_crop_region_v2(mask, pad)
    if box:
        return box
    w, h = mask.size
    return max(w - pad, 0), max(h - pad, 0), min(pad, w), min(pad, h)


def _grow(lo: int, hi: int, want: float, limit: int) -> tuple[int, int]:
    diff = int(want - (hi - lo))
    lo -= diff // 2
    hi += diff - diff // 2
    if hi >= limit:
        lo, hi = lo - (hi - limit), limit
    if lo < 0:
        lo, hi = 0, hi - lo
    if hi >= limit:
        hi = limit
    return lo, hi


def expand_crop_region(crop_region, processing_width, processing_height, image_width, image_height):
    x1, y1, x2, y2 = crop_region
    ratio_crop = (x2 - x1) / (y2 - y1)
    ratio_processing = processing_width / processing_height
    if ratio_crop > ratio_processing:
        y1, y2 = _grow(y1, y2, (x2 - x1) / ratio_processing, image_height)
    else:
        x1, x2 = _grow(x1, x2, (y2 - y1) * ratio_processing, image_width)
    return x1, y1, x2, y2


def fill(image, mask):
    """masking.py: fill masked regions with blurred colours from the rest of the image (inpainting_fill=0)."""
    image_mod = Image.new("RGBA", (image.width, image.height))
    image_masked = Image.new("RGBa", (image.width, image.height))
    image_masked.paste(image.convert("RGBA").convert("RGBa"), mask=ImageOps.invert(mask.convert("L")))
    image_masked = image_masked.convert("RGBa")
    for radius, repeats in [(256, 1), (64, 1), (16, 2), (4, 4), (2, 2), (0, 1)]:
        blurred = image_masked.filter(ImageFilter.GaussianBlur(radius)).convert("RGBA")
        for _ in range(repeats):
            image_mod.alpha_composite(blurred)
    return image_mod.convert("RGB")
