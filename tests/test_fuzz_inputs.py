"""Property-based fuzzing of what users hand us (issue 9): condition images of every PIL mode and numpy dtype, and
unit dicts of random keys, values and types. Only the project's own errors may come out, and what comes out is in
range and finite. Derandomized with small example counts, so the suite stays fast and reproducible."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

import annotators
from t2i_ext import ConditionError, condition_tensor
from t2i_host.images import decode_image
from t2i_host.unit_args import FIELD_ALIASES, IGNORED_FIELDS, UnitArgs, UnitArgsError

FUZZ = settings(
    derandomize=True, max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
DTYPES = [np.bool_, np.uint8, np.uint16, np.int32, np.float16, np.float32, np.float64]
MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16", "I;16B", "F", "CMYK"]
sides = st.integers(1, 17)  # 1×1 and odd sizes included


@st.composite
def arrays(draw) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = (draw(sides), draw(sides)) + draw(st.sampled_from([(), (1,), (2,), (3,), (4,), (5,)]))
    if dtype.kind == "f":
        elements = st.floats(width=min(64, dtype.itemsize * 8), allow_nan=True, allow_infinity=True)
        if draw(st.booleans()):  # mostly in range, so the success path is exercised too
            elements = st.floats(0, 1, width=min(64, dtype.itemsize * 8))
        return draw(hnp.arrays(dtype, shape, elements=elements))
    return draw(hnp.arrays(dtype, shape))


@st.composite
def pil_images(draw) -> Image.Image:
    mode = draw(st.sampled_from(MODES))
    h, w = draw(sides), draw(sides)
    if mode in ("I", "I;16", "I;16B"):
        values = draw(hnp.arrays(np.uint16, (h, w)))
        if mode == "I":
            return Image.fromarray(values.astype(np.int32), "I")
        return Image.frombytes(mode, (w, h), values.astype("<u2" if mode == "I;16" else ">u2").tobytes())
    if mode == "F":
        floats = st.floats(width=32, allow_nan=True, allow_infinity=True) | st.floats(0, 1, width=32)
        return Image.fromarray(draw(hnp.arrays(np.float32, (h, w), elements=floats)), "F")
    rgba = Image.fromarray(draw(hnp.arrays(np.uint8, (h, w, 4))), "RGBA")
    return rgba.convert(mode)


images = arrays() | pil_images()


def is_project_error(e: BaseException) -> bool:
    return isinstance(e, ValueError) and bool(str(e))


@FUZZ
@given(images, st.sampled_from([1, 3]))
def test_condition_tensor_gives_finite_unit_range_or_a_condition_error(image, channels):
    try:
        t = condition_tensor(image, channels, multiple=1)
    except ConditionError as e:
        assert str(e)
        return
    assert t.shape[:2] == (1, channels) and t.isfinite().all() and t.min() >= 0 and t.max() <= 1


@FUZZ
@given(images)
def test_the_host_decoder_gives_uint8_rgb_or_rgba_or_a_value_error(image):
    try:
        out = decode_image(image)
    except Exception as e:
        assert is_project_error(e), repr(e)
        return
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] in (3, 4)
    t = condition_tensor(out, 1, multiple=1)  # every decoded image is a valid condition
    assert t.isfinite().all() and 0 <= t.min() and t.max() <= 1


@settings(FUZZ, max_examples=40)
@given(images)
def test_canny_takes_any_image_or_says_what_is_wrong(image):
    try:
        out = annotators.run("canny", image)
    except Exception as e:
        assert is_project_error(e), repr(e)
        return
    assert out.dtype == np.uint8 and out.ndim == 2 and set(np.unique(out)) <= {0, 255}


# -- unit dicts --------------------------------------------------------------------------------------------------------
NAMES = sorted({f for f in UnitArgs.__dataclass_fields__} | set(FIELD_ALIASES) | set(IGNORED_FIELDS))
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["", "none", "canny", "-1", "1.5", "Balanced", "Just Resize", "data:image/png;base64,", "aGk="])
    | st.builds(np.float32, st.floats(-3, 3, width=32))
    | st.builds(np.int64, st.integers(-3, 3))
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
unit_dicts = st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=8), values, max_size=6)


@settings(FUZZ, max_examples=150)
@given(unit_dicts)
def test_unit_dicts_parse_or_raise_a_unit_args_error_naming_a_field(raw):
    try:
        args = UnitArgs.parse(raw, 0, set(annotators.names()))
    except UnitArgsError as e:
        assert e.field and e.unit == 0 and e.status_code == 422, str(e)
        return
    assert math.isfinite(args.weight) and 0 <= args.guidance_start <= args.guidance_end <= 1
    assert isinstance(args.processor_res, int)
    assert UnitArgs.from_infotext(args.to_infotext(), 0).to_dict(with_image=False) == args.to_dict(with_image=False)



# an infotext is anybody's text: it arrives pasted from a downloaded PNG, or in an API request's "infotext"
infotext_pieces = st.sampled_from(
    [*NAMES, ":", ",", " ", '"', '\\"', "\\", "{", "}", "[", "]", "\n", "\x00", "1e999", "nan", "-1", "0.5", "canny"]
)
infotexts = st.lists(infotext_pieces | st.text(max_size=6), max_size=24).map("".join)


@settings(FUZZ, max_examples=300)
@given(infotexts)
def test_any_infotext_gives_a_unit_or_a_unit_args_error(text):
    try:
        args = UnitArgs.from_infotext(text, 1)
    except UnitArgsError as e:
        assert e.unit == 1 and e.status_code == 422, str(e)
        return
    assert UnitArgs.from_infotext(args.to_infotext(), 1) == args


def test_deeply_nested_annotator_params_in_an_infotext_are_refused_naming_the_field():
    with pytest.raises(UnitArgsError, match="not valid JSON") as e:
        UnitArgs.from_infotext('annotator_params: "' + "[" * 100_000 + '"', 0)
    assert e.value.field == "annotator_params"
