"""Jobs through the Forge stand-in: the extension patches the job's UnetPatcher clone, never the shared model."""

from __future__ import annotations

import numpy as np
import pytest

from tests.webui.harness import unet_hook_count
from tests.webui.images import max_diff, pixels, shapes


def unit(forge, **fields):
    base = {"enabled": True, "model": forge.adapters["canny"], "module": "none", "image": shapes()}
    base.update(fields)
    return base


def script_module(forge):
    return next(d.module for d in forge.scripts.scripts_data if d.path.endswith("t2i_adapter.py"))


def test_the_extension_recognises_forge_at_import(forge):
    assert script_module(forge).HOST.name == "forge"


def test_enabled_unit_changes_the_image(forge):
    plain = forge.txt2img()
    guided = forge.txt2img([unit(forge)])
    assert max_diff(plain, guided) > 8


def test_weight_zero_is_bit_identical_to_a_job_without_the_unit(forge):
    plain = forge.txt2img()
    zero = forge.txt2img([unit(forge, weight=0.0)])
    assert np.array_equal(pixels(plain), pixels(zero))


def test_the_shared_patcher_and_unet_carry_nothing_after_a_job(forge):
    before = forge.txt2img()
    guided = forge.txt2img([unit(forge)])
    shared = forge.patchers["sd1"]
    assert shared.patch_count() == 0 and unet_hook_count(forge.unet) == 0
    assert forge.shared.sd_model.forge_objects_after_applying_lora.unet is shared
    after = forge.txt2img()
    assert np.array_equal(pixels(before), pixels(after))
    assert np.array_equal(pixels(guided), pixels(forge.txt2img([unit(forge)])))


