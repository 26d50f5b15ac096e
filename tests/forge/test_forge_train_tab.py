"""The Train tab on the Forge stand-in: it trains against Forge's own UNet (``forge_objects.unet.model.
diffusion_model``, whose weights Forge makes under ``torch.inference_mode``) and leaves it as it found it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.webui.harness import unet_hook_count
from tests.webui.images import pixels
from tests.webui.test_train_tab import pairs, tab_module, values

pytest.importorskip("accelerate", reason="the trainer runs through accelerate")


def as_inference_tensors(unet):
    """What Forge's loader (backend/loader.py ``forge_loader``, under ``@torch.inference_mode()``) hands out."""
    with torch.inference_mode():
        for m in unet.modules():
            for name, p in list(m._parameters.items()):
                if p is not None:
                    m._parameters[name] = torch.nn.Parameter(p.detach().clone(), requires_grad=p.requires_grad)


def test_training_on_forges_unet_leaves_it_as_it_was(forge, tmp_path):
    unet = forge.shared.sd_model.forge_objects.unet.model.diffusion_model
    as_inference_tensors(unet)
    plain = forge.txt2img()
    flags = ([m.training for m in unet.modules()], [(p.requires_grad, p.is_inference()) for p in unet.parameters()])
    weights = {k: v.clone() for k, v in unet.state_dict().items()}
    updates = list(tab_module(forge).run_training(**values("forge-trained", pairs(tmp_path), sample_every=2)))
    assert updates[-1][0].startswith("Done"), updates[-1][0]
    assert ([m.training for m in unet.modules()], [(p.requires_grad, p.is_inference()) for p in unet.parameters()]) \
        == flags
    assert unet_hook_count(unet) == 0
    assert all(torch.equal(weights[k], v) for k, v in unet.state_dict().items())
    assert np.array_equal(pixels(plain), pixels(forge.txt2img()))


def test_training_before_any_generation_loads_the_chosen_checkpoint_as_forge_does(forge, tmp_path):
    """Forge loads the checkpoint lazily: until the first job, ``shared.sd_model`` is a placeholder without UNet."""
    chosen = forge.shared.sd_model
    forge.shared.sd_model = forge.forge.FakeInitialModel(chosen)
    try:
        updates = list(tab_module(forge).run_training(**values("trained-first", pairs(tmp_path), steps=1)))
        assert updates[-1][0].startswith("Done"), updates[-1][0]
        assert forge.shared.sd_model is chosen
    finally:
        forge.shared.sd_model = chosen


def test_under_gradio_4_a_timer_shows_the_run_not_a_generator(forge, tmp_path):
    """Forge compresses gradio 4's event stream (GZipMiddleware), which holds back a generator's updates until the
    event ends (seen in the real Forge: no status until "Done"): the click starts the run, a timer shows it."""
    import inspect
    import time

    from tests.webui.panel_checks import events

    tab = tab_module(forge)
    if not tab.GRADIO_4:
        pytest.skip("gradio 3 streams a generator's updates at once (A1111)")
    blocks = tab.build_tab()
    start = next(i for i, b in blocks.blocks.items() if getattr(b, "elem_id", None) == "t2i_train_start")
    (click,) = [e for e in events(blocks) if start in e.triggers]
    assert not inspect.isgeneratorfunction(click.fn)
    first = tab.start_and_watch(*values("timer-shown", pairs(tmp_path)).values())
    assert first[-2].active is True
    statuses, on_page = [first[0]], first[-1]
    for _ in range(1200):
        *update, timer, on_page = tab.watch(on_page)
        if isinstance(update[0], str):
            statuses.append(update[0])
        if not timer.active:
            break
        time.sleep(0.05)
    assert statuses[-1].startswith("Done"), statuses
    assert any(s.startswith("Step") for s in statuses), statuses
