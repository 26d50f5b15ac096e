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
from .pixels import composite, unit_array

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

    Accepts numpy arrays ``H×W``, ``H×W×1|2|3|4`` and PIL images of any mode, scaled by their dtype or mode as
    :mod:`t2i_ext.pixels` states (uint8 /255, uint16 and 16-bit modes /65535, float in [0, 1]), and float tensors
    ``[C, H, W]``/``[N, C, H, W]`` in [0, 1].
    """
    images = list(image) if isinstance(image, (list, tuple)) else [image]
    if not images:
        raise ConditionError("no condition image given: pass an image or a non-empty list of images.")
    if channels not in (1, 3):
        raise ConditionError(f"channels must be 1 or 3, not {channels}.")
    if isinstance(multiple, bool) or not isinstance(multiple, (int, np.integer)) or multiple < 1:
        raise ConditionError(
            f"multiple must be a positive whole number (8 for SD1 adapters, 16 for SDXL), not {multiple!r}."
        )
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
        image = arr.permute(1, 2, 0).numpy()
    # scaling by mode/dtype lives in pixels.py; the rule here: transparent means "no condition", i.e. black
    return np.ascontiguousarray(composite(unit_array(image, "condition image"), background=0.0), dtype=np.float32)


def _to_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    have = arr.shape[2]
    if have == channels:
        return arr
    if channels == 3:
        return np.repeat(arr, 3, axis=2)
    return (arr @ np.asarray(_LUMA, dtype=np.float32))[:, :, None]
