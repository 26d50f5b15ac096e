"""One training run as a WebUI tab drives it: in a worker thread under the host's job lock, with live progress a UI
can poll, stopped by the host's interrupt, and the finished adapter published into a models folder.

WebUI-free: the host hands in its lock, its begin/end of a job, its interrupt flag and, to train on the model it
holds, a function returning that model as a :class:`~t2i_train.base_model.BaseModel` (called under the lock, so a
job queued before the run has finished with it); everything the run changes on that UNet is put back afterwards
(:func:`t2i_train.loaded_model.restore`). The host is told when a new adapter file is in place (to refresh its model
list).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .base_model import BaseModel
from .config import TrainConfig
from .errors import ConfigError, TrainError
from .loop import Progress, TrainResult


def publish(adapter_file: Path, folder: str | os.PathLike, name: str) -> Path:
    """Copy ``adapter_file`` to ``folder/<name>.safetensors`` through a temporary file; never overwrites."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.safetensors"
    if target.exists():
        raise ConfigError(f"{target} already exists: choose another adapter name.")
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(adapter_file, tmp)
    os.replace(tmp, target)
    return target


class TrainingSession:
    """``start()`` runs :func:`t2i_train.train` in a thread; ``snapshot()`` says how it goes."""

    def __init__(
        self,
        config: TrainConfig,
        publish_to: str | os.PathLike,
        name: str,
        lock: Any = None,
        begin: Callable[[], None] = lambda: None,
        end: Callable[[], None] = lambda: None,
        should_stop: Callable[[], bool] = lambda: False,
        on_published: Callable[[Path], None] = lambda path: None,
        base: Callable[[], BaseModel] | None = None,
        copy_norm_inputs: bool = False,
    ) -> None:
        self.config, self.publish_to, self.name = config, Path(publish_to), name
        self._lock, self._begin, self._end = lock, begin, end
        self._should_stop, self._on_published = should_stop, on_published
        self._base, self._copy_norm_inputs = base, copy_norm_inputs  # see loaded_model.restore
        self.phase: str | None = None  # a slow side task now running (encoding latents, a sample grid, a checkpoint)
        self.progress: Progress | None = None
        self.log: list[str] = []
        self.result: TrainResult | None = None
        self.published: Path | None = None
        self.error: str | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if (self.publish_to / f"{self.name}.safetensors").exists():  # refuse before any work
            raise ConfigError(f"{self.publish_to / self.name}.safetensors already exists: choose another name.")
        self._thread = threading.Thread(target=self._run, name="t2i-adapter-training", daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        from .api import train
        from .loaded_model import restore

        with self._lock if self._lock is not None else contextlib.nullcontext():
            self._begin()
            try:
                base = self._base() if self._base is not None else None
                with restore(base.unet, self._copy_norm_inputs) if base is not None else contextlib.nullcontext():
                    self.result = train(self.config, self._on_progress, self._should_stop, log=self.log.append,
                                        base=base, phase=self._on_phase)
                if not self.result.interrupted:
                    final = self.config.output_dir / "adapter.safetensors"
                    self.published = publish(final, self.publish_to, self.name)
                    try:
                        self._on_published(self.published)
                    except Exception:  # the file is in place; a list that did not refresh is the host's to say
                        self.log.append(traceback.format_exc())
            except TrainError as e:  # the user's to fix: said as it is
                self.error = str(e)
            except Exception as e:  # a bug: keep the traceback for the log, say it briefly
                self.error = f"{type(e).__name__}: {e}"
                self.log.append(traceback.format_exc())
            finally:
                if self.result is not None:  # the adapter is in its files: a UI that keeps the session keeps no weights
                    self.result.adapter = None
                self._end()

    def _on_progress(self, p: Progress) -> None:
        self.progress = p
        self.phase = None

    def _on_phase(self, text: str) -> None:
        self.phase = text

    def snapshot(self) -> dict[str, Any]:
        """What a UI shows now: a status line, the loss curve and the latest sample grid (paths, when written)."""
        p, c = self.progress, self.config
        curve = c.output_dir / "loss.png"
        grids = sorted((c.output_dir / "samples").glob("*.png")) if (c.output_dir / "samples").is_dir() else []
        running = self.running  # the end is said once the run has let go of the WebUI (``end``): Train works then
        if running and (self.error is not None or self.result is not None or self.published is not None):
            status = "Finishing…"
        elif self.error is not None:
            status = f"Training failed: {self.error}"
        elif self.result is not None and self.result.interrupted:
            status = (
                f"Interrupted at step {self.result.step}; resumable checkpoint: {self.result.checkpoint} "
                "(train again with the same settings and Resume ticked)."
            )
        elif self.published is not None:
            status = f"Done: {self.published} is in the adapter list now (🔄 in the panel updates a list shown before)."
        elif self.phase is not None:
            status = self.phase if p is None else f"{self.phase} (loss {p.loss:.4f} at step {p.step}/{p.total})"
        elif p is None:
            status = "Preparing: checking the data folder and the model…"
        else:
            status = f"Step {p.step}/{p.total} · loss {p.loss:.4f} · {p.it_per_s:.2f} it/s · ETA {p.eta_s:.0f} s"
        return {
            "status": status,
            "loss_curve": str(curve) if curve.is_file() else None,
            "sample": str(grids[-1]) if grids else None,
            "running": running,
        }
