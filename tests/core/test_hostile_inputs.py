"""Issue 9, core: inputs that used to be misread or to end in a bare Python error (each test failed before its fix)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from annotators.image import to_rgb_uint8
from t2i_ext import AdapterUnit, ConditionError, InjectionError, compute_features, condition_tensor
from t2i_ext.errors import AdapterOutputError
from t2i_ext.nets import FullAdapter


def sixteen_bit_png(value: int) -> Image.Image:
    """A 16-bit grey PNG as Pillow 9.5 opens it (mode ``I``)."""
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8), value, np.uint16)).save(buffer, format="PNG")
    buffer.seek(0)
    return Image.open(buffer)


def test_16_bit_images_with_small_values_are_scaled_as_16_bit_by_their_mode():
    png = sixteen_bit_png(200)
    big_endian = Image.frombytes("I;16B", (8, 8), np.full((8, 8), 200, ">u2").tobytes())
    assert png.mode == "I" and big_endian.mode == "I;16B"
    for image in (png, big_endian, np.full((8, 8), 200, np.uint16)):
        assert condition_tensor(image, channels=1).max().item() == pytest.approx(200 / 65535)
        assert to_rgb_uint8(image).max() == 1  # round(200 / 257): the annotators read it alike


def test_a_zero_size_multiple_is_a_condition_error():
    with pytest.raises(ConditionError, match="multiple must be a positive whole number"):
        condition_tensor(np.zeros((8, 8), np.uint8), 1, 0)


def features() -> list[torch.Tensor]:
    return [torch.zeros(1, 8, 4, 4), torch.zeros(1, 8, 2, 2), torch.zeros(1, 8, 1, 1), torch.zeros(1, 8, 1, 1)]


@pytest.mark.parametrize("weight", [np.float32(0.5), np.float64(0.5), torch.tensor(0.5), np.int64(1)])
def test_numpy_and_torch_scalars_are_accepted_as_weights(weight):
    assert AdapterUnit(features=features(), weight=weight).level_scale(3) == float(weight)


@pytest.mark.parametrize("field, value", [("start", "0"), ("end", None), ("weight", True), ("start", float("nan"))])
def test_non_numeric_unit_fields_are_injection_errors_naming_the_field(field, value):
    with pytest.raises(InjectionError, match=f"{field} must be a finite number"):
        AdapterUnit(features=features(), **{field: value})


def test_an_adapter_pass_with_nan_outputs_is_refused_once_with_a_clear_error():
    adapter = FullAdapter(1, (8, 16, 32, 32), 1, 8).eval()
    with torch.no_grad():
        next(adapter.parameters()).fill_(float("nan"))
    with pytest.raises(AdapterOutputError, match="NaN or infinite.*re-download"):
        compute_features(adapter, torch.zeros(1, 1, 64, 64))
