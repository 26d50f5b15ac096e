"""The "Train T2I-Adapter" tab on the stand-in (A1111 v1.10.1's ``modules``, with its safe ``torch.load``): it trains
on the loaded checkpoint's own modules under the WebUI's job lock, stops on the WebUI's interrupt with a checkpoint it
can resume, publishes the adapter where the API finds it at once, and leaves the UNet as it found it.

A fresh WebUI process, where the extension's folder is on ``sys.path`` only while scripts load, is
``test_train_tab_loader.py``; this file also runs under Forge's pins (dev.sh)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from .harness import unet_hook_count
from .images import pixels

pytest.importorskip("accelerate", reason="the trainer runs through accelerate")


def tab_module(webui):
    """The tab's module (it defines no Script class, so it is found through its ui_tabs callback)."""
    from modules import script_callbacks

    cb = next(
        c for c in script_callbacks.callback_map["callbacks_ui_tabs"] if c.script.endswith("t2i_adapter_train.py")
    )
    return SimpleNamespace(**cb.callback.__globals__)


def pairs(tmp_path, n=4):
    from tests.train.helpers import write_pairs

    return write_pairs(tmp_path / "pairs", n)


def values(name, data, **changes):
    base = dict(
        name=name, data=str(data), annotator="none", channels="3 (RGB maps)", architecture="full", resolution=64,
        steps=3, batch_size=1, accumulation=1, learning_rate=1e-4, checkpoint_every=2, sample_every=0,
        checkpointing=False, seed=0, resume=False,
    )  # fmt: skip
    return {**base, **changes}


def train(webui, **kwargs):
    return list(tab_module(webui).run_training(**kwargs))


def unet_state(unet):
    return (
        [m.training for m in unet.modules()],
        [(p.requires_grad, p.dtype, p.device) for p in unet.parameters()],
        unet_hook_count(unet),
    )


def test_the_tab_is_registered(webui):
    from modules import script_callbacks

    with gr.Blocks():
        tabs = script_callbacks.ui_tabs_callback()
    assert any(title == "Train T2I-Adapter" for _, title, _ in tabs)


def test_training_on_the_loaded_model_publishes_an_adapter_the_api_lists_at_once(webui, tmp_path):
    from modules import call_queue

    webui.client().get("/t2i-adapter/models")  # the store has scanned before the run (the panel is built)
    updates = train(webui, **values("tab-trained", pairs(tmp_path)))
    status = updates[-1][0]
    assert status.startswith("Done"), status
    assert not call_queue.queue_lock.locked()
    models = webui.client().get("/t2i-adapter/models").json()["models"]  # no ?refresh=true
    assert any(m["name"] == "tab-trained" and m["kind"] == "full" for m in models)
    from t2i_webui.models import choices  # the panel's list

    assert any(t.startswith("tab-trained [") for t in choices())


def test_the_run_uses_the_loaded_unet_and_puts_it_back_as_it_was(webui, tmp_path):
    unet = webui.unet
    before_state = unet_state(unet)
    weights = {k: v.clone() for k, v in unet.state_dict().items()}
    plain = webui.txt2img()
    seen = []
    original = type(unet).forward

    def spy(self, *args, **kwargs):
        seen.append((self, torch.is_grad_enabled(), any(p.requires_grad for p in self.parameters())))
        return original(self, *args, **kwargs)

    type(unet).forward = spy
    try:
        status = train(webui, **values("tab-restore", pairs(tmp_path), sample_every=2))[-1][0]
    finally:
        type(unet).forward = original
    assert status.startswith("Done"), status
    training_calls = [s for s in seen if s[1]]
    assert training_calls and all(s[0] is unet for s in training_calls)  # the WebUI's own UNet, no copy
    assert not any(s[2] for s in training_calls)  # frozen while training
    assert unet_state(unet) == before_state
    assert all(torch.equal(weights[k], v) for k, v in unet.state_dict().items())
    assert np.array_equal(pixels(plain), pixels(webui.txt2img()))  # the next generation is bit-identical


