"""Checkpoint families: SDXL (dict conds, y vector), SD2 (OpenCLIP width), and adapters of the wrong family."""

from __future__ import annotations

import numpy as np
import pytest

import t2i_ext

from .harness import unet_hook_count
from .images import max_diff, pixels, shapes
from .oracle import UNetRecorder, assert_calls_match, features_for


def file(webui, key):
    return webui.data_dir / "models/T2I-Adapter" / (webui.adapters[key] + ".safetensors")


def unit(model, image=None, **fields):
    base = {"enabled": True, "model": model, "module": "none", "image": shapes() if image is None else image}
    base.update(fields)
    return base


@pytest.mark.parametrize("mode", ["Balanced", "Adapter is more important"])
def test_sdxl_job_matches_the_core_injection(webui, mode):
    webui.use("sdxl")
    img = shapes()
    plain = webui.txt2img()
    with UNetRecorder(webui.unet) as rec:
        out = webui.txt2img([unit(webui.adapters["xl_canny"], img, control_mode=mode)])
    assert "y" in rec.calls[0].kwargs and "timesteps" in rec.calls[0].kwargs  # sgm call signature
    assert max_diff(plain, out) > 4
    core = "adapter" if mode.startswith("Adapter") else "balanced"
    assert_calls_match(
        webui.unet,
        rec.calls,
        [t2i_ext.AdapterUnit(features=features_for(file(webui, "xl_canny"), [img]), control_mode=core)],
        [0],
    )
    assert unet_hook_count(webui.unet) == 0


def test_sdxl_with_empty_negative_prompt_and_long_prompt(webui):
    webui.use("sdxl")
    img = shapes()
    with UNetRecorder(webui.unet) as rec:
        webui.txt2img(
            [unit(webui.adapters["xl_canny"], img, control_mode="Adapter is more important")],
            prompt=" ".join(f"w{i}" for i in range(80)),
            negative_prompt="",
        )
    assert rec.calls[0].context.shape[1] == 154 and rec.calls[1].context.shape[1] == 77
    assert_calls_match(
        webui.unet,
        rec.calls,
        [t2i_ext.AdapterUnit(features=features_for(file(webui, "xl_canny"), [img]), control_mode="adapter")],
        [0],
    )


def test_sd1_adapter_on_sdxl_is_refused_before_sampling(webui):
    webui.use("sdxl")
    with UNetRecorder(webui.unet) as rec, pytest.raises(Exception, match="SDXL") as info:
        webui.txt2img([unit(webui.adapters["canny"])])
    assert "model" in str(info.value)
    assert rec.calls == []
    assert unet_hook_count(webui.unet) == 0


def test_sdxl_adapter_on_sd1_is_refused_before_sampling(webui):
    with UNetRecorder(webui.unet) as rec, pytest.raises(Exception, match="SDXL"):
        webui.txt2img([unit(webui.adapters["xl_canny"])])
    assert rec.calls == []


def test_sd1_adapter_on_sd2_runs_and_can_be_switched_off(webui):
    from modules import shared

    webui.use("sd2")
    img = shapes()
    plain = webui.txt2img()
    with UNetRecorder(webui.unet) as rec:
        out = webui.txt2img([unit(webui.adapters["canny"], img)])
    assert rec.calls[0].context.shape[-1] == 48  # the "SD2" text width
    assert max_diff(plain, out) > 4
    assert_calls_match(
        webui.unet, rec.calls, [t2i_ext.AdapterUnit(features=features_for(file(webui, "canny"), [img]))], [0]
    )
    shared.opts.t2i_adapter_allow_sd1_on_sd2 = False
    with pytest.raises(Exception, match="SD2|SD1"):
        webui.txt2img([unit(webui.adapters["canny"], img)])


def test_switching_checkpoints_between_jobs_keeps_results_reproducible(webui):
    first = webui.txt2img([unit(webui.adapters["canny"])])
    webui.use("sdxl")
    webui.txt2img([unit(webui.adapters["xl_canny"])])
    webui.use("sd1")
    assert np.array_equal(pixels(webui.txt2img([unit(webui.adapters["canny"])])), pixels(first))


def test_a_pth_adapter_saved_by_torch_2_loads_under_the_webuis_checking_torch_load(webui, tmp_path):
    # A1111 replaces torch.load with modules/safe.py's checker (the stand-in reproduces its rules), which answers None
    # for any archive torch >= 2.1 writes: the core must read pickles without it.
    import torch

    import t2i_ext
    from t2i_ext.random_adapter import random_adapter

    net = random_adapter("full", 1, (32, 64, 128, 128), seed=3)
    path = tmp_path / "t2iadapter_canny_torch2.pth"
    torch.save(net.state_dict(), path)
    assert torch.load(path) is None, "the stand-in's torch.load should refuse what torch 2 writes, as A1111's does"
    loaded = t2i_ext.load_adapter(path)
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), net.state_dict().values()))
