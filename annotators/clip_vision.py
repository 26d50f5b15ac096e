"""Style tokens for the T2I style adapter: CLIP ViT-L/14 vision ``last_hidden_state``, ``[1, 257, 1024]``.

Preprocessing reproduces `CLIPProcessor` for openai/clip-vit-large-patch14 (what the T2I style adapter was used
with): shortest side to 224 with PIL bicubic, centre crop 224x224, scale to [0, 1], normalise with CLIP's
mean/std. ``crop=False`` squashes the whole image to 224x224 instead (sd-webui-controlnet's
``t2ia_style_clipvision`` behaviour; keeps the borders, distorts the aspect).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from annotators.registry import Param, register

WEIGHTS = "clip-vit-large-patch14.safetensors"
SIZE = 224
CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def preprocess(image: np.ndarray, *, crop: bool = True) -> np.ndarray:
    """uint8 RGB ``(H, W, 3)`` -> float32 ``(3, 224, 224)`` CLIP input."""
    from PIL import Image

    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 RGB image (H, W, 3), got {image.dtype} {image.shape}")
    pil = Image.fromarray(image)
    w, h = pil.size
    if crop:
        # transformers' get_resize_output_image_size: short side -> 224, long side int(224 * long / short).
        if w <= h:
            size = (SIZE, int(SIZE * h / w))
        else:
            size = (int(SIZE * w / h), SIZE)
        pil = pil.resize(size, Image.BICUBIC)
        arr = np.asarray(pil)
        top = (arr.shape[0] - SIZE) // 2
        left = (arr.shape[1] - SIZE) // 2
        arr = arr[top : top + SIZE, left : left + SIZE]
    else:
        arr = np.asarray(pil.resize((SIZE, SIZE), Image.BICUBIC))
    x = arr.astype(np.float32) / 255.0
    x = (x - CLIP_MEAN) / CLIP_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1))


@functools.lru_cache(maxsize=1)
def _model(path: str) -> Any:
    from annotators.nets import default_device
    from annotators.nets.clip_vision import load_clip_vision

    return load_clip_vision(path).to(default_device())


def encode(image: np.ndarray, *, crop: bool = True, weights_path: str | None = None) -> Any:
    """uint8 RGB image -> float32 torch tensor ``[1, 257, 1024]`` (CPU)."""
    import torch

    from annotators.weights import ensure_weights

    model = _model(str(ensure_weights(WEIGHTS, weights_path)))
    device = next(model.parameters()).device
    pixels = torch.from_numpy(preprocess(image, crop=crop))[None].to(device)
    with torch.no_grad():
        tokens = model(pixel_values=pixels).last_hidden_state
    return tokens.float().cpu()


@register(
    output="tokens",
    params=(Param("crop", True, label="Centre-crop like CLIPProcessor (off: squash to 224x224)"),),
    weights=(WEIGHTS,),
    suits=("style",),
)
def clip_vision(image: np.ndarray, *, crop: bool) -> Any:
    """CLIP ViT-L/14 image tokens [1, 257, 1024] for the T2I style adapter."""
    return encode(image, crop=crop)
