"""The stand-in itself, on behaviour documented for WebUI v1.10.1 (so a change to the stand-in that drifts from
the WebUI fails here, not silently in the extension's tests)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


def test_crop_region_is_the_mask_bbox_padded_and_clamped(webui):
    from modules import masking

    mask = np.zeros((100, 200), np.uint8)
    mask[40:60, 150:170] = 255
    assert masking.get_crop_region_v2(mask) == (150, 40, 170, 60)
    assert masking.get_crop_region_v2(mask, 10) == (140, 30, 180, 70)
    assert masking.get_crop_region_v2(mask, 50) == (100, 0, 200, 100)
    assert masking.get_crop_region_v2(np.zeros((8, 8), np.uint8)) is None


def test_expand_crop_region_matches_the_processing_aspect_inside_the_image(webui):
    from modules import masking

    # masking.py docstring example: a 128x32 region for 512x512 processing becomes 128x128
    assert masking.expand_crop_region((100, 100, 228, 132), 512, 512, 1000, 1000) == (100, 52, 228, 180)
    # near the bottom edge the box is shifted back inside
    assert masking.expand_crop_region((0, 90, 40, 100), 64, 64, 100, 100) == (0, 60, 40, 100)


def test_alwayson_args_shorter_keep_defaults_longer_are_clipped(webui):
    from modules.api.api import Api

    class Req:
        script_args = []
        alwayson_scripts = {"T2I-ADAPTER": {"args": ["a", "b", "c", "d", "e"]}}

    api = Api.__new__(Api)
    runner = webui.runner(False)
    script = webui.script()
    defaults = [0] + [f"default{i}" for i in range(1, script.args_to)]
    args = api.init_script_args(Req, defaults, None, None, runner)
    assert args[script.args_from : script.args_to] == ["a", "b", "c"]
    assert args[: script.args_from] == defaults[: script.args_from]
    Req.alwayson_scripts = {"t2i-adapter": {"args": ["only"]}}
    args = api.init_script_args(Req, defaults, None, None, runner)
    assert args[script.args_from : script.args_to] == ["only", "default5", "default6"]


def test_unknown_alwayson_script_is_a_422(webui):
    from fastapi import HTTPException
    from modules.api.api import Api

    class Req:
        script_args = []
        alwayson_scripts = {"no such script": {"args": []}}

    with pytest.raises(HTTPException) as info:
        Api.__new__(Api).init_script_args(Req, [0] * 10, None, None, webui.runner(False))
    assert info.value.status_code == 422


def test_hooks_swallow_exceptions_like_the_webui(webui):
    """modules/scripts.py: an exception in an always-on script's hook is reported and generation goes on."""
    from modules import errors, processing

    class Boom:
        args_from = args_to = 0
        filename = "boom.py"

        def process(self, p, *args):
            raise ValueError("boom")

    runner = webui.runner(False)
    runner.alwayson_scripts.append(Boom())
    runner.callback_map.clear()
    try:
        p = processing.StableDiffusionProcessingTxt2Img(prompt="x", steps=2, width=64, height=64, seed=1)
        p.scripts, p.script_args = runner, tuple(webui.ui_args(False))
        runner.process(p)
    finally:
        runner.alwayson_scripts.pop()
        runner.callback_map.clear()
    assert any("boom.py" in message for message, _ in errors.reported)


def test_img2img_only_masked_sets_paste_to_and_infotext(webui):
    from modules import processing

    mask = np.zeros((128, 128), np.uint8)
    mask[32:96, 64:128] = 255
    p = processing.StableDiffusionProcessingImg2Img(
        init_images=[Image.new("RGB", (128, 128), (90, 90, 90))],
        mask=Image.fromarray(mask),
        mask_blur=0,
        inpaint_full_res=True,
        width=64,
        height=64,
        steps=2,
        seed=1,
        prompt="x",
    )
    p.init(["x"], [1], [1])
    assert p.paste_to == (64, 32, 64, 64)
    assert p.extra_generation_params["Inpaint area"] == "Only masked"
    assert tuple(p.init_latent.shape) == (1, 4, 8, 8)
