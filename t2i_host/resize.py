"""Fitting a condition image to the generation size: the three resize modes of the WebUI's ControlNet panel.

- Just Resize: stretch to the target size (aspect ratio not kept).
- Crop and Resize: scale so the image covers the target, then centre-crop (nothing is distorted, edges are lost).
- Resize and Fill: scale so the image fits inside the target, then pad the rest with the median border colour
  (black for edge maps), centred.

Maps with few distinct values (edge maps, segmentation, pose skeletons, palettes) are resized with nearest
neighbour, so no new colours (which would be new classes or grey edges) appear; photos and depth maps use
area averaging when shrinking and bicubic interpolation when enlarging. numpy and torch only.

Memory stays bounded by the target: an image outside the image budget (:func:`t2i_host.images.check_size`: pixels
and aspect ratio, the one rule) is refused, and "Crop and Resize" cuts away what the crop would drop *before*
scaling when the scaled image would be far larger than the target (a long strip scaled to cover a square).
"""

from __future__ import annotations

from enum import Enum

import numpy as np
import torch
import torch.nn.functional as F

from .images import check_size


class ResizeMode(str, Enum):
    JUST_RESIZE = "Just Resize"
    CROP_AND_RESIZE = "Crop and Resize"
    RESIZE_AND_FILL = "Resize and Fill"

    @classmethod
    def parse(cls, value: object) -> ResizeMode:
        """A mode from its name (any case, also ControlNet's legacy names) or ControlNet's int (0, 1, 2)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, bool):
            raise ValueError(f"expected one of {cls.choices()} or 0/1/2, got the boolean {value!r}")
        if isinstance(value, int):
            modes = list(cls)
            if 0 <= value < len(modes):
                return modes[value]
            raise ValueError(f"expected one of {cls.choices()} or 0/1/2, got {value!r}")
        if isinstance(value, str):
            found = _RESIZE_ALIASES.get(value.strip().lower())
            if found is not None:
                return found
        raise ValueError(f"expected one of {cls.choices()} or 0/1/2, got {value!r}")

    @classmethod
    def choices(cls) -> list[str]:
        return [m.value for m in cls]


_RESIZE_ALIASES = {
    **{m.value.lower(): m for m in ResizeMode},
    "resize": ResizeMode.JUST_RESIZE,
    "inner fit": ResizeMode.CROP_AND_RESIZE,
    "scale to fit (inner fit)": ResizeMode.CROP_AND_RESIZE,
    "outer fit": ResizeMode.RESIZE_AND_FILL,
    "envelope (outer fit)": ResizeMode.RESIZE_AND_FILL,
}

#: maps with at most this many distinct colours are treated as label/edge maps (nearest-neighbour resizing)
FEW_COLOURS = 200


def pixel_perfect_resolution(image_hw: tuple[int, int], target_wh: tuple[int, int], mode: ResizeMode) -> int:
    """The annotator resolution that makes its output exactly as detailed as the target (ControlNet's formula).

    The short side of the image scaled by the factor the resize mode will apply: the larger factor when the image
    is cropped to cover the target, the smaller one when it is fitted inside it.
    """
    raw_h, raw_w = image_hw
    target_w, target_h = target_wh
    k_h, k_w = target_h / raw_h, target_w / raw_w
    k = min(k_h, k_w) if mode is ResizeMode.RESIZE_AND_FILL else max(k_h, k_w)
    return int(round(k * min(raw_h, raw_w)))


def resize_to(image: np.ndarray, width: int, height: int, mode: ResizeMode | str | int) -> np.ndarray:
    """``image`` (``H×W`` or ``H×W×C``, any dtype) fitted to ``height×width`` with ``mode``; same dtype."""
    mode = ResizeMode.parse(mode)
    if width <= 0 or height <= 0:
        raise ValueError(f"target size must be positive, got {width}×{height}")
    if image.ndim not in (2, 3) or 0 in image.shape[:2]:
        raise ValueError(f"expected an H×W or H×W×C image, got shape {image.shape}")
    h, w = image.shape[:2]
    check_size(w, h)
    if (h, w) == (height, width):
        return image
    if mode is ResizeMode.JUST_RESIZE:
        return _scale(image, width, height)
    if mode is ResizeMode.CROP_AND_RESIZE:
        image = _precrop(image, width, height)
        h, w = image.shape[:2]
        k = max(width / w, height / h)
        new_w, new_h = max(width, round(w * k)), max(height, round(h * k))
        scaled = _scale(image, new_w, new_h)
        top, left = (new_h - height) // 2, (new_w - width) // 2
        return np.ascontiguousarray(scaled[top : top + height, left : left + width])
    k = min(width / w, height / h)
    new_w, new_h = min(width, max(1, round(w * k))), min(height, max(1, round(h * k)))
    scaled = _scale(image, new_w, new_h)
    out = np.empty((height, width, *image.shape[2:]), dtype=image.dtype)
    out[...] = _border_median(image)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    out[top : top + new_h, left : left + new_w] = scaled
    return out


#: "Crop and Resize" scales the whole image first (as ControlNet does) unless that would exceed this many times the
#: target's pixels; beyond it the source is cropped first (what differs is only sub-pixel sampling at the edges)
PRECROP_FACTOR = 4


def _precrop(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` centre-cropped to what covering ``width×height`` keeps (plus a pixel of context per side), when
    scaling all of it would cost over :data:`PRECROP_FACTOR` times the target's pixels."""
    h, w = image.shape[:2]
    k = max(width / w, height / h)
    if (w * k) * (h * k) <= PRECROP_FACTOR * width * height:
        return image
    keep_w, keep_h = min(w, int(np.ceil(width / k)) + 2), min(h, int(np.ceil(height / k)) + 2)
    top, left = (h - keep_h) // 2, (w - keep_w) // 2
    return image[top : top + keep_h, left : left + keep_w]


def _border_median(image: np.ndarray) -> np.ndarray:
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]], axis=0)
    return np.median(border, axis=0).astype(image.dtype)


def is_label_map(image: np.ndarray) -> bool:
    """True for maps with few distinct colours (edges, segmentation, poses, palettes): resize those nearest."""
    flat = image.reshape(-1, image.shape[2]) if image.ndim == 3 else image.reshape(-1, 1)
    step = max(1, flat.shape[0] // 65536)  # a sample is enough to tell a photo from a label map
    sample = np.ascontiguousarray(flat[::step])
    return len(np.unique(sample.view(np.dtype((np.void, sample.dtype.itemsize * sample.shape[1]))))) <= FEW_COLOURS


def _scale(image: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image
    t = torch.from_numpy(image.copy() if not image.flags.writeable else np.ascontiguousarray(image)).float()
    t = (t[:, :, None] if image.ndim == 2 else t).permute(2, 0, 1)[None]
    if is_label_map(image):
        # nearest-exact samples pixel centres, so shifts of half a pixel (nearest's legacy rounding) do not occur
        out = F.interpolate(t, size=(height, width), mode="nearest-exact")
    elif height * width < h * w:
        out = F.interpolate(t, size=(height, width), mode="area")
    else:
        out = F.interpolate(t, size=(height, width), mode="bicubic", align_corners=False)
    out = out[0].permute(1, 2, 0)
    if image.ndim == 2:
        out = out[:, :, 0]
    if np.issubdtype(image.dtype, np.integer):
        info = np.iinfo(image.dtype)
        out = out.round().clamp(info.min, info.max)
    elif image.dtype == np.bool_:
        out = out > 0.5
    return out.numpy().astype(image.dtype)
