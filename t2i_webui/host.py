"""The one thing that differs between the WebUIs: how a job's adapter features reach the UNet.

A :class:`Host` gives the loaded checkpoint and reaches its UNet, attaches a job's units to it for one sampling
pass, makes the next UNet call fail with an error found while attaching, releases a job, and frees memory.
:func:`choose` picks the host once (``startup.start``, when the entry script is loaded). Everything else in this
package is the same on both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Protocol

import torch
from modules import devices, shared

from t2i_ext import AdapterUnit
from t2i_host.job import Job


class Run(Protocol):
    """What a host reads and writes on one job's run (``t2i_webui/run.py``)."""

    p: Any  # the WebUI's processing object
    job: Job | None
    unet: torch.nn.Module | None  # the UNet of the current pass
    tracker: Any  # A1111: the CFG row tracker the hooks ask
    fail_handle: Any  # A1111: the pre-hook raising an error found while attaching


class Host(ABC):
    name: str
    #: the adapter leaves the device after its single pass (Forge: its memory manager accounts for the device)
    offloads_adapters: bool = False

    def loaded_model(self) -> Any:
        """The checkpoint the WebUI holds (for the Train tab), loaded first where the WebUI loads it lazily."""
        return shared.sd_model

    @abstractmethod
    def unet(self, sd_model: Any) -> torch.nn.Module:
        """The loaded checkpoint's UNet module."""

    @abstractmethod
    def attach(self, run: Run, units: Sequence[AdapterUnit], x: torch.Tensor, c: Any) -> None:
        """Make ``units`` guide the pass that samples ``x`` with conditioning ``c`` (replacing the run's last pass)."""

    @abstractmethod
    def fail(self, run: Run, error: BaseException) -> None:
        """Make the run's first UNet call raise ``error``: the WebUI swallows errors raised in script hooks."""

    @abstractmethod
    def release(self, run: Run) -> None:
        """Remove everything the run attached; safe to call any number of times."""

    def free_memory(self) -> None:
        if hasattr(devices, "torch_gc"):
            devices.torch_gc()


_current: Host | None = None


def use(host: Host) -> Host:
    global _current
    _current = host
    return host


def current() -> Host:
    """The host chosen at start-up."""
    if _current is None:
        raise RuntimeError("T2I-Adapter: no host chosen; the entry script calls t2i_webui.startup.start() at load")
    return _current
