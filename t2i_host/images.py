"""Every image that enters: one checked reader, the image budget, and the one content digest of decoded images.

``decode_image`` takes what the panel, the API, an infotext-less API call or a batch folder gives (base64 with or
without a ``data:image/...;base64,`` prefix, ``{"image", "mask"}`` dicts as the WebUI's gradio image sends them,
numpy arrays, PIL images) and returns uint8 ``H×W×3`` RGB, or ``H×W×4`` RGBA when the image has transparency.
How pixel values are scaled is the core's rule (:mod:`t2i_ext.pixels`: by PIL mode or dtype, never by value).
Alpha is kept on purpose: each purpose composites it its own way — the annotators over white
(``annotators/image.py``), the condition tensor over black (``t2i_ext/condition.py``: transparent = no condition).

**The image budget** (:data:`MAX_PIXELS`, :data:`MAX_ASPECT`, checked by :func:`check_size`) holds for every path
an image takes: HTTP units and ``/t2i-adapter/detect`` (:func:`decode_image`), the panel and img2img's input
(:func:`to_rgb_or_rgba`), the img2img batch folder (:func:`open_image`), and image files read by the annotators
CLI and the trainer's folders (:func:`read_image_file`; this module imports only numpy at load time, and Pillow
and the core when it decodes, so those WebUI-free packages can use it cheaply). Files and bytes are checked from
their header, before any pixel is decoded: a decompression bomb, or a 141-byte PNG of 65535×1 whose resizing to a
generation would need gigabytes, is refused unread. Pillow's own ``MAX_IMAGE_PIXELS`` check is honoured where the
host leaves it on (``DecompressionBombError``), but not relied on: the WebUI may switch it off.
Every refusal is a ValueError whose message says what to send instead (callers name the field; the file readers
name the file).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

#: the most pixels an image may have: 64 megapixels (8192×8192) is far beyond any condition map or training image
MAX_PIXELS = 8192 * 8192
#: the most one side may exceed the other: 32:1 is the widest generation the WebUI makes (2048×64). A 141-byte PNG
#: can declare 65535×1: the annotators and the resize to the generation would work on a strip thousands of times
#: longer than any target
MAX_ASPECT = 32
_DATA_URL = re.compile(r"data:([^;,]*)((?:;[^;,]*)*),", re.IGNORECASE)
_LINE_BREAKS = re.compile(r"\r?\n")  # MIME and PEM wrap base64 in lines


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
    """A base64 image file → like :func:`decode_image`.

    Accepts what the WebUI's own ``decode_base64_to_image`` (``modules/api/api.py``, v1.10.1) is sent by clients:
    an optional ``data:image/*;base64,`` prefix and base64 wrapped in lines (MIME's 76 columns, ``\n`` or
    ``\r\n``, as Python's ``base64.encodebytes`` and many clients write it). Nothing else: any other character
    is refused, where the WebUI's non-validating ``b64decode`` would silently drop it.
    """
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
    text = _LINE_BREAKS.sub("", text)
    try:
        raw = base64.b64decode(text, validate=True)  # padding required, as the WebUI's b64decode requires it
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64; send the image file's bytes base64-encoded (PNG/JPEG/WebP)") from None
    return decode_bytes(raw)


def decode_bytes(raw: bytes) -> np.ndarray:
    """An image file's bytes → like :func:`decode_image`; refuses images outside the budget unread."""
    from PIL import Image

    try:
        im = Image.open(io.BytesIO(raw))
    except Image.DecompressionBombError:  # Pillow's own limit, where the WebUI leaves it on
        raise ValueError(_too_large(None)) from None
    except Exception:  # Pillow raises many types on malformed bytes (OSError, SyntaxError, struct.error, ...)
        raise ValueError(f"base64 decodes to {len(raw)} bytes: {_not_an_image(raw[:512])}") from None
    with im:
        return open_image(im)


def check_size(width: int, height: int) -> None:
    """Refuse (ValueError) an image size outside the budget: :data:`MAX_PIXELS`, :data:`MAX_ASPECT`."""
    if width < 1 or height < 1:
        raise ValueError(f"image is {width}×{height}, empty; send an image with pixels")
    if width * height > MAX_PIXELS:
        raise ValueError(_too_large((width, height)))
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ValueError(
            f"image is {width}×{height}, a side more than {MAX_ASPECT} times the other; "
            "send an image closer to the generation's shape (crop it)"
        )


def open_image(im: Any, exif_transpose: bool = False) -> np.ndarray:
    """An opened, not yet loaded PIL image (from bytes or a file) → like :func:`decode_image`, size-checked first.

    ``exif_transpose`` applies the EXIF rotation (as the WebUI's ``images.read`` does for batch input files).
    """
    return to_rgb_or_rgba(_load_checked(im, exif_transpose))


def read_image_file(path: str | os.PathLike, exif_transpose: bool = True) -> Any:
    """An image file → a loaded PIL image within the budget (EXIF rotation applied, as people see the photo).

    The reader for image files outside the WebUI (the annotators CLI, the trainer's folders). Every refusal is a
    ValueError that starts with the file's name: missing, not a file, not an image, truncated, too large or too
    elongated.
    """
    from PIL import Image

    name = Path(path).name
    try:
        im = Image.open(path)
    except Image.DecompressionBombError:
        raise ValueError(f"{name}: {_too_large(None)}") from None
    except FileNotFoundError:
        raise ValueError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ValueError(f"{name}: is a folder, not an image file") from None
    except OSError as e:
        if isinstance(e, PermissionError):
            raise ValueError(f"{name}: cannot be read ({e.strerror}); check its permissions") from None
        raise ValueError(f"{name}: {_not_an_image(_head(path))}") from None
    except Exception:  # malformed headers raise SyntaxError, struct.error, ...
        raise ValueError(f"{name}: {_not_an_image(_head(path))}") from None
    with im:
        try:
            return _load_checked(im, exif_transpose)
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None


def _load_checked(im: Any, exif_transpose: bool) -> Any:
    """``im`` (opened, not loaded) decoded after its header's size passed :func:`check_size`."""
    from PIL import Image

    width, height = im.size
    check_size(width, height)
    try:
        im.load()  # decode now: a truncated or malformed file fails here
    except Image.DecompressionBombError:
        raise ValueError(_too_large((width, height))) from None
    except Exception:  # as in decode_bytes: any decoding failure is an unreadable image
        raise ValueError(_unreadable("the file is")) from None
    if exif_transpose:
        from PIL import ImageOps

        im = ImageOps.exif_transpose(im)
    return im


def to_rgb_or_rgba(image: Any) -> np.ndarray:
    """A numpy array or PIL image → uint8 RGB, or RGBA when it has alpha (scaled by :mod:`t2i_ext.pixels`).

    Already decoded images (the panel's, img2img's input) are held to the same budget, so what follows (the
    annotators, the resize to the generation) never meets an image that no file or upload could bring.
    """
    if isinstance(image, np.ndarray) and image.ndim >= 2 and image.size:
        check_size(image.shape[1], image.shape[0])
    elif hasattr(image, "mode") and hasattr(image, "size") and image.size[0] and image.size[1]:
        check_size(*image.size)
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] in (3, 4):
        if image.size:
            return np.ascontiguousarray(image)  # already decoded: no float round trip
    from t2i_ext.pixels import EIGHT_BIT_MODES, to_uint8, unit_array  # here: importing this module stays light

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


def _unreadable(what: str) -> str:
    return f"{what} not a readable image; send a PNG, JPEG or WebP file"


def _head(path: str | os.PathLike) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(512)
    except OSError:
        return b"?"


def _not_an_image(head: bytes) -> str:
    """What bytes that Pillow cannot open are, from their start, and what to send instead."""
    todo = "send a PNG, JPEG or WebP image"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head:
        return f"the file is empty; {todo}"
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return f"this is an HTML web page, not an image (a page saved in place of the picture?); {todo}"
    if len(head) >= 9 and head[8:9] == b"{" or head.startswith((b"PK\x03\x04", b"\x80")):
        return f"this is model weights (safetensors or PyTorch), not an image; {todo}"
    try:
        decoded = head.decode("utf-8")
    except UnicodeDecodeError as e:  # a character cut by the 512-byte window still counts as text
        decoded = head[: e.start].decode("utf-8") if e.start >= len(head) - 3 else ""
    if decoded.strip() and all(c.isprintable() or c in "\t\r\n" for c in decoded):
        return f"this file is text, not an image; {todo}"
    return _unreadable("the file is")


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
