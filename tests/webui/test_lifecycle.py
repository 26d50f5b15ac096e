"""The hook lifecycle under the WebUI's real control flow: sampling that raises (the WebUI then calls no further
script hook: modules/processing.py has no script call in its ``finally``), interruption (the sampler returns the
last latent and the job finishes normally), errors in the unit settings (which the WebUI's script runner would
swallow if raised inside a hook)."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import unet_hook_count
from .images import pixels, shapes
from .oracle import UNetRecorder


def unit(webui, **fields):
    base = {"enabled": True, "model": webui.adapters["canny"], "module": "none", "image": shapes()}
    base.update(fields)
    return base


def callback_count():
    from modules import script_callbacks

    return {k: len(v) for k, v in script_callbacks.callback_map.items()}


def test_exception_mid_sampling_leaves_the_unet_clean(webui, monkeypatch):
    plain_before = webui.txt2img()
    guided_before = webui.txt2img([unit(webui)])
    callbacks = callback_count()
    model = webui.shared.sd_model
    real_apply = model.apply_model
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("CUDA out of memory (simulated)")
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(model, "apply_model", failing)
    with pytest.raises(RuntimeError, match="out of memory"):
        webui.txt2img([unit(webui)])
    monkeypatch.undo()

    assert unet_hook_count(webui.unet) == 0
    assert callback_count() == callbacks
    assert np.array_equal(pixels(webui.txt2img()), pixels(plain_before))
    assert np.array_equal(pixels(webui.txt2img([unit(webui)])), pixels(guided_before))


def test_interrupt_finishes_the_job_and_leaves_the_unet_clean(webui):
    from modules import script_callbacks, shared

    plain_before = webui.txt2img()
    guided_before = webui.txt2img([unit(webui)])

    def interrupt(params):
        if params.sampling_step == 2:
            shared.state.interrupt()

    script_callbacks.on_cfg_denoiser(interrupt, name="test_interrupt")
    try:
        out = webui.txt2img([unit(webui)])
    finally:
        script_callbacks.remove_callbacks_for_function(interrupt)
    assert out.images  # the sampler returned its last latent, the job completed
    assert unet_hook_count(webui.unet) == 0
    assert np.array_equal(pixels(webui.txt2img()), pixels(plain_before))
    assert np.array_equal(pixels(webui.txt2img([unit(webui)])), pixels(guided_before))


def test_interrupt_during_hires_first_pass_skips_the_second_pass_cleanly(webui):
    from modules import script_callbacks, shared

    def interrupt(params):
        if params.sampling_step == 1:
            shared.state.interrupt()

    script_callbacks.on_cfg_denoiser(interrupt, name="test_interrupt")
    try:
        with UNetRecorder(webui.unet) as rec:
            webui.txt2img([unit(webui, image=shapes(128))], enable_hr=True, hr_second_pass_steps=3)
    finally:
        script_callbacks.remove_callbacks_for_function(interrupt)
    assert all(c.x.shape[-1] == 8 for c in rec.calls)
    assert unet_hook_count(webui.unet) == 0


def test_unknown_model_stops_the_job_before_sampling_with_a_message_naming_the_field(webui):
    with UNetRecorder(webui.unet) as rec, pytest.raises(Exception, match="model") as info:
        webui.txt2img([unit(webui, model="no_such_adapter")])
    assert "no_such_adapter" in str(info.value)
    assert rec.calls == []
    assert unet_hook_count(webui.unet) == 0


def test_a_failing_job_does_not_affect_the_next_one(webui):
    plain = webui.txt2img()
    with pytest.raises(Exception, match="weight"):
        webui.txt2img([unit(webui, weight="heavy")])
    assert unet_hook_count(webui.unet) == 0
    assert np.array_equal(pixels(webui.txt2img()), pixels(plain))


def test_same_p_reused_for_several_jobs_stays_correct(webui, tmp_path):
    """modules/img2img.py's batch tab runs process_images several times on ONE p."""
    from PIL import Image

    for name in ("a", "b", "c"):
        Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(tmp_path / f"{name}.png")
    single = webui.img2img([Image.fromarray(np.full((64, 64, 3), 90, np.uint8))], [unit(webui)], seed=77)
    results = webui.img2img_batch(str(tmp_path), [unit(webui)], seed=77)
    for r in results:
        assert np.array_equal(pixels(r), pixels(single))
    assert unet_hook_count(webui.unet) == 0


def test_xyz_grid_weight_axis_overrides_the_unit(webui):
    xyz = next(d.module for d in webui.scripts.scripts_data if d.script_class.__module__ == "xyz_grid.py")
    labels = [o.label for o in xyz.axis_options]
    for axis in ("Weight", "Guidance start", "Guidance end", "Model", "Annotator"):
        assert f"[T2I-Adapter] {axis}" in labels
    plain = webui.txt2img()
    weak = webui.txt2img([unit(webui)], prepare=lambda p: xyz.apply_axis(p, "[T2I-Adapter] Weight", "0"))
    full = webui.txt2img([unit(webui)])
    assert np.array_equal(pixels(weak), pixels(plain))
    assert not np.array_equal(pixels(full), pixels(plain))


def test_xyz_grid_unit_axes_override_their_own_unit(webui):
    xyz = next(d.module for d in webui.scripts.scripts_data if d.script_class.__module__ == "xyz_grid.py")
    labels = [o.label for o in xyz.axis_options]
    assert {
        "[T2I-Adapter] Unit 0 weight",
        "[T2I-Adapter] Unit 2 guidance end",
        "[T2I-Adapter] Unit 1 annotator",
    } <= set(labels)
    second = unit(webui, image=shapes(seed=5), weight=0.8)
    both = webui.txt2img([unit(webui), second])
    only_first = webui.txt2img([unit(webui), {**second, "enabled": False}])
    only_second = webui.txt2img([{**unit(webui), "enabled": False}, second])

    def grid_cell(x, y):  # X: unit 0 weight, Y: unit 1 weight, as the grid applies them to one cell's p
        return lambda p: (
            xyz.apply_axis(p, "[T2I-Adapter] Unit 0 weight", x),
            xyz.apply_axis(p, "[T2I-Adapter] Unit 1 weight", y),
        )

    assert np.array_equal(pixels(webui.txt2img([unit(webui), second], prepare=grid_cell("1", "0"))), pixels(only_first))
    cell = webui.txt2img([unit(webui), second], prepare=grid_cell("0", "0.8"))
    assert np.array_equal(pixels(cell), pixels(only_second))
    assert "weight: 0," in cell.infotexts[0]  # the cell's infotext records the value the axis set
    assert not np.array_equal(pixels(both), pixels(only_first))
