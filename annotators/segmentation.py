"""ADE20k semantic segmentation painted with the ADE20k palette (the T2I seg adapter / ControlNet seg convention:
each pixel gets its class colour, RGB; see `annotators.ade20k_palette`). Model: SegFormer-B5 (no mmcv).

The image is resized (short side = detect resolution), normalised with ImageNet mean/std as SegFormer's image
processor does, the 1/4-resolution logits are upsampled bilinearly to the working size, the argmax class is
painted, and the map is resized back to the input size with nearest neighbour (colours stay exact).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from annotators.ade20k_palette import colourise
from annotators.image import resize_to, short_side_resize
from annotators.registry import RESOLUTION, register

WEIGHTS = "segformer-b5-finetuned-ade-640-640.bin"
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@functools.lru_cache(maxsize=1)
def _model(path: str) -> Any:
    from annotators.nets import default_device
    from annotators.nets.segformer import load_segformer

    return load_segformer(path).to(default_device())


def class_map(image: np.ndarray, *, resolution: int = 512, weights_path: str | None = None) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> int64 (H', W') ADE20k class indices at the working size."""
    import torch
    import torch.nn.functional as F

    from annotators.weights import ensure_weights

    model = _model(str(ensure_weights(WEIGHTS, weights_path)))
    work = short_side_resize(image, resolution)
    x = (work.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    device = next(model.parameters()).device
    pixels = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None].to(device)
    with torch.no_grad():
        logits = model(pixel_values=pixels).logits
        logits = F.interpolate(logits, size=work.shape[:2], mode="bilinear", align_corners=False)
    return logits[0].argmax(dim=0).cpu().numpy()


@register(output="rgb", params=(RESOLUTION,), weights=(WEIGHTS,), suits=("seg",))
def segmentation_ade20k(image: np.ndarray, *, resolution: int) -> np.ndarray:
    """SegFormer-B5 ADE20k segmentation in the ADE20k colour palette (seg adapters)."""
    labels = class_map(image, resolution=resolution)
    return resize_to(colourise(labels), image.shape[:2], nearest=True)
