"""img2img and inpainting through the stand-in: the condition source and the "only masked" crop."""

from __future__ import annotations

import numpy as np
from PIL import Image

import t2i_ext

from .images import max_diff, pixels, shapes
from .oracle import UNetRecorder, assert_calls_match, features_for


def adapter_file(webui, key="canny"):
    return webui.data_dir / "models/T2I-Adapter" / (webui.adapters[key] + ".safetensors")


def unit(webui, **fields):
    base = {"enabled": True, "model": webui.adapters["canny"], "module": "none"}
    base.update(fields)
    return base


def test_unit_without_image_takes_the_img2img_input_as_condition(webui):
    init = shapes(seed=3)
    plain = webui.img2img([Image.fromarray(init)])
    with UNetRecorder(webui.unet) as rec:
        from_input = webui.img2img([Image.fromarray(init)], [unit(webui)])
    explicit = webui.img2img([Image.fromarray(init)], [unit(webui, image=init)])
    assert max_diff(plain, from_input) > 4
    assert np.array_equal(pixels(from_input), pixels(explicit))
    feats = features_for(adapter_file(webui), [init])
    assert_calls_match(webui.unet, rec.calls, [t2i_ext.AdapterUnit(features=feats)], [0])
    assert len(rec.calls) == 5  # sd_samplers_common.setup_img2img_steps: t_enc = int(0.75 * 6) = 4, 4 + 1 steps


def test_unit_image_wins_over_the_img2img_input(webui):
    init, cond = shapes(seed=3), shapes(seed=4)
    with UNetRecorder(webui.unet) as rec:
        webui.img2img([Image.fromarray(init)], [unit(webui, image=cond)])
    assert_calls_match(
        webui.unet, rec.calls, [t2i_ext.AdapterUnit(features=features_for(adapter_file(webui), [cond]))], [0]
    )


def _inpaint_job(webui, cond, **kwargs):
    init = np.full((128, 128, 3), 90, np.uint8)
    mask = np.zeros((128, 128), np.uint8)
    mask[32:96, 64:128] = 255  # exactly 64x64: the crop needs no resize at 64x64 processing
    params = dict(
        mask=Image.fromarray(mask), mask_blur=0, inpaint_full_res=True, inpaint_full_res_padding=0, inpainting_fill=1
    )
    params.update(kwargs)
    units = [unit(webui, image=cond)] if cond is not None else [unit(webui)]
    with UNetRecorder(webui.unet) as rec:
        out = webui.img2img([Image.fromarray(init)], units, **params)
    return out, rec


def test_only_masked_inpainting_crops_the_condition_with_the_webuis_region(webui):
    cond = shapes(128, seed=5)
    _, rec = _inpaint_job(webui, cond)
    assert rec.p.paste_to == (64, 32, 64, 64)  # masking.get_crop_region_v2 + expand_crop_region
    crop = np.ascontiguousarray(cond[32:96, 64:128])
    assert_calls_match(
        webui.unet, rec.calls, [t2i_ext.AdapterUnit(features=features_for(adapter_file(webui), [crop]))], [0]
    )


def test_only_masked_condition_outside_the_crop_region_does_not_matter(webui):
    cond = shapes(128, seed=5)
    other = cond.copy()
    other[:10, :] = 255 - other[:10, :]  # rows above the (blurred, padded) crop region
    inside = cond.copy()
    inside[60:70, 90:100] = 255 - inside[60:70, 90:100]
    kw = dict(mask_blur=4, inpaint_full_res_padding=8)
    a, rec = _inpaint_job(webui, cond, **kw)
    b, _ = _inpaint_job(webui, other, **kw)
    c, _ = _inpaint_job(webui, inside, **kw)
    x1, y1, w, h = rec.p.paste_to
    assert y1 >= 10  # the edited rows really are outside the region
    assert np.array_equal(pixels(a), pixels(b))
    assert not np.array_equal(pixels(a), pixels(c))


def test_only_masked_without_unit_image_crops_the_init_image(webui):
    _, rec = _inpaint_job(webui, None)
    init_crop = np.full((64, 64, 3), 90, np.uint8)
    assert_calls_match(
        webui.unet, rec.calls, [t2i_ext.AdapterUnit(features=features_for(adapter_file(webui), [init_crop]))], [0]
    )


def test_inpainting_whole_picture_uses_the_full_condition(webui):
    cond = shapes(64, seed=6)
    init = Image.fromarray(np.full((64, 64, 3), 90, np.uint8))
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 255
    with UNetRecorder(webui.unet) as rec:
        webui.img2img([init], [unit(webui, image=cond)], mask=Image.fromarray(mask), inpaint_full_res=False)
    assert rec.p.paste_to is None
    assert_calls_match(
        webui.unet, rec.calls, [t2i_ext.AdapterUnit(features=features_for(adapter_file(webui), [cond]))], [0]
    )


def test_only_masked_with_crop_off_uses_the_whole_condition(webui):
    cond = shapes(64, seed=8)  # already at the processing size: no resize involved
    init = np.full((128, 128, 3), 90, np.uint8)
    mask = np.zeros((128, 128), np.uint8)
    mask[32:96, 64:128] = 255
    with UNetRecorder(webui.unet) as rec:
        webui.img2img(
            [Image.fromarray(init)],
            [unit(webui, image=cond, inpaint_crop_input_image=False)],
            mask=Image.fromarray(mask),
            mask_blur=0,
            inpaint_full_res=True,
            inpainting_fill=1,
        )
    assert rec.p.paste_to == (64, 32, 64, 64)
    assert_calls_match(
        webui.unet, rec.calls, [t2i_ext.AdapterUnit(features=features_for(adapter_file(webui), [cond]))], [0]
    )
