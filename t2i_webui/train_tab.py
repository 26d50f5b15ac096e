"""The "Train T2I-Adapter" tab (AUTOMATIC1111 v1.10.1 and Forge): trains an adapter on the checkpoint the WebUI
holds — its own UNet, VAE and text encoder (``loaded_model``), never a second copy.

All training logic is in ``t2i_train`` (WebUI-free); this module builds the tab and hands the trainer what the WebUI
has: the loaded model, its job lock (``call_queue.queue_lock``: a generation queued while it trains waits, and the
run waits for a generation in progress), ``shared.state`` (begin/end, and Interrupt, which stops the run with a
resumable checkpoint) and the models folder: the finished adapter is published as
``models/T2I-Adapter/<name>.safetensors`` and the model store is refreshed at once, so ``GET /t2i-adapter/models``
and the panel find it. Work files (latent cache, checkpoints, sample grids, loss curve) go to
``models/T2I-Adapter-training/<name>/``.

Imports: A1111 puts an extension's folder on ``sys.path`` only while it loads that extension's scripts
(modules/scripts.py@v1.10.1 ``load_scripts``: ``sys.path = [scriptfile.basedir] + sys.path``, restored in
``finally``), and a click handler runs long after. So every package of this repository the handler reaches is
imported here, at load time; their submodules are then found through the packages' own ``__path__``.
"""

from __future__ import annotations

import inspect
import time
from pathlib import Path
from typing import Any

import gradio as gr
from modules import call_queue, devices, paths, shared

import annotators
import t2i_ext  # noqa: F401  (reached lazily by the trainer's sampling; see the module docstring)
import t2i_train.api  # noqa: F401  (the run's own imports, made now while the extension is on sys.path)
from t2i_train import TrainConfig, TrainError
from t2i_train.base_model import SDXL
from t2i_train.session import TrainingSession

from . import LOG, host, loaded_model, models
from .gradio_compat import GRADIO_4

POLL_SECONDS = 1.0
#: a sample grid: one picture, few DDIM steps, so it costs about as much as a few training steps
SAMPLE_COUNT, SAMPLE_STEPS = 1, 4
BAD_NAME = "Give the adapter a file name (letters, digits, - and _), e.g. my-lineart-sd15."


def check_name(name: str) -> str:
    name = (name or "").strip()
    # not printable (a tab, a newline): the model list would refuse the published file (t2i_host.model_store)
    if not name or any(c in name for c in '/\\:*?"<>|') or name.startswith(".") or not name.isprintable():
        raise gr.Error(BAD_NAME)
    return name


def check_idle() -> None:
    """Refuse while a generation runs (``shared.state.job`` is set between ``begin`` and ``end``)."""
    if getattr(shared.state, "job", ""):
        raise gr.Error(
            f"The WebUI is busy ({shared.state.job}): wait until it has finished (or Interrupt it), then click Train."
        )


def start_training(
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
    checkpointing: bool,
    seed: float,
    resume: bool,
) -> TrainingSession:
    """Checks everything it can at once, then starts the run (in a thread of its own) and returns it."""
    global _session
    name = check_name(name)
    check_idle()
    try:
        sd_model = host.current().loaded_model()
        family = loaded_model.family_of(sd_model)
        if architecture == "light" and family == SDXL:
            raise TrainError("the light architecture is for SD1.x/SD2.x; the loaded checkpoint is SDXL: pick full.")
        models_dir = Path(paths.models_path)
        config = TrainConfig(
            base_model=str(getattr(getattr(sd_model, "sd_checkpoint_info", None), "filename", "") or ""),
            data=(data or "").strip(),
            output=str(models_dir / "T2I-Adapter-training" / name),
            architecture=architecture,
            in_channels=int(str(channels).split()[0]),
            annotator=None if annotator in (None, "", "none") else annotator,
            resolution=int(resolution),
            steps=int(steps),
            batch_size=int(batch_size),
            grad_accumulation=int(accumulation),
            learning_rate=float(learning_rate),
            checkpoint_every=int(checkpoint_every),
            sample_every=int(sample_every),
            sample_count=SAMPLE_COUNT,
            sample_steps=SAMPLE_STEPS,
            mixed_precision=loaded_model.unet_precision(sd_model),
            gradient_checkpointing=bool(checkpointing),
            seed=int(seed),
            resume="latest" if resume else None,
            cpu=torch_device_is_cpu(),
            # the trainer's SDPA swap fits ldm's CrossAttention (A1111); Forge's attention takes other arguments
            # (backend/nn/unet.py: value=, transformer_options=) and is SDPA already with --attention-pytorch
            sdpa_attention=host.current().name != "forge",
        )
        config.validate(16 if family == SDXL else 8)
        session = TrainingSession(
            config,
            publish_to=models_dir / "T2I-Adapter",
            name=name,
            lock=call_queue.queue_lock,
            begin=lambda: shared.state.begin(job="t2i_adapter_train"),
            end=shared.state.end,
            should_stop=lambda: bool(shared.state.interrupted),
            on_published=lambda path: models.store().refresh(),
            base=lambda: loaded_model.from_webui(host.current().loaded_model()),
            # Forge's UNet adds to activations in place after its LayerNorms (backend/nn/unet.py, x += n)
            copy_norm_inputs=host.current().name == "forge",
        )
        session.start()
    except TrainError as e:
        raise gr.Error(str(e)) from None
    except Exception as e:  # a fault of ours or of the WebUI: said in the tab, not only as gradio's bare "Error"
        LOG.exception("T2I-Adapter: training could not start")
        raise gr.Error(f"Training could not start: {type(e).__name__}: {e} (details in the WebUI's console).") from None
    _session = session
    return session


