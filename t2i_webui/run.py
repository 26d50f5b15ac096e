"""One WebUI job's lifecycle, the same on every host; the host decides only where the units are attached.

``start`` (the ``process`` hook) builds the job and wraps ``p.sample``; ``before_sampling`` (every sampling pass)
attaches the pass's units; ``finish`` and the ``p.sample`` guard release them; ``on_cfg_denoiser`` follows the
sampling progress and drops a run that is not the one sampling.
"""

from __future__ import annotations

from typing import Any

import torch
from modules import shared

from t2i_host.cfg_rows import CfgRowTracker
from t2i_host.job import Job

from . import LOG, batch_folder, host, job_setup, sources

RUN_ATTR = "_t2i_adapter_run"


class Run:
    """What is kept for one WebUI job: its ``p``, the core's :class:`Job` (``None`` when the units could not be set
    up), the error to raise when sampling starts, the UNet of the current pass, and the host's handles: the row
    tracker and the hook that raises an error found while attaching (A1111)."""

    def __init__(self, p: Any) -> None:
        self.p = p
        self.job: Job | None = None
        self.error: BaseException | None = None
        self.unet: torch.nn.Module | None = None
        self.tracker: CfgRowTracker | None = None
        self.fail_handle: Any = None

    def release(self) -> None:
        """Remove everything attached for this run; safe to call any number of times."""
        global ACTIVE
        host.current().release(self)
        if ACTIVE is self:
            ACTIVE = None


ACTIVE: Run | None = None  # the run whose units are attached (for the on_cfg_denoiser callback)


def release_all() -> None:
    if ACTIVE is not None:
        ACTIVE.release()


def start(p: Any, units: tuple) -> None:
    """``process``: set up the job; an error is kept and raised when sampling starts (the WebUI swallows errors
    raised in script hooks, not in sampling)."""
    setattr(p, RUN_ATTR, None)
    batch_folder.count_job(p)
    run = Run(p)
    try:
        run.job = job_setup.build_job(p, units)
    except Exception as e:
        run.error = e
        LOG.error("T2I-Adapter: %s", e)
    if run.job is None and run.error is None:
        return
    setattr(p, RUN_ATTR, run)
    _guard_sample(run)


def _guard_sample(run: Run) -> None:
    """Wrap ``p.sample`` (this job's instance only) so errors surface and the units always come off."""
    original = run.p.sample

    def sample(*args: Any, **kwargs: Any) -> Any:
        try:
            if run.error is not None:
                raise run.error
            return original(*args, **kwargs)
        finally:
            run.release()

    run.p.sample = sample


def before_sampling(p: Any, x: torch.Tensor, c: Any) -> None:
    """``process_before_every_sampling`` (first pass, hires pass): attach the units at the size of ``x``."""
    global ACTIVE
    run = getattr(p, RUN_ATTR, None)
    if run is None or run.error is not None:
        return
    the_host = host.current()
    try:
        height, width = int(x.shape[-2]) * 8, int(x.shape[-1]) * 8
        hires = bool(getattr(p, "is_hr_pass", False)) if getattr(p, "enable_hr", False) else None
        images = {plan.index: sources.images_for(p, plan, width, height) for plan in run.job.plans_for(hires)}
        units = run.job.units(width, height, images, hires=hires)
        run.unet = the_host.unet(p.sd_model)
        the_host.attach(run, units, x, c)
    except Exception as e:
        run.job.remove()
        run.error = e
        LOG.error("T2I-Adapter: %s", e)
        the_host.fail(run, e)
    ACTIVE = run


def finish(p: Any) -> None:
    """``post_sample``/``postprocess_batch``/``postprocess``: release (idempotent; the guard usually did)."""
    run = getattr(p, RUN_ATTR, None)
    if run is not None:
        run.release()


def on_cfg_denoiser(params: Any) -> None:
    """Before every CFG denoiser call: guidance progress for start/end, the rows for the A1111 tracker; a run that
    is not the denoiser's, or whose UNet was swapped (a refiner), is released."""
    run = ACTIVE
    if run is None:
        return
    owner = getattr(getattr(params, "denoiser", None), "p", None)
    if owner is not None and owner is not run.p:
        run.release()  # a job that ended without our guard: its units must not touch this sampling
        return
    try:
        unet = host.current().unet(shared.sd_model)
    except AttributeError:
        unet = None
    if run.unet is not None and unet is not None and unet is not run.unet:
        LOG.info("T2I-Adapter: the checkpoint changed during sampling (refiner); the adapter guided the first part")
        run.release()
        return
    if run.tracker is not None:
        run.tracker.start_denoiser_call(params.text_cond, params.text_uncond, params.x.shape[0])
    if run.job is not None and run.job.injection is not None:
        run.job.injection.progress = params.sampling_step / max(1, params.total_sampling_steps)
