"""Mirrors modules/images.py@v1.10.1: ``resize_image`` (0 Just resize, 1 Crop and resize, 2 Resize and fill,
3 Just resize (latent upscale)), ``flatten``, ``image_grid``, ``save_image`` (not used: the stand-in saves nothing)."""

from __future__ import annotations

import math

from PIL import Image

LANCZOS = Image.Resampling.LANCZOS


def resize_image(resize_mode, im, width, height, upscaler_name=None):
    def resize(im, w, h):
        # images.py: upscalers only when enlarging with a named upscaler; otherwise PIL LANCZOS
        return im.resize((w, h), resample=LANCZOS)

    if resize_mode == 0 or resize_mode == 3:
        return resize(im, width, height)
    ratio = width / height
    src_ratio = im.width / im.height
    if resize_mode == 1:
        src_w = width if ratio > src_ratio else im.width * height // im.height
        src_h = height if ratio <= src_ratio else im.height * width // im.width
        resized = resize(im, src_w, src_h)
        res = Image.new("RGB", (width, height))
        res.paste(resized, box=(width // 2 - src_w // 2, height // 2 - src_h // 2))
        return res
    # resize_mode == 2: fit inside, then stretch the border rows/columns into the padding
    src_w = width if ratio < src_ratio else im.width * height // im.height
    src_h = height if ratio >= src_ratio else im.height * width // im.width
    resized = resize(im, src_w, src_h)
    res = Image.new("RGB", (width, height))
    res.paste(resized, box=(width // 2 - src_w // 2, height // 2 - src_h // 2))
    if ratio < src_ratio:
        fill_height = height // 2 - src_h // 2
        if fill_height > 0:
            res.paste(resized.resize((width, fill_height), box=(0, 0, width, 0)), box=(0, 0))
            res.paste(
                resized.resize((width, fill_height), box=(0, resized.height, width, resized.height)),
                box=(0, fill_height + src_h),
            )
    elif ratio > src_ratio:
        fill_width = width // 2 - src_w // 2
        if fill_width > 0:
            res.paste(resized.resize((fill_width, height), box=(0, 0, 0, height)), box=(0, 0))
            res.paste(
                resized.resize((fill_width, height), box=(resized.width, 0, resized.width, height)),
                box=(fill_width + src_w, 0),
            )
    return res


def flatten(img, bgcolor):
    """images.py: composite an image with transparency onto ``bgcolor``."""
    if img.mode == "RGBA":
        background = Image.new("RGBA", img.size, bgcolor)
        background.paste(img, mask=img)
        img = background
    return img.convert("RGB")


def image_grid(imgs, batch_size=1, rows=None):
    if rows is None:
        rows = max(1, round(math.sqrt(len(imgs))))
    cols = math.ceil(len(imgs) / rows)
    w, h = imgs[0].size
    grid = Image.new("RGB", size=(cols * w, rows * h), color="black")
    for i, img in enumerate(imgs):
        grid.paste(img, box=(i % cols * w, i // cols * h))
    return grid


def save_image(*args, **kwargs):
    return None, None


def read(fp, **kwargs):
    return Image.open(fp, **kwargs)