_session: TrainingSession | None = None  # the run the tab shows (one at a time: runs take the WebUI's job lock)


def run_training(*args: Any, **kwargs: Any):
    """gradio 3 (A1111): a generator that starts the run, then yields (status, loss curve, sample grid) when they
    change, until it ends."""
    session = start_training(*args, **kwargs)
    shown = None
    while True:
        running = session.running  # read first: a run that ends after this shows its end on the next round
        update, shown = _changes(session, shown)
        if update is not None:
            yield update
        if not running:
            break
        time.sleep(POLL_SECONDS)
    _finish(session)


run_training.__signature__ = inspect.signature(start_training)  # it takes what start_training takes


def start_and_watch(*args: Any) -> list:
    """gradio 4 (Forge): start the run and the timer that shows it (``watch``). Not a generator: Forge compresses
    the event stream (GZipMiddleware over gradio 4's server-sent events), which holds back every update of an
    event until that event ends; a short event per tick arrives at once. The last value is what this page shows
    (its ``gr.State``), so every open page gets every change."""
    session = start_training(*args)
    update, shown = _changes(session, None)
    return [*update, gr.Timer(active=True), shown]


def watch(shown: Any) -> list:
    """A timer tick: what changed since this page's last tick; the timer stops with the run."""
    session = _session
    if session is None:
        return [gr.update(), gr.update(), gr.update(), gr.Timer(active=False), shown]
    running = session.running  # read first, as in run_training
    update, shown = _changes(session, shown)
    if not running:
        _finish(session)
    return [*(update or (gr.update(), gr.update(), gr.update())), gr.Timer(active=running), shown]


def _changes(session: TrainingSession, shown: Any) -> tuple[tuple | None, Any]:
    """(status, loss curve, sample grid) if any changed since ``shown``, else None; and what is shown now. Only
    what changed: every update makes the page fetch and redraw the pictures."""
    snap = session.snapshot()
    now = (snap["status"], *(_stamp(snap[k]) for k in ("loss_curve", "sample")))
    return ((snap["status"], snap["loss_curve"], snap["sample"]) if now != shown else None), now


_finished: TrainingSession | None = None


def _finish(session: TrainingSession) -> None:
    """Once per run, whoever sees it end first: clear the Interrupt flag, log what the run logged."""
    global _finished
    if session is _finished:
        return
    _finished = session
    shared.state.interrupted = False
    if session.log:
        LOG.info("T2I-Adapter training:\n%s", "\n".join(session.log))


def _stamp(path: str | None) -> tuple | None:
    """A picture's identity for "has it changed": path and modification time (the loss curve keeps its path)."""
    try:
        return (path, Path(path).stat().st_mtime_ns) if path else None
    except OSError:
        return (path, None)


def torch_device_is_cpu() -> bool:
    """Train where the WebUI computes (``--use-cpu all`` keeps everything on the CPU even beside a GPU)."""
    import torch

    return torch.device(devices.device).type == "cpu"


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
