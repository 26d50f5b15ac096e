"""Hires fix: the second pass runs at its own size and step count; the adapter must follow."""

from __future__ import annotations

import numpy as np

import t2i_ext

from .harness import unet_hook_count
from .images import shapes
from .oracle import UNetRecorder, assert_calls_match, features_for


def test_hires_pass_recomputes_features_at_the_second_pass_size(webui):
    cond = shapes(128, seed=7)
    with UNetRecorder(webui.unet) as plain:
        webui.txt2img(enable_hr=True, hr_scale=2.0, hr_second_pass_steps=3)
    with UNetRecorder(webui.unet) as rec:
        webui.txt2img(
            [{"enabled": True, "model": webui.adapters["canny"], "module": "none", "image": cond}],
            enable_hr=True,
            hr_scale=2.0,
            hr_second_pass_steps=3,
        )
    first = [c for c in rec.calls if c.x.shape[-1] == 8]
    second = [c for c in rec.calls if c.x.shape[-1] == 16]
    assert len(first) == 6 and len(second) == 3
    assert [c.total for c in second] == [3, 3, 3]  # the second pass reports its own step count
    assert not np.array_equal(first[0].output.numpy(), plain.calls[0].output.numpy())
    file = webui.data_dir / "models/T2I-Adapter" / (webui.adapters["canny"] + ".safetensors")
    assert_calls_match(webui.unet, second, [t2i_ext.AdapterUnit(features=features_for(file, [cond]))], [0])
    assert unet_hook_count(webui.unet) == 0


def test_hires_guidance_window_applies_per_pass(webui):
    cond = shapes(128, seed=7)
    with UNetRecorder(webui.unet) as rec:
        webui.txt2img(
            [
                {
                    "enabled": True,
                    "model": webui.adapters["canny"],
                    "module": "none",
                    "image": cond,
                    "guidance_start": 0.0,
                    "guidance_end": 0.5,
                }
            ],
            enable_hr=True,
            hr_scale=2.0,
            hr_second_pass_steps=4,
        )
    second = [c for c in rec.calls if c.x.shape[-1] == 16]
    file = webui.data_dir / "models/T2I-Adapter" / (webui.adapters["canny"] + ".safetensors")
    assert_calls_match(
        webui.unet, second, [t2i_ext.AdapterUnit(features=features_for(file, [cond]), start=0.0, end=0.5)], [0]
    )


def _hires_calls(webui, **fields):
    cond = shapes(128, seed=7)
    with UNetRecorder(webui.unet) as rec:
        webui.txt2img(
            [{"enabled": True, "model": webui.adapters["canny"], "module": "none", "image": cond, **fields}],
            enable_hr=True,
            hr_scale=2.0,
            hr_second_pass_steps=3,
        )
    first = [c for c in rec.calls if c.x.shape[-1] == 8]
    second = [c for c in rec.calls if c.x.shape[-1] == 16]
    return cond, first, second


def test_hr_option_low_res_only_leaves_the_second_pass_plain(webui):
    _, first, second = _hires_calls(webui, hr_option="Low res only")
    assert_calls_match(webui.unet, second, [], [0])  # no unit: the plain UNet's output for those very inputs
    with np.testing.assert_raises(AssertionError):
        assert_calls_match(webui.unet, first, [], [0])


def test_hr_option_high_res_only_leaves_the_first_pass_plain(webui):
    cond, first, second = _hires_calls(webui, hr_option="High res only")
    assert_calls_match(webui.unet, first, [], [0])
    file = webui.data_dir / "models/T2I-Adapter" / (webui.adapters["canny"] + ".safetensors")
    assert_calls_match(webui.unet, second, [t2i_ext.AdapterUnit(features=features_for(file, [cond]))], [0])
