"""Forge: the job's own ``UnetPatcher`` clone, written back to ``p.sd_model.forge_objects.unet``.

Forge's UNet reads the clone's block and conditioning modifiers (``t2i_host/forge_unet.py``, WebUI-free); nothing is
written on the shared model, and Forge restores ``forge_objects`` before every sampling pass, so releasing a job
only drops its injection state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from t2i_ext import AdapterUnit
from t2i_host import forge_unet

from .host import Host, Run


class ForgeHost(Host):
    name = "forge"
    offloads_adapters = True

    def loaded_model(self) -> Any:
        """Forge holds a placeholder (``FakeInitialModel``) until the first job loads the checkpoint chosen at the top
        of the page; load it as a job does first (modules/processing.py: ``forge_model_reload()``)."""
        from modules import sd_models

        sd_model, _ = sd_models.forge_model_reload()
        return sd_model

    def unet(self, sd_model: Any) -> torch.nn.Module:
        return sd_model.forge_objects.unet.model.diffusion_model

    def attach(self, run: Run, units: Sequence[AdapterUnit], x: torch.Tensor, c: Any) -> None:
        patcher = run.p.sd_model.forge_objects.unet.clone()
        run.job.attach(run.unet, units, lambda injection, blocks: forge_unet.attach(patcher, injection, blocks))
        run.p.sd_model.forge_objects.unet = patcher

    def fail(self, run: Run, error: BaseException) -> None:
        patcher = run.p.sd_model.forge_objects.unet.clone()
        patcher.add_block_modifier(forge_unet.fail_modifier(error))
        run.p.sd_model.forge_objects.unet = patcher

    def release(self, run: Run) -> None:
        if run.job is not None:
            run.job.remove()
