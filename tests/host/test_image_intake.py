"""Issue 15: one image intake. Every image — unit images over HTTP, the panel's, batch folders, files read by the
annotators CLI and the trainer — meets the same budget (pixels and aspect ratio) before any large allocation, and
the resize to the generation is bounded by its target too."""

from __future__ import annotations

import base64
import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from t2i_host import resize
from t2i_host.images import MAX_ASPECT, decode_image, read_image_file, to_rgb_or_rgba
from t2i_host.unit_args import UnitArgs, UnitArgsError

ROOT = Path(__file__).resolve().parents[2]


def strip_png(width: int, height: int) -> bytes:
    """A tiny valid PNG of ``width×height`` black pixels (a 65535×1 one is 141 bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = (b"\0" + b"\0" * width) * height
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def png_b64(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_141_byte_strip_of_65535x1_is_refused_as_a_unit_image_naming_the_field():
    raw = strip_png(65535, 1)
    assert len(raw) < 200
    with pytest.raises(UnitArgsError, match=f"65535×1, a side more than {MAX_ASPECT} times") as info:
        UnitArgs.parse({"image": base64.b64encode(raw).decode()}, 0)
    assert info.value.field == "image" and info.value.unit == 0


def test_the_panel_and_img2img_images_meet_the_same_budget():
    # the panel's gradio image and img2img's input arrive decoded, as an array or a PIL image
    with pytest.raises(ValueError, match="a side more than"):
        to_rgb_or_rgba(np.zeros((1, 4000, 3), np.uint8))
    with pytest.raises(ValueError, match="a side more than"):
        to_rgb_or_rgba(Image.new("RGB", (1, 4000)))
    assert to_rgb_or_rgba(np.zeros((1, MAX_ASPECT, 3), np.uint8)).shape == (1, MAX_ASPECT, 3)  # the limit itself


def test_the_file_reader_names_the_file_and_refuses_before_decoding(tmp_path):
    strip = tmp_path / "strip.png"
    strip.write_bytes(strip_png(65535, 1))
    with pytest.raises(ValueError, match="^strip.png: image is 65535×1, a side more than"):
        read_image_file(strip)
    for name, content, words in [
        ("notes.png", b"a caption, not a picture\n", "this file is text, not an image"),
        ("page.png", b"<!doctype html><html></html>", "this is an HTML web page, not an image"),
        ("empty.png", b"", "the file is empty"),
    ]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=f"^{name}: {words}"):
            read_image_file(tmp_path / name)
    with pytest.raises(ValueError, match="^missing.png: no such file"):
        read_image_file(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="is a folder"):
        read_image_file(tmp_path)


def test_the_file_reader_applies_the_exif_rotation(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    Image.new("RGB", (40, 20)).save(path, exif=exif)
    assert read_image_file(path).size == (20, 40)
    assert read_image_file(path, exif_transpose=False).size == (40, 20)


def test_a_pillow_decompression_bomb_error_is_a_refusal_too(tmp_path, monkeypatch):
    # where the host leaves Pillow's own limit on (below ours here), its DecompressionBombError is our refusal
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    path = tmp_path / "big.png"
    Image.new("L", (40, 40)).save(path)
    with pytest.raises(ValueError, match="^big.png: image is too large, above the .*megapixel limit"):
        read_image_file(path)


def test_importing_the_reader_is_light():
    # the annotators CLI and the trainer read their files through it: it must not pull in torch or the core
    code = "import sys, t2i_host.images; print(sorted({'torch', 't2i_ext', 'PIL'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_line_wrapped_base64_is_accepted_as_the_webui_accepts_it(newline):
    image = (np.random.default_rng(0).random((24, 40, 3)) * 255).astype(np.uint8)
    flat = png_b64(image)
    wrapped = newline.join(flat[i : i + 76] for i in range(0, len(flat), 76)) + newline
    assert np.array_equal(decode_image(wrapped), image)
    assert np.array_equal(decode_image("data:image/png;base64," + wrapped), image)


@pytest.mark.parametrize("junk", [" ", "\t", "!", "\x00", "é"])
def test_base64_with_anything_but_line_breaks_is_refused(junk):
    # the WebUI's non-validating b64decode drops any such character silently; we refuse it
    flat = png_b64(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="is not valid base64"):
        decode_image(flat[:20] + junk + flat[20:])


def test_base64_without_its_padding_is_refused_as_the_webui_refuses_it():
    # the WebUI's b64decode raises "Incorrect padding" for such text: accept what it accepts, nothing else
    flat = next(b for n in range(1, 9) if (b := png_b64(np.zeros((n, n, 3), np.uint8))).endswith("="))
    assert np.array_equal(decode_image(flat), np.zeros_like(decode_image(flat)))
    with pytest.raises(ValueError, match="is not valid base64"):
        decode_image(flat.rstrip("="))


def test_base64_of_a_web_page_says_so():
    with pytest.raises(ValueError, match="HTML web page, not an image"):
        decode_image(base64.b64encode(b"<!DOCTYPE html><html>404</html>").decode())


def test_the_resize_refuses_a_strip_outside_the_budget():
    with pytest.raises(ValueError, match="a side more than"):
        resize.resize_to(np.zeros((1, 200), np.uint8), 512, 512, resize.ResizeMode.CROP_AND_RESIZE)


@pytest.mark.parametrize("shape", [(1, MAX_ASPECT), (MAX_ASPECT, 1), (3, 90)])
def test_crop_and_resize_of_a_long_strip_scales_no_more_than_the_target_needs(monkeypatch, shape):
    scaled = []
    real = resize._scale
    monkeypatch.setattr(resize, "_scale", lambda im, w, h: scaled.append(w * h) or real(im, w, h))
    image = (np.random.default_rng(1).random((*shape, 3)) * 255).astype(np.uint8)
    out = resize.resize_to(image, 512, 512, resize.ResizeMode.CROP_AND_RESIZE)
    assert out.shape == (512, 512, 3)
    # the whole strip scaled to cover 512×512 would be 32 times the target; the pre-crop keeps it near the target
    assert max(scaled) <= 3 * 512 * 512, max(scaled)


def test_the_pre_crop_keeps_what_the_full_scale_would_show(monkeypatch):
    image = np.zeros((4, 128, 3), np.uint8)
    image[:, 62:66] = 255  # a bright bar in the centre, which the crop keeps
    cropped = resize.resize_to(image, 64, 64, resize.ResizeMode.CROP_AND_RESIZE)
    monkeypatch.setattr(resize, "PRECROP_FACTOR", 10**9)
    full = resize.resize_to(image, 64, 64, resize.ResizeMode.CROP_AND_RESIZE)
    assert np.array_equal(cropped, full)