def test_an_exception_or_an_interrupt_mid_sampling_leaves_nothing_behind(forge, monkeypatch):
    from modules import script_callbacks, shared

    plain = forge.txt2img()
    kmodel = forge.patchers["sd1"].model
    real, calls = kmodel.apply_model, {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("CUDA out of memory (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(kmodel, "apply_model", failing)
    with pytest.raises(RuntimeError, match="out of memory"):
        forge.txt2img([unit(forge)])
    monkeypatch.undo()
    assert forge.patchers["sd1"].patch_count() == 0 and unet_hook_count(forge.unet) == 0

    def interrupt(params):
        if params.sampling_step == 2:
            shared.state.interrupt()

    script_callbacks.on_cfg_denoiser(interrupt, name="test_interrupt")
    try:
        forge.txt2img([unit(forge)])
    finally:
        script_callbacks.remove_callbacks_for_function(interrupt)
        shared.state.interrupted = False
    assert forge.patchers["sd1"].patch_count() == 0 and unet_hook_count(forge.unet) == 0
    assert np.array_equal(pixels(plain), pixels(forge.txt2img()))


def test_bad_unit_stops_the_job_with_the_field_named(forge):
    from t2i_host.unit_args import UnitArgsError

    with pytest.raises(UnitArgsError) as e:
        forge.txt2img([unit(forge, model="no-such-adapter")])
    assert e.value.field == "model"
    assert forge.patchers["sd1"].patch_count() == 0


@pytest.mark.parametrize("entries_per_call", [None, 1])
def test_batch_with_one_condition_per_image_matches_single_jobs(forge, entries_per_call):
    """Forge batches cond and uncond entries as memory allows; each row gets its own image's features."""
    forge.forge.MAX_ENTRIES_PER_CALL = entries_per_call
    a, b, c = shapes(seed=1), shapes(seed=2), shapes(seed=3)
    batch = forge.txt2img([unit(forge, image=[a, b])], batch_size=2, seed=5)
    alone = forge.txt2img([unit(forge, image=[a, c])], batch_size=2, seed=5)
    # images[0] is the grid: images 1 and 2 are the batch's first and second image
    assert np.array_equal(pixels(batch, 1), pixels(alone, 1))
    assert not np.array_equal(pixels(batch, 2), pixels(alone, 2))


def test_guidance_window_and_control_modes_run(forge):
    plain = forge.txt2img()
    late = forge.txt2img([unit(forge, guidance_start=0.5)])
    full = forge.txt2img([unit(forge)])
    assert max_diff(plain, late) > 0 and not np.array_equal(pixels(late), pixels(full))
    for mode in ("Balanced", "My prompt is more important", "ControlNet is more important"):
        assert max_diff(plain, forge.txt2img([unit(forge, control_mode=mode)])) > 0


def test_a_controlnet_on_the_same_patcher_and_our_unit_both_take_effect(forge):
    """Forge's built-in ControlNet links a control object on the job's patcher; our block modifier is independent."""
    control = forge.forge.ControlStandin(0.05)

    def with_control(p):
        p.sd_model.forge_objects_after_applying_lora.unet = forge.patchers["sd1"].clone()
        p.sd_model.forge_objects_after_applying_lora.unet.add_patched_controlnet(control)

    try:
        plain = forge.txt2img()
        ours = forge.txt2img([unit(forge)])
        theirs = forge.txt2img(prepare=with_control)
        both = forge.txt2img([unit(forge)], prepare=with_control)
    finally:
        forge.shared.sd_model.forge_objects_after_applying_lora.unet = forge.patchers["sd1"]
    assert control.calls > 0
    assert max_diff(plain, theirs) > 0 and max_diff(theirs, both) > 0 and max_diff(ours, both) > 0


def test_sdxl_unit_runs_and_sd1_adapter_is_refused_on_sdxl(forge):
    from t2i_host.unit_args import UnitArgsError

    forge.use("sdxl")
    plain = forge.txt2img()
    guided = forge.txt2img([unit(forge, model=forge.adapters["xl_canny"])])
    assert max_diff(plain, guided) > 0
    with pytest.raises(UnitArgsError) as e:
        forge.txt2img([unit(forge)])
    assert e.value.field == "model" and "SDXL" in str(e.value)
    assert forge.patchers["sdxl"].patch_count() == 0


def test_a_flux_checkpoint_is_refused_before_sampling(forge):
    from t2i_host.unit_args import UnitArgsError

    model = forge.shared.sd_model
    model.is_sd1 = False  # what Forge's Flux engine looks like: no SD flag set
    try:
        with pytest.raises(UnitArgsError) as e:
            forge.txt2img([unit(forge)])
    finally:
        model.is_sd1 = True
    assert e.value.field == "model" and "no UNet input blocks" in str(e.value)


def test_the_canvas_drawing_becomes_the_units_image_on_either_webui(forge):
    """gradio 3's sketch image passes its picture on; Forge's canvas is a picture and strokes (RGBA), sent by the
    browser as PNG data URLs: the unit's image is the strokes over the picture."""
    import gradio as gr

    from t2i_webui import canvas, gradio_compat, panel_events

    with gr.Blocks():
        drawing = canvas.drawing_canvas("t_canvas", "Canvas")
    kinds = [type(source).__name__ for source in drawing.sources]
    assert kinds == (["LogicalImage", "LogicalImage"] if gradio_compat.GRADIO_4 else ["Image"])
    if gradio_compat.GRADIO_4:
        black = np.zeros((48, 64, 3), np.uint8)
        strokes = np.zeros((48, 64, 4), np.uint8)
        strokes[10:20, 30:40] = 255  # a white stroke, opaque
        strokes[30:40, 5:15] = (255, 255, 255, 128)  # half transparent
        sent = [source.preprocess(source.postprocess(v)) for source, v in zip(drawing.sources, (black, strokes))]
        expected = black.copy()
        expected[10:20, 30:40] = 255
        expected[30:40, 5:15] = 128
    else:
        sent = expected = shapes(seed=9)
        sent = [sent]
    widgets = dict(enabled=True, upload=None, canvas=drawing.picture(*sent), module="none", res=512, a=0, b=0)
    rest = dict(model="None", weight=1.0, start=0.0, end=1.0, resize="Crop and Resize", control="Balanced")
    state = panel_events.unit_dict(**widgets, **rest, options=[], pixel_perfect=False, low_vram=False, batch_folder="")
    assert np.array_equal(state["image"], expected)
