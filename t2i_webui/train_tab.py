"""The "Train T2I-Adapter" tab (AUTOMATIC1111 v1.10.1 and Forge): its widgets, wired to the run in ``train_run``,
which trains an adapter on the checkpoint the WebUI holds — its own UNet, VAE and text encoder, never a second copy.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from modules import shared

import annotators

from .gradio_compat import GRADIO_4
from .train_run import POLL_SECONDS, SAMPLE_STEPS, run_training, start_and_watch, watch


def build_tab() -> Any:
    with gr.Blocks(analytics_enabled=False) as tab:
        gr.Markdown(
            "Trains a T2I-Adapter on the **loaded checkpoint** (its own UNet, VAE and text encoder: no second copy) "
            "from a folder of images with same-named condition maps (and optional `.txt` captions), or images only "
            "plus an annotator that makes the maps. The result appears as `models/T2I-Adapter/<name>.safetensors`. "
            "Generation waits while it trains; **Interrupt** (here or at the top) saves a checkpoint to resume from. "
            "Precision follows the loaded UNet (fp16 on a GPU, fp32 on the CPU)."
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
            channels = gr.Radio(
                ["1 (edges, sketch)", "3 (RGB maps)"], value="3 (RGB maps)", label="Condition channels",
                elem_id="t2i_train_channels",
            )
            architecture = gr.Radio(["full", "light"], value="full", label="Architecture (light: SD1 only)",
                                    elem_id="t2i_train_architecture")
        with gr.Row():
            # a label of its own: the WebUI's ui-config.json keeps a slider's minimum per label, and an older version
            # of this tab stored 256 there (too large for a quick run on a CPU)
            resolution = gr.Slider(64, 1536, value=512, step=64, label="Training resolution",
                                   elem_id="t2i_train_resolution")
            steps = gr.Number(1000, label="Steps", precision=0, elem_id="t2i_train_steps")
            batch_size = gr.Number(1, label="Batch size", precision=0, elem_id="t2i_train_batch_size")
            accumulation = gr.Number(1, label="Gradient accumulation", precision=0, elem_id="t2i_train_accumulation")
        with gr.Row():
            learning_rate = gr.Number(1e-5, label="Learning rate", elem_id="t2i_train_learning_rate")
            checkpoint_every = gr.Number(500, label="Checkpoint every N steps", precision=0,
                                         elem_id="t2i_train_checkpoint_every")
            sample_every = gr.Number(
                200, label=f"Sample grid every N steps (0: none; 1 picture, {SAMPLE_STEPS} steps)", precision=0,
                elem_id="t2i_train_sample_every",
            )
            seed = gr.Number(0, label="Seed", precision=0, elem_id="t2i_train_seed")
        with gr.Row():
            checkpointing = gr.Checkbox(False, label="Gradient checkpointing (less memory, slower)",
                                        elem_id="t2i_train_checkpointing")
            resume = gr.Checkbox(False, label="Resume this name's last checkpoint", elem_id="t2i_train_resume")
        with gr.Row():
            start = gr.Button("Train", variant="primary", elem_id="t2i_train_start")
            stop = gr.Button("Interrupt", elem_id="t2i_train_interrupt")
        status = gr.Markdown("", elem_id="t2i_train_status")
        with gr.Row():
            curve = gr.Image(label="Loss", type="filepath", interactive=False, elem_id="t2i_train_loss")
            sample = gr.Image(
                label="Samples: condition | without | with the adapter", type="filepath", interactive=False,
                elem_id="t2i_train_sample",
            )
        inputs = [name, data, annotator, channels, architecture, resolution, steps, batch_size, accumulation]
        inputs += [learning_rate, checkpoint_every, sample_every, checkpointing, seed, resume]
        # the status line is the progress: no overlay over it (gradio 4 showed its timer instead of the text)
        if GRADIO_4:
            timer, on_page = gr.Timer(POLL_SECONDS, active=False), gr.State(None)
            shown = [status, curve, sample, timer, on_page]
            start.click(start_and_watch, inputs=inputs, outputs=shown, show_progress="hidden")
            timer.tick(watch, inputs=[on_page], outputs=shown, show_progress="hidden")
        else:
            start.click(run_training, inputs=inputs, outputs=[status, curve, sample], show_progress="hidden")
        stop.click(lambda: shared.state.interrupt(), queue=False)
    return tab


def on_ui_tabs() -> list:
    return [(build_tab(), "Train T2I-Adapter", "t2i_adapter_train")]
