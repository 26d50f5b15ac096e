"""AUTOMATIC1111: module hooks on the checkpoint's ldm UNet, removed when the job ends.

The rows of each UNet call (cond/uncond, images, AND sub-prompts) are told by the ``on_cfg_denoiser`` callback
through a :class:`CfgRowTracker`, asked by the hooks before every call (``run.on_cfg_denoiser``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from t2i_ext import AdapterUnit
from t2i_host.cfg_rows import CfgRowTracker

from .host import Host, Run


class A1111Host(Host):
    name = "a1111"

    def unet(self, sd_model: Any) -> torch.nn.Module:
        return sd_model.model.diffusion_model

    def attach(self, run: Run, units: Sequence[AdapterUnit], x: torch.Tensor, c: Any) -> None:
        batch = len(getattr(c, "batch", None) or [None] * x.shape[0])
        repeats = [len(b) for b in c.batch] if hasattr(c, "batch") else None
        run.tracker = CfgRowTracker(batch, repeats)
        run.job.install(run.unet, units, layout=run.tracker.layout)

    def fail(self, run: Run, error: BaseException) -> None:
        def hook(module, args, kwargs):  # noqa: ARG001
            raise error

        if run.fail_handle is None:
            run.fail_handle = self.unet(run.p.sd_model).register_forward_pre_hook(hook, with_kwargs=True)

    def release(self, run: Run) -> None:
        if run.job is not None:
            run.job.remove()
        if run.fail_handle is not None:
            run.fail_handle.remove()
            run.fail_handle = None
