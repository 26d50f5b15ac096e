"""The "Train T2I-Adapter" tab (scripts/t2i_adapter_train.py) on the stand-in: it trains on the loaded checkpoint's
file under the WebUI's job lock, stops on the WebUI's interrupt, and publishes the adapter where the model list and
the API find it."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pytest

pytest.importorskip("accelerate", reason="the trainer runs through accelerate")


def tab_module(webui):
    """The tab's script module (it defines no Script class, so it is found through its ui_tabs callback)."""
    from modules import script_callbacks

    cb = next(
        c for c in script_callbacks.callback_map["callbacks_ui_tabs"] if c.script.endswith("t2i_adapter_train.py")
    )
    return SimpleNamespace(**cb.callback.__globals__)


def main_module(webui):
    return next(d.module for d in webui.scripts.scripts_data if d.path.endswith("t2i_adapter.py"))


@pytest.fixture()
def tiny_checkpoint(webui, tmp_path, monkeypatch):
    from t2i_train.tiny import write_tiny_checkpoint

    path = write_tiny_checkpoint(tmp_path / "tiny-sd15.safetensors")
    monkeypatch.setattr(webui.shared.sd_model.sd_checkpoint_info, "filename", str(path))
    return path


def pairs(tmp_path):
    from tests.train.helpers import write_pairs

    return write_pairs(tmp_path / "pairs", 4)


def values(name, data, **changes):
    base = dict(
        name=name, data=str(data), annotator="none", channels="3 (RGB maps)", architecture="full", resolution=64,
        steps=3, batch_size=1, accumulation=1, learning_rate=1e-4, checkpoint_every=2, sample_every=0,
        precision="no", checkpointing=False, seed=0, resume=False,
    )  # fmt: skip
    return {**base, **changes}


def test_the_tab_is_registered(webui):
    from modules import script_callbacks

    with gr.Blocks():
        tabs = script_callbacks.ui_tabs_callback()
    assert any(title == "Train T2I-Adapter" for _, title, _ in tabs)


def test_training_publishes_an_adapter_the_model_list_finds(webui, tiny_checkpoint, tmp_path):
    from modules import call_queue

    updates = list(tab_module(webui).run_training(**values("tab-trained", pairs(tmp_path))))
    status = updates[-1][0]
    assert status.startswith("Done"), status
    assert not call_queue.queue_lock.locked()
    titles = main_module(webui).model_choices(refresh=True)
    assert any(t.startswith("tab-trained [") for t in titles)
    models = webui.client().get("/t2i-adapter/models").json()["models"]
    assert any(m["name"] == "tab-trained" and m["kind"] == "full" for m in models)


def test_the_webuis_interrupt_stops_training_with_a_resumable_checkpoint(webui, tiny_checkpoint, tmp_path):
    from modules import shared

    run = tab_module(webui).run_training(**values("tab-interrupted", pairs(tmp_path), steps=50))
    first = next(run)
    shared.state.interrupt()
    *_, last = run
    assert "Preparing" in first[0] or "Step" in first[0]
    assert last[0].startswith("Interrupted"), last[0]
    assert not shared.state.interrupted  # reset for the next job
    assert not (webui.data_dir / "models" / "T2I-Adapter" / "tab-interrupted.safetensors").exists()


@pytest.mark.parametrize("name", ["", "../escape", "a/b", "tab\tname"])
def test_a_bad_name_is_refused_before_any_work(webui, name, tmp_path):
    with pytest.raises(gr.Error, match="file name"):
        next(tab_module(webui).run_training(**values(name, tmp_path)))


def test_without_a_checkpoint_file_the_tab_says_what_to_do(webui, tmp_path):
    with pytest.raises(gr.Error, match="checkpoint"):
        next(tab_module(webui).run_training(**values("x", tmp_path)))
