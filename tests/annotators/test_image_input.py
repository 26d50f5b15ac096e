"""Input normalisation: every accepted form becomes uint8 (H, W, 3) RGB; bad inputs say what is wrong."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from annotators.image import to_rgb_uint8


def test_rgb_uint8_passes_through_unchanged():
    img = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    out = to_rgb_uint8(img)
    assert out.dtype == np.uint8 and out.shape == (5, 7, 3)
    np.testing.assert_array_equal(out, img)


@pytest.mark.parametrize("shape", [(4, 6), (4, 6, 1)])
def test_grey_arrays_are_replicated_to_three_channels(shape):
    grey = np.arange(24, dtype=np.uint8).reshape(shape)
    out = to_rgb_uint8(grey)
    assert out.shape == (4, 6, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], grey.reshape(4, 6))


def test_rgba_is_composited_on_white():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)  # opaque: colour kept
    rgba[0, 1] = (0, 0, 0, 0)  # transparent: white
    rgba[1, 0] = (0, 0, 0, 128)  # half: mid grey
    out = to_rgb_uint8(rgba)
    assert tuple(out[0, 0]) == (10, 20, 30)
    assert tuple(out[0, 1]) == (255, 255, 255)
    assert tuple(out[1, 0]) == (127, 127, 127)


def test_uint16_is_scaled_to_8_bit():
    img = np.array([[0, 257, 32896, 65535]], np.uint16)
    out = to_rgb_uint8(img)
    assert out[0, :, 0].tolist() == [0, 1, 128, 255]


def test_pil_16_bit_image_is_scaled_like_the_array():
    arr = np.array([[0, 1000, 40000, 65535]], np.uint16)
    pil = Image.fromarray(arr)
    assert pil.mode.startswith("I;16")
    np.testing.assert_array_equal(to_rgb_uint8(pil), to_rgb_uint8(arr))


def test_bool_and_float_inputs():
    assert to_rgb_uint8(np.array([[True, False]]))[0, :, 0].tolist() == [255, 0]
    assert to_rgb_uint8(np.array([[0.0, 0.5, 1.0]], np.float32))[0, :, 0].tolist() == [0, 128, 255]


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "1", "CMYK", "LA"])
def test_pil_modes_become_rgb_of_the_same_size(mode):
    base = Image.new("RGB", (9, 5), (200, 100, 50))
    img = base.convert(mode)
    out = to_rgb_uint8(img)
    assert out.shape == (5, 9, 3) and out.dtype == np.uint8


@pytest.mark.parametrize(
    "bad, words",
    [
        (np.zeros((0, 5, 3), np.uint8), "empty"),
        (np.zeros((4, 4, 5), np.uint8), "5 channels"),
        (np.zeros((2, 4, 4, 3), np.uint8), "4 dimensions"),
        (np.zeros((3, 64, 64), np.uint8), "channels-first"),
        (np.array([[0.5, np.nan]]), "NaN"),
        (np.array([[0.0, 2.0]]), "[0, 1]"),
        (np.array([[-1, 5]]), "negative"),
        ("not an image", "unsupported image type"),
    ],
)
def test_bad_input_raises_value_error_saying_what_is_wrong(bad, words):
    with pytest.raises(ValueError) as info:
        to_rgb_uint8(bad)
    message = str(info.value)
    assert words in message
    assert "pass" in message or "divide" in message or "transpose" in message  # says what to do
