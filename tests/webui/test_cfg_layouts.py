"""Every way the v1.10.1 CFG denoiser splits rows between UNet calls (modules/sd_samplers_cfg_denoiser.py): the
extension must apply each unit to exactly the right rows in each call. Checked against the oracle (true rows from
the context) and, where two layouts compute the same thing, against each other."""

from __future__ import annotations

import numpy as np
import pytest

import t2i_ext

from .images import pixels, shapes
from .oracle import UNetRecorder, assert_calls_match, features_for

LONG_PROMPT = " ".join(f"word{i}" for i in range(90))  # 90 tokens: 2 chunks, 154 context rows


def canny_file(webui):
    return webui.data_dir / "models/T2I-Adapter" / (webui.adapters["canny"] + ".safetensors")


def unit(webui, **fields):
    base = {"enabled": True, "model": webui.adapters["canny"], "module": "none", "image": shapes()}
    base.update(fields)
    return base


def run_and_check(webui, mode="Balanced", cond_images=(0,), units_fields=None, **job):
    img = shapes()
    with UNetRecorder(webui.unet) as rec:
        out = webui.txt2img([unit(webui, image=img, control_mode=mode, **(units_fields or {}))], **job)
    core_mode = {
        "Balanced": "balanced",
        "My prompt is more important": "prompt",
        "Adapter is more important": "adapter",
    }[mode]
    feats = features_for(canny_file(webui), [img])
    assert_calls_match(
        webui.unet, rec.calls, [t2i_ext.AdapterUnit(features=feats, control_mode=core_mode)], list(cond_images)
    )
    return out, rec.calls


@pytest.mark.parametrize("mode", ["Balanced", "Adapter is more important"])
def test_batch_cond_uncond_off_calls_cond_and_uncond_separately(webui, mode):
    from modules import shared

    batched, _ = run_and_check(webui, mode)
    shared.opts.batch_cond_uncond = False
    separate, calls = run_and_check(webui, mode)
    assert [c.x.shape[0] for c in calls] == [1, 1] * 6
    assert int(np.abs(pixels(batched) - pixels(separate)).max()) <= 1


@pytest.mark.parametrize("mode", ["Balanced", "Adapter is more important"])
def test_long_prompt_with_short_negative_splits_cond_and_uncond_calls(webui, mode):
    _, calls = run_and_check(webui, mode, prompt=LONG_PROMPT)
    assert [c.context.shape[1] for c in calls[:2]] == [154, 77]  # cond call, then the uncond call


def test_long_prompt_layout_is_independent_of_batch_cond_uncond(webui):
    from modules import shared

    a, _ = run_and_check(webui, "Adapter is more important", prompt=LONG_PROMPT)
    shared.opts.batch_cond_uncond = False
    b, _ = run_and_check(webui, "Adapter is more important", prompt=LONG_PROMPT)
    assert int(np.abs(pixels(a) - pixels(b)).max()) <= 1


def test_adapter_is_more_important_leaves_the_separate_uncond_call_untouched(webui):
    with UNetRecorder(webui.unet) as plain:
        webui.txt2img(prompt=LONG_PROMPT)
    with UNetRecorder(webui.unet) as strong:
        webui.txt2img([unit(webui, control_mode="Adapter is more important")], prompt=LONG_PROMPT)
    # step 0: same x in both jobs; call 0 = cond rows, call 1 = uncond rows
    assert np.array_equal(plain.calls[1].output.numpy(), strong.calls[1].output.numpy())
    assert not np.array_equal(plain.calls[0].output.numpy(), strong.calls[0].output.numpy())


@pytest.mark.parametrize("mode", ["Balanced", "Adapter is more important"])
def test_and_prompt_gives_two_cond_rows_for_one_image(webui, mode):
    _, calls = run_and_check(webui, mode, cond_images=(0, 0), prompt="a house AND a lake at dusk:0.7")
    assert calls[0].x.shape[0] == 3  # 2 cond rows + 1 uncond row


@pytest.mark.parametrize("mode", ["Balanced", "Adapter is more important"])
def test_negative_guidance_minimum_sigma_drops_uncond_rows_on_odd_steps(webui, mode):
    _, calls = run_and_check(webui, mode, s_min_uncond=100.0)
    assert [c.x.shape[0] for c in calls] == [2, 1, 2, 1, 2, 1]


@pytest.mark.parametrize("mode", ["Balanced", "Adapter is more important"])
def test_skip_early_cond_drops_uncond_rows_at_the_start(webui, mode):
    from modules import shared

    shared.opts.skip_early_cond = 0.4
    _, calls = run_and_check(webui, mode)
    assert [c.x.shape[0] for c in calls] == [1, 1, 1, 2, 2, 2]


def test_prompt_more_important_in_split_layout(webui):
    from modules import shared

    shared.opts.batch_cond_uncond = False
    run_and_check(webui, "My prompt is more important", prompt=LONG_PROMPT, s_min_uncond=100.0)
