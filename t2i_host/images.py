"""Images as hosts send them → uint8 arrays, and the one content digest of decoded images.

``decode_image`` takes what the panel, the API, an infotext-less API call or a batch folder gives (base64 with or
without a ``data:image/...;base64,`` prefix, ``{"image", "mask"}`` dicts as the WebUI's gradio image sends them,
numpy arrays, PIL images) and returns uint8 ``H×W×3`` RGB, or ``H×W×4`` RGBA when the image has transparency.
How pixel values are scaled is the core's rule (:mod:`t2i_ext.pixels`: by PIL mode or dtype, never by value).
Alpha is kept on purpose: each purpose composites it its own way — the annotators over white
(``annotators/image.py``), the condition tensor over black (``t2i_ext/condition.py``: transparent = no condition).

Bytes are decoded with Pillow under this module's own pixel limit (the WebUI may switch Pillow's
``MAX_IMAGE_PIXELS`` check off): a decompression bomb is refused from its header, before any pixel is decoded.
Every refusal is a ValueError whose message says what to send instead (callers name the field).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from t2i_ext.pixels import EIGHT_BIT_MODES, to_uint8, unit_array

#: the largest image decoded from bytes: 64 megapixels (8192×8192) is far beyond any condition map
MAX_PIXELS = 8192 * 8192
_DATA_URL = re.compile(r"data:([^;,]*)((?:;[^;,]*)*),", re.IGNORECASE)


def decode_image(value: Any) -> np.ndarray | None:
    """One image → uint8 ``H×W×3`` (RGB) or ``H×W×4`` (RGBA, when it has alpha); ``None`` for no image."""
    if isinstance(value, dict):
        unknown = set(value) - {"image", "mask"}
        if unknown:
            raise ValueError(f"an image object has the keys 'image' and 'mask', not {sorted(unknown)}")
        return decode_image(value.get("image"))
    if value is None:
        return None
    if isinstance(value, str):
        return decode_base64(value)
    if isinstance(value, np.ndarray) or hasattr(value, "mode") and hasattr(value, "size"):
        return to_rgb_or_rgba(value)
    raise ValueError(f"must be a base64-encoded image (PNG/JPEG/WebP), got {type(value).__name__}")


def decode_base64(text: str) -> np.ndarray | None:
    """A base64 image file (optionally a ``data:image/*;base64,`` URL) → like :func:`decode_image`."""
    text = text.strip()
    if not text:
        return None
    if text[:5].lower() == "data:":
        match = _DATA_URL.match(text)
        if match is None or ";base64" not in match.group(2).lower():
            raise ValueError("a data: URL must look like 'data:image/png;base64,<data>'")
        mime = match.group(1).strip().lower()
        if not mime.startswith("image/"):
            raise ValueError(f"a data: URL of type '{mime or 'none'}' is not an image; send data:image/png;base64,...")
        text = text[match.end() :]
    if text.startswith(("http://", "https://")):
        raise ValueError("URLs are not fetched; send the image itself, base64-encoded")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64; send the image file's bytes base64-encoded (PNG/JPEG/WebP)") from None
    return decode_bytes(raw)


def decode_bytes(raw: bytes) -> np.ndarray:
    """An image file's bytes → like :func:`decode_image`; refuses images over :data:`MAX_PIXELS` unread."""
    from PIL import Image

    try:
        im = Image.open(io.BytesIO(raw))
    except Image.DecompressionBombError:  # Pillow's own limit, where the WebUI leaves it on
        raise ValueError(_too_large(None)) from None
    except Exception:  # Pillow raises many types on malformed bytes (OSError, SyntaxError, struct.error, ...)
        raise ValueError(_unreadable(len(raw))) from None
    with im:
        return open_image(im)


def open_image(im: Any, exif_transpose: bool = False) -> np.ndarray:
    """An opened, not yet loaded PIL image (from bytes or a file) → like :func:`decode_image`, size-checked first.

    ``exif_transpose`` applies the EXIF rotation (as the WebUI's ``images.read`` does for batch input files).
    """
    from PIL import Image

    width, height = im.size
    if width * height > MAX_PIXELS:
        raise ValueError(_too_large((width, height)))
    try:
        im.load()  # decode now: a truncated or malformed file fails here
    except Image.DecompressionBombError:
        raise ValueError(_too_large((width, height))) from None
    except Exception:  # as in decode_bytes: any decoding failure is an unreadable image
        raise ValueError(_unreadable(None)) from None
    if exif_transpose:
        from PIL import ImageOps

        im = ImageOps.exif_transpose(im)
    return to_rgb_or_rgba(im)


def to_rgb_or_rgba(image: Any) -> np.ndarray:
    """A numpy array or PIL image → uint8 RGB, or RGBA when it has alpha (scaled by :mod:`t2i_ext.pixels`)."""
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] in (3, 4):
        if image.size:
            return np.ascontiguousarray(image)  # already decoded: no float round trip
    if getattr(image, "mode", None) in EIGHT_BIT_MODES and image.size[0] and image.size[1]:
        # 8-bit pixels are already what the pixel rule gives (x / 255 * 255): skip the float copies, which for a
        # 64-megapixel upload would cost over a gigabyte
        arr = np.asarray(image)
        arr = arr[:, :, None] if arr.ndim == 2 else arr
    else:
        arr = to_uint8(unit_array(image))  # a ConditionError (a ValueError) says what is wrong with the image
    if arr.shape[2] in (1, 2):  # grey (+ alpha): replicate the grey, keep the alpha last
        arr = np.concatenate([np.repeat(arr[:, :, :1], 3, axis=2), arr[:, :, 1:]], axis=2)
    return np.ascontiguousarray(arr)


def _unreadable(size: int | None) -> str:
    what = f"base64 decodes to {size} bytes that are" if size is not None else "the file is"
    return f"{what} not a readable image; send a PNG, JPEG or WebP file"


def _too_large(size: tuple[int, int] | None) -> str:
    what = f"{size[0]}×{size[1]} ({size[0] * size[1] / 1e6:.0f} megapixels)" if size else "too large"
    return (
        f"image is {what}, above the {MAX_PIXELS / 1e6:.0f}-megapixel limit (a decompression bomb?); "
        "send a smaller image: a condition map needs no more than the generation size"
    )


def image_digest(images: Iterable[np.ndarray]) -> str:
    """A content hash of decoded images (shape, dtype and pixels): equal images give equal keys.

    The one digest of the host layer: the feature cache keys repeat jobs with it, and the img2img batch index
    matches an input image to its file with it.
    """
    h = hashlib.blake2b(digest_size=16)
    for im in images:
        arr = np.ascontiguousarray(im)
        h.update(f"{arr.shape}{arr.dtype}".encode())
        h.update(arr.data)
    return h.hexdigest()
