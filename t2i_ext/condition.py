"""Condition images → the tensor an adapter expects: ``[N, C, H, W]`` float in [0, 1], RGB order.

Conventions (facts §7): 1-channel adapters (SD1 sketch/canny, cin 64; SDXL cin 256) get the luma of an RGB image
(ITU-R 601, what PIL's "L" gives: identical to any channel for grey maps); 3-channel adapters get RGB, a grey image
replicated. Transparent pixels count as black (no condition): RGBA is composited over black. Height and width must
be multiples of the adapter's PixelUnshuffle factor (8 for SD1, 16 for SDXL); any such size works, because the
adapter pools with the same rounding as the UNet's downsampling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Union

import numpy as np
import torch

from .errors import ConditionError

if TYPE_CHECKING:
    from PIL import Image

ImageLike = Union[np.ndarray, "Image.Image", torch.Tensor]
_LUMA = (0.299, 0.587, 0.114)


def condition_tensor(
    image: ImageLike | Sequence[ImageLike],
    channels: int = 3,
    multiple: int = 8,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Turn one image (or a list of equally sized images: one per batch item) into ``[N, channels, H, W]``.

    Accepts numpy arrays ``H×W``, ``H×W×1|3|4`` (uint8, uint16, bool, or float in [0, 1]), PIL images of any
    mode (L, I;16, RGB, RGBA, P, ...), and float tensors ``[C, H, W]``/``[N, C, H, W]`` in [0, 1].
    """
    images = list(image) if isinstance(image, (list, tuple)) else [image]
    if not images:
        raise ConditionError("no condition image given: pass an image or a non-empty list of images.")
    if channels not in (1, 3):
        raise ConditionError(f"channels must be 1 or 3, not {channels}.")
    arrays = [_to_float_hwc(im) for im in images]
    sizes = {a.shape[:2] for a in arrays}
    if len(sizes) > 1:
        raise ConditionError(f"condition images in one batch must share a size; got {sorted(sizes)} (height, width).")
    height, width = arrays[0].shape[:2]
    if height % multiple or width % multiple:
        raise ConditionError(
            f"condition image is {width}×{height}; this adapter needs width and height that are multiples of "
            f"{multiple}: resize or crop it, e.g. to {_nearest(width, multiple)}×{_nearest(height, multiple)}."
        )
    batch = np.stack([_to_channels(a, channels) for a in arrays])
    # NHWC → NCHW by permute; with one channel the permuted strides still read as channels-last, and convolutions
    # then run channels-last end to end (3.5× slower through the adapter on CPU): force the standard layout.
    return (
        torch.from_numpy(batch)
        .permute(0, 3, 1, 2)
        .to(device=device, dtype=dtype, memory_format=torch.contiguous_format)
    )


def condition_for(adapter: torch.nn.Module, image: ImageLike | Sequence[ImageLike], **kwargs) -> torch.Tensor:
    """:func:`condition_tensor` with the channels and size multiple of ``adapter``."""
    if not getattr(adapter, "is_spatial", False):
        raise ConditionError(f"a {getattr(adapter, 'kind', type(adapter).__name__)} adapter takes no condition image.")
    return condition_tensor(image, adapter.in_channels, adapter.pixel_multiple, **kwargs)


def _nearest(size: int, multiple: int) -> int:
    return max(multiple, round(size / multiple) * multiple)


def _to_float_hwc(image: ImageLike) -> np.ndarray:
    """Any accepted image → float32 ``H×W×C`` in [0, 1] with C ∈ {1, 3} (alpha composited over black)."""
    if isinstance(image, torch.Tensor):
        arr = image.detach().float().cpu()
        if arr.ndim == 4 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.ndim != 3:
            raise ConditionError(
                f"a condition tensor must be [C, H, W] or [1, C, H, W]; got shape {tuple(image.shape)}."
            )
        arr = arr.permute(1, 2, 0).numpy()
    elif isinstance(image, np.ndarray):
        arr = image
    elif hasattr(image, "mode") and hasattr(image, "size"):
        arr = _pil_to_array(image)
    else:
        raise ConditionError(
            f"unsupported condition image type {type(image).__name__}: pass a numpy array or PIL image."
        )

    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4) or 0 in arr.shape:
        raise ConditionError(
            f"condition image has shape {arr.shape}; expected H×W, H×W×1 (grey), H×W×3 (RGB) or H×W×4 (RGBA)."
        )
    arr = _scale_to_unit(arr)
    if arr.shape[2] in (2, 4):  # grey+alpha or RGBA: transparent counts as black
        arr = arr[:, :, :-1] * arr[:, :, -1:]
    return np.ascontiguousarray(arr, dtype=np.float32)


def _scale_to_unit(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if np.issubdtype(arr.dtype, np.integer):  # e.g. PIL mode "I" holding a 16-bit PNG
        if arr.min() < 0 or arr.max() > 65535:
            raise ConditionError(
                f"integer condition image with values {arr.min()}..{arr.max()}; expected 8- or 16-bit."
            )
        return arr.astype(np.float32) / (255.0 if arr.max() <= 255 else 65535.0)
    if np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
        if not np.isfinite(arr).all():
            raise ConditionError("condition image contains NaN or infinite values.")
        if arr.min() < 0 or arr.max() > 1:
            raise ConditionError(
                f"float condition image has values {arr.min():.3g}..{arr.max():.3g}; expected [0, 1] "
                "(divide 8-bit images by 255)."
            )
        return arr
    raise ConditionError(f"unsupported condition image dtype {arr.dtype}.")


def _pil_to_array(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("1", "L", "LA", "RGB", "RGBA", "I", "F") or mode.startswith("I;16"):
        return np.array(image)
    if mode == "P" and "transparency" in image.info:
        return np.array(image.convert("RGBA"))
    return np.array(image.convert("RGB"))  # P, CMYK, YCbCr, LAB, HSV


def _to_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    have = arr.shape[2]
    if have == channels:
        return arr
    if channels == 3:
        return np.repeat(arr, 3, axis=2)
    return (arr @ np.asarray(_LUMA, dtype=np.float32))[:, :, None]
