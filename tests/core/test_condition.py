"""Condition images of every kind → [N, C, H, W] in [0, 1], with clear errors for what cannot work."""

import numpy as np
import pytest
import torch
from PIL import Image

import t2i_ext
from t2i_ext import ConditionError, condition_tensor
from t2i_ext.nets import FullAdapter, FullAdapterXL, StyleAdapter


def test_uint8_rgb_becomes_rgb_in_unit_range():
    img = np.zeros((16, 24, 3), np.uint8)
    img[..., 0] = 255  # pure red stays in channel 0: RGB order is kept
    t = condition_tensor(img)
    assert t.shape == (1, 3, 16, 24) and t.dtype == torch.float32
    assert t[0, 0].min() == 1 and t[0, 1:].max() == 0


def test_rgb_to_one_channel_uses_luma_and_grey_maps_are_unchanged():
    img = np.zeros((8, 8, 3), np.uint8)
    img[..., 1] = 255  # pure green
    assert condition_tensor(img, channels=1)[0, 0, 0, 0].item() == pytest.approx(0.587, abs=1e-6)
    grey = np.random.default_rng(0).integers(0, 256, (8, 16), dtype=np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    assert torch.allclose(condition_tensor(rgb, channels=1), condition_tensor(grey, channels=1), atol=1e-6)
    assert torch.equal(condition_tensor(grey, channels=3)[0, 2], condition_tensor(grey, channels=1)[0, 0])


def test_sixteen_bit_inputs_scale_to_unit_range():
    img = np.full((8, 8), 65535, np.uint16)
    img[0, 0] = 0
    t = condition_tensor(img, channels=1)
    assert t.max() == 1 and t.min() == 0
    pil16 = Image.fromarray(np.full((8, 8), 32768, np.uint16))
    assert condition_tensor(pil16, channels=1).mean().item() == pytest.approx(32768 / 65535, abs=1e-6)


def test_rgba_is_composited_over_black():
    img = np.full((8, 8, 4), 255, np.uint8)
    img[:4, :, 3] = 0  # top half transparent
    t = condition_tensor(Image.fromarray(img, "RGBA"))
    assert t[0, :, :4].max() == 0 and t[0, :, 4:].min() == 1


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I", "F"])
def test_every_pil_mode_is_accepted(mode):
    base = Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8))
    img = base.convert(mode) if mode not in ("I", "F") else base.convert("L").convert(mode)
    if mode == "F":
        img = Image.fromarray(np.asarray(img, np.float32) / 255.0, "F")
    t = condition_tensor(img)
    assert t.shape == (1, 3, 16, 16) and 0 <= t.min() and t.max() <= 1


@pytest.mark.parametrize("channels", [1, 3])
def test_condition_tensors_have_the_standard_layout(channels):
    # a one-channel NHWC→NCHW permute reads as channels-last and would make the adapter's convs run channels-last
    cond = condition_tensor(np.zeros((16, 24, 3), np.uint8), channels=channels)
    assert cond.stride() == (channels * 16 * 24, 16 * 24, 24, 1)


def test_bool_float_and_tensor_inputs():
    mask = np.zeros((8, 8), bool)
    mask[2:4] = True
    assert condition_tensor(mask, channels=1).sum().item() == 16
    f = np.random.default_rng(0).random((8, 16, 3)).astype(np.float32)
    t = condition_tensor(f)
    assert torch.equal(condition_tensor(t[0]), t) and torch.equal(condition_tensor(t), t)


def test_a_list_of_images_is_a_batch():
    imgs = [np.full((8, 8), v, np.uint8) for v in (0, 255)]
    t = condition_tensor(imgs, channels=1)
    assert t.shape == (2, 1, 8, 8) and t[0].max() == 0 and t[1].min() == 1


@pytest.mark.parametrize("size", [(264, 264), (520, 776), (8, 8)])
def test_any_multiple_of_8_works_for_sd1_and_of_16_for_sdxl(size):
    img = np.zeros((*size, 3), np.uint8)
    assert t2i_ext.condition_for(FullAdapter(1, (8, 16, 32, 32)), img).shape == (1, 1, *size)
    with pytest.raises(ConditionError, match="multiples of 16"):
        t2i_ext.condition_for(FullAdapterXL(3, (8, 16, 32, 32)), np.zeros((264, 520, 3), np.uint8))
    assert t2i_ext.condition_for(FullAdapterXL(3, (8, 16, 32, 32)), np.zeros((272, 528, 3), np.uint8)).shape[1] == 3


@pytest.mark.parametrize(
    "image, kwargs, message",
    [
        (np.zeros((100, 64, 3), np.uint8), {}, "is 64×100.*multiples of 8: resize or crop it, e.g. to 64×96"),
        (np.zeros((8, 8, 5), np.uint8), {}, "expected H×W"),
        (np.zeros((0, 8), np.uint8), {}, "expected H×W"),
        (np.full((8, 8), np.nan, np.float32), {}, "NaN"),
        (np.full((8, 8), 2.0, np.float32), {}, r"expected \[0, 1\]"),
        (np.zeros((8, 8), np.complex64), {}, "unsupported condition image dtype"),
        ("image.png", {}, "unsupported condition image type str"),
        ([], {}, "no condition image"),
        ([np.zeros((8, 8)), np.zeros((16, 8))], {}, "must share a size"),
        (np.zeros((8, 8)), {"channels": 2}, "channels must be 1 or 3"),
    ],
)
def test_bad_condition_images_get_clear_errors(image, kwargs, message):
    with pytest.raises(ConditionError, match=message):
        condition_tensor(image, **kwargs)


def test_style_adapter_takes_no_condition_image():
    with pytest.raises(ConditionError, match="style adapter takes no condition image"):
        t2i_ext.condition_for(StyleAdapter(64, 32, 4, 1), np.zeros((8, 8), np.uint8))
