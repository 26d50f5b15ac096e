"""txt2img jobs through the stand-in WebUI: effect, neutral settings, no state leaking between jobs."""

from __future__ import annotations

import numpy as np
import pytest

import t2i_ext

from .harness import unet_hook_count
from .images import max_diff, pixels, shapes
from .oracle import UNetRecorder, assert_calls_match, features_for


def unit(webui, **fields):
    base = {"enabled": True, "model": webui.adapters["canny"], "module": "none", "image": shapes()}
    base.update(fields)
    return base


def test_panel_has_one_state_per_unit_after_the_builtin_scripts(webui):
    script = webui.script()
    # the built-in "Refiner" stand-in's 3 values come first, as built-in always-on scripts do in v1.10.1
    assert script.args_from == 4
    assert script.args_to - script.args_from == 3  # t2i_adapter_unit_count default
    for control in script.controls:
        assert type(control).__name__ == "State"
        assert control.value.get("enabled") is False
    img2img = webui.script(is_img2img=True)
    assert img2img.args_to - img2img.args_from == 3


def test_enabled_unit_changes_the_image(webui):
    plain = webui.txt2img()
    guided = webui.txt2img([unit(webui)])
    assert max_diff(plain, guided) > 8


def test_weight_zero_is_bit_identical_to_a_job_without_the_unit(webui):
    plain = webui.txt2img()
    zero = webui.txt2img([unit(webui, weight=0.0)])
    assert np.array_equal(pixels(plain), pixels(zero))


def test_disabled_unit_is_bit_identical_to_a_job_without_the_unit(webui):
    plain = webui.txt2img()
    off = webui.txt2img([unit(webui, enabled=False)])
    assert np.array_equal(pixels(plain), pixels(off))
    assert "T2I-Adapter 0" not in off.info


def test_job_after_an_adapter_job_equals_a_fresh_job_and_the_unet_is_clean(webui):
    before = webui.txt2img()
    first = webui.txt2img([unit(webui)])
    assert unet_hook_count(webui.unet) == 0
    after = webui.txt2img()
    assert np.array_equal(pixels(before), pixels(after))
    again = webui.txt2img([unit(webui)])
    assert np.array_equal(pixels(first), pixels(again))


def test_every_unet_call_matches_the_core_injection_with_the_true_rows(webui):
    img = shapes()
    with UNetRecorder(webui.unet) as rec:
        webui.txt2img([unit(webui, image=img, weight=0.8)])
    feats = features_for(webui.data_dir / "models/T2I-Adapter" / (webui.adapters["canny"] + ".safetensors"), [img])
    n = assert_calls_match(webui.unet, rec.calls, [t2i_ext.AdapterUnit(features=feats, weight=0.8)], [0])
    assert n == 6  # one batched cond+uncond call per step


def test_two_units_are_summed(webui):
    a, b = shapes(seed=1), shapes(seed=2)
    with UNetRecorder(webui.unet) as rec:
        webui.txt2img(
            [unit(webui, image=a, weight=0.6), unit(webui, image=b, weight=0.4, model=webui.adapters["sketch_rgb"])]
        )
    folder = webui.data_dir / "models/T2I-Adapter"
    units = [
        t2i_ext.AdapterUnit(
            features=features_for(folder / (webui.adapters["canny"] + ".safetensors"), [a]), weight=0.6
        ),
        t2i_ext.AdapterUnit(
            features=features_for(folder / (webui.adapters["sketch_rgb"] + ".safetensors"), [b]), weight=0.4
        ),
    ]
    assert_calls_match(webui.unet, rec.calls, units, [0])


def test_guidance_window_leaves_steps_outside_it_untouched(webui):
    img = shapes()
    with UNetRecorder(webui.unet) as plain:
        webui.txt2img()
    with UNetRecorder(webui.unet) as late:
        webui.txt2img([unit(webui, image=img, guidance_start=0.5, guidance_end=1.0)])
    # The denoiser reports state.sampling_step, which k-diffusion's callback advances *after* each step's model
    # call: the UNet calls of steps 0..4 see 0, 0, 1, 2, 3. With 6 steps and start 0.5 the adapter starts at the
    # call reporting 3, the 5th; the first 4 calls see and return exactly the plain job's rows.
    assert [c.step for c in late.calls] == [0, 0, 1, 2, 3, 4]
    for call in range(4):
        assert np.array_equal(plain.calls[call].output.numpy(), late.calls[call].output.numpy()), call
    assert not np.array_equal(plain.calls[4].output.numpy(), late.calls[4].output.numpy())
    feats = features_for(webui.data_dir / "models/T2I-Adapter" / (webui.adapters["canny"] + ".safetensors"), [img])
    assert_calls_match(webui.unet, late.calls, [t2i_ext.AdapterUnit(features=feats, start=0.5, end=1.0)], [0])