def test_the_webuis_interrupt_keeps_a_checkpoint_that_resume_continues(webui, tmp_path):
    from modules import shared

    data = pairs(tmp_path)
    run = tab_module(webui).run_training(**values("tab-resumed", data, steps=40, checkpoint_every=0))
    first = next(run)
    shared.state.interrupt()
    *_, last = run
    assert "Preparing" in first[0] or "Step" in first[0] or "Encoding" in first[0], first[0]
    assert last[0].startswith("Interrupted"), last[0]
    assert not shared.state.interrupted  # reset for the next job
    published = webui.data_dir / "models" / "T2I-Adapter" / "tab-resumed.safetensors"
    assert not published.exists()
    # the WebUI's torch.load (modules/safe.py) is in force here: the checkpoint must not need it
    resumed = train(webui, **values("tab-resumed", data, steps=3, checkpoint_every=0, resume=True))
    assert resumed[-1][0].startswith("Done"), resumed[-1][0]
    assert published.exists()


def test_status_says_what_runs_and_the_grid_is_labelled(webui, tmp_path):
    updates = train(webui, **values("tab-grid", pairs(tmp_path), steps=2, sample_every=1, checkpoint_every=1))
    statuses = " | ".join(u[0] for u in updates)
    assert updates[-1][0].startswith("Done"), statuses
    grid = Image.open(updates[-1][2])
    cells = 3 * 64  # condition | without | with, one 64-px picture each
    assert grid.width >= cells and grid.height > 64  # a header above the pictures
    header = np.asarray(grid.convert("L"))[: grid.height - 64 * (grid.width // cells)]
    assert header.size and header.min() < 100  # dark text on the white header


def test_phase_lines_reach_the_status(webui, tmp_path, monkeypatch):
    monkeypatch.setitem(tab_module(webui).run_training.__globals__, "POLL_SECONDS", 0.01)
    updates = train(webui, **values("tab-phases", pairs(tmp_path), steps=3, sample_every=1, checkpoint_every=1))
    statuses = [u[0] for u in updates]
    assert any("Sampling grid at step" in s or "Saving checkpoint" in s or "Encoding latents" in s for s in statuses)


def test_a_generation_sent_while_training_waits_for_it(webui, tmp_path):
    from modules import call_queue

    run = tab_module(webui).run_training(**values("tab-queue", pairs(tmp_path), steps=6))
    next(run)
    deadline = time.monotonic() + 30
    while not call_queue.queue_lock.locked() and time.monotonic() < deadline:
        time.sleep(0.01)
    finished = {}

    def generate():
        with call_queue.queue_lock:  # as the WebUI runs every generation (call_queue.wrap_gradio_gpu_call)
            finished["at"] = time.monotonic()
            finished["image"] = webui.txt2img()

    thread = threading.Thread(target=generate)
    thread.start()
    *_, last = run
    done_at = time.monotonic()
    thread.join(60)
    assert last[0].startswith("Done"), last[0]
    assert finished["at"] <= done_at and "image" in finished


def test_training_refuses_to_start_while_a_generation_runs(webui, tmp_path):
    from modules import shared

    shared.state.begin(job="txt2img")
    try:
        with pytest.raises(gr.Error, match="busy"):
            next(tab_module(webui).run_training(**values("tab-busy", pairs(tmp_path))))
    finally:
        shared.state.end()


def test_a_model_of_the_wrong_family_is_refused_before_any_work(webui, tmp_path, monkeypatch):
    webui.use("sdxl")
    with pytest.raises(gr.Error, match="light"):
        next(tab_module(webui).run_training(**values("tab-light", pairs(tmp_path), architecture="light")))
    monkeypatch.setattr(webui.shared.sd_model, "is_sd3", True, raising=False)
    with pytest.raises(gr.Error, match="SD3"):
        next(tab_module(webui).run_training(**values("tab-sd3", pairs(tmp_path))))
    assert not (webui.data_dir / "models" / "T2I-Adapter-training" / "tab-sd3").exists()


def test_sdxl_trains_on_the_loaded_model(webui, tmp_path):
    webui.use("sdxl")
    status = train(webui, **values("tab-sdxl", pairs(tmp_path, 2), steps=2, checkpoint_every=0))[-1][0]
    assert status.startswith("Done"), status


@pytest.mark.parametrize("name", ["", "../escape", "a/b", "tab\tname"])
def test_a_bad_name_is_refused_before_any_work(webui, name, tmp_path):
    with pytest.raises(gr.Error, match="file name"):
        next(tab_module(webui).run_training(**values(name, tmp_path)))


def test_without_a_loaded_checkpoint_the_tab_says_what_to_do(webui, tmp_path, monkeypatch):
    monkeypatch.setattr(webui.shared, "sd_model", None)
    with pytest.raises(gr.Error, match="checkpoint"):
        next(tab_module(webui).run_training(**values("x", tmp_path)))
