"""The Control Type table (t2i_host/control_types.py) on the file names users have (research: the TencentARC,
webui/ControlNet-modules-safetensors and lllyasviel/sd_control_collection names) and the annotator registry."""

from __future__ import annotations

import pytest

import annotators
from t2i_host import control_types as ct

FILES = {  # stem → (detected kind, the types it belongs to besides All)
    "t2iadapter_canny_sd15v2": ("full", {"Canny"}),
    "t2iadapter_canny_sd14v1": ("full", {"Canny"}),
    "t2iadapter_sketch-fp16": ("full", {"Sketch/Lineart"}),
    "coadapter-sketch-sd15v1": ("full", {"Sketch/Lineart"}),
    "t2i-adapter_diffusers_xl_lineart": ("full", {"Sketch/Lineart"}),
    "t2iadapter_zoedepth_sd15v1": ("full", {"Depth"}),
    "coadapter-depth-sd15v1": ("full", {"Depth"}),
    "t2i-adapter_diffusers_xl_depth_midas": ("full", {"Depth"}),
    "t2iadapter_openpose_sd14v1": ("full", {"Pose"}),
    "t2iadapter_keypose-fp16": ("full", {"Pose"}),
    "t2iadapter_seg_sd14v1": ("full", {"Segmentation"}),
    "t2iadapter_color_sd14v1": ("light", {"Colour"}),
    "my_palette_adapter": ("light", {"Colour"}),  # renamed: the kind still tells
    "t2iadapter_style_sd14v1": ("style", {"Style"}),
    "coadapter-fuser-sd15v1": ("fuser", set()),
    "diffusion_pytorch_model": ("full", set()),  # an un-renamed diffusers file: All only
    "style_named_but_full": ("full", set()),  # the name says style, the tensors say full: not a style adapter
}


@pytest.mark.parametrize("stem", FILES)
def test_each_published_file_name_lands_in_its_conditions_type(stem):
    kind, expected = FILES[stem]
    found = {t.name for t in ct.TYPES if t is not ct.ALL and t.has_model(stem, kind)}
    assert found == expected
    assert ct.ALL.has_model(stem, kind)


def test_each_type_lists_the_registered_annotators_that_suit_it_and_its_default_is_one_of_them():
    registry = [(a.name, a.suits) for a in annotators.list_annotators()]
    described = ct.describe(registry, [])["control_types"]
    assert set(described) == set(ct.names())
    for t in ct.TYPES:
        entry = described[t.name]
        assert entry["module_list"][0] == "none" and entry["default_option"] == t.default_module
        assert t.default_module == "none" or t.default_module in entry["module_list"]
    assert "lineart_standard" in described["Sketch/Lineart"]["module_list"]
    assert "keypose_mediapipe" in described["Pose"]["module_list"]
    assert described["Style"]["module_list"] == ["none", "clip_vision"]
    assert len(described["All"]["module_list"]) == len(registry) + 1


def test_default_model_prefers_one_that_fits_the_loaded_checkpoint():
    listed = [("a_xl_canny [1]", "a_xl_canny", "full"), ("b_canny_sd15 [2]", "b_canny_sd15", "full")]
    entry = ct.describe([], listed, fits={"b_canny_sd15 [2]"})["control_types"]["Canny"]
    assert entry["model_list"] == ["None", "a_xl_canny [1]", "b_canny_sd15 [2]"]
    assert entry["default_model"] == "b_canny_sd15 [2]"
    assert ct.describe([], listed)["control_types"]["Canny"]["default_model"] == "a_xl_canny [1]"


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("Canny", "Canny"),
        ("canny", "Canny"),
        ("OpenPose", "Pose"),
        ("Lineart", "Sketch/Lineart"),
        ("seg", "Segmentation"),
        ("Recolor", "All"),
        ("IP-Adapter", "All"),
        ("", "All"),
    ],
)
def test_a_known_name_or_alias_is_read_and_an_unknown_one_is_ignored(given, name):
    assert ct.parse_name(given) == name


def test_a_control_type_that_is_not_text_is_refused_naming_the_types():
    with pytest.raises(ValueError, match="Canny"):
        ct.parse_name(5)
