"""Input normalisation and resizing shared by every annotator.

`to_rgb_uint8` is the one place that decides how an input image becomes the ``uint8 (H, W, 3)`` RGB array the
annotators work on. Rules (documented here so the UI, API and CLI agree):

- numpy arrays, channels last: ``(H, W)`` grey, ``(H, W, 1)`` grey, ``(H, W, 2)`` grey+alpha, ``(H, W, 3)`` RGB,
  ``(H, W, 4)`` RGBA. Channel order is taken to be RGB (convert OpenCV BGR images yourself).
- dtypes: ``uint8`` as is; ``uint16`` (and other integer types whose values exceed 255) scaled to 8 bit with
  ``round(v / 257)`` so 65535 -> 255; other integers must lie in [0, 255]; ``bool`` -> {0, 255}; floats must lie
  in [0, 1] (scaled by 255 and rounded). NaN/inf, negative values or values above the range are errors.
- alpha (RGBA, LA, PIL images with transparency) is composited **on white**, as the ControlNet/T2I code bases
  do (their ``HWC3``): a drawing of black strokes on a transparent canvas becomes black on white, which
  ``invert`` then turns into the white-on-black map edge adapters expect.
- PIL images of any mode: 16-bit modes (``I;16``, ``I``) and ``F`` go through the numpy rules above; every other
  mode (``L``, ``1``, ``P``, ``CMYK``, ``YCbCr``, ``LA``, ``PA``, ``RGBA``, ...) is converted by Pillow.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

try:  # Pillow is optional for callers that pass numpy arrays only.
    from PIL import Image
except ImportError:  # pragma: no cover - Pillow ships with the WebUI
    Image = None  # type: ignore[assignment]

_WHAT_TO_PASS = (
    "pass an RGB/RGBA/greyscale image: a PIL image, or a numpy array (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) "
    "of uint8, uint16, bool, or float in [0, 1]"
)


def to_rgb_uint8(image: Any) -> np.ndarray:
    """Normalise any supported image to a C-contiguous ``uint8`` array ``(H, W, 3)`` in RGB order.

    Raises ValueError saying what was wrong and what to pass instead (empty image, wrong number of dimensions or
    channels, NaN, values out of range, unsupported type).
    """
    if Image is not None and isinstance(image, Image.Image):
        image = _pil_to_array(image)
    if not isinstance(image, np.ndarray):
        raise ValueError(f"unsupported image type {type(image).__name__}; {_WHAT_TO_PASS}")
    arr = image
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and min(arr.shape[1], arr.shape[2]) > 4:
        raise ValueError(
            f"image has shape {arr.shape}, which looks channels-first (C, H, W); "
            f"transpose it to (H, W, C) (e.g. arr.transpose(1, 2, 0)); {_WHAT_TO_PASS}"
        )
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"image has {arr.ndim} dimensions (shape {arr.shape}); {_WHAT_TO_PASS}")
    h, w, c = arr.shape
    if h == 0 or w == 0:
        raise ValueError(f"image is empty (shape {arr.shape}); {_WHAT_TO_PASS}")
    if c not in (1, 2, 3, 4):
        raise ValueError(f"image has {c} channels (shape {arr.shape}); expected 1, 2, 3 or 4; {_WHAT_TO_PASS}")

    arr = _to_uint8(arr)
    if c in (2, 4):
        arr = _composite_on_white(arr)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr)


def _pil_to_array(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        # Keep the full value range; the numpy rules decide the scaling.
        arr = np.array(img)
        if mode.startswith("I;16") and arr.dtype != np.uint16:
            arr = arr.astype(np.uint16)
        return arr
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    return np.array(img.convert("RGBA" if has_alpha else "RGB"))


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    dt = arr.dtype
    if dt == np.uint8:
        return arr
    if dt == np.bool_:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(dt, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"image contains NaN or infinite values; {_WHAT_TO_PASS}")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"float image values span [{lo:g}, {hi:g}], but float images must lie in [0, 1]; "
                "divide 0-255 data by 255, or pass it as uint8"
            )
        return np.rint(arr.astype(np.float32) * 255.0).astype(np.uint8)
    if np.issubdtype(dt, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0:
            raise ValueError(f"image has negative values (min {lo}); {_WHAT_TO_PASS}")
        if dt == np.uint16 or hi > 255:
            if hi > 65535:
                raise ValueError(f"integer image values reach {hi}, above the 16-bit range; {_WHAT_TO_PASS}")
            # 65535 / 257 == 255 exactly: the standard 16 -> 8 bit mapping.
            return ((arr.astype(np.uint32) * 2 + 257) // 514).astype(np.uint8)
        return arr.astype(np.uint8)
    raise ValueError(f"unsupported image dtype {dt}; {_WHAT_TO_PASS}")


def _composite_on_white(arr: np.ndarray) -> np.ndarray:
    colour = arr[:, :, :-1].astype(np.float32)
    alpha = arr[:, :, -1:].astype(np.float32) / 255.0
    out = colour * alpha + 255.0 * (1.0 - alpha)
    return np.rint(out).astype(np.uint8)


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
