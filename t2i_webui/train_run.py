"""The run behind the "Train T2I-Adapter" tab: the tab's values checked and made a ``TrainConfig``, the run started on
the model the WebUI holds, and its progress shown (a generator on gradio 3, a timer on gradio 4).

All training logic is in ``t2i_train`` (WebUI-free); this module hands the trainer what the WebUI has: the loaded
model, its job lock (``call_queue.queue_lock``: a generation queued while it trains waits, and the run waits for a
generation in progress), ``shared.state`` (begin/end, and Interrupt, which stops the run with a resumable
checkpoint) and the models folder: the finished adapter is published as ``models/T2I-Adapter/<name>.safetensors``
and the model store is refreshed at once, so ``GET /t2i-adapter/models`` and the panel find it. Work files (latent
cache, checkpoints, sample grids, loss curve) go to ``models/T2I-Adapter-training/<name>/``.

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

import annotators  # noqa: F401  (reached lazily by the trainer's annotator option; see the module docstring)
import t2i_ext  # noqa: F401  (reached lazily by the trainer's sampling)
import t2i_train.api  # noqa: F401  (the run's own imports, made now while the extension is on sys.path)
from t2i_train import TrainConfig, TrainError
from t2i_train.base_model import SDXL
from t2i_train.session import TrainingSession

from . import LOG, host, loaded_model, models

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
