"""Hires fix, img2img and "only masked" inpainting through the Forge stand-in: each sampling pass gets the job's
own patcher clone with the features at that pass's size, and the shared patcher stays clean."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tests.webui.images import max_diff, pixels, shapes

from .test_forge_jobs import unit


def clean(forge) -> bool:
    return forge.patchers["sd1"].patch_count() == 0


def test_hires_fix_guides_both_passes_and_hr_option_picks_them(forge):
    hires = dict(enable_hr=True, hr_scale=2.0, hr_second_pass_steps=3)
    cond = shapes(128, seed=7)
    plain = forge.txt2img(**hires)
    both = forge.txt2img([unit(forge, image=cond)], **hires)
    low_only = forge.txt2img([unit(forge, image=cond, hr_option="Low res only")], **hires)
    high_only = forge.txt2img([unit(forge, image=cond, hr_option="High res only")], **hires)
    assert pixels(both).shape == (128, 128, 3)
    assert max_diff(plain, both) > 0 and clean(forge)
    assert len({pixels(x).tobytes() for x in (plain, both, low_only, high_only)}) == 4  # each pass matters


def test_img2img_unit_without_image_takes_the_input_image(forge):
    init = shapes(seed=3)
    plain = forge.img2img([Image.fromarray(init)])
    from_input = forge.img2img([Image.fromarray(init)], [unit(forge, image=None)])
    explicit = forge.img2img([Image.fromarray(init)], [unit(forge, image=init)])
    assert max_diff(plain, from_input) > 0
    assert np.array_equal(pixels(from_input), pixels(explicit))
    assert clean(forge)


def test_only_masked_inpainting_uses_the_crop_of_the_condition(forge):
    init = np.full((128, 128, 3), 90, np.uint8)
    mask = np.zeros((128, 128), np.uint8)
    mask[32:96, 64:128] = 255
    params = dict(
        mask=Image.fromarray(mask), mask_blur=0, inpaint_full_res=True, inpaint_full_res_padding=0, inpainting_fill=1
    )
    cond = shapes(128, seed=5)
    outside_changed = cond.copy()
    outside_changed[:32] = 255 - outside_changed[:32]  # only outside the crop region
    a = forge.img2img([Image.fromarray(init)], [unit(forge, image=cond)], **params)
    b = forge.img2img([Image.fromarray(init)], [unit(forge, image=outside_changed)], **params)
    plain = forge.img2img([Image.fromarray(init)], **params)
    assert np.array_equal(pixels(a), pixels(b)) and max_diff(plain, a) > 0
    assert clean(forge)


def test_xyz_grid_weight_axis_and_infotext_paste_work_on_forge(forge):
    xyz = next(d.module for d in forge.scripts.scripts_data if d.script_class.__module__ == "xyz_grid.py")
    plain = forge.txt2img()
    weak = forge.txt2img([unit(forge)], prepare=lambda p: xyz.apply_axis(p, "[T2I-Adapter] Weight", "0"))
    assert np.array_equal(pixels(weak), pixels(plain))
    guided = forge.txt2img([unit(forge, weight=0.7)])
    from modules import infotext_utils

    params = infotext_utils.parse_generation_parameters(guided.info)
    pasted = {field: fn(params) for component, fn in forge.script().infotext_fields for field in [component.elem_id]}
    assert pasted["txt2img_t2i_adapter_unit0_enabled"] is True
    assert pasted["txt2img_t2i_adapter_unit0_weight"] == 0.7
