"""Pixel values of any image → floats in [0, 1]: the one place that decides how an image's numbers are scaled.

Used by the condition tensors (``condition.py``), the annotators' input (``annotators/image.py``) and the host
layer's decoder (``t2i_host/images.py``), so the UI, the API, the CLI and the library read every image alike.
PIL-free: PIL images are duck-typed (``.mode`` and ``np.asarray``/``.convert``).

Scaling is decided by the PIL mode or the numpy dtype, never by the values (a 16-bit image whose values happen
to be ≤ 255 is a dark 16-bit image, not an 8-bit one):

- ``bool`` and mode ``1``: {0, 1}; ``uint8`` and 8-bit modes (``L``, ``LA``, ``RGB``, ``RGBA``): ``/ 255``;
- ``uint16``, modes ``I;16*`` and ``I`` (Pillow opens 16-bit PNGs as ``I``/``I;16B``), and every other integer
  dtype (``int32`` is what ``np.asarray`` gives for mode ``I``): ``/ 65535``; values must lie in [0, 65535];
- float dtypes and mode ``F``: taken as given; they must be finite and lie in [0, 1];
- other PIL modes (``P``, ``PA``, ``CMYK``, ``YCbCr``, ``LAB``, ``HSV``, ...) are converted to RGB, or RGBA when
  they carry transparency.

Alpha is kept as the last channel: what transparency means depends on the purpose, so each caller composites
with :func:`composite` over its own background (annotator input: white; condition map: black = no condition).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ConditionError

WHAT_TO_PASS = (
    "pass an RGB/RGBA/greyscale image: a PIL image, or a numpy array (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) "
    "of uint8, uint16, bool, or float in [0, 1]"
)
_SHAPES = "expected H×W, H×W×1 (grey), H×W×2 (grey+alpha), H×W×3 (RGB) or H×W×4 (RGBA)"
EIGHT_BIT_MODES = ("L", "LA", "RGB", "RGBA")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def unit_array(image: Any, what: str = "image") -> np.ndarray:
    """``image`` (numpy array channels last, or a PIL image) → C-contiguous float32 ``H×W×C`` in [0, 1].

    ``C`` is 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA). ``what`` names the image in error messages
    (:class:`ConditionError`, a ValueError, saying what was wrong and what to pass instead).
    """
    if isinstance(image, np.ndarray):
        arr = image
    elif hasattr(image, "mode") and hasattr(image, "size") and hasattr(image, "convert"):
        return _pil_unit_array(image, what)
    else:
        raise ConditionError(f"unsupported {what} type {type(image).__name__}; {WHAT_TO_PASS}")
    arr = _hwc(arr, what)
    return _scale(arr, arr.dtype, what)


def composite(arr: np.ndarray, background: float) -> np.ndarray:
    """Float ``H×W×C`` in [0, 1] with alpha (C = 2 or 4) → the colour over ``background`` (0 black, 1 white)."""
    if arr.shape[2] not in (2, 4):
        return arr
    alpha = arr[:, :, -1:]
    return arr[:, :, :-1] * alpha + background * (1.0 - alpha)


def to_uint8(arr: np.ndarray) -> np.ndarray:
    """Float in [0, 1] → uint8 (rounded to nearest; 65535 → 255, 32896 → 128)."""
    return np.rint(arr * 255.0).astype(np.uint8)


def _hwc(arr: np.ndarray, what: str) -> np.ndarray:
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and min(arr.shape[1], arr.shape[2]) > 4:
        raise ConditionError(
            f"{what} has shape {arr.shape}, which looks channels-first (C, H, W); "
            f"transpose it to (H, W, C) (e.g. arr.transpose(1, 2, 0)); {WHAT_TO_PASS}"
        )
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ConditionError(f"{what} has {arr.ndim} dimensions (shape {arr.shape}); {_SHAPES}; {WHAT_TO_PASS}")
    if 0 in arr.shape[:2]:
        raise ConditionError(f"{what} is empty (shape {arr.shape}); {_SHAPES}; {WHAT_TO_PASS}")
    if arr.shape[2] not in (1, 2, 3, 4):
        raise ConditionError(f"{what} has {arr.shape[2]} channels (shape {arr.shape}); {_SHAPES}; {WHAT_TO_PASS}")
    return arr


def _pil_unit_array(image: Any, what: str) -> np.ndarray:
    mode = image.mode
    if mode == "1":
        dtype = np.dtype(bool)
    elif mode in EIGHT_BIT_MODES:
        dtype = np.dtype(np.uint8)
    elif mode == "I" or mode.startswith("I;16"):
        dtype = np.dtype(np.uint16)  # 16-bit, whatever the values (I;16B arrives big-endian, I as int32)
    elif mode == "F":
        dtype = np.dtype(np.float32)
    else:
        has_alpha = mode in _ALPHA_MODES or "transparency" in getattr(image, "info", {})
        return unit_array(np.asarray(image.convert("RGBA" if has_alpha else "RGB")), what)
    arr = _hwc(np.asarray(image), what)
    return _scale(arr, dtype, what)


def _scale(arr: np.ndarray, kind: np.dtype, what: str) -> np.ndarray:
    """Scale by ``kind`` (the dtype or mode's meaning), not by the values ``arr`` holds."""
    if kind == np.bool_:
        return np.ascontiguousarray(arr, dtype=np.float32)
    if kind == np.uint8 and arr.dtype == np.uint8:
        return np.ascontiguousarray(arr, dtype=np.float32) / np.float32(255.0)
    if np.issubdtype(kind, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0:
            raise ConditionError(f"{what} has negative values (min {lo}); {WHAT_TO_PASS}")
        limit = 255 if kind == np.uint8 else 65535
        if hi > limit:
            raise ConditionError(
                f"{what} values reach {hi}, above the {8 if limit == 255 else 16}-bit range; {WHAT_TO_PASS}"
            )
        return np.ascontiguousarray(arr, dtype=np.float32) / np.float32(limit)
    if np.issubdtype(kind, np.floating):
        if not np.isfinite(arr).all():
            raise ConditionError(f"{what} contains NaN or infinite values; {WHAT_TO_PASS}")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            raise ConditionError(
                f"float {what} values span [{lo:.3g}, {hi:.3g}]; expected [0, 1]: divide 0-255 data by 255, "
                "or pass it as uint8"
            )
        return np.ascontiguousarray(arr, dtype=np.float32)
    raise ConditionError(f"unsupported {what} dtype {arr.dtype}; {WHAT_TO_PASS}")
