"""The unit args model: defaults, every field's validation message, images, enums, infotext round trip."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from t2i_ext.units import ControlMode
from t2i_host.resize import ResizeMode
from t2i_host.unit_args import UnitArgs, UnitArgsError, annotator_values, units_with_infotext
from tests.controlnet_client import controlnet_unit


def png_b64(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_omitted_fields_take_defaults_and_enabled_defaults_to_true():
    args = UnitArgs.parse({})
    assert args.enabled is True and args.weight == 1.0 and args.module == "none" and args.model == ""
    assert args.resize_mode is ResizeMode.CROP_AND_RESIZE and args.control_mode is ControlMode.BALANCED
    assert args.processor_res == -1 and args.threshold_a == -1 and not args.image


def test_none_is_a_disabled_unit():
    assert UnitArgs.parse(None).enabled is False


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("enabled", "yes", "true or false"),
        ("model", 3, "must be a string"),
        ("module", ["canny"], "must be a string"),
        ("image", "not base64!", "not valid base64"),
        ("image", base64.b64encode(b"hello").decode(), "this file is text, not an image"),
        ("image", 42, "base64-encoded image"),
        ("weight", "heavy", "must be a number"),
        ("weight", 2.5, "out of range"),
        ("weight", float("nan"), "finite"),
        ("guidance_start", -0.1, "out of range"),
        ("guidance_end", 1.5, "out of range"),
        ("resize_mode", "Stretch", "Just Resize"),
        ("resize_mode", 3, "0/1/2"),
        ("processor_res", 4096, "out of range"),
        ("processor_res", 512.5, "whole number"),
        ("threshold_a", "low", "must be a number"),
        ("threshold_b", None, "must be a number"),
        ("control_mode", "Strong", "Balanced"),
        ("control_mode", True, "boolean"),
        ("pixel_perfect", 1, "true or false"),
        ("low_vram", "maybe", "true or false"),
        ("annotator_params", [1], "object of annotator parameters"),
        ("batch_folder", 5, "must be a string"),
    ],
)
def test_every_field_names_itself_in_its_error(field, value, words):
    with pytest.raises(UnitArgsError) as e:
        UnitArgs.parse({field: value}, unit=1)
    assert f"unit 1: field '{field}'" in str(e.value) and words in str(e.value)
    assert e.value.field == field and e.value.status_code == 422


def test_unknown_field_is_refused_with_a_suggestion():
    with pytest.raises(UnitArgsError, match="field 'wieght': unknown field; did you mean 'weight'"):
        UnitArgs.parse({"wieght": 1})


def test_non_dict_unit_is_refused():
    with pytest.raises(UnitArgsError, match="JSON object"):
        UnitArgs.parse("canny")


def test_start_after_end_is_refused():
    with pytest.raises(UnitArgsError, match="guidance_start"):
        UnitArgs.parse({"guidance_start": 0.8, "guidance_end": 0.2})


def test_unknown_module_is_refused_when_modules_are_known():
    with pytest.raises(UnitArgsError, match="did you mean 'canny'"):
        UnitArgs.parse({"module": "cany"}, known_modules={"canny", "pidinet"})
    assert UnitArgs.parse({"module": "t2ia_sketch_pidi"}, known_modules={"pidinet"}).module == "pidinet"


def test_base64_with_and_without_data_prefix_and_gradio_dicts():
    rgb = (np.arange(48, dtype=np.uint8).reshape(4, 4, 3) * 5).astype(np.uint8)
    b64 = png_b64(rgb)
    for value in (b64, "data:image/png;base64," + b64, {"image": b64, "mask": None}, rgb):
        (image,) = UnitArgs.parse({"image": value}).image
        assert image.dtype == np.uint8 and np.array_equal(image, rgb)


def test_rgba_keeps_its_alpha_for_each_purpose_and_grey_becomes_rgb():
    # issue 8: the decoder keeps alpha; the condition map counts transparent as black (no condition), the
    # annotators composite over white (black strokes on a transparent canvas stay black on white)
    from annotators.image import to_rgb_uint8
    from t2i_ext import condition_tensor

    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[0, 0, 3] = 255
    (image,) = UnitArgs.parse({"image": png_b64(rgba)}).image
    assert image.shape == (2, 2, 4) and tuple(image[0, 0]) == (200, 200, 200, 255) and image[1, 1, 3] == 0
    cond = condition_tensor(image, multiple=1)
    assert cond[0, 0, 0, 0].item() == pytest.approx(200 / 255) and cond[0, :, 1, 1].max() == 0  # transparent → black
    assert tuple(to_rgb_uint8(image)[1, 1]) == (255, 255, 255)  # annotator input: transparent → white
    (grey,) = UnitArgs.parse({"image": png_b64(np.full((3, 3), 7, np.uint8))}).image
    assert grey.shape == (3, 3, 3)


def test_a_list_of_images_is_one_per_batch_image():
    a, b = np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 255, np.uint8)
    assert len(UnitArgs.parse({"image": [png_b64(a), png_b64(b)]}).image) == 2


@pytest.mark.parametrize(
    "value, mode",
    [
        (0, "Just Resize"),
        (1, "Crop and Resize"),
        (2, "Resize and Fill"),
        ("just resize", "Just Resize"),
        ("Envelope (Outer Fit)", "Resize and Fill"),
    ],
)
def test_resize_mode_names_and_ints(value, mode):
    assert UnitArgs.parse({"resize_mode": value}).resize_mode.value == mode


@pytest.mark.parametrize(
    "value, mode",
    [
        (0, ControlMode.BALANCED),
        (1, ControlMode.PROMPT),
        (2, ControlMode.ADAPTER),
        ("My prompt is more important", ControlMode.PROMPT),
        ("ControlNet is more important", ControlMode.ADAPTER),
    ],
)
def test_control_mode_names_and_ints(value, mode):
    assert UnitArgs.parse({"control_mode": value}).control_mode is mode


def test_infotext_round_trip_with_commas_quotes_and_colons_in_model_names():
    args = UnitArgs.parse(
        {
            "model": 'my, "odd": model [abcd1234]',
            "module": "canny",
            "weight": 0.75,
            "guidance_start": 0.1,
            "guidance_end": 0.9,
            "resize_mode": 2,
            "control_mode": 1,
            "processor_res": 512,
            "threshold_a": 50,
            "threshold_b": 150,
            "pixel_perfect": True,
            "low_vram": True,
            "annotator_params": {"soft": True},
        }
    )
    text = args.to_infotext()
    back = UnitArgs.from_infotext(text)
    assert back.to_dict(with_image=False) == args.to_dict(with_image=False)
    assert text.startswith('model: "my, \\"odd\\": model [abcd1234]", module: canny, weight: 0.75')


def test_infotext_errors_name_the_field():
    with pytest.raises(UnitArgsError, match="field 'weight'"):
        UnitArgs.from_infotext("weight: lots")


def test_units_from_an_infotext_are_completed_field_by_field_by_the_request():
    recorded = UnitArgs.parse({"model": "sketch [12345678]", "weight": 0.6, "guidance_end": 0.5}, 0).to_infotext()
    second = UnitArgs.parse({"model": "depth [87654321]", "control_mode": 2}, 2).to_infotext()
    units = units_with_infotext([{"image": "b64", "weight": 1.2}], {0: recorded, 2: second}, count=3)
    assert len(units) == 3 and units[1] is None  # unit 1: not recorded, not sent → stays disabled
    assert units[0]["image"] == "b64"
    first = UnitArgs.parse({k: v for k, v in units[0].items() if k != "image"}, 0)
    assert (first.model, first.weight, first.guidance_end) == ("sketch [12345678]", 1.2, 0.5)
    third = UnitArgs.parse(units[2], 2)
    assert third.enabled and third.model == "depth [87654321]" and third.control_mode == ControlMode.ADAPTER
    assert units_with_infotext([], {3: second}, count=3) is None  # beyond the configured units
    assert units_with_infotext([{"weight": 1}], {}, count=3) is None
    with pytest.raises(UnitArgsError, match="unit 1: field 'weight'"):
        units_with_infotext([], {1: "model: x, weight: lots"}, count=3)


def test_thresholds_map_onto_the_first_two_numeric_params():
    params = [("resolution", int), ("soft", bool), ("low_threshold", int), ("high_threshold", int)]
    args = UnitArgs.parse(
        {
            "module": "canny",
            "processor_res": 256,
            "threshold_a": 10,
            "threshold_b": 20,
            "annotator_params": {"soft": True},
        }
    )
    assert annotator_values(args, params) == {
        "resolution": 256,
        "low_threshold": 10,
        "high_threshold": 20,
        "soft": True,
    }
    assert annotator_values(UnitArgs.parse({"module": "canny"}), params) == {}
    with pytest.raises(UnitArgsError, match="field 'annotator_params'.*no parameter 'sigma'"):
        annotator_values(UnitArgs.parse({"annotator_params": {"sigma": 1}}), params)


def test_controlnet_client_fields_are_accepted():
    """webuiapi's ControlNetUnit.to_dict() sends mask and hr_option; a ported dict must parse unchanged."""
    cn = controlnet_unit("", "m")
    args = UnitArgs.parse(cn)
    assert args.control_mode is ControlMode.ADAPTER and args.hr_option == "Both"
    assert UnitArgs.parse({"hr_option": 2}).hr_option == "High res only"
    with pytest.raises(UnitArgsError, match="field 'hr_option'"):
        UnitArgs.parse({"hr_option": "Sometimes"})
    with pytest.raises(UnitArgsError, match="field 'mask'.*accepted and ignored"):
        UnitArgs.parse({"mask": "%%%"})


