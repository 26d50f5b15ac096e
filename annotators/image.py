"""Input normalisation and resizing shared by every annotator.

`to_rgb_uint8` is the one place that decides how an input image becomes the ``uint8 (H, W, 3)`` RGB array the
annotators work on (documented here so the UI, API and CLI agree):

- how pixel values are read and scaled is the core's rule, shared with the condition tensors
  (:mod:`t2i_ext.pixels`): by PIL mode or numpy dtype, never by the values (uint8 as is, uint16 and 16-bit
  modes ``I;16``/``I`` scaled with ``round(v / 257)``, bool -> {0, 255}, float in [0, 1]); arrays are channels last
  (``(H, W)``, ``(H, W, 1|2|3|4)``), in RGB order (convert OpenCV BGR images yourself);
- the annotators' own rule is alpha: it is composited **on white**, as the ControlNet/T2I code bases do (their
  ``HWC3``): a drawing of black strokes on a transparent canvas becomes black on white, which ``invert`` then
  turns into the white-on-black map edge adapters expect. (A condition map given straight to an adapter counts
  transparent as black instead: no condition.)
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np


def to_rgb_uint8(image: Any) -> np.ndarray:
    """Normalise any supported image to a C-contiguous ``uint8`` array ``(H, W, 3)`` in RGB order.

    Raises ValueError saying what was wrong and what to pass instead (empty image, wrong number of dimensions or
    channels, NaN, values out of range, unsupported type).
    """
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        if image.size:  # already what the annotators work on: no float round trip
            return np.ascontiguousarray(image)
    # imported here: t2i_ext's package import loads torch, and importing `annotators` must stay light
    from t2i_ext.pixels import composite, to_uint8, unit_array

    arr = to_uint8(composite(unit_array(image), background=1.0))
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr)


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """``uint8 (H, W, 3)`` RGB -> ``uint8 (H, W)`` luma (ITU-R 601, as OpenCV and PIL "L")."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


MAX_WORK_SIDE = 4096


def short_side_resize(image: np.ndarray, resolution: int, max_side: int = MAX_WORK_SIDE) -> np.ndarray:
    """Resize so the short side equals `resolution` (aspect kept); 0 or the same size returns `image` unchanged.

    The long side is capped at `max_side` (the short side then ends up below `resolution`): a 1×700 strip must
    not become a 512×358400 work image. Uses INTER_AREA to shrink and INTER_CUBIC to enlarge, as the
    ControlNet/T2I preprocessors do before detection.
    """
    h, w = image.shape[:2]
    if resolution <= 0 or min(h, w) == resolution and max(h, w) <= max_side:
        return image
    scale = min(resolution / min(h, w), max_side / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(image, size, interpolation=interp)


def fit_within(image: np.ndarray, max_side: int = MAX_WORK_SIDE) -> np.ndarray:
    """Shrink (INTER_AREA) so neither side exceeds `max_side`; smaller images are returned unchanged."""
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def resize_to(image: np.ndarray, size: tuple[int, int], *, nearest: bool = False) -> np.ndarray:
    """Resize `image` back to ``size = (H, W)``. `nearest` keeps binary/palette maps binary; otherwise smooth
    interpolation (area to shrink, linear to enlarge)."""
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    if nearest:
        interp = cv2.INTER_NEAREST
    else:
        interp = cv2.INTER_AREA if h * w < image.shape[0] * image.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(image, (w, h), interpolation=interp)