def test_guidance_end_stops_the_adapter(webui):
    img = shapes()
    with UNetRecorder(webui.unet) as early:
        webui.txt2img([unit(webui, image=img, guidance_start=0.0, guidance_end=0.5)])
    feats = features_for(webui.data_dir / "models/T2I-Adapter" / (webui.adapters["canny"] + ".safetensors"), [img])
    assert_calls_match(webui.unet, early.calls, [t2i_ext.AdapterUnit(features=feats, start=0.0, end=0.5)], [0])


@pytest.mark.parametrize("mode", ["My prompt is more important", "Adapter is more important"])
def test_control_modes_match_the_core(webui, mode):
    img = shapes()
    with UNetRecorder(webui.unet) as rec:
        webui.txt2img([unit(webui, image=img, control_mode=mode)])
    feats = features_for(webui.data_dir / "models/T2I-Adapter" / (webui.adapters["canny"] + ".safetensors"), [img])
    core_mode = {"My prompt is more important": "prompt", "Adapter is more important": "adapter"}[mode]
    assert_calls_match(webui.unet, rec.calls, [t2i_ext.AdapterUnit(features=feats, control_mode=core_mode)], [0])


def test_adapter_is_more_important_changes_only_the_cond_rows(webui):
    with UNetRecorder(webui.unet) as plain:
        webui.txt2img()
    with UNetRecorder(webui.unet) as strong:
        webui.txt2img([unit(webui, control_mode="Adapter is more important")])
    first_plain, first_strong = plain.calls[0].output, strong.calls[0].output  # step 0: same x_in in both jobs
    assert first_plain.shape[0] == 2  # [cond, uncond]
    assert np.array_equal(first_plain[1].numpy(), first_strong[1].numpy())  # uncond row untouched
    assert not np.array_equal(first_plain[0].numpy(), first_strong[0].numpy())


def test_infotext_records_each_enabled_unit_and_parses_back(webui):
    from modules import infotext_utils

    out = webui.txt2img(
        [
            unit(webui, weight=0.65, guidance_end=0.8),
            {"enabled": False},
            unit(webui, model=webui.adapters["sketch_rgb"], control_mode="My prompt is more important"),
        ]
    )
    params = infotext_utils.parse_generation_parameters(out.infotexts[0])
    assert "T2I-Adapter 0" in params and "T2I-Adapter 2" in params and "T2I-Adapter 1" not in params
    assert params["Steps"] == "6"  # the WebUI's own fields still parse around ours
    script = webui.script()
    restored = {}
    for component, target in script.infotext_fields:
        if callable(target):
            restored[getattr(component, "elem_id", "")] = target(params)
    values = {k.rsplit("_unit", 1)[1]: v for k, v in restored.items() if k and "_unit" in k}
    assert values["0_enabled"] is True and values["1_enabled"] is False and values["2_enabled"] is True
    assert float(values["0_weight"]) == pytest.approx(0.65)
    assert float(values["0_guidance_end"]) == pytest.approx(0.8)
    assert values["2_control_mode"] == "My prompt is more important"
    assert webui.adapters["sketch_rgb"] in values["2_model"]


def test_n_iter_two_batches_each_guided_and_clean_afterwards(webui):
    out = webui.txt2img([unit(webui)], n_iter=2)
    plain = webui.txt2img(n_iter=2)
    assert len(out.images) == 3  # grid + 2
    assert max_diff(out, plain) > 8
    assert unet_hook_count(webui.unet) == 0


def _script_module(webui):
    return next(d.module for d in webui.scripts.scripts_data if d.path.endswith("t2i_adapter.py"))


def test_repeat_job_reuses_cached_features_without_an_adapter_pass(webui):
    from t2i_webui.caches import FEATURES as cache

    img = shapes(seed=42)
    first = webui.txt2img([unit(webui, image=img)])
    passes = cache.passes
    again = webui.txt2img([unit(webui, image=img)])
    assert cache.passes == passes  # no adapter pass at all
    assert np.array_equal(pixels(first), pixels(again))
    other = shapes(seed=43)
    webui.txt2img([unit(webui, image=other)])
    assert cache.passes == passes + 1  # a new condition image is a new pass