def test_non_default_hr_option_and_crop_flag_round_trip_through_infotext():
    args = UnitArgs.parse({"model": "m", "hr_option": "Low res only", "inpaint_crop_input_image": False})
    assert "hr_option: Low res only" in args.to_infotext()
    assert UnitArgs.from_infotext(args.to_infotext()).to_dict(False) == args.to_dict(False)
    assert "hr_option" not in UnitArgs.parse({"model": "m"}).to_infotext()


def bomb_png_b64(side: int = 100_000) -> str:
    """A few hundred bytes of PNG that declare ``side × side`` pixels (a decompression bomb's header)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    return base64.b64encode(png).decode()


def test_a_decompression_bomb_is_refused_naming_the_image_field():
    with pytest.raises(UnitArgsError, match="megapixel limit") as info:
        UnitArgs.parse({"image": bomb_png_b64()}, 1)
    assert info.value.field == "image" and info.value.unit == 1


def test_a_data_url_must_hold_an_image():
    image = png_b64(np.zeros((2, 2, 3), np.uint8))
    assert len(UnitArgs.parse({"image": "data:image/webp;base64," + image}).image) == 1  # the bytes decide the format
    with pytest.raises(UnitArgsError, match="'text/html' is not an image") as info:
        UnitArgs.parse({"image": "data:text/html;base64," + image})
    assert info.value.field == "image"


def test_16_bit_png_with_small_values_decodes_as_16_bit():
    buffer = io.BytesIO()
    Image.fromarray(np.full((2, 2), 200 * 257, np.uint16)).save(buffer, format="PNG")
    dark = io.BytesIO()
    Image.fromarray(np.full((2, 2), 200, np.uint16)).save(dark, format="PNG")
    (bright,) = UnitArgs.parse({"image": base64.b64encode(buffer.getvalue()).decode()}).image
    (small,) = UnitArgs.parse({"image": base64.b64encode(dark.getvalue()).decode()}).image
    assert bright.max() == 200 and small.max() == 1  # 200 / 65535 of full scale, not 200 / 255


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_8_bit_images_decode_to_what_the_pixel_rule_gives_without_float_copies(mode, monkeypatch):
    import tracemalloc

    from t2i_ext.pixels import to_uint8, unit_array
    from t2i_host import images

    rng = np.random.default_rng(0)
    small = Image.fromarray(rng.integers(0, 256, (5, 7, len(mode)), np.uint8).squeeze(-1) if mode == "L" else
                            rng.integers(0, 256, (5, 7, len(mode)), np.uint8), mode)  # fmt: skip
    rule = to_uint8(unit_array(small))
    rule = np.concatenate([np.repeat(rule[:, :, :1], 3, 2), rule[:, :, 1:]], 2) if mode in ("L", "LA") else rule
    assert np.array_equal(images.to_rgb_or_rgba(small), rule)

    big = Image.new(mode, (2048, 2048))  # 4 megapixels: float32 copies would be 16 MB per channel
    tracemalloc.start()
    result = images.to_rgb_or_rgba(big)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 3 * result.nbytes, (peak, result.nbytes)  # Pillow's bytes and the uint8 result; no float32 image


@pytest.mark.parametrize("field", ["weight", "guidance_start", "guidance_end", "processor_res", "threshold_a"])
@pytest.mark.parametrize("sign", [1, -1])
def test_an_integer_beyond_float_range_is_refused_naming_the_field(field, sign):
    with pytest.raises(UnitArgsError, match="must be a finite number") as info:
        UnitArgs.parse({field: sign * 10**400}, 2)
    assert info.value.field == field and info.value.unit == 2


def test_an_annotator_parameter_beyond_float_range_is_refused_naming_it():
    with pytest.raises(UnitArgsError, match="'low_threshold' must be a finite number") as info:
        UnitArgs.parse({"module": "canny", "annotator_params": {"low_threshold": 10**400}})
    assert info.value.field == "annotator_params"
    with pytest.raises(UnitArgsError, match="'low_threshold' must be a finite number"):
        UnitArgs.parse({"annotator_params": {"low_threshold": float("inf")}})
