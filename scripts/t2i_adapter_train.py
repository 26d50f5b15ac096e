"""The "Train T2I-Adapter" tab (AUTOMATIC1111 v1.10.1 and Forge): trains an adapter on the loaded checkpoint.

All training logic is in ``t2i_train`` (WebUI-free); this file only builds the tab and hands the trainer what the
WebUI has: the loaded checkpoint's file, its job lock (``call_queue.queue_lock``, so generation waits while it
trains, as with the WebUI's own embedding training), ``shared.state`` (begin/end, and its Interrupt, which stops
the run with a resumable checkpoint) and the models folder: the finished adapter is published as
``models/T2I-Adapter/<name>.safetensors``, where the panel's model list (🔄) and ``GET /t2i-adapter/models`` find it
without a restart. Work files (latent cache, checkpoints, sample grids, loss curve) go to
``models/T2I-Adapter-training/<name>/``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import gradio as gr
from modules import call_queue, paths, script_callbacks, shared

import annotators

LOG = logging.getLogger("t2i_adapter")
POLL_SECONDS = 1.0


def loaded_checkpoint() -> str:
    info = getattr(getattr(shared, "sd_model", None), "sd_checkpoint_info", None)
    filename = getattr(info, "filename", None)
    if not filename or not Path(filename).is_file():
        raise gr.Error("No checkpoint file is loaded: choose a checkpoint at the top of the page first.")
    return str(filename)


def run_training(
    name: str,
    data: str,
    annotator: str,
    channels: str,
    architecture: str,
    resolution: float,
    steps: float,
    batch_size: float,
    accumulation: float,
    learning_rate: float,
    checkpoint_every: float,
    sample_every: float,
    precision: str,
    checkpointing: bool,
    seed: float,
    resume: bool,
):
    """A generator: starts the run, then yields (status, loss curve, sample grid) until it ends."""
    from t2i_train import TrainConfig, TrainError
    from t2i_train.session import TrainingSession

    name = (name or "").strip()
    # not printable (a tab, a newline): the model list would refuse the published file (t2i_host.model_store)
    if not name or any(c in name for c in '/\\:*?"<>|') or name.startswith(".") or not name.isprintable():
        raise gr.Error("Give the adapter a file name (letters, digits, - and _), e.g. my-lineart-sd15.")
    models = Path(paths.models_path)
    config = TrainConfig(
        base_model=loaded_checkpoint(),
        data=(data or "").strip(),
        output=str(models / "T2I-Adapter-training" / name),
        architecture=architecture,
        in_channels=int(channels.split()[0]),
        annotator=None if annotator in (None, "", "none") else annotator,
        resolution=int(resolution),
        steps=int(steps),
        batch_size=int(batch_size),
        grad_accumulation=int(accumulation),
        learning_rate=float(learning_rate),
        checkpoint_every=int(checkpoint_every),
        sample_every=int(sample_every),
        mixed_precision=precision,
        gradient_checkpointing=bool(checkpointing),
        seed=int(seed),
        resume="latest" if resume else None,
    )
    session = TrainingSession(
        config,
        publish_to=models / "T2I-Adapter",
        name=name,
        lock=call_queue.queue_lock,
        begin=lambda: shared.state.begin(job="t2i_adapter_train"),
        end=shared.state.end,
        should_stop=lambda: bool(shared.state.interrupted),
    )
    try:
        config.validate()
        session.start()
    except TrainError as e:
        raise gr.Error(str(e)) from None
    while True:
        snap = session.snapshot()
        yield snap["status"], snap["loss_curve"], snap["sample"]
        if not snap["running"]:
            break
        time.sleep(POLL_SECONDS)
    shared.state.interrupted = False
    if session.log:
        LOG.info("T2I-Adapter training:\n%s", "\n".join(session.log))


def build_tab() -> Any:
    with gr.Blocks(analytics_enabled=False) as tab:
        gr.Markdown(
            "Trains a T2I-Adapter on the **loaded checkpoint** from a folder of images with same-named condition "
            "maps (and optional `.txt` captions), or images only plus an annotator that makes the maps. The "
            "result appears as `models/T2I-Adapter/<name>.safetensors`. Generation waits while it trains; "
            "**Interrupt** (here or at the top) saves a checkpoint to resume from."
        )
        with gr.Row():
            name = gr.Textbox(label="Adapter name", placeholder="my-lineart-sd15", elem_id="t2i_train_name")
            data = gr.Textbox(label="Data folder", placeholder="/path/to/pairs", elem_id="t2i_train_data")
        with gr.Row():
            annotator = gr.Dropdown(
                ["none", *annotators.names()],
                value="none",
                label="Make condition maps with",
                elem_id="t2i_train_annotator",
            )
            channels = gr.Radio(["1 (edges, sketch)", "3 (RGB maps)"], value="3 (RGB maps)", label="Condition channels")
            architecture = gr.Radio(["full", "light"], value="full", label="Architecture (light: SD1 only)")
        with gr.Row():
            resolution = gr.Slider(256, 1536, value=512, step=64, label="Resolution")
            steps = gr.Number(1000, label="Steps", precision=0)
            batch_size = gr.Number(1, label="Batch size", precision=0)
            accumulation = gr.Number(1, label="Gradient accumulation", precision=0)
        with gr.Row():
            learning_rate = gr.Number(1e-5, label="Learning rate")
            checkpoint_every = gr.Number(500, label="Checkpoint every N steps", precision=0)
            sample_every = gr.Number(200, label="Sample grid every N steps (0: none)", precision=0)
            seed = gr.Number(0, label="Seed", precision=0)
        with gr.Row():
            precision = gr.Radio(["no", "fp16", "bf16"], value="no", label="Mixed precision (GPU)")
            checkpointing = gr.Checkbox(False, label="Gradient checkpointing (less memory, slower)")
            resume = gr.Checkbox(False, label="Resume this name's last checkpoint")
        with gr.Row():
            start = gr.Button("Train", variant="primary", elem_id="t2i_train_start")
            stop = gr.Button("Interrupt", elem_id="t2i_train_interrupt")
        status = gr.Markdown("", elem_id="t2i_train_status")
        with gr.Row():
            curve = gr.Image(label="Loss", type="filepath", interactive=False, elem_id="t2i_train_loss")
            sample = gr.Image(
                label="Samples: condition | without | with the adapter", type="filepath", interactive=False
            )
        inputs = [name, data, annotator, channels, architecture, resolution, steps, batch_size, accumulation]
        inputs += [learning_rate, checkpoint_every, sample_every, precision, checkpointing, seed, resume]
        start.click(run_training, inputs=inputs, outputs=[status, curve, sample])
        stop.click(lambda: shared.state.interrupt(), queue=False)
    return tab


def on_ui_tabs() -> list:
    return [(build_tab(), "Train T2I-Adapter", "t2i_adapter_train")]


script_callbacks.on_ui_tabs(on_ui_tabs)
